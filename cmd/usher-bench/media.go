package main

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
)

// mediaLoad is one media forwarding load.
type mediaLoad struct {
	name        string
	desc        string
	publishers  int
	subscribers int
	simulcast   bool // one simulcast VP8 track per publisher; else one Opus and one VP8 track
	audioOnly   bool // one Opus track per publisher
}

// kind is what each publisher publishes.
func (l mediaLoad) kind() publishKind {
	switch {
	case l.simulcast:
		return publishSimulcast
	case l.audioOnly:
		return publishAudio
	}
	return publishAudioVideo
}

func (l mediaLoad) tracksPerPublisher() int {
	if l.simulcast || l.audioOnly {
		return 1
	}
	return 2
}

// subscriptions is how many subscribed tracks the load makes.
func (l mediaLoad) subscriptions() int { return l.publishers * l.tracksPerPublisher() * l.subscribers }

var mediaLoads = []mediaLoad{
	{name: "fanout", desc: "1 publisher (Opus 20 ms + VP8 640x360 500 kbit/s 30 fps) -> 50 subscribers", publishers: 1, subscribers: 50},
	{name: "simulcast", desc: "4 publishers of simulcast VP8 (180p 160k, 360p 450k, 720p 1.7M, 30 fps) -> 16 subscribers", publishers: 4, subscribers: 16, simulcast: true},
	// The loads issue 13 names.
	{name: "audio200", desc: "1 publisher (Opus 20 ms) -> 200 subscribers", publishers: 1, subscribers: 200, audioOnly: true},
	{name: "simulcast20", desc: "4 publishers of simulcast VP8 (180p 160k, 360p 450k, 720p 1.7M, 30 fps) -> 20 subscribers", publishers: 4, subscribers: 20, simulcast: true},
}

func mediaLoadNames() []string {
	var names []string
	for _, l := range mediaLoads {
		names = append(names, l.name)
	}
	return names
}

// mediaConfig is what -scenario media was asked to do.
type mediaConfig struct {
	loads          string
	targets        []string
	bins           map[string]string
	warmup, window time.Duration
	runs, parallel int
	// quiet is the machine CPU (% of all cores) to wait for before a run; maxOther
	// the CPU other processes may take (% of one core) during a kept run.
	quiet, maxOther float64
}

// mediaResult is what one run of a load against one server measured.
type mediaResult struct {
	load   mediaLoad
	target string

	subsUp, subsWanted     int
	rssBase, rssUp, rssEnd int // KB
	window                 time.Duration
	serverTicks            uint64
	clientTicks            uint64
	// Datagrams the kernel dropped at the server's and at the clients' UDP sockets
	// during the window.
	serverDrops, clientDrops uint64
	machine                  machineCPU // over the window, all cores
	loadAvg                  float64    // 1-minute load average as the window opened

	sent       uint64 // frames the subscribers should have received (ticks x subscribers)
	writeErrs  uint64
	st         trackStats // summed over every subscription
	audioLat   []time.Duration
	videoLat   []time.Duration
	videoFirst []time.Duration
}

func (r *mediaResult) secs() float64 { return r.window.Seconds() }

// cpuPerPacket is the server's CPU time per forwarded packet, in µs.
func (r *mediaResult) cpuPerPacket() float64 {
	if r.st.packets == 0 {
		return 0
	}
	return float64(r.serverTicks) / clockTick * 1e6 / float64(r.st.packets)
}

// cpuPercent is CPU time over wall time, in % of one core.
func (r *mediaResult) cpuPercent(ticks uint64) float64 {
	return float64(ticks) / clockTick / r.secs() * 100
}

// rssPerSub is the growth of the server's RSS from before publishing to all
// subscriptions up, per subscription, in KB.
func (r *mediaResult) rssPerSub() float64 {
	return float64(r.rssUp-r.rssBase) / float64(r.subsWanted)
}

func (r *mediaResult) allLat() []time.Duration {
	return slices.Concat(r.audioLat, r.videoLat)
}

func parseLoads(list string) ([]mediaLoad, error) {
	var out []mediaLoad
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(mediaLoads, func(l mediaLoad) bool { return l.name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown media load %q (want %s)", name, strings.Join(mediaLoadNames(), ", "))
		}
		out = append(out, mediaLoads[i])
	}
	return out, nil
}

// runMedia runs every load against every target, runs times, interleaving the servers
// so that a change in the machine's background load hits both alike, and prints the
// table.
func runMedia(cfg mediaConfig) error {
	loads, err := parseLoads(cfg.loads)
	if err != nil {
		return err
	}
	if cfg.runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	fmt.Printf("media: %d CPU(s), load average %.2f; clients (publishers and subscribers, Go SDK) and server share the machine\n",
		runtime.NumCPU(), loadAvg())
	results := map[string]map[string][]*mediaResult{}
	failed := map[string]int{} // by load and target
	for run := 1; run <= cfg.runs; run++ {
		for _, l := range loads {
			for _, t := range cfg.targets {
				r, err := runMediaKept(l, t, cfg, run)
				if err != nil {
					// A failed run (a server that crashed, clients that could not
					// join) is reported and counted; the others go on.
					fmt.Printf("FAILED: %v\n", err)
					failed[l.name+"/"+t]++
					continue
				}
				fmt.Println(r.summary())
				if results[l.name] == nil {
					results[l.name] = map[string][]*mediaResult{}
				}
				results[l.name][t] = append(results[l.name][t], r)
			}
		}
	}
	printMediaTable(loads, cfg.targets, results, failed)
	if len(failed) > 0 {
		return fmt.Errorf("%d run(s) failed", sumValues(failed))
	}
	return nil
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// runMediaKept runs a load against a server once the machine is quiet, and again
// (at most three more times) while other processes took too much CPU during the
// window.
func runMediaKept(l mediaLoad, target string, cfg mediaConfig, run int) (*mediaResult, error) {
	for attempt := 0; ; attempt++ {
		waitQuiet(cfg.quiet)
		fmt.Printf("run %d/%d  %-9s %-7s ... ", run, cfg.runs, l.name, target)
		r, err := runMediaOnce(l, target, cfg)
		if err != nil || cfg.maxOther <= 0 || r.otherPercent() <= cfg.maxOther || attempt == 3 {
			return r, err
		}
		fmt.Printf("discarded: other processes used %.0f%% of a core during the window (%s)\n", r.otherPercent(), r.summary())
	}
}

// waitQuiet waits until the machine's CPU stayed under limit % of all cores for 3 s, for
// at most 10 minutes.
func waitQuiet(limit float64) {
	if limit <= 0 {
		return
	}
	deadline := time.Now().Add(10 * time.Minute)
	told := false
	for time.Now().Before(deadline) {
		a, err1 := readMachineCPU()
		time.Sleep(3 * time.Second)
		b, err2 := readMachineCPU()
		if err1 != nil || err2 != nil {
			return
		}
		busy := pct(b.busy-a.busy, b.total-a.total)
		if busy < limit {
			return
		}
		if !told {
			fmt.Printf("waiting for a quiet machine (CPU %.0f%% of all cores, want < %.0f%%, load average %.2f)\n", busy, limit, loadAvg())
			told = true
		}
	}
	fmt.Println("the machine did not get quiet within 10 minutes; measuring anyway")
}

func pct(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b) * 100
}

// otherPercent is the CPU other processes than the server and the bench used during
// the window, in % of one core.
func (r *mediaResult) otherPercent() float64 {
	return (float64(r.machine.busy) - float64(r.serverTicks) - float64(r.clientTicks)) / clockTick / r.secs() * 100
}

// runMediaOnce starts a fresh server, runs the load against it and measures.
func runMediaOnce(l mediaLoad, target string, cfg mediaConfig) (_ *mediaResult, err error) {
	srv, err := startTarget(target, cfg.bins[target])
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	// Whatever failed, say so when the server died.
	defer func() { err = srv.explain(err) }()
	pid := srv.pid()
	res := &mediaResult{load: l, target: target, subsWanted: l.subscriptions(), window: cfg.window}

	// Warm the server up (first room, first peer connections) before the baseline.
	warm, _, err := joinCrowd(srv.url, "warmup", 2, 2)
	disconnectAll(warm)
	if err != nil {
		return nil, err
	}

	win := &window{}
	room := "media-" + l.name
	subs := make([]*subscriber, l.subscribers)
	var rooms []*lksdk.Room
	defer func() { disconnectRooms(rooms) }()
	errs := make(chan error, l.subscribers)
	sem := make(chan struct{}, max(cfg.parallel, 1))
	var wg sync.WaitGroup
	for i := range subs {
		subs[i] = &subscriber{}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := joinMedia(srv.url, room, fmt.Sprintf("sub%03d", i), subs[i], win); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	for _, s := range subs {
		if s.room != nil {
			rooms = append(rooms, s.room)
		}
	}
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	pubs := make([]*publisher, l.publishers)
	for i := range pubs {
		r, err := joinMedia(srv.url, room, fmt.Sprintf("pub%d", i), nil, win)
		if err != nil {
			return nil, err
		}
		rooms = append(rooms, r)
		pubs[i] = &publisher{room: r, win: win, stop: make(chan struct{})}
	}
	defer func() {
		for _, p := range pubs {
			if p != nil {
				p.close()
			}
		}
	}()

	time.Sleep(2 * time.Second) // let the joins settle
	if res.rssBase, err = rssKB(pid); err != nil {
		return nil, err
	}
	for i, p := range pubs {
		if err := p.publish(l.kind(), fmt.Sprintf("pub%d", i)); err != nil {
			return nil, err
		}
	}

	// All subscriptions up: every subscriber got media on every track it should have.
	up := func() int {
		n := 0
		for _, s := range subs {
			for _, t := range s.tracks() {
				if t.media.Load() {
					n++
				}
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for res.subsUp = up(); res.subsUp < res.subsWanted && time.Now().Before(deadline); res.subsUp = up() {
		time.Sleep(50 * time.Millisecond)
	}
	if res.rssUp, err = rssKB(pid); err != nil {
		return nil, err
	}

	time.Sleep(cfg.warmup)
	srv0, err1 := cpuTicks(pid)
	cli0, err2 := cpuTicks(0)
	mach0, err3 := readMachineCPU()
	srvDrops0, err4 := udpDrops(pid)
	cliDrops0, err5 := udpDrops(0)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return nil, err
	}
	res.loadAvg = loadAvg()
	begin := time.Now()
	win.open(begin, cfg.window)
	time.Sleep(time.Until(begin.Add(cfg.window)))
	srv1, err1 := cpuTicks(pid)
	cli1, err2 := cpuTicks(0)
	mach1, err3 := readMachineCPU()
	srvDrops1, err4 := udpDrops(pid)
	cliDrops1, err5 := udpDrops(0)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return nil, err
	}
	res.serverDrops, res.clientDrops = srvDrops1-srvDrops0, cliDrops1-cliDrops0
	res.serverTicks, res.clientTicks = srv1-srv0, cli1-cli0
	res.machine = machineCPU{busy: mach1.busy - mach0.busy, total: mach1.total - mach0.total}
	if res.rssEnd, err = rssKB(pid); err != nil {
		return nil, err
	}
	if err := srv.explain(nil); err != nil {
		return nil, err
	}

	for _, p := range pubs {
		p.close()
		res.sent += (p.audioTicks.Load() + p.videoTicks.Load()) * uint64(l.subscribers) //nolint:gosec // G115: a small count
		res.writeErrs += p.writeErrs.Load()
	}
	for _, s := range subs {
		for _, t := range s.tracks() {
			st := t.stats()
			res.st.add(&st)
			if t.kind == webrtc.RTPCodecTypeAudio {
				res.audioLat = append(res.audioLat, st.lat...)
				continue
			}
			res.videoLat = append(res.videoLat, st.lat...)
			res.videoFirst = append(res.videoFirst, st.firstLat...)
		}
	}
	return res, nil
}

// add sums o into s (latencies excepted).
func (s *trackStats) add(o *trackStats) {
	s.packets += o.packets
	s.bytes += o.bytes
	s.padding += o.padding
	s.pktLost += o.pktLost
	s.pktLate += o.pktLate
	s.frames += o.frames
	s.framesLost += o.framesLost
	s.framesLate += o.framesLate
	s.framesIncomplete += o.framesIncomplete
	for i := range s.layerFrames {
		s.layerFrames[i] += o.layerFrames[i]
	}
}

// disconnectRooms disconnects every client at once and waits (at most 10 s) for them.
func disconnectRooms(rooms []*lksdk.Room) {
	var wg sync.WaitGroup
	for _, r := range rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Disconnect()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// summary is the one-line result of a run.
func (r *mediaResult) summary() string {
	lat := r.allLat()
	return fmt.Sprintf("%d/%d subscriptions, %.0f pkt/s, %.2f us CPU/pkt, CPU %.0f%% (clients %.0f%%), %.1f KB RSS/sub, latency p50 %.2f ms p99 %.2f ms, frames %d of %d, lost %d",
		r.subsUp, r.subsWanted, float64(r.st.packets)/r.secs(), r.cpuPerPacket(), r.cpuPercent(r.serverTicks), r.cpuPercent(r.clientTicks),
		r.rssPerSub(), ms(percentile0(lat, 0.5)), ms(percentile0(lat, 0.99)), r.st.frames, r.sent, r.st.framesLost) +
		fmt.Sprintf(", incomplete %d, packets lost %d, UDP drops server %d clients %d", r.st.framesIncomplete, r.st.pktLost, r.serverDrops, r.clientDrops)
}

// percentile0 is percentile that answers 0 for no samples.
func percentile0(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return percentile(ds, p)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Command usher-bench measures an Usher server under a crowd of real LiveKit Go SDK
// clients on loopback: how long N participants take to join one room with WebRTC
// connected, the server's memory per connected idle participant, how long a join or a
// leave takes to reach the last of the others, how long an UpdateParticipant takes to
// reach the last of them, and what forwarding media costs (CPU per forwarded packet,
// memory per subscription, forwarding latency).
//
//	go run ./cmd/usher-bench -n 200                       # joins, memory, join/leave propagation
//	go run ./cmd/usher-bench -scenario update -sizes 100,500
//	go run ./cmd/usher-bench -scenario media              # media forwarding, Usher alone
//	go run ./cmd/usher-bench -scenario media -target both -livekit-bin /work/ref/server -runs 3
//
// It builds and starts its own server (./cmd/usher) in a separate process, so the CPU
// and memory figures are the server's alone. With -target livekit (or both, for the
// media scenario) it drives a livekit-server binary the same way, for comparison.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	protoLogger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

const (
	apiKey    = "APIbench"
	apiSecret = "bench-secret-bench-secret-bench-secret"
)

func main() {
	n := flag.Int("n", 200, "participants in the room")
	probes := flag.Int("probes", 5, "join/leave latency probes")
	parallel := flag.Int("parallel", 16, "joins in flight at once")
	serverBin := flag.String("server", "", "server binary to run for -target usher or livekit (default: build ./cmd/usher; -livekit-bin for livekit)")
	livekitBin := flag.String("livekit-bin", "livekit-server", "livekit-server binary for -target livekit or both (v1.13.5 is the reference)")
	target := flag.String("target", targetUsher, "server to measure: usher, livekit, or both (media scenario only: runs every load against each, side by side)")
	scenario := flag.String("scenario", "join", "join: join time, memory, join/leave propagation; update: UpdateParticipant propagation; media: forwarding cost and latency")
	sizes := flag.String("sizes", "100,500", "room sizes for -scenario update")
	loads := flag.String("loads", strings.Join(mediaLoadNames(), ","), "media loads for -scenario media: fanout (1 publisher of Opus+VP8, 50 subscribers), simulcast (4 simulcast publishers, 16 subscribers), audio200 (1 Opus publisher, 200 subscribers), simulcast20 (4 simulcast publishers, 20 subscribers)")
	warmup := flag.Duration("warmup", 5*time.Second, "media: time between all subscriptions being up and the measurement window")
	window := flag.Duration("window", 20*time.Second, "media: measurement window")
	runs := flag.Int("runs", 1, "media: runs of each load against each server (the table shows the median and the spread)")
	quiet := flag.Float64("quiet", 25, "media: before each run, wait (up to 10 min) until the machine's CPU has been under this % of all cores for 3 s; 0: do not wait")
	maxOther := flag.Float64("max-other", 30, "media: redo a run (up to 3 times) when other processes used more than this % of one core during its window; 0: keep every run")
	flag.Parse()
	lksdk.SetLogger(protoLogger.GetDiscardLogger())

	bins := map[string]string{}
	targets := []string{*target}
	if *target == "both" {
		if *scenario != "media" {
			fail(errors.New("-target both is for -scenario media; run the others once per target"))
		}
		targets = []string{targetUsher, targetLiveKit}
	}
	for _, t := range targets {
		switch t {
		case targetUsher:
			bins[t] = *serverBin
		case targetLiveKit:
			bins[t] = *livekitBin
			if *target == targetLiveKit && *serverBin != "" {
				bins[t] = *serverBin
			}
		default:
			fail(fmt.Errorf("unknown -target %q (want usher, livekit or both)", t))
		}
	}
	if err := resolveBins(bins); err != nil {
		fail(err)
	}
	start := func() (*server, error) { return startTarget(targets[0], bins[targets[0]]) }

	var err error
	switch *scenario {
	case "join":
		err = run(*n, *probes, *parallel, start)
	case "update":
		err = runUpdate(*sizes, *probes, *parallel, start)
	case "media":
		err = runMedia(mediaConfig{loads: *loads, targets: targets, bins: bins, warmup: *warmup, window: *window, runs: *runs, parallel: *parallel, quiet: *quiet, maxOther: *maxOther})
	default:
		err = fmt.Errorf("unknown scenario %q", *scenario)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "usher-bench:", err)
	os.Exit(1)
}

// resolveBins builds Usher when no binary was given and finds livekit-server.
func resolveBins(bins map[string]string) error {
	if b, ok := bins[targetUsher]; ok && b == "" {
		built, err := buildUsher()
		if err != nil {
			return err
		}
		bins[targetUsher] = built
	}
	if b, ok := bins[targetLiveKit]; ok {
		path, err := exec.LookPath(b)
		if err != nil {
			return fmt.Errorf("%w (%w)", errNoLiveKit, err)
		}
		bins[targetLiveKit] = path
		if out, err := exec.Command(path, "--version").Output(); err == nil { //nolint:gosec // G204: the binary the user chose
			fmt.Printf("livekit: %s (%s)\n", strings.TrimSpace(string(out)), path)
		}
	}
	return nil
}

// watcher is one participant of the crowd, remembering when it heard of each join and
// leave.
type watcher struct {
	room *lksdk.Room
	mu   sync.Mutex
	join map[string]time.Time
	left map[string]time.Time
	meta map[string]time.Time // metadata value -> when first seen
}

func (w *watcher) seen(m map[string]time.Time, id string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := m[id]
	return t, ok
}

func token(room, identity string) string {
	tok, _ := lkauth.NewAccessToken(apiKey, apiSecret).SetIdentity(identity).SetValidFor(time.Hour).
		SetVideoGrant(&lkauth.VideoGrant{RoomJoin: true, Room: room}).ToJWT()
	return tok
}

func join(url, room, identity string) (*watcher, error) {
	w := &watcher{join: map[string]time.Time{}, left: map[string]time.Time{}, meta: map[string]time.Time{}}
	cb := lksdk.NewRoomCallback()
	cb.OnParticipantConnected = func(rp *lksdk.RemoteParticipant) {
		now := time.Now()
		w.mu.Lock()
		w.join[rp.Identity()] = now
		w.mu.Unlock()
	}
	cb.OnMetadataChanged = func(_ string, p lksdk.Participant) {
		now := time.Now()
		md := p.Metadata()
		w.mu.Lock()
		if _, ok := w.meta[md]; !ok {
			w.meta[md] = now
		}
		w.mu.Unlock()
	}
	cb.OnParticipantDisconnected = func(rp *lksdk.RemoteParticipant) {
		now := time.Now()
		w.mu.Lock()
		w.left[rp.Identity()] = now
		w.mu.Unlock()
	}
	r, err := lksdk.ConnectToRoomWithToken(url, token(room, identity), cb, lksdk.WithAutoSubscribe(false))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", identity, err)
	}
	w.room = r
	return w, nil
}

// joinCrowd joins n participants, parallel at a time, and returns them and the time
// until the last one was connected.
func joinCrowd(url, room string, n, parallel int) ([]*watcher, time.Duration, error) {
	out := make([]*watcher, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			w, err := join(url, room, fmt.Sprintf("p%04d", i))
			if err != nil {
				errs <- err
				return
			}
			out[i] = w
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return out, took, err
	}
	return out, took, nil
}

func disconnectAll(ws []*watcher) {
	for _, w := range ws {
		if w != nil {
			w.room.Disconnect()
		}
	}
}

// propagation returns how long after start the last watcher saw identity in m.
func propagation(ws []*watcher, pick func(*watcher) map[string]time.Time, identity string, start time.Time) (time.Duration, error) {
	deadline := time.Now().Add(10 * time.Second)
	var last time.Time
	for _, w := range ws {
		for {
			t, ok := w.seen(pick(w), identity)
			if ok {
				if t.After(last) {
					last = t
				}
				break
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("a participant never heard of %s", identity)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	return last.Sub(start), nil
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

func run(n, probes, parallel int, start func() (*server, error)) error {
	srv, err := start()
	if err != nil {
		return err
	}
	defer srv.stop()
	url, pid := srv.url, srv.pid()

	// Warm up the server (first room, first peer connection) before measuring.
	warm, _, err := joinCrowd(url, "warmup", 4, 4)
	if err != nil {
		return err
	}
	disconnectAll(warm)
	time.Sleep(2 * time.Second)
	base, err := rssKB(pid)
	if err != nil {
		return err
	}

	sizes := []int{n}
	if n > 50 {
		sizes = []int{50, n}
	}
	for _, size := range sizes {
		room := fmt.Sprintf("bench-%d", size)
		crowd, took, err := joinCrowd(url, room, size, parallel)
		if err != nil {
			disconnectAll(crowd)
			return err
		}
		fmt.Printf("join: %d participants connected (signal + WebRTC) in %s (%.1f joins/s, %d in flight)\n",
			size, took.Round(time.Millisecond), float64(size)/took.Seconds(), parallel)
		if size != n {
			disconnectAll(crowd)
			time.Sleep(2 * time.Second)
			continue
		}

		time.Sleep(3 * time.Second) // idle
		rss, err := rssKB(pid)
		if err == nil {
			fmt.Printf("memory: server RSS %d KB idle with %d participants, %d KB before: %.1f KB per idle participant\n",
				rss, size, base, float64(rss-base)/float64(size))
		}

		var joins, leaves []time.Duration
		for i := range probes {
			id := fmt.Sprintf("probe%d", i)
			start := time.Now()
			p, err := join(url, room, id)
			if err != nil {
				return err
			}
			d, err := propagation(crowd, func(w *watcher) map[string]time.Time { return w.join }, id, start)
			if err != nil {
				return err
			}
			joins = append(joins, d)
			time.Sleep(200 * time.Millisecond)
			start = time.Now()
			p.room.Disconnect()
			d, err = propagation(crowd, func(w *watcher) map[string]time.Time { return w.left }, id, start)
			if err != nil {
				return err
			}
			leaves = append(leaves, d)
			time.Sleep(200 * time.Millisecond)
		}
		fmt.Printf("join propagation to the last of %d: median %s, max %s (from the joiner's connect call, including its signal and WebRTC setup)\n",
			size, percentile(joins, 0.5).Round(time.Millisecond), percentile(joins, 1).Round(time.Millisecond))
		fmt.Printf("leave propagation to the last of %d: median %s, max %s (from the leaver's Disconnect call)\n",
			size, percentile(leaves, 0.5).Round(time.Millisecond), percentile(leaves, 1).Round(time.Millisecond))
		disconnectAll(crowd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	<-ctx.Done()
	return nil
}

// runUpdate measures, for each room size, how long after UpdateParticipant (metadata)
// returns the last participant hears of the change.
func runUpdate(sizeList string, probes, parallel int, start func() (*server, error)) error {
	srv, err := start()
	if err != nil {
		return err
	}
	defer srv.stop()
	url := srv.url
	rc := lksdk.NewRoomServiceClient(strings.Replace(url, "ws", "http", 1), apiKey, apiSecret)
	for _, f := range strings.Split(sizeList, ",") {
		size, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || size < 2 {
			return fmt.Errorf("bad size %q", f)
		}
		room := fmt.Sprintf("update-%d", size)
		crowd, took, err := joinCrowd(url, room, size, parallel)
		if err != nil {
			disconnectAll(crowd)
			return err
		}
		fmt.Printf("join: %d participants connected in %s\n", size, took.Round(time.Millisecond))
		time.Sleep(time.Second)
		var lat []time.Duration
		for i := range probes {
			md := fmt.Sprintf("probe-%d-%d", size, i)
			_, err := rc.UpdateParticipant(context.Background(), &livekit.UpdateParticipantRequest{Room: room, Identity: "p0000", Metadata: md})
			if err != nil {
				disconnectAll(crowd)
				return err
			}
			returned := time.Now()
			d, err := propagation(crowd, func(w *watcher) map[string]time.Time { return w.meta }, md, returned)
			if err != nil {
				disconnectAll(crowd)
				return err
			}
			lat = append(lat, d)
			time.Sleep(200 * time.Millisecond)
		}
		fmt.Printf("update propagation to the last of %d (from UpdateParticipant returning): median %s, max %s\n",
			size, percentile(lat, 0.5).Round(100*time.Microsecond), percentile(lat, 1).Round(100*time.Microsecond))
		disconnectAll(crowd)
		time.Sleep(2 * time.Second)
	}
	return nil
}

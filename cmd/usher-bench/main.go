// Command usher-bench measures an Usher server under a crowd of real LiveKit Go SDK
// clients on loopback: how long N participants take to join one room with WebRTC
// connected, the server's memory per connected idle participant, how long a join or a
// leave takes to reach the last of the others, and how long an UpdateParticipant takes
// to reach the last of them.
//
//	go run ./cmd/usher-bench -n 200                       # joins, memory, join/leave propagation
//	go run ./cmd/usher-bench -scenario update -sizes 100,500
//
// It builds and starts its own server (./cmd/usher) in a separate process, so the
// memory figure is the server's alone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
	serverBin := flag.String("server", "", "usher binary to run (default: build ./cmd/usher)")
	scenario := flag.String("scenario", "join", "join: join time, memory, join/leave propagation; update: UpdateParticipant propagation")
	sizes := flag.String("sizes", "100,500", "room sizes for -scenario update")
	flag.Parse()
	lksdk.SetLogger(protoLogger.GetDiscardLogger())
	var err error
	switch *scenario {
	case "join":
		err = run(*n, *probes, *parallel, *serverBin)
	case "update":
		err = runUpdate(*sizes, *probes, *parallel, *serverBin)
	default:
		err = fmt.Errorf("unknown scenario %q", *scenario)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "usher-bench:", err)
		os.Exit(1)
	}
}

func freePort(network string) (int, error) {
	if network == "udp" {
		c, err := net.ListenPacket("udp", ":0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// rssKB reads a process's resident set size.
func rssKB(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.Fields(v)[0])
		}
	}
	return 0, errors.New("no VmRSS")
}

func startServer(bin string) (*exec.Cmd, string, error) {
	if bin == "" {
		dir, err := os.MkdirTemp("", "usher-bench")
		if err != nil {
			return nil, "", err
		}
		bin = filepath.Join(dir, "usher")
		build := exec.Command("go", "build", "-o", bin, "./cmd/usher") //nolint:gosec // G204: a fixed command; bin is our temp dir
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return nil, "", fmt.Errorf("building usher: %w", err)
		}
	}
	httpPort, _ := freePort("tcp")
	udpPort, _ := freePort("udp")
	tcpPort, _ := freePort("tcp")
	body := fmt.Sprintf("port: %d\nbind_addresses: [127.0.0.1]\nrtc:\n  udp_port: %d\n  tcp_port: %d\n  enable_loopback_candidate: true\nlogging:\n  level: warn\n", httpPort, udpPort, tcpPort)
	cmd := exec.Command(bin, "--config-body", body, "--keys", apiKey+": "+apiSecret) //nolint:gosec // G204: the binary this tool just built
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	url := fmt.Sprintf("ws://127.0.0.1:%d", httpPort)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort)); err == nil {
			c.Close()
			return cmd, url, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return nil, "", errors.New("server did not start")
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

func run(n, probes, parallel int, bin string) error {
	cmd, url, err := startServer(bin)
	if err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }()
	pid := cmd.Process.Pid

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
func runUpdate(sizeList string, probes, parallel int, bin string) error {
	cmd, url, err := startServer(bin)
	if err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }()
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

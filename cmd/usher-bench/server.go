package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Targets: the server the bench drives.
const (
	targetUsher   = "usher"
	targetLiveKit = "livekit"
)

// server is a server process the bench started and drives over loopback.
type server struct {
	target string
	cmd    *exec.Cmd
	url    string // ws://127.0.0.1:port
	log    string // the file holding the server's stdout and stderr
	exited chan struct{}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop kills the server and waits for it. Its log is removed when it is empty.
func (s *server) stop() {
	_ = s.cmd.Process.Kill()
	<-s.exited
	if fi, err := os.Stat(s.log); err == nil && fi.Size() == 0 {
		_ = os.Remove(s.log)
	}
}

// explain returns err, or an error saying the server died (with the start of its
// log's panic, if any) when it is no longer running.
func (s *server) explain(err error) error {
	select {
	case <-s.exited:
	default:
		return err
	}
	msg := fmt.Sprintf("the %s server exited (%s); its log: %s", s.target, s.cmd.ProcessState, s.log)
	if err != nil {
		msg = err.Error() + ": " + msg
	}
	if data, rerr := os.ReadFile(s.log); rerr == nil {
		if i := strings.Index(string(data), "panic:"); i >= 0 {
			lines := strings.SplitN(string(data[i:]), "\n", 10)
			msg += "\n\t" + strings.Join(lines[:len(lines)-1], "\n\t")
		}
	}
	return errors.New(msg)
}

func freePort(network string) (int, error) {
	if network == "udp" {
		c, err := net.ListenPacket("udp", ":0") // the servers listen on every interface
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

// buildUsher builds ./cmd/usher into a temporary directory and returns the binary.
func buildUsher() (string, error) {
	dir, err := os.MkdirTemp("", "usher-bench")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "usher")
	build := exec.Command("go", "build", "-o", bin, "./cmd/usher") //nolint:gosec // G204: a fixed command; bin is our temp dir
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building usher: %w", err)
	}
	return bin, nil
}

// startTarget starts bin, an Usher or a livekit-server binary, on loopback with free
// ports, its ICE candidates on 127.0.0.1, logging at warn into a temporary file, and
// waits until it accepts connections.
func startTarget(target, bin string) (*server, error) {
	httpPort, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	udpPort, err := freePort("udp")
	if err != nil {
		return nil, err
	}
	tcpPort, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	var args []string
	switch target {
	case targetUsher:
		body := fmt.Sprintf("port: %d\nbind_addresses: [127.0.0.1]\nrtc:\n  udp_port: %d\n  tcp_port: %d\n  enable_loopback_candidate: true\nlogging:\n  level: warn\n",
			httpPort, udpPort, tcpPort)
		args = []string{"--config-body", body, "--keys", apiKey + ": " + apiSecret}
	case targetLiveKit:
		// Dev-like settings: loopback only, the node's IP and ICE candidates on lo.
		body := fmt.Sprintf("port: %d\nrtc:\n  udp_port: %d\n  tcp_port: %d\n  enable_loopback_candidate: true\n  use_external_ip: false\n  interfaces:\n    includes: [lo]\nlogging:\n  level: warn\n",
			httpPort, udpPort, tcpPort)
		args = []string{"--bind", "127.0.0.1", "--node-ip", "127.0.0.1", "--config-body", body, "--keys", apiKey + ": " + apiSecret}
	default:
		return nil, fmt.Errorf("unknown target %q (want %s or %s)", target, targetUsher, targetLiveKit)
	}
	logf, err := os.CreateTemp("", "usher-bench-"+target+"-*.log")
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...) //nolint:gosec // G204: the server binary the user chose or this tool built
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server must not outlive the bench, even when the bench is interrupted.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &server{target: target, cmd: cmd, url: fmt.Sprintf("ws://127.0.0.1:%d", httpPort), log: logf.Name(), exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	for range 200 {
		if err := s.explain(nil); err != nil {
			return nil, err
		}
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort)); err == nil {
			c.Close()
			return s, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("%s did not start within 10 s (log: %s)", target, s.log)
}

// errNoLiveKit explains how to get the reference server.
var errNoLiveKit = errors.New("no livekit-server binary: build one outside the repository with " +
	"`GOBIN=/work/ref go install github.com/livekit/livekit-server/cmd/server@v1.13.5` and pass -livekit-bin /work/ref/server")

package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-rtc/usher/internal/auth"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	// wrote is closed (and replaced) by the next Write.
	wrote chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrote != nil {
		close(s.wrote)
		s.wrote = nil
	}
	return s.b.Write(p)
}

// await waits until found reports true for what was written so far, checking again
// after each write, or until timeout passes.
func (s *syncBuffer) await(timeout time.Duration, found func(string) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		text := s.b.String()
		if s.wrote == nil {
			s.wrote = make(chan struct{})
		}
		wrote := s.wrote
		s.mu.Unlock()
		if found(text) {
			return true
		}
		select {
		case <-wrote:
		case <-deadline.C:
			return false
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func run(t *testing.T, e map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), args, &out, &errOut, env(e))
	return out.String(), errOut.String(), err
}

const strong = "0123456789abcdef0123456789abcdef"

func TestGenerateKeys(t *testing.T) {
	out, _, err := run(t, nil, "generate-keys")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`API Key:\s+(API\w{12})\nAPI Secret:\s+(\w+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("unexpected output:\n%s", out)
	}
	if len(m[2]) < 32 {
		t.Errorf("secret %q is shorter than 32 characters", m[2])
	}
	out2, _, _ := run(t, nil, "generate-keys")
	if out2 == out {
		t.Errorf("two runs printed the same keys")
	}
	// The generated pair is accepted outside development mode.
	keys := m[1] + ": " + m[2]
	if _, _, err := run(t, map[string]string{"LIVEKIT_KEYS": keys}, "--check-config"); err != nil {
		t.Errorf("generated keys refused: %v", err)
	}
}

func TestCreateJoinToken(t *testing.T) {
	out, _, err := run(t, nil, "create-join-token", "--keys", "APIk: "+strong, "--room", "r1", "--identity", "bob")
	if err != nil {
		t.Fatal(err)
	}
	c, err := auth.NewVerifier(auth.StaticKeys{"APIk": strong}).Verify(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	if c.Identity() != "bob" || !c.Video().RoomJoin || c.Video().Room != "r1" {
		t.Errorf("claims = %+v %+v", c, c.Video())
	}

	_, _, err = run(t, nil, "create-join-token", "--dev", "--room", "r1")
	if err == nil || !strings.Contains(err.Error(), "--identity") {
		t.Errorf("missing identity: %v", err)
	}
	_, _, err = run(t, nil, "create-join-token", "--keys", "APIa: "+strong+"\nAPIb: "+strong, "--room", "r", "--identity", "i")
	if err == nil || !strings.Contains(err.Error(), "--api-key") {
		t.Errorf("ambiguous key: %v", err)
	}
}

func TestPortsVersionHelp(t *testing.T) {
	out, _, err := run(t, nil, "ports", "--dev")
	if err != nil || !strings.Contains(out, "7880/tcp") || !strings.Contains(out, "7881/tcp") || !strings.Contains(out, "7882/udp") {
		t.Errorf("ports: %v\n%s", err, out)
	}
	out, _, err = run(t, nil, "ports", "--dev", "--udp-port", "9999")
	if err != nil || !strings.Contains(out, "9999/udp") {
		t.Errorf("ports --udp-port: %v\n%s", err, out)
	}
	out, _, err = run(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "usher ") {
		t.Errorf("version: %v %q", err, out)
	}
	out, _, err = run(t, nil, "help")
	if err != nil || !strings.Contains(out, "usher --dev") || !strings.Contains(out, "--config FILE") || !strings.Contains(out, "create-join-token") {
		t.Errorf("help: %v\n%s", err, out)
	}
	_, errOut, err := run(t, nil, "--help")
	if !errors.Is(err, errHelp) || !strings.Contains(errOut, "--keys") {
		t.Errorf("--help: %v\n%s", err, errOut)
	}
	_, _, err = run(t, nil, "frobnicate")
	if err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v", err)
	}
}

func TestStartupRefusals(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"short secret", nil, []string{"--keys", "APIk: short"}, "usher generate-keys"},
		{"short secret from env", map[string]string{"LIVEKIT_KEYS": "APIk: short"}, nil, "at least 32"},
		{"no keys", nil, nil, "no API keys"},
		{"unknown config key", nil, []string{"--config-body", "rtc:\n  udp_prot: 1\n", "--dev"}, `unknown key "rtc.udp_prot"`},
		{"unknown key from env", map[string]string{"LIVEKIT_CONFIG": "bogus: true"}, []string{"--dev"}, `unknown key "bogus"`},
		{"bad bind", nil, []string{"--dev", "--bind", "nowhere"}, "bind_addresses"},
		{"stray argument", nil, []string{"--dev", "extra"}, `unexpected argument "extra"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string(nil), tc.args...), "--check-config")
			_, _, err := run(t, tc.env, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}

	dir := t.TempDir()
	kf := filepath.Join(dir, "keys")
	if err := os.WriteFile(kf, []byte("APIk: "+strong+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := run(t, nil, "--key-file", kf, "--check-config")
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("readable key file: %v", err)
	}
	_ = os.Chmod(kf, 0o600)
	if _, _, err := run(t, nil, "--key-file", kf, "--check-config"); err != nil {
		t.Errorf("private key file: %v", err)
	}
	// --dev accepts the short dev secret.
	if out, _, err := run(t, nil, "--dev", "--check-config"); err != nil || !strings.Contains(out, "valid") {
		t.Errorf("--dev: %v %s", err, out)
	}
}

func TestServeUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		body := "port: 0\ndata_dir: " + t.TempDir() + "\nrtc:\n  udp_port: 0\n  tcp_port: 0\nredis:\n  address: x\n"
		done <- Run(ctx, []string{"--dev", "--config-body", body}, &out, &errOut, env(nil))
	}()
	re := regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
	var addr string
	errOut.await(10*time.Second, func(logs string) bool {
		if m := re.FindStringSubmatch(logs); m != nil {
			addr = m[1]
		}
		// "development mode" is logged right after the listeners are up.
		return addr != "" && strings.Contains(logs, "development mode")
	})
	if addr == "" {
		t.Fatalf("server did not report its address:\n%s", errOut.String())
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "OK" {
		t.Errorf("health = %q", body)
	}
	logs := errOut.String()
	if !strings.Contains(logs, `redis\" is a livekit-server setting`) || !strings.Contains(logs, "level=DEBUG") && !strings.Contains(logs, "development mode") {
		t.Errorf("expected the ignored-key warning and dev-mode logs:\n%s", logs)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !strings.Contains(errOut.String(), "stopped") {
		t.Errorf("no shutdown log:\n%s", errOut.String())
	}
}

func TestCreateAdminToken(t *testing.T) {
	out, _, err := run(t, nil, "create-admin-token", "--keys", "APIk: "+strong, "--room", "r1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := auth.NewVerifier(auth.StaticKeys{"APIk": strong}).Verify(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	v := c.Video()
	if !v.RoomCreate || !v.RoomList || !v.RoomAdmin || v.Room != "r1" || v.RoomJoin {
		t.Errorf("grant = %+v", v)
	}
	if err := c.RequireRoomAdmin("M", "r1"); err != nil {
		t.Error(err)
	}
}

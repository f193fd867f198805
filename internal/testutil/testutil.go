// Package testutil starts real Usher servers for tests and offers small helpers for
// driving them.
package testutil

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/server"
)

// Test credentials. The secret is long enough for non-development mode.
const (
	APIKey    = "APItestkey"
	APISecret = "test-secret-that-is-long-enough-0123456789"
)

// TestServer is a running in-process Usher.
type TestServer struct {
	*server.Server
	// URL is the http:// base URL.
	URL string
	// WSURL is the ws:// base URL for /rtc.
	WSURL string
	// Config is the configuration the server runs with.
	Config *config.Config
}

// Option changes the configuration before the server starts.
type Option func(*config.Config)

// WithConfig applies f to the configuration.
func WithConfig(f func(*config.Config)) Option { return Option(f) }

// StartServer starts a server on 127.0.0.1 with random ports and stops it when the test
// ends. Set USHER_TEST_LOG=1 to see its logs.
func StartServer(t testing.TB, opts ...Option) *TestServer {
	t.Helper()
	cfg := config.Default()
	cfg.Port = 0
	cfg.BindAddresses = []string{"127.0.0.1"}
	cfg.Keys = map[string]string{APIKey: APISecret}
	cfg.RTC.UDPPort = FreeUDPPort(t)
	cfg.RTC.TCPPort = FreeTCPPort(t)
	cfg.RTC.EnableLoopbackCandidate = true
	cfg.DataDir = t.TempDir()
	for _, o := range opts {
		o(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	w := io.Discard
	if os.Getenv("USHER_TEST_LOG") != "" {
		w = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(cfg, log)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	url := srv.URL()
	return &TestServer{Server: srv, URL: url, WSURL: "ws" + strings.TrimPrefix(url, "http"), Config: cfg}
}

// FreeUDPPort returns a UDP port that was free a moment ago on all addresses.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatalf("finding a free UDP port: %v", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// FreeTCPPort returns a TCP port that was free a moment ago on all addresses.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatalf("finding a free TCP port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RoomClient returns the official SDK's RoomService client for the server.
func (s *TestServer) RoomClient() *lksdk.RoomServiceClient {
	return lksdk.NewRoomServiceClient(s.URL, APIKey, APISecret)
}

// Token signs a token with the test key for grant, valid for an hour.
func Token(t testing.TB, identity string, grant *lkauth.VideoGrant) string {
	t.Helper()
	at := lkauth.NewAccessToken(APIKey, APISecret).SetValidFor(time.Hour).SetVideoGrant(grant)
	if identity != "" {
		at.SetIdentity(identity)
	}
	tok, err := at.ToJWT()
	if err != nil {
		t.Fatalf("ToJWT: %v", err)
	}
	return tok
}

// Eventually polls cond every 10 ms until it returns true or timeout passes, then fails
// the test with msg.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: "+msg, append([]any{timeout}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Context returns a context that ends after d or when the test ends.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Participant returns the server's current view of a participant, failing the test
// when the room or participant is not there.
func (s *TestServer) Participant(t testing.TB, roomName, identity string) *livekit.ParticipantInfo {
	t.Helper()
	rm, err := s.Rooms().Room(roomName)
	if err != nil {
		t.Fatalf("room %q: %v", roomName, err)
	}
	p := rm.Participant(identity)
	if p == nil {
		t.Fatalf("%q is not in room %q", identity, roomName)
	}
	return p.Info()
}

// RoomClientUpdateRoomMetadata sets a room's metadata through the Room service.
func (s *TestServer) RoomClientUpdateRoomMetadata(t testing.TB, roomName, md string) error {
	t.Helper()
	_, err := s.RoomClient().UpdateRoomMetadata(context.Background(), &livekit.UpdateRoomMetadataRequest{Room: roomName, Metadata: md})
	return err
}

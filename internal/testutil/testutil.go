// Package testutil starts real Usher servers for tests and offers small helpers for
// driving them.
package testutil

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/rtc/sfu"
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

	logs       *logWatchers
	barrierSeq atomic.Int64
}

// Option changes the configuration before the server starts.
type Option func(*config.Config)

// WithConfig applies f to the configuration.
func WithConfig(f func(*config.Config)) Option { return Option(f) }

// StartServer starts a server on 127.0.0.1 with random ports and stops it when the test
// ends. Set USHER_TEST_LOG=1 to see its logs.
//
// The ICE/UDP socket and the ICE/TCP listener are opened here on 127.0.0.1:0 and
// handed to the server still open, so no other process can take their ports in
// between; cfg.RTC.UDPPort and cfg.RTC.TCPPort name the ports they got. An option that
// sets other ports (or 0) gets the configured behaviour instead.
func StartServer(t testing.TB, opts ...Option) *TestServer {
	t.Helper()
	cfg := config.Default()
	cfg.Port = 0
	cfg.BindAddresses = []string{"127.0.0.1"}
	cfg.Keys = map[string]string{APIKey: APISecret}
	cfg.RTC.EnableLoopbackCandidate = true
	cfg.DataDir = t.TempDir()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("opening the ICE/UDP socket: %v", err)
	}
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		_ = udp.Close()
		t.Fatalf("opening the ICE/TCP listener: %v", err)
	}
	udpPort, tcpPort := udp.LocalAddr().(*net.UDPAddr).Port, tcp.Addr().(*net.TCPAddr).Port
	cfg.RTC.UDPPort, cfg.RTC.TCPPort = udpPort, tcpPort
	for _, o := range opts {
		o(cfg)
	}
	var ln server.Listeners
	if cfg.RTC.UDPPort == udpPort {
		ln.ICEUDP = udp
	} else {
		_ = udp.Close()
	}
	if cfg.RTC.TCPPort == tcpPort {
		ln.ICETCP = tcp
	} else {
		_ = tcp.Close()
	}
	if err := cfg.Validate(); err != nil {
		if ln.ICEUDP != nil {
			_ = ln.ICEUDP.Close()
		}
		if ln.ICETCP != nil {
			_ = ln.ICETCP.Close()
		}
		t.Fatalf("test config: %v", err)
	}
	logs := &logTap{watchers: &logWatchers{}}
	if os.Getenv("USHER_TEST_LOG") != "" {
		logs.out = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	srv, err := server.NewWithListeners(cfg, slog.New(logs), ln)
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
	return &TestServer{Server: srv, URL: url, WSURL: "ws" + strings.TrimPrefix(url, "http"), Config: cfg, logs: logs.watchers}
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

// Receiver returns the SFU receiver of a published track, failing the test when the
// track has no media yet.
func (s *TestServer) Receiver(t testing.TB, roomName, identity, trackSID string) *sfu.Receiver {
	t.Helper()
	rm, err := s.Rooms().Room(roomName)
	if err != nil {
		t.Fatalf("room %q: %v", roomName, err)
	}
	p := rm.Participant(identity)
	if p == nil {
		t.Fatalf("%q is not in room %q", identity, roomName)
	}
	r, ok := p.TrackMedia(trackSID).(*sfu.Receiver)
	if !ok {
		t.Fatalf("track %s of %q has no media", trackSID, identity)
	}
	return r
}

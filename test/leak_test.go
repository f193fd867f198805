package test

import (
	"context"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"go.uber.org/goleak"

	"github.com/usher-rtc/usher/internal/server"
	"github.com/usher-rtc/usher/internal/testutil"
)

// TestNoGoroutineLeaks runs a busy session (both transport modes, a publication, data,
// a resume, a participant whose signal dropped) and checks that once the clients are
// gone and the server stopped, no goroutine is left behind.
func TestNoGoroutineLeaks(t *testing.T) {
	before := goleak.IgnoreCurrent()
	func() {
		// A sub-test owns the server so its cleanup runs before the check.
		t.Run("session", func(t *testing.T) {
			hooks := testutil.NewWebhookReceiver(t)
			srv := testutil.StartServer(t, withWebhooks([]string{hooks.URL}, []string{hooks.URL + "?moderation"}))
			a := srv.Join(t, "leak", "a")
			b := srv.Join(t, "leak", "b", singlePC)
			waitActive(t, srv, "leak", "a", "b")
			if _, err := a.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"}); err != nil {
				t.Fatal(err)
			}
			// In single peer connection mode the SDK sends data as soon as its transport is
			// connected, even before its data channel is open (the send then fails): send
			// until one arrives.
			for i := 0; ; i++ {
				_ = b.Room.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("x")), lksdk.WithDataPublishReliable(true))
				if _, ok := a.Await(time.Second, func(e testutil.Event) bool { return e.Kind == "data" && e.Identity == "b" }); ok {
					break
				}
				if i == 9 {
					t.Fatalf("a did not see data from b; saw %v", a.Events())
				}
			}
			b.Room.Simulate(lksdk.SimulateSignalReconnect)
			b.WaitFor(t, 10*time.Second, "reconnected", "")
			raw := dialRaw(t, srv, testutil.JoinToken(t, "leak", "raw"), "")
			_ = raw.ws.Close()
			a.Room.Disconnect()
			b.Room.Disconnect()
			hooks.WaitAccepted(10*time.Second, 1)
			stopServer(t, srv.Server)
		})
	}()
	goleak.VerifyNone(t, before)
}

func stopServer(t *testing.T, s *server.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

package test

import (
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/usher-rtc/usher/internal/testutil"
)

func TestTwoParticipantsSeeEachOther(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []testutil.JoinOption
	}{
		{"dual peer connections", nil},
		{"single peer connection", []testutil.JoinOption{testutil.WithSDKOptions(lksdk.WithSinglePeerConnection())}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			srv := testutil.StartServer(t)
			alice := srv.Join(t, "class", "alice", mode.opts...)
			bob := srv.Join(t, "class", "bob", mode.opts...)
			alice.WaitFor(t, 5*time.Second, "participant_connected", "bob")
			if rp := bob.Room.GetParticipantByIdentity("alice"); rp == nil {
				t.Fatalf("bob's JoinResponse did not list alice")
			}
			bob.Room.Disconnect()
			e := alice.WaitFor(t, 5*time.Second, "participant_disconnected", "bob")
			if e.Detail != "CLIENT_INITIATED" {
				t.Errorf("bob left with reason %s, want CLIENT_INITIATED", e.Detail)
			}
		})
	}
}

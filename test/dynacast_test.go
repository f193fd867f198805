package test

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/usher-rtc/usher/internal/testutil"
)

// qualityUpdate matches a subscribed_quality_update for track sid whose qualities for
// the track's codec are enabled as want (LOW, MEDIUM, HIGH).
func qualityUpdate(sid string, want [3]bool) func(*livekit.SignalResponse) bool {
	return func(r *livekit.SignalResponse) bool {
		u := r.GetSubscribedQualityUpdate()
		if u.GetTrackSid() != sid || len(u.SubscribedCodecs) != 1 || u.SubscribedCodecs[0].Codec != "vp8" {
			return false
		}
		got := [3]bool{}
		for _, q := range u.SubscribedCodecs[0].Qualities {
			if int(q.Quality) < 3 {
				got[q.Quality] = q.Enabled
			}
		}
		old := [3]bool{}
		for _, q := range u.SubscribedQualities { //nolint:staticcheck // older SDKs read it
			if int(q.Quality) < 3 {
				old[q.Quality] = q.Enabled
			}
		}
		return got == want && old == want
	}
}

// Dynacast: the publisher is told which layers anyone receives. Nobody: none (after a
// delay); a subscriber: every layer at once; the subscriber asks for the low layer:
// only that one; the subscriber disables the track: none again.
func TestDynacastTellsThePublisherWhatIsWatched(t *testing.T) {
	srv := testutil.StartServer(t)
	tap := srv.NewSignalTap(t)
	pub := srv.Join(t, "class", "teacher", testutil.WithURL(tap.WSURL))
	mp, _, vpub := publishMedia(t, pub)
	defer mp.close()
	none, all, low := [3]bool{}, [3]bool{true, true, true}, [3]bool{true, false, false}

	_, i := tap.Await(t, 10*time.Second, 0, "the update for no subscriber", qualityUpdate(vpub.SID(), none))
	student := srv.Join(t, "class", "student")
	student.WaitForDetail(t, 10*time.Second, "track_subscribed", vpub.SID())
	_, i = tap.Await(t, 5*time.Second, i+1, "the update for a subscriber", qualityUpdate(vpub.SID(), all))

	rp := student.Room.GetParticipantByIdentity("teacher")
	var rpub *lksdk.RemoteTrackPublication
	for _, p := range rp.TrackPublications() {
		if p.SID() == vpub.SID() {
			rpub = p.(*lksdk.RemoteTrackPublication)
		}
	}
	if err := rpub.SetVideoQuality(livekit.VideoQuality_LOW); err != nil {
		t.Fatal(err)
	}
	_, i = tap.Await(t, 10*time.Second, i+1, "the update for the low layer", qualityUpdate(vpub.SID(), low))
	rpub.SetEnabled(false)
	tap.Await(t, 10*time.Second, i+1, "the update for a disabled track", qualityUpdate(vpub.SID(), none))
}

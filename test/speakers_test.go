package test

import (
	"testing"
	"time"

	"github.com/usher-rtc/usher/internal/testutil"
)

// Active speakers come from the audio-level header extension: a participant whose
// microphone carries speech becomes an active speaker for everyone (its own SDK
// included, and a latecomer), and stops being one when it falls silent or mutes.
func TestActiveSpeakers(t *testing.T) {
	srv := testutil.StartServer(t)
	listener := srv.Join(t, "class", "listener")
	speaker := srv.Join(t, "class", "speaker")
	quiet := srv.Join(t, "class", "quiet")
	mp, apub, _ := publishMedia(t, speaker)
	qp, _, _ := publishMedia(t, quiet)
	qp.setAudioLevel(127) // sends, but silence
	mp.setAudioLevel(127)
	listener.WaitForDetail(t, 10*time.Second, "track_subscribed", apub.SID())

	mp.setAudioLevel(12)
	for _, c := range []*testutil.Client{listener, speaker, quiet} {
		c.WaitForDetail(t, 5*time.Second, "active_speakers", "speaker")
	}
	if lvl := listener.Room.GetParticipantByIdentity("speaker").AudioLevel(); lvl < 0.1 || lvl > 0.3 {
		t.Errorf("the speaker's level at -12 dBov: %v (want about 0.25)", lvl)
	}
	if !speaker.Room.LocalParticipant.IsSpeaking() {
		t.Error("the speaker's own SDK does not show it speaking")
	}
	late := srv.Join(t, "class", "late")
	testutil.Eventually(t, 5*time.Second, func() bool {
		as := late.Room.ActiveSpeakers()
		return len(as) == 1 && as[0].Identity() == "speaker"
	}, "a latecomer does not learn who is speaking")

	mp.setAudioLevel(127)
	for _, c := range []*testutil.Client{listener, speaker} {
		c.WaitForDetail(t, 5*time.Second, "active_speakers", "")
	}
	for _, e := range listener.Events() {
		if e.Kind == "active_speakers" && e.Detail != "speaker" && e.Detail != "" {
			t.Errorf("the listener saw speakers %q; only the speaker ever spoke", e.Detail)
		}
	}
	// Speaking into a muted microphone is not speaking.
	mp.setAudioLevel(5)
	testutil.Eventually(t, 5*time.Second, func() bool { return len(listener.Room.ActiveSpeakers()) == 1 }, "the speaker did not speak again")
	apub.SetMuted(true)
	testutil.Eventually(t, 5*time.Second, func() bool { return len(listener.Room.ActiveSpeakers()) == 0 }, "muting did not end the speech")
}

package test

import (
	"context"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

// relayOnly makes a client relay all its media through the TURN servers the server
// announces (rtc.turn_servers).
var relayOnly = testutil.WithSDKOptions(lksdk.WithICETransportPolicy(webrtc.ICETransportPolicyRelay))

// withRelay announces relay in rtc.turn_servers.
func withRelay(relay *testutil.TURNRelay) testutil.Option {
	return testutil.WithConfig(func(c *config.Config) { c.RTC.TURNServers = []config.TURNServer{relay.Config()} })
}

// A subscriber behind a link that loses 5% of the packets each way keeps receiving the
// video: the server repairs the losses with NACK retransmissions. The subscriber can
// only reach the server through the TURN relay the join response announced.
func TestVideoKeepsPlayingAtFivePercentLoss(t *testing.T) {
	relay := testutil.StartTURNRelay(t)
	srv := testutil.StartServer(t, withRelay(relay))
	speaker := srv.Join(t, "class", "speaker")
	mp, _, vpub := publishMedia(t, speaker)
	defer mp.close()
	student := srv.Join(t, "class", "student", relayOnly)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	video := make(chan frame, 1024)
	go readVP8(ctx, subscribedTrack(t, student, vpub.SID()), video)
	expectFrames(t, "before the loss", video, 10, false)
	carriedBefore, _ := relay.Counts()
	if carriedBefore == 0 {
		t.Fatal("the student's media did not go through the relay")
	}

	relay.Impair(testutil.Impairment{Loss: 0.05})
	const n = 150 // six seconds of video
	got := expectFrames(t, "at 5% loss", video, n, false)
	first, last := got[0].n, got[len(got)-1].n
	expected := (last-first)/2 + 1 // the publisher writes a video frame every other tick
	_, dropped := relay.Counts()
	dc, dd := relay.DirectionCounts()
	t.Logf("relay: carried %v, dropped %v (from, to the student)", dc, dd)
	t.Logf("at 5%% loss: %d of %d frames arrived (%.1f%%), %d packets dropped by the relay", len(got), expected, 100*float64(len(got))/float64(expected), dropped)
	if dropped == 0 {
		t.Fatal("the relay dropped nothing")
	}
	if float64(len(got)) < 0.97*float64(expected) {
		t.Errorf("%d of %d frames arrived at 5%% loss: the losses were not repaired", len(got), expected)
	}
}

// The connection rating follows the link: a subscriber behind a relay that loses a
// fifth of its packets is no longer rated excellent, by itself and by the others.
func TestConnectionQualityFollowsLoss(t *testing.T) {
	relay := testutil.StartTURNRelay(t)
	srv := testutil.StartServer(t, withRelay(relay))
	speaker := srv.Join(t, "class", "speaker")
	mp, apub, vpub := publishMedia(t, speaker)
	defer mp.close()
	student := srv.Join(t, "class", "student", relayOnly)
	// The student's SDK reports losses (NACKs, receiver reports) of what it reads.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go readVP8(ctx, subscribedTrack(t, student, vpub.SID()), make(chan frame, 4096))
	go readOpus(ctx, subscribedTrack(t, student, apub.SID()), make(chan frame, 4096), nil)
	if e := student.WaitFor(t, 10*time.Second, "connection_quality", "student"); e.Detail != "EXCELLENT" {
		t.Fatalf("before the loss the student is rated %s", e.Detail)
	}
	relay.Impair(testutil.Impairment{Loss: 0.2})
	e, ok := student.Await(15*time.Second, func(e testutil.Event) bool {
		return e.Kind == "connection_quality" && e.Identity == "student" && e.Detail != "EXCELLENT"
	})
	if !ok {
		c, d := relay.DirectionCounts()
		t.Fatalf("at 20%% loss the student is still rated excellent (relay carried %v, dropped %v): %v", c, d, student.Events())
	}
	t.Logf("at 20%% loss the student is rated %s", e.Detail)
	speaker.WaitForDetail(t, 10*time.Second, "connection_quality", e.Detail)
	relay.Impair(testutil.Impairment{})
	if _, ok := student.Await(15*time.Second, func(x testutil.Event) bool {
		return x.Kind == "connection_quality" && x.Identity == "student" && x.Detail == "EXCELLENT"
	}); !ok {
		t.Fatal("the rating did not recover when the loss stopped")
	}
}

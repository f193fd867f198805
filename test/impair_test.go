package test

import (
	"context"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

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

// relayedClass is a server announcing a relay, a speaker publishing audio and video
// directly, and a student who reaches the server only through the relay.
type relayedClass struct {
	relay            *testutil.TURNRelay
	speaker, student *testutil.Client
	apub, vpub       *lksdk.LocalTrackPublication
}

func startRelayedClass(t *testing.T) relayedClass {
	t.Helper()
	c := relayedClass{relay: testutil.StartTURNRelay(t)}
	srv := testutil.StartServer(t, withRelay(c.relay))
	c.speaker = srv.Join(t, "class", "speaker")
	_, c.apub, c.vpub = publishMedia(t, c.speaker) // stops with the test
	c.student = srv.Join(t, "class", "student", relayOnly)
	return c
}

// A subscriber behind a link that loses 5% of the packets each way keeps receiving the
// video: the server repairs the losses with NACK retransmissions. The subscriber can
// only reach the server through the TURN relay the join response announced.
func TestVideoKeepsPlayingAtFivePercentLoss(t *testing.T) {
	c := startRelayedClass(t)
	relay, student, vpub := c.relay, c.student, c.vpub
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
	c := startRelayedClass(t)
	relay, speaker, student, apub, vpub := c.relay, c.speaker, c.student, c.apub, c.vpub
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

// Congestion control: a subscriber whose downlink is capped gets a lower simulcast
// layer within seconds and the top one again when the cap lifts; at a cap too low for
// any video, the video is paused (stream_state_update), the audio keeps flowing, and
// the video resumes when the link recovers.
func TestCongestionControlFollowsTheDownlink(t *testing.T) {
	relay := testutil.StartTURNRelay(t)
	srv := testutil.StartServer(t, withRelay(relay))
	speaker := srv.Join(t, "class", "speaker")
	// Three layers of about 100, 300 and 1000 kbit/s, and an audio track.
	sizes := []int{400, 1200, 4000}
	var tracks []*lksdk.LocalTrack
	for q := range sizes {
		tr, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			lksdk.WithSimulcast("cam", &livekit.VideoLayer{Quality: livekit.VideoQuality(q), Width: 320 << q, Height: 180 << q}))
		if err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, tr)
	}
	vpub, err := speaker.Room.LocalParticipant.PublishSimulcastTrack(tracks, &lksdk.TrackPublicationOptions{Name: "camera"})
	if err != nil {
		t.Fatal(err)
	}
	mic := newAudioTrack(t)
	apub, err := speaker.Room.LocalParticipant.PublishTrack(mic, &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	writeFrames(t, 33*time.Millisecond, func(n uint32) {
		for q, tr := range tracks {
			_ = tr.WriteSample(media.Sample{Data: sizedVP8Frame(n, n%30 == 0, byte(q), sizes[q]), Duration: 33 * time.Millisecond}, nil)
		}
	})
	writeFrames(t, 20*time.Millisecond, func(n uint32) {
		_ = mic.WriteSample(media.Sample{Data: opusFrame(n, 0), Duration: 20 * time.Millisecond}, nil)
	})

	tap := srv.NewSignalTap(t)
	student := srv.Join(t, "class", "student", relayOnly, testutil.WithURL(tap.WSURL))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	video, audio := make(chan frame, 4096), make(chan frame, 4096)
	go readVP8(ctx, subscribedTrack(t, student, vpub.SID()), video)
	go readOpus(ctx, subscribedTrack(t, student, apub.SID()), audio, nil)
	// layerWithin waits until frames of a layer accepted by ok arrive, and returns it.
	layerWithin := func(what string, d time.Duration, ok func(byte) bool) byte {
		t.Helper()
		deadline := time.After(d)
		for {
			select {
			case f := <-video:
				if ok(f.marker) {
					return f.marker
				}
			case <-deadline:
				t.Fatalf("%s: not within %s", what, d)
			}
		}
	}
	layerWithin("the top layer at first", 10*time.Second, func(q byte) bool { return q == 2 })

	start := time.Now()
	relay.Impair(testutil.Impairment{RateBps: 600_000})
	q := layerWithin("a lower layer at 600 kbit/s", 15*time.Second, func(q byte) bool { return q < 2 })
	t.Logf("at 600 kbit/s: layer %d after %s", q, time.Since(start).Round(100*time.Millisecond))

	start = time.Now()
	relay.Impair(testutil.Impairment{})
	layerWithin("the top layer once the cap lifts", 30*time.Second, func(q byte) bool { return q == 2 })
	t.Logf("cap lifted: the top layer after %s", time.Since(start).Round(100*time.Millisecond))

	paused := func(st livekit.StreamState) func(*livekit.SignalResponse) bool {
		return func(r *livekit.SignalResponse) bool {
			for _, s := range r.GetStreamStateUpdate().GetStreamStates() {
				if s.TrackSid == vpub.SID() && s.State == st {
					return true
				}
			}
			return false
		}
	}
	start = time.Now()
	relay.Impair(testutil.Impairment{RateBps: 60_000})
	_, i := tap.Await(t, 20*time.Second, 0, "the video paused at 60 kbit/s", paused(livekit.StreamState_PAUSED))
	t.Logf("at 60 kbit/s: video paused after %s", time.Since(start).Round(100*time.Millisecond))
	for len(audio) > 0 {
		<-audio
	}
	expectFrames(t, "audio while the video is paused", audio, 25, false)

	start = time.Now()
	relay.Impair(testutil.Impairment{})
	tap.Await(t, 30*time.Second, i+1, "the video resumed", paused(livekit.StreamState_ACTIVE))
	t.Logf("cap lifted: video resumed after %s", time.Since(start).Round(100*time.Millisecond))
}

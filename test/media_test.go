package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/usher-rtc/usher/internal/rtc/sfu"
	"github.com/usher-rtc/usher/internal/testutil"
)

// Synthetic media: every frame carries a counter, so a subscriber can tell exactly
// which frames it got. A VP8 frame's first byte has its low bit clear on a keyframe.

// vp8Frame returns frame n: a keyframe when key is set, with a marker byte and n.
func vp8Frame(n uint32, key bool, marker byte) []byte { return sizedVP8Frame(n, key, marker, 600) }

// sizedVP8Frame is vp8Frame of size bytes.
func sizedVP8Frame(n uint32, key bool, marker byte, size int) []byte {
	f := make([]byte, size)
	f[0] = 0x01
	if key {
		f[0] = 0x00
		f[3], f[4], f[5] = 0x9d, 0x01, 0x2a
	}
	f[6] = marker
	binary.BigEndian.PutUint32(f[7:], n)
	return f
}

// opusFrame returns audio frame n with a marker byte.
func opusFrame(n uint32, marker byte) []byte {
	f := make([]byte, 40)
	f[0] = 0xfc
	f[1] = marker
	binary.BigEndian.PutUint32(f[2:], n)
	return f
}

// mediaPublisher writes frames to a published audio and video track until stopped.
type mediaPublisher struct {
	audio, video *lksdk.LocalTrack
	mu           sync.Mutex
	marker       byte
	written      int
	keyEvery     int
	// level is the audio level each audio packet carries (nil: no extension).
	level *uint8
	stop  chan struct{}
	done  chan struct{}
}

func publishMedia(t *testing.T, c *testutil.Client) (*mediaPublisher, *lksdk.LocalTrackPublication, *lksdk.LocalTrackPublication) {
	t.Helper()
	mp := &mediaPublisher{audio: newAudioTrack(t), video: newVideoTrack(t), keyEvery: 15, stop: make(chan struct{}), done: make(chan struct{})}
	apub, err := c.Room.LocalParticipant.PublishTrack(mp.audio, &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatalf("publish audio: %v", err)
	}
	vpub, err := c.Room.LocalParticipant.PublishTrack(mp.video, &lksdk.TrackPublicationOptions{Name: "camera"})
	if err != nil {
		t.Fatalf("publish video: %v", err)
	}
	go mp.run()
	t.Cleanup(mp.close)
	return mp, apub, vpub
}

// setAudioLevel makes the audio packets written from now on carry the audio-level
// extension with level (-dBov: 0 loudest, 127 silence).
func (mp *mediaPublisher) setAudioLevel(level uint8) {
	mp.mu.Lock()
	mp.level = &level
	mp.mu.Unlock()
}

// setMarker makes the frames written from now on carry m.
func (mp *mediaPublisher) setMarker(m byte) {
	mp.mu.Lock()
	mp.marker = m
	mp.written = 0
	mp.mu.Unlock()
}

// waitWritten waits until n audio frames were written with the current marker.
func (mp *mediaPublisher) waitWritten(t *testing.T, n int) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, func() bool {
		mp.mu.Lock()
		defer mp.mu.Unlock()
		return mp.written >= n
	}, "the publisher did not write %d frames", n)
}

func (mp *mediaPublisher) run() {
	defer close(mp.done)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var n uint32
	for {
		select {
		case <-mp.stop:
			return
		case <-tick.C:
		}
		mp.mu.Lock()
		marker := mp.marker
		var opts *lksdk.SampleWriteOptions
		if mp.level != nil {
			level := *mp.level
			opts = &lksdk.SampleWriteOptions{AudioLevel: &level}
		}
		_ = mp.audio.WriteSample(media.Sample{Data: opusFrame(n, marker), Duration: 20 * time.Millisecond}, opts)
		if n%2 == 0 {
			_ = mp.video.WriteSample(media.Sample{Data: vp8Frame(n, (n/2)%uint32(mp.keyEvery) == 0, marker), Duration: 40 * time.Millisecond}, nil)
		}
		mp.written++
		mp.mu.Unlock()
		n++
	}
}

func (mp *mediaPublisher) close() {
	select {
	case <-mp.stop:
	default:
		close(mp.stop)
	}
	<-mp.done
}

// frame is one reassembled frame a subscriber received.
type frame struct {
	n      uint32
	marker byte
	key    bool
}

// readVP8 reassembles VP8 frames from a remote track into out until ctx ends.
func readVP8(ctx context.Context, tr *webrtc.TrackRemote, out chan<- frame) {
	sb := samplebuilder.New(64, &codecs.VP8Packet{}, 90000)
	for ctx.Err() == nil {
		_ = tr.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		p, _, err := tr.ReadRTP()
		if err != nil {
			continue
		}
		sb.Push(p)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			if len(s.Data) < 11 {
				continue
			}
			select {
			case out <- frame{n: binary.BigEndian.Uint32(s.Data[7:]), marker: s.Data[6], key: s.Data[0]&1 == 0}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// readOpus reads audio packets from a remote track into out until ctx ends.
func readOpus(ctx context.Context, tr *webrtc.TrackRemote, out chan<- frame, seqs chan<- uint16) {
	for ctx.Err() == nil {
		_ = tr.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		p, _, err := tr.ReadRTP()
		if err != nil || len(p.Payload) < 6 {
			continue
		}
		if seqs != nil {
			select {
			case seqs <- p.SequenceNumber:
			default:
			}
		}
		select {
		case out <- frame{n: binary.BigEndian.Uint32(p.Payload[2:]), marker: p.Payload[1]}:
		case <-ctx.Done():
			return
		}
	}
}

// subscribedTrack waits until c's SDK subscribed to sid and returns the remote track.
func subscribedTrack(t *testing.T, c *testutil.Client, sid string) *webrtc.TrackRemote {
	t.Helper()
	c.WaitForDetail(t, 10*time.Second, "track_subscribed", sid)
	return c.Track(sid)
}

// expectFrames reads n frames and checks they come in increasing order; first says
// whether the first must be a keyframe.
func expectFrames(t *testing.T, what string, in <-chan frame, n int, firstKey bool) []frame {
	t.Helper()
	var got []frame
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case f := <-in:
			if len(got) == 0 && firstKey && !f.key {
				t.Fatalf("%s: the first frame (%d) is not a keyframe", what, f.n)
			}
			if len(got) > 0 && f.n <= got[len(got)-1].n {
				t.Fatalf("%s: frame %d after frame %d", what, f.n, got[len(got)-1].n)
			}
			got = append(got, f)
		case <-deadline:
			t.Fatalf("%s: %d of %d frames arrived in 10 s", what, len(got), n)
		}
	}
	return got
}

func TestMediaReachesSubscribers(t *testing.T) {
	forBothModes(t, func(t *testing.T, mode ...testutil.JoinOption) {
		srv := testutil.StartServer(t)
		speaker := srv.Join(t, "class", "speaker", mode...)
		student := srv.Join(t, "class", "student", mode...)
		_, apub, vpub := publishMedia(t, speaker)

		// A latecomer (in the other transport mode) subscribes to what is already published.
		lateMode := []testutil.JoinOption{singlePC}
		if len(mode) > 0 {
			lateMode = nil
		}
		late := srv.Join(t, "class", "late", lateMode...)
		for _, c := range []*testutil.Client{student, late} {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			video, audio := make(chan frame, 64), make(chan frame, 64)
			go readVP8(ctx, subscribedTrack(t, c, vpub.SID()), video)
			go readOpus(ctx, subscribedTrack(t, c, apub.SID()), audio, nil)
			expectFrames(t, c.Identity+" video", video, 20, true)
			expectFrames(t, c.Identity+" audio", audio, 40, false)
		}
		speaker.WaitForDetail(t, 5*time.Second, "local_track_subscribed", vpub.SID())
		speaker.WaitForDetail(t, 5*time.Second, "local_track_subscribed", apub.SID())
		if got := srv.Receiver(t, "class", "speaker", vpub.SID()).DownTracks(); got != 2 {
			t.Errorf("the video track has %d subscribers, want 2", got)
		}
	})
}

// A mute stops the packets at the server: frames the publisher keeps sending while
// muted never reach the subscriber, and media resumes with a keyframe on unmute.
func TestMuteStopsMedia(t *testing.T) {
	srv := testutil.StartServer(t)
	speaker := srv.Join(t, "class", "speaker")
	student := srv.Join(t, "class", "student")
	mp, apub, vpub := publishMedia(t, speaker)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	video, audio := make(chan frame, 1024), make(chan frame, 1024)
	go readVP8(ctx, subscribedTrack(t, student, vpub.SID()), video)
	go readOpus(ctx, subscribedTrack(t, student, apub.SID()), audio, nil)
	expectFrames(t, "video before the mute", video, 5, true)
	expectFrames(t, "audio before the mute", audio, 5, false)

	recvs := []*sfu.Receiver{srv.Receiver(t, "class", "speaker", apub.SID()), srv.Receiver(t, "class", "speaker", vpub.SID())}
	muted := func(want bool) func() bool {
		return func() bool { return recvs[0].Muted() == want && recvs[1].Muted() == want }
	}
	// The publisher mutes; once the server stops forwarding, every frame it still
	// sends is marked 'M' (forbidden at the subscriber).
	for _, p := range []*lksdk.LocalTrackPublication{apub, vpub} {
		p.SetMuted(true)
	}
	testutil.Eventually(t, 5*time.Second, muted(true), "the server did not apply the mute")
	mp.setMarker('M')
	mp.waitWritten(t, 20)
	// Frames marked 'U' follow, still muted; then the unmute lets them through. They
	// are the allowed events after the forbidden ones.
	mp.setMarker('U')
	mp.waitWritten(t, 2)
	for _, p := range []*lksdk.LocalTrackPublication{apub, vpub} {
		p.SetMuted(false)
	}
	testutil.Eventually(t, 5*time.Second, muted(false), "the server did not apply the unmute")
	resumed := func(what string, in <-chan frame, key bool) {
		deadline := time.After(10 * time.Second)
		for {
			select {
			case f := <-in:
				if f.marker == 'M' {
					t.Fatalf("%s: frame %d, sent while muted, reached the subscriber", what, f.n)
				}
				if f.marker == 'U' {
					if key && !f.key {
						t.Fatalf("%s: resumed on frame %d, which is not a keyframe", what, f.n)
					}
					return
				}
			case <-deadline:
				t.Fatalf("%s: nothing arrived after the unmute", what)
			}
		}
	}
	resumed("video", video, true)
	resumed("audio", audio, false)
}

// A simulcast publisher sends three layers; a subscriber gets the highest by default
// and another on track_setting (quality, or the size it shows the video at), switching
// on a keyframe of the new layer.
func TestSimulcastLayerFollowsTrackSettings(t *testing.T) {
	forBothModes(t, func(t *testing.T, mode ...testutil.JoinOption) {
		srv := testutil.StartServer(t)
		speaker := srv.Join(t, "class", "speaker", mode...)
		student := srv.Join(t, "class", "student", mode...)
		dims := [][2]uint32{{320, 180}, {640, 360}, {1280, 720}}
		var tracks []*lksdk.LocalTrack
		for q, d := range dims {
			tr, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
				lksdk.WithSimulcast("cam", &livekit.VideoLayer{Quality: livekit.VideoQuality(q), Width: d[0], Height: d[1]}))
			if err != nil {
				t.Fatal(err)
			}
			tracks = append(tracks, tr)
		}
		vpub, err := speaker.Room.LocalParticipant.PublishSimulcastTrack(tracks, &lksdk.TrackPublicationOptions{Name: "camera"})
		if err != nil {
			t.Fatalf("PublishSimulcastTrack: %v", err)
		}
		writeFrames(t, 33*time.Millisecond, func(n uint32) {
			for q, tr := range tracks {
				_ = tr.WriteSample(media.Sample{Data: vp8Frame(n, n%10 == 0, byte(q)), Duration: 33 * time.Millisecond}, nil)
			}
		})

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		video := make(chan frame, 1024)
		go readVP8(ctx, subscribedTrack(t, student, vpub.SID()), video)
		// untilLayer reads until frames of layer q arrive, the first of them a keyframe,
		// and then only frames of that layer.
		untilLayer := func(q byte) {
			t.Helper()
			deadline := time.After(10 * time.Second)
			for {
				select {
				case f := <-video:
					if f.marker != q {
						continue
					}
					if !f.key {
						t.Fatalf("switched to layer %d on frame %d, which is not a keyframe", q, f.n)
					}
					expectSameLayer(t, video, q, 10)
					return
				case <-deadline:
					t.Fatalf("layer %d never arrived", q)
				}
			}
		}
		untilLayer(2)
		// TrackInfo as LiveKit fills it once media flows.
		testutil.Eventually(t, 5*time.Second, func() bool {
			info, err := srv.RoomClient().GetParticipant(ctx10(t), &livekit.RoomParticipantIdentity{Room: "class", Identity: "speaker"})
			if err != nil || len(info.Tracks) != 1 {
				return false
			}
			ti := info.Tracks[0]
			for _, l := range ti.Layers {
				if l.Ssrc == 0 {
					return false
				}
			}
			return true
		}, "the track's layers never got their SSRCs")
		info, _ := srv.RoomClient().GetParticipant(ctx10(t), &livekit.RoomParticipantIdentity{Room: "class", Identity: "speaker"})
		ti := info.Tracks[0]
		if ti.MimeType != "video/VP8" || ti.Mid == "" || len(ti.Layers) != 3 || len(ti.Codecs) != 1 ||
			ti.Codecs[0].MimeType != "video/VP8" || ti.Codecs[0].Mid != ti.Mid || len(ti.Codecs[0].Layers) != 3 {
			t.Fatalf("TrackInfo: %v", ti)
		}
		for q, l := range ti.Layers {
			if l.Rid != []string{"q", "h", "f"}[q] || l.SpatialLayer != int32(q) || l.Width != dims[q][0] {
				t.Errorf("layer %d: %v", q, l)
			}
		}
		rooms, err := srv.RoomClient().ListRooms(ctx10(t), &livekit.ListRoomsRequest{Names: []string{"class"}})
		if err != nil || len(rooms.Rooms[0].EnabledCodecs) == 0 {
			t.Errorf("enabled_codecs: %v %v", rooms, err)
		}
		rpub := student.Room.GetParticipantByIdentity("speaker").GetTrackPublication(livekit.TrackSource_CAMERA).(*lksdk.RemoteTrackPublication)
		if err := rpub.SetVideoQuality(livekit.VideoQuality_LOW); err != nil {
			t.Fatal(err)
		}
		untilLayer(0)
		rpub.SetVideoDimensions(600, 340)
		untilLayer(1)
	})
}

// expectSameLayer reads n frames and checks they are all of layer q, in order.
func expectSameLayer(t *testing.T, in <-chan frame, q byte, n int) {
	t.Helper()
	last := uint32(0)
	for i := 0; i < n; i++ {
		select {
		case f := <-in:
			if f.marker != q {
				t.Fatalf("a frame of layer %d arrived after the switch to %d", f.marker, q)
			}
			if i > 0 && f.n <= last {
				t.Fatalf("frame %d after %d", f.n, last)
			}
			last = f.n
		case <-time.After(10 * time.Second):
			t.Fatalf("layer %d stopped after %d frames", q, i)
		}
	}
}

// trackEnds waits until reading a remote track fails: the server stopped sending it.
func trackEnds(t *testing.T, what string, tr *webrtc.TrackRemote) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_ = tr.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := tr.ReadRTP(); err != nil && !isTimeout(err) {
			return
		}
	}
	t.Fatalf("%s: the track still delivers media", what)
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// Subscriptions follow the subscriber's choices (auto-subscribe off, then explicit
// subscribe and unsubscribe), an admin's UpdateSubscriptions, a revoked can_subscribe,
// and the publisher unpublishing or leaving.
func TestSubscriptionsFollowChoicesAndPermissions(t *testing.T) {
	forBothModes(t, func(t *testing.T, mode ...testutil.JoinOption) {
		srv := testutil.StartServer(t)
		speaker := srv.Join(t, "class", "speaker")
		picky := srv.Join(t, "class", "picky", append(mode, testutil.WithSDKOptions(lksdk.WithAutoSubscribe(false)))...)
		student := srv.Join(t, "class", "student", mode...)
		_, apub, vpub := publishMedia(t, speaker)
		recv := srv.Receiver

		// Auto-subscribe off: nothing until picky asks. The student's subscription is
		// the barrier: it was made after picky would have been subscribed.
		subscribedTrack(t, student, vpub.SID())
		rm, _ := srv.Rooms().Room("class")
		if subs := rm.Participant("picky").SubscribedTracks(); len(subs) != 0 || picky.Has("track_subscribed", "") {
			t.Fatalf("a participant without auto-subscribe was subscribed to %v", subs)
		}
		rpub := picky.Room.GetParticipantByIdentity("speaker").GetTrackPublication(livekit.TrackSource_CAMERA).(*lksdk.RemoteTrackPublication)
		if err := rpub.SetSubscribed(true); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pv := make(chan frame, 256)
		go readVP8(ctx, subscribedTrack(t, picky, vpub.SID()), pv)
		expectFrames(t, "picky's video", pv, 5, true)
		if picky.Track(apub.SID()) != nil {
			t.Error("picky got the microphone it never asked for")
		}
		if err := rpub.SetSubscribed(false); err != nil {
			t.Fatal(err)
		}
		cancel()
		trackEnds(t, "picky after unsubscribing", picky.Track(vpub.SID()))

		// An admin unsubscribes the student from the microphone.
		studentAudio := subscribedTrack(t, student, apub.SID())
		if _, err := srv.RoomClient().UpdateSubscriptions(ctx10(t), &livekit.UpdateSubscriptionsRequest{
			Room: "class", Identity: "student", TrackSids: []string{apub.SID()}, Subscribe: false,
		}); err != nil {
			t.Fatal(err)
		}
		trackEnds(t, "the student's audio after UpdateSubscriptions", studentAudio)

		// Revoking can_subscribe ends every subscription.
		studentVideo := student.Track(vpub.SID())
		if _, err := srv.RoomClient().UpdateParticipant(ctx10(t), &livekit.UpdateParticipantRequest{
			Room: "class", Identity: "student", Permission: &livekit.ParticipantPermission{CanSubscribe: false, CanPublishData: true},
		}); err != nil {
			t.Fatal(err)
		}
		trackEnds(t, "the student's video after can_subscribe was revoked", studentVideo)
		testutil.Eventually(t, 5*time.Second, func() bool { return recv(t, "class", "speaker", vpub.SID()).DownTracks() == 0 },
			"the video track still has subscribers")

		// Unpublishing ends it for everyone; so does leaving, for the other track.
		late := srv.Join(t, "class", "late", mode...)
		lateVideo, lateAudio := subscribedTrack(t, late, vpub.SID()), subscribedTrack(t, late, apub.SID())
		if err := speaker.Room.LocalParticipant.UnpublishTrack(vpub.SID()); err != nil {
			t.Fatal(err)
		}
		trackEnds(t, "video after unpublish", lateVideo)
		speaker.Room.Disconnect()
		trackEnds(t, "audio after the publisher left", lateAudio)
	})
}

// A resume (of the subscriber's or the publisher's signal connection) keeps the
// subscriptions: media goes on on the same tracks, without re-subscribing.
func TestMediaSurvivesResume(t *testing.T) {
	forBothModes(t, func(t *testing.T, mode ...testutil.JoinOption) {
		srv := testutil.StartServer(t)
		speaker := srv.Join(t, "class", "speaker", mode...)
		student := srv.Join(t, "class", "student", mode...)
		_, _, vpub := publishMedia(t, speaker)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		video := make(chan frame, 1024)
		go readVP8(ctx, subscribedTrack(t, student, vpub.SID()), video)
		expectFrames(t, "video", video, 5, true)
		for _, c := range []*testutil.Client{student, speaker} {
			c.Room.Simulate(lksdk.SimulateSignalReconnect)
			c.WaitFor(t, 10*time.Second, "reconnected", "")
			// Drain what was buffered, then frames must keep coming on the same track.
			for len(video) > 0 {
				<-video
			}
			expectFrames(t, "video after "+c.Identity+" resumed", video, 10, false)
		}
		if student.Has("track_unsubscribed", "") {
			t.Fatalf("the student was unsubscribed during a resume: %v", student.Events())
		}
	})
}

// Media moves with a moved participant, and a forwarded participant's media really
// reaches the destination room.
func TestMediaFollowsMoveAndForward(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	for _, name := range []string{"main", "breakout", "overflow"} {
		if _, err := rc.CreateRoom(ctx10(t), &livekit.CreateRoomRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	speaker := srv.Join(t, "main", "speaker")
	student := srv.Join(t, "main", "student")
	inBreakout := srv.Join(t, "breakout", "helper")
	inOverflow := srv.Join(t, "overflow", "viewer")
	_, _, vpub := publishMedia(t, speaker)
	studentVideo := subscribedTrack(t, student, vpub.SID())

	// Forward: the overflow room gets the speaker's media through the stand-in.
	if _, err := rc.ForwardParticipant(ctx10(t), &livekit.ForwardParticipantRequest{Room: "main", Identity: "speaker", DestinationRoom: "overflow"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fwd := make(chan frame, 256)
	go readVP8(ctx, subscribedTrack(t, inOverflow, vpub.SID()), fwd)
	expectFrames(t, "forwarded video", fwd, 5, true)

	// Move: the breakout room gets the media; the main room loses it.
	if _, err := rc.MoveParticipant(ctx10(t), &livekit.MoveParticipantRequest{Room: "main", Identity: "speaker", DestinationRoom: "breakout"}); err != nil {
		t.Fatal(err)
	}
	moved := make(chan frame, 256)
	go readVP8(ctx, subscribedTrack(t, inBreakout, vpub.SID()), moved)
	expectFrames(t, "moved video", moved, 5, true)
	trackEnds(t, "the main room after the move", studentVideo)
}

// A publisher's subscription permission decides who receives its tracks: others lose
// them at once and are told (subscription_permission_update); allowing them again
// brings the media back.
func TestPublisherSubscriptionPermissions(t *testing.T) {
	srv := testutil.StartServer(t)
	speaker := srv.Join(t, "class", "speaker")
	friend := srv.Join(t, "class", "friend")
	other := srv.Join(t, "class", "other")
	// A raw client sees the signal messages the Go SDK does not surface.
	watcher := dialRaw(t, srv, testutil.JoinToken(t, "class", "watcher"), "")
	_, _, vpub := publishMedia(t, speaker)
	otherVideo := subscribedTrack(t, other, vpub.SID())
	subscribedTrack(t, friend, vpub.SID())

	speaker.Room.LocalParticipant.SetSubscriptionPermission(&livekit.SubscriptionPermission{
		TrackPermissions: []*livekit.TrackPermission{{ParticipantIdentity: "friend", AllTracks: true}},
	})
	trackEnds(t, "a participant the publisher no longer allows", otherVideo)
	rm, _ := srv.Rooms().Room("class")
	if subs := rm.Participant("friend").SubscribedTracks(); len(subs) != 2 {
		t.Fatalf("the allowed participant lost its subscriptions: %v", subs)
	}
	isUpdate := func(allowed bool) func(r *livekit.SignalResponse) bool {
		return func(r *livekit.SignalResponse) bool {
			u := r.GetSubscriptionPermissionUpdate()
			return u != nil && u.TrackSid == vpub.SID() && u.Allowed == allowed && u.ParticipantSid == speaker.Room.LocalParticipant.SID()
		}
	}
	watcher.await(5*time.Second, "subscription_permission_update (refused)", isUpdate(false))

	speaker.Room.LocalParticipant.SetSubscriptionPermission(&livekit.SubscriptionPermission{AllParticipants: true})
	watcher.await(5*time.Second, "subscription_permission_update (allowed)", isUpdate(true))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	testutil.Eventually(t, 10*time.Second, func() bool {
		tr := other.Track(vpub.SID())
		return tr != nil && tr != otherVideo
	}, "the media did not come back once allowed")
	video := make(chan frame, 256)
	go readVP8(ctx, other.Track(vpub.SID()), video)
	expectFrames(t, "video once allowed again", video, 5, true)
}

// h264Frame returns access unit n in Annex B: SPS, PPS and an IDR slice when key, else
// a non-IDR slice, each carrying a marker byte and n.
func h264Frame(n uint32, key bool, marker byte) []byte {
	slice := make([]byte, 400)
	slice[0] = 0x41 // non-IDR slice
	if key {
		slice[0] = 0x65 // IDR slice
	}
	slice[1] = 0x88
	slice[2] = marker
	binary.BigEndian.PutUint32(slice[3:], n)
	var au []byte
	if key {
		au = append(au, 0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01) // SPS
		au = append(au, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80)             // PPS
	}
	return append(append(au, 0, 0, 0, 1), slice...)
}

// H.264 is forwarded as well: access units arrive whole and in order, starting on a
// keyframe.
func TestH264Forwarding(t *testing.T) {
	srv := testutil.StartServer(t)
	speaker := srv.Join(t, "class", "speaker")
	student := srv.Join(t, "class", "student")
	tr, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := speaker.Room.LocalParticipant.PublishTrack(tr, &lksdk.TrackPublicationOptions{Name: "camera"})
	if err != nil {
		t.Fatal(err)
	}
	writeFrames(t, 33*time.Millisecond, func(n uint32) {
		_ = tr.WriteSample(media.Sample{Data: h264Frame(n, n%15 == 0, 'H'), Duration: 33 * time.Millisecond}, nil)
	})

	remote := subscribedTrack(t, student, pub.SID())
	if got := remote.Codec().MimeType; !strings.EqualFold(got, webrtc.MimeTypeH264) {
		t.Fatalf("the subscriber got %s", got)
	}
	expectH264(t, remote, 20)
}

// A track published with a backup codec reaches a subscriber that cannot decode its
// primary codec: the server asks the publisher for the backup (subscribed quality
// update), the publisher adds it, and that subscriber gets the track in it while others
// keep the primary.
func TestBackupCodecReachesSubscribersWithoutThePrimary(t *testing.T) {
	srv := testutil.StartServer(t)
	speaker := srv.Join(t, "class", "speaker")
	vp8, err := lksdk.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})
	if err != nil {
		t.Fatal(err)
	}
	h264, err := lksdk.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := speaker.Room.LocalParticipant.PublishTrack(vp8, &lksdk.TrackPublicationOptions{
		Name: "camera", BackupCodecPolicy: livekit.BackupCodecPolicy_SIMULCAST,
	}, lksdk.WithBackupCodec(h264))
	if err != nil {
		t.Fatal(err)
	}
	writeFrames(t, 33*time.Millisecond, func(n uint32) {
		_ = vp8.WriteSample(media.Sample{Data: vp8Frame(n, n%10 == 0, 'V'), Duration: 33 * time.Millisecond}, nil)
		_ = h264.WriteSample(media.Sample{Data: h264Frame(n, n%10 == 0, 'H'), Duration: 33 * time.Millisecond}, nil)
	})

	primary := srv.Join(t, "class", "primary")
	backup := srv.Join(t, "class", "backup", testutil.WithSDKOptions(lksdk.WithCodecs([]livekit.Codec{{Mime: webrtc.MimeTypeH264}})))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	video := make(chan frame, 256)
	go readVP8(ctx, subscribedTrack(t, primary, pub.SID()), video)
	for _, f := range expectFrames(t, "primary subscriber", video, 5, true) {
		if f.marker != 'V' {
			t.Fatalf("the primary subscriber got frame %d with marker %q", f.n, f.marker)
		}
	}
	tr := subscribedTrack(t, backup, pub.SID())
	if !strings.EqualFold(tr.Codec().MimeType, webrtc.MimeTypeH264) {
		t.Fatalf("the backup subscriber got %s", tr.Codec().MimeType)
	}
	expectH264(t, tr, 5)
	if n := srv.Receiver(t, "class", "speaker", pub.SID()).DownTracks(); n != 1 {
		t.Errorf("the primary codec's receiver has %d subscribers, want 1", n)
	}
}

// expectH264 reassembles n H.264 access units of h264Frame from a remote track and
// checks they come whole, in order, starting on a keyframe.
func expectH264(t *testing.T, tr *webrtc.TrackRemote, n int) {
	t.Helper()
	sb := samplebuilder.New(64, &codecs.H264Packet{}, 90000)
	var got []uint32
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		_ = tr.SetReadDeadline(time.Now().Add(time.Second))
		p, _, err := tr.ReadRTP()
		if err != nil {
			continue
		}
		sb.Push(p)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			i := bytes.LastIndex(s.Data, []byte{0, 0, 1})
			if i < 0 || len(s.Data) < i+10 {
				t.Fatalf("an access unit without a slice: %x", s.Data[:min(16, len(s.Data))])
			}
			nal := s.Data[i+3:]
			if len(got) == 0 && nal[0]&0x1f != 5 {
				t.Fatalf("the first access unit is not a keyframe (NAL type %d)", nal[0]&0x1f)
			}
			if nal[2] != 'H' {
				t.Fatalf("unexpected slice %x", nal[:8])
			}
			f := binary.BigEndian.Uint32(nal[3:])
			if len(got) > 0 && f <= got[len(got)-1] {
				t.Fatalf("access unit %d after %d", f, got[len(got)-1])
			}
			got = append(got, f)
		}
	}
	if len(got) < n {
		t.Fatalf("%d of %d H.264 access units arrived in 10 s", len(got), n)
	}
}

// writeFrames calls write with 0, 1, 2… every interval until the test ends.
func writeFrames(t *testing.T, interval time.Duration, write func(n uint32)) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for n := uint32(0); ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			write(n)
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// Subscribers get RTCP sender reports for what they receive, carrying the publisher's
// clock: a packet's timestamp maps, through the report, to about when it was sent.
func TestSubscribersGetSenderReports(t *testing.T) {
	srv := testutil.StartServer(t)
	speaker := srv.Join(t, "class", "speaker")
	student := srv.Join(t, "class", "student")
	_, _, vpub := publishMedia(t, speaker)
	tr := subscribedTrack(t, student, vpub.SID())
	rpub := student.Room.GetParticipantByIdentity("speaker").GetTrackPublication(livekit.TrackSource_CAMERA).(*lksdk.RemoteTrackPublication)
	reports := make(chan *rtcp.SenderReport, 16)
	rpub.OnRTCP(func(p rtcp.Packet) {
		if sr, ok := p.(*rtcp.SenderReport); ok {
			select {
			case reports <- sr:
			default:
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go readVP8(ctx, tr, make(chan frame, 1024))
	select {
	case sr := <-reports:
		if sr.SSRC != uint32(tr.SSRC()) {
			t.Fatalf("a sender report for SSRC %d, the track is %d", sr.SSRC, tr.SSRC())
		}
		// The report's NTP time is the publisher's clock (this machine's): not far from now.
		sent := time.Unix(int64(sr.NTPTime>>32)-2208988800, int64((sr.NTPTime&0xffffffff)*1e9>>32))
		if d := time.Since(sent); d < -5*time.Second || d > 5*time.Second {
			t.Fatalf("the report's NTP time is %v away from now", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no sender report in 10 s")
	}
}

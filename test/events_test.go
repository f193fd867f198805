package test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/testutil"
)

// roomEvents collects the events of one room from the server's bus.
type roomEvents struct {
	sub  *events.Subscription
	room string
}

func watchEvents(t *testing.T, srv *testutil.TestServer, room string) *roomEvents {
	sub := srv.Events().Subscribe("test", 4096)
	t.Cleanup(func() { srv.Events().Unsubscribe(sub) })
	return &roomEvents{sub: sub, room: room}
}

// next returns the room's next event of kind, or, with kind "", of any kind but
// participant_active (whose place among a publisher's first events varies), failing
// after 10 s. Events of other rooms are skipped.
func (w *roomEvents) next(t *testing.T, kind events.Kind) *events.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-w.sub.C():
			if e.RoomName() != w.room {
				continue
			}
			if kind == events.ParticipantActive && e.Kind != kind || kind != events.ParticipantActive && e.Kind == events.ParticipantActive {
				continue
			}
			return e
		case <-timeout:
			t.Fatalf("no further event of room %q in 10 s", w.room)
		}
	}
}

// find skips the room's events until one of kind.
func (w *roomEvents) find(t *testing.T, kind events.Kind) *events.Event {
	t.Helper()
	for {
		if e := w.next(t, kind); e.Kind == kind {
			return e
		}
	}
}

// expect reads the room's next event and checks its kind and actor.
func (w *roomEvents) expect(t *testing.T, kind events.Kind, actor events.ActorKind) *events.Event {
	t.Helper()
	e := w.next(t, kind)
	if e.Kind != kind || e.Actor.Kind != actor {
		t.Fatalf("event %s by %s (%+v); want %s by %s", e.Kind, e.Actor.Kind, e.Actor, kind, actor)
	}
	return e
}

// Every change of a room is one event, in the order it was applied, with who did it:
// the admin's API key and request ID for Room service calls, the participant for what
// its client does, the server for what it does by itself.
func TestRoomEventsCarryTheirActor(t *testing.T) {
	srv := testutil.StartServer(t)
	w := watchEvents(t, srv, "class")
	rc := srv.RoomClient()
	ctx := context.Background()
	if _, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "class"}); err != nil {
		t.Fatal(err)
	}
	e := w.expect(t, events.RoomStarted, events.ActorAdmin)
	if e.Actor.APIKey != testutil.APIKey || e.Actor.Address != "127.0.0.1" || e.Actor.RequestID == "" {
		t.Fatalf("room_started actor %+v; want the API key, the address and a request ID", e.Actor)
	}

	student := srv.Join(t, "class", "student")
	e = w.expect(t, events.ParticipantJoined, events.ActorParticipant)
	if e.Participant.GetIdentity() != "student" || e.Actor.Identity != "student" {
		t.Fatalf("participant_joined for %q by %+v", e.Participant.GetIdentity(), e.Actor)
	}
	mp, _, vpub := publishMedia(t, student)
	defer mp.close()
	published := map[string]bool{}
	for range 2 {
		e = w.expect(t, events.TrackPublished, events.ActorParticipant)
		published[e.Track.GetSid()] = true
	}
	if !published[vpub.SID()] {
		t.Fatalf("track_published events name %v; want the video track %s among them", published, vpub.SID())
	}

	// An admin call with a request ID of the caller's.
	body := `{"room":"class","identity":"student","metadata":"seat 4"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/twirp/livekit.RoomService/UpdateParticipant", bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testutil.Token(t, "teacher-backend", &lkauth.VideoGrant{RoomAdmin: true, Room: "class"}))
	req.Header.Set("X-Request-Id", "req-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("UpdateParticipant: %s", resp.Status)
	}
	e = w.expect(t, events.ParticipantUpdated, events.ActorAdmin)
	if e.Actor.Identity != "teacher-backend" || e.Actor.RequestID != "req-42" {
		t.Fatalf("participant_updated actor %+v; want identity teacher-backend and request req-42", e.Actor)
	}
	if len(e.Changes) != 1 || e.Changes[0] != (events.Change{Field: "metadata", Before: "", After: "seat 4"}) {
		t.Fatalf("participant_updated changes %+v; want metadata \"\" → \"seat 4\"", e.Changes)
	}

	if _, err := rc.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: "class", Identity: "student", TrackSid: vpub.SID(), Muted: true}); err != nil {
		t.Fatal(err)
	}
	e = w.expect(t, events.TrackMuted, events.ActorAdmin)
	if e.Track.GetSid() != vpub.SID() || !e.Track.GetMuted() {
		t.Fatalf("track_muted for %s (muted %v)", e.Track.GetSid(), e.Track.GetMuted())
	}
	// The client's own unmute is the participant's act. (LiveKit's SDKs unmute only
	// what they muted themselves, so unmute through the publication.)
	student.Room.LocalParticipant.UnpublishTrack(vpub.SID())
	e = w.expect(t, events.TrackUnpublished, events.ActorParticipant)
	if e.Track.GetSid() != vpub.SID() {
		t.Fatalf("track_unpublished for %s; want %s", e.Track.GetSid(), vpub.SID())
	}

	if _, err := rc.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "class", Identity: "student"}); err != nil {
		t.Fatal(err)
	}
	w.expect(t, events.ParticipantRemoved, events.ActorAdmin)
	w.expect(t, events.TrackUnpublished, events.ActorAdmin) // the audio track goes with them
	e = w.expect(t, events.ParticipantLeft, events.ActorAdmin)
	if e.Reason != livekit.DisconnectReason_PARTICIPANT_REMOVED.String() {
		t.Fatalf("participant_left reason %q", e.Reason)
	}

	if _, err := rc.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: "class"}); err != nil {
		t.Fatal(err)
	}
	e = w.expect(t, events.RoomFinished, events.ActorAdmin)
	if e.Room.GetNumParticipants() != 0 || !strings.Contains(e.Reason, "ROOM_DELETED") {
		t.Fatalf("room_finished: %d participants, reason %q", e.Room.GetNumParticipants(), e.Reason)
	}
}

// A participant whose connection never came up leaves as connection_aborted; one who
// leaves by itself is its own actor; what the server ends (a room closing when the
// server stops) is the server's.
func TestDepartureEventsNameWhoEndedThem(t *testing.T) {
	srv := testutil.StartServer(t)
	w := watchEvents(t, srv, "hall")
	a := srv.Join(t, "hall", "a")
	w.expect(t, events.RoomStarted, events.ActorParticipant)
	w.expect(t, events.ParticipantJoined, events.ActorParticipant)
	srv.Join(t, "hall", "b")
	w.expect(t, events.ParticipantJoined, events.ActorParticipant)
	// participant_left (not connection_aborted) needs b's media connection up.
	for w.expect(t, events.ParticipantActive, events.ActorParticipant).Participant.GetIdentity() != "b" {
	}
	a.Room.Disconnect()
	e := w.expect(t, events.ParticipantLeft, events.ActorParticipant)
	if e.Participant.GetIdentity() != "a" || e.Reason != livekit.DisconnectReason_CLIENT_INITIATED.String() {
		t.Fatalf("participant_left of %q, reason %q", e.Participant.GetIdentity(), e.Reason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	e = w.expect(t, events.ParticipantLeft, events.ActorServer)
	if e.Participant.GetIdentity() != "b" || e.Reason != livekit.DisconnectReason_SERVER_SHUTDOWN.String() {
		t.Fatalf("participant_left of %q, reason %q", e.Participant.GetIdentity(), e.Reason)
	}
	w.expect(t, events.RoomFinished, events.ActorServer)
}

// A mute of a forwarded track in its source room reaches the destination as a change
// of the stand-in (a new version its clients apply), while the destination's state is
// read concurrently: the race detector checks that no state is shared between the two
// rooms.
func TestForwardedTrackMuteIsTheDestinationsOwnChange(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	speaker := srv.Join(t, "main", "speaker")
	audience := srv.Join(t, "overflow", "audience")
	pub, err := speaker.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return len(srv.Participant(t, "main", "speaker").Tracks) == 1 }, "not published")
	w := watchEvents(t, srv, "main")
	if _, err := rc.ForwardParticipant(ctx10(t), &livekit.ForwardParticipantRequest{Room: "main", Identity: "speaker", DestinationRoom: "overflow"}); err != nil {
		t.Fatal(err)
	}
	if e := w.expect(t, events.ParticipantForwarded, events.ActorAdmin); e.Destination != "overflow" {
		t.Fatalf("participant_forwarded to %q", e.Destination)
	}
	audience.WaitFor(t, 5*time.Second, "track_published", "speaker")
	before := srv.Participant(t, "overflow", "speaker").Version

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // readers of the destination while the source changes
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = rc.ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: "overflow"})
			}
		}
	}()
	for i := range 6 {
		pub.SetMuted(i%2 == 0)
	}
	if _, err := rc.MutePublishedTrack(ctx10(t), &livekit.MuteRoomTrackRequest{Room: "main", Identity: "speaker", TrackSid: pub.SID(), Muted: true}); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	testutil.Eventually(t, 5*time.Second, func() bool {
		p := srv.Participant(t, "overflow", "speaker")
		return len(p.Tracks) == 1 && p.Tracks[0].Muted && p.Version > before
	}, "the stand-in in the destination does not show the mute with a new version")
	audience.WaitForDetail(t, 5*time.Second, "track_muted", pub.SID())
}

// A move is told in both rooms: moved and left in the source, joined with its tracks
// in the destination, all by the admin who moved them.
func TestMoveEventsInBothRooms(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	student := srv.Join(t, "class", "student")
	if _, err := rc.CreateRoom(ctx10(t), &livekit.CreateRoomRequest{Name: "breakout"}); err != nil {
		t.Fatal(err)
	}
	pub, err := student.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return len(srv.Participant(t, "class", "student").Tracks) == 1 }, "not published")
	src := watchEvents(t, srv, "class")
	dst := watchEvents(t, srv, "breakout")
	if _, err := rc.MoveParticipant(ctx10(t), &livekit.MoveParticipantRequest{Room: "class", Identity: "student", DestinationRoom: "breakout"}); err != nil {
		t.Fatal(err)
	}
	if e := src.expect(t, events.ParticipantMoved, events.ActorAdmin); e.Destination != "breakout" {
		t.Fatalf("participant_moved to %q", e.Destination)
	}
	src.expect(t, events.TrackUnpublished, events.ActorAdmin)
	if e := src.expect(t, events.ParticipantLeft, events.ActorAdmin); e.Reason != livekit.DisconnectReason_MIGRATION.String() {
		t.Fatalf("participant_left reason %q", e.Reason)
	}
	dst.expect(t, events.ParticipantJoined, events.ActorAdmin)
	if e := dst.expect(t, events.TrackPublished, events.ActorAdmin); e.Track.GetSid() != pub.SID() {
		t.Fatalf("track_published %s in the destination; want %s", e.Track.GetSid(), pub.SID())
	}
}

// A ban is an event with its actor, in the room before the removal it causes; lifting
// it is one too.
func TestBanEventsCarryTheirActor(t *testing.T) {
	srv := testutil.StartServer(t)
	w := watchEvents(t, srv, "class")
	srv.Join(t, "class", "troll")
	w.expect(t, events.ParticipantActive, events.ActorParticipant) // so its departure is participant_left
	call := func(method, body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/twirp/usher.Moderation/"+method, bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testutil.Token(t, "moderator", &lkauth.VideoGrant{RoomAdmin: true, Room: "class"}))
		req.Header.Set("X-Request-Id", "ban-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", method, resp.Status)
		}
	}
	call("BanParticipant", `{"room":"class","identity":"troll","duration_seconds":3600,"reason":"spam"}`)
	e := w.expect(t, events.ParticipantBanned, events.ActorAdmin)
	if e.Participant.GetIdentity() != "troll" || e.Reason != "spam" || e.Actor.Identity != "moderator" || e.Actor.RequestID != "ban-1" ||
		time.Until(e.Until) < 59*time.Minute || time.Until(e.Until) > time.Hour {
		t.Fatalf("participant_banned %q reason %q until %v by %+v", e.Participant.GetIdentity(), e.Reason, e.Until, e.Actor)
	}
	w.expect(t, events.ParticipantRemoved, events.ActorAdmin)
	if e := w.expect(t, events.ParticipantLeft, events.ActorAdmin); e.Reason != livekit.DisconnectReason_PARTICIPANT_REMOVED.String() {
		t.Fatalf("participant_left reason %q", e.Reason)
	}
	call("LiftBan", `{"room":"class","identity":"troll"}`)
	if e := w.expect(t, events.ParticipantUnbanned, events.ActorAdmin); e.Participant.GetIdentity() != "troll" {
		t.Fatalf("participant_unbanned %q", e.Participant.GetIdentity())
	}
}

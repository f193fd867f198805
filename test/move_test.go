package test

import (
	"context"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/testutil"
)

func TestMoveParticipant(t *testing.T) {
	forBothModes(t, func(t *testing.T, mode ...testutil.JoinOption) {
		srv := testutil.StartServer(t)
		roomClient := srv.RoomClient()
		mover := srv.Join(t, "lobby", "student", mode...)
		stays := srv.Join(t, "lobby", "stays")
		there := srv.Join(t, "breakout", "there")
		pub, err := mover.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
		if err != nil {
			t.Fatal(err)
		}
		stays.WaitFor(t, 5*time.Second, "track_published", "student")
		sid := mover.Room.LocalParticipant.SID()

		// The seed's snippet.
		_, err = roomClient.MoveParticipant(context.Background(), &livekit.MoveParticipantRequest{
			Room:            "lobby",
			Identity:        "student",
			DestinationRoom: "breakout",
		})
		if err != nil {
			t.Fatalf("MoveParticipant: %v", err)
		}
		if e := mover.WaitFor(t, 5*time.Second, "room_moved", ""); e.Detail != "breakout" {
			t.Errorf("OnRoomMoved(%q)", e.Detail)
		}
		if e := stays.WaitFor(t, 5*time.Second, "participant_disconnected", "student"); e.Detail != "MIGRATION" {
			t.Errorf("the source saw the student leave with %s", e.Detail)
		}
		there.WaitFor(t, 5*time.Second, "participant_connected", "student")
		if e := there.WaitFor(t, 5*time.Second, "track_published", "student"); e.Detail != pub.SID() {
			t.Errorf("the destination saw track %s, want %s", e.Detail, pub.SID())
		}
		// The mover's SDK now lives in the destination room.
		testutil.Eventually(t, 5*time.Second, func() bool {
			return mover.Room.Name() == "breakout" && mover.Room.GetParticipantByIdentity("there") != nil &&
				mover.Room.GetParticipantByIdentity("stays") == nil
		}, "the mover's room view did not switch")
		// The server agrees; the session is the same one.
		info := srv.Participant(t, "breakout", "student")
		if info.Sid != sid || len(info.Tracks) != 1 {
			t.Errorf("moved participant: %v", info)
		}
		res, _ := roomClient.ListParticipants(ctx10(t), &livekit.ListParticipantsRequest{Room: "lobby"})
		if len(res.GetParticipants()) != 1 {
			t.Errorf("lobby still lists %v", res.GetParticipants())
		}
		if n := roomInfo(t, srv, "breakout").NumParticipants; n != 2 {
			t.Errorf("breakout num_participants = %d", n)
		}
		// The session works in the new room: data reaches its new neighbours only.
		for _, msg := range []string{"hello breakout", "and again"} {
			if err := mover.Room.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte(msg)), lksdk.WithDataPublishReliable(true)); err != nil {
				t.Fatal(err)
			}
		}
		// The server routes a participant's reliable packets one after the other: once
		// the second arrived, the first was routed wherever it was going to go, and a
		// data barrier in the old room comes after it.
		if _, ok := there.Await(5*time.Second, func(e testutil.Event) bool { return e.Kind == "data" && e.Detail == "and again" }); !ok {
			t.Fatalf("the destination did not get the mover's data: %v", there.Events())
		}
		srv.DataBarrier(t, "lobby", stays)
		if stays.Has("data", "student") {
			t.Errorf("data reached the old room")
		}
		// A resume after the move keeps the participant in the new room.
		mover.Room.Simulate(lksdk.SimulateSignalReconnect)
		mover.WaitFor(t, 10*time.Second, "reconnected", "")
		if got := srv.Participant(t, "breakout", "student").Sid; got != sid {
			t.Errorf("after resume: sid %s", got)
		}
	})
}

func TestMoveParticipantErrors(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	srv.Join(t, "a", "p")
	srv.Join(t, "b", "q")
	cases := []struct {
		req  *livekit.MoveParticipantRequest
		code twirp.ErrorCode
		msg  string
	}{
		{&livekit.MoveParticipantRequest{Room: "a", Identity: "p", DestinationRoom: "a"}, twirp.InvalidArgument, "already in"},
		{&livekit.MoveParticipantRequest{Room: "a", Identity: "p", DestinationRoom: "nowhere"}, twirp.NotFound, `destination: room not found: "nowhere"`},
		{&livekit.MoveParticipantRequest{Room: "a", Identity: "ghost", DestinationRoom: "b"}, twirp.NotFound, `"ghost" is not in room "a"`},
		{&livekit.MoveParticipantRequest{Room: "gone", Identity: "p", DestinationRoom: "b"}, twirp.NotFound, "room not found"},
		{&livekit.MoveParticipantRequest{Room: "a", Identity: "p"}, twirp.InvalidArgument, "destination_room is empty"},
	}
	for _, tc := range cases {
		_, err := rc.MoveParticipant(ctx10(t), tc.req)
		if code := twirpCode(t, err); code != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: %v, want %s mentioning %q", tc.req, err, tc.code, tc.msg)
		}
	}
	// Without the destinationRoom grant (raw HTTP with a roomAdmin-only token).
	r := post(t, srv.URL, "MoveParticipant", "application/json", testutil.Token(t, "x", &lkauth.VideoGrant{RoomAdmin: true, Room: "a"}),
		[]byte(`{"room":"a","identity":"p","destination_room":"b"}`))
	if code, msg := r.errCode(t); r.status != 403 || code != "permission_denied" || !strings.Contains(msg, "destinationRoom") {
		t.Errorf("move without destinationRoom: %d %s", r.status, r.body)
	}
	// Nothing moved.
	if srv.Participant(t, "a", "p").State != livekit.ParticipantInfo_ACTIVE {
		t.Errorf("p changed")
	}
}

func TestForwardParticipant(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	speaker := srv.Join(t, "main", "speaker", testutil.WithMetadata("keynote"))
	audience := srv.Join(t, "overflow", "audience")
	pub, err := speaker.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return len(srv.Participant(t, "main", "speaker").Tracks) == 1 }, "not published")

	// The seed's snippet.
	_, err = rc.ForwardParticipant(context.Background(), &livekit.ForwardParticipantRequest{
		Room:            "main",
		Identity:        "speaker",
		DestinationRoom: "overflow",
	})
	if err != nil {
		t.Fatalf("ForwardParticipant: %v", err)
	}
	audience.WaitFor(t, 5*time.Second, "participant_connected", "speaker")
	if e := audience.WaitFor(t, 5*time.Second, "track_published", "speaker"); e.Detail != pub.SID() {
		t.Errorf("forwarded track %s, want %s", e.Detail, pub.SID())
	}
	fwd := srv.Participant(t, "overflow", "speaker")
	if len(fwd.KindDetails) == 0 || fwd.KindDetails[len(fwd.KindDetails)-1] != livekit.ParticipantInfo_FORWARDED || fwd.Metadata != "keynote" {
		t.Errorf("forwarded participant: %v", fwd)
	}
	// The source stays where it is, and its changes are mirrored.
	if srv.Participant(t, "main", "speaker").State != livekit.ParticipantInfo_ACTIVE {
		t.Errorf("the source changed")
	}
	cam, err := speaker.Room.LocalParticipant.PublishTrack(newVideoTrack(t), &lksdk.TrackPublicationOptions{Name: "cam"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		for _, e := range audience.Events() {
			if e.Kind == "track_published" && e.Detail == cam.SID() {
				return true
			}
		}
		return false
	}, "a track published later was not forwarded")
	// Forwarding again is a no-op; to the same room an error.
	if _, err := rc.ForwardParticipant(ctx10(t), &livekit.ForwardParticipantRequest{Room: "main", Identity: "speaker", DestinationRoom: "overflow"}); err != nil {
		t.Errorf("repeated forward: %v", err)
	}
	_, err = rc.ForwardParticipant(ctx10(t), &livekit.ForwardParticipantRequest{Room: "main", Identity: "speaker", DestinationRoom: "main"})
	if code := twirpCode(t, err); code != twirp.InvalidArgument {
		t.Errorf("forward to the same room: %v", err)
	}
	// A forward to a room that does not exist yet creates it.
	if _, err := rc.ForwardParticipant(ctx10(t), &livekit.ForwardParticipantRequest{Room: "main", Identity: "speaker", DestinationRoom: "new-room"}); err != nil {
		t.Fatalf("forward to a new room: %v", err)
	}
	if n := roomInfo(t, srv, "new-room").NumParticipants; n != 1 {
		t.Errorf("new-room num_participants %d", n)
	}

	// RemoveParticipant in the destination ends that forward only.
	if _, err := rc.RemoveParticipant(ctx10(t), &livekit.RoomParticipantIdentity{Room: "overflow", Identity: "speaker"}); err != nil {
		t.Fatal(err)
	}
	audience.WaitFor(t, 5*time.Second, "participant_disconnected", "speaker")
	// Removing the source too would have closed its connection before the removal
	// returned: a barrier in the source room shows it was not.
	srv.SignalBarrier(t, "main", speaker)
	if speaker.Has("disconnected", "") {
		t.Errorf("removing the forward disconnected the source")
	}
	// ...and does not revoke the speaker's own token: it can forward again.
	if _, err := rc.ForwardParticipant(ctx10(t), &livekit.ForwardParticipantRequest{Room: "main", Identity: "speaker", DestinationRoom: "overflow"}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return audience.Room.GetParticipantByIdentity("speaker") != nil }, "forward again")

	// When the source leaves, its forwards end everywhere.
	speaker.Room.Disconnect()
	testutil.Eventually(t, 5*time.Second, func() bool { return audience.Room.GetParticipantByIdentity("speaker") == nil }, "forward outlived its source")
	testutil.Eventually(t, 5*time.Second, func() bool {
		res, err := rc.ListParticipants(ctx10(t), &livekit.ListParticipantsRequest{Room: "new-room"})
		return err != nil || len(res.Participants) == 0
	}, "the forward in new-room outlived its source")
}

// A reliable packet for a participant whose data channel is not open yet waits for it
// (LiveKit drops it and reports success).
func TestReliableDataWaitsForTheDataChannel(t *testing.T) {
	srv := testutil.StartServer(t)
	c := newPionClient(t, srv, "late")
	got := make(chan string, 4)
	c.sub.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			var pkt livekit.DataPacket
			if err := protoUnmarshal(m.Data, &pkt); err == nil {
				got <- string(pkt.GetUser().GetPayload())
			}
		})
	})
	// The client has not answered the subscriber offer yet: no data channel is open.
	testutil.Eventually(t, 5*time.Second, func() bool {
		return participantState(t, srv, "net", "late") == livekit.ParticipantInfo_JOINED
	}, "late did not join")
	if _, err := srv.RoomClient().SendData(ctx10(t), &livekit.SendDataRequest{Room: "net", Data: []byte("early bird"), Kind: livekit.DataPacket_RELIABLE}); err != nil {
		t.Fatal(err)
	}
	if !c.negotiate(15 * time.Second) {
		t.Fatal("could not connect")
	}
	select {
	case msg := <-got:
		if msg != "early bird" {
			t.Errorf("got %q", msg)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the reliable packet sent before the data channel opened was lost")
	}
}

func protoUnmarshal(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }

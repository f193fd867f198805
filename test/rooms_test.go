// Package test holds Usher's integration tests: each starts a real server on random
// loopback ports and drives it with the official LiveKit Go SDK or raw HTTP.
package test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

func twirpCode(t *testing.T, err error) twirp.ErrorCode {
	t.Helper()
	if err == nil {
		t.Fatalf("expected an error, got none")
	}
	var te twirp.Error
	if !errors.As(err, &te) {
		t.Fatalf("expected a twirp error, got %T: %v", err, err)
	}
	return te.Code()
}

func TestCreateListUpdateDeleteWithSDK(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	ctx := testutil.Context(t, 10*time.Second)

	before := time.Now().Unix()
	room, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{
		Name:             "classroom-1",
		EmptyTimeout:     120,
		DepartureTimeout: 30,
		MaxParticipants:  25,
		NodeId:           "any-node",
		Metadata:         `{"topic":"algebra"}`,
		MinPlayoutDelay:  100,
		MaxPlayoutDelay:  500,
	})
	if err != nil {
		t.Fatalf("CreateRoom: %v", err)
	}
	if room.Name != "classroom-1" || !strings.HasPrefix(room.Sid, "RM_") {
		t.Errorf("room name/sid = %q/%q", room.Name, room.Sid)
	}
	if room.EmptyTimeout != 120 || room.DepartureTimeout != 30 || room.MaxParticipants != 25 {
		t.Errorf("timeouts/max = %d/%d/%d, want 120/30/25", room.EmptyTimeout, room.DepartureTimeout, room.MaxParticipants)
	}
	if room.Metadata != `{"topic":"algebra"}` {
		t.Errorf("metadata = %q", room.Metadata)
	}
	if room.CreationTime < before || room.CreationTime > time.Now().Unix() {
		t.Errorf("creation_time = %d, want about %d", room.CreationTime, before)
	}
	if room.NumParticipants != 0 {
		t.Errorf("num_participants = %d, want 0", room.NumParticipants)
	}

	// Idempotent: the same name returns the same room, unchanged.
	again, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "classroom-1", Metadata: "other"})
	if err != nil {
		t.Fatalf("CreateRoom again: %v", err)
	}
	if again.Sid != room.Sid || again.Metadata != room.Metadata {
		t.Errorf("second CreateRoom returned sid %q metadata %q, want the existing room %q %q", again.Sid, again.Metadata, room.Sid, room.Metadata)
	}

	// Defaults come from the config.
	def, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "defaults"})
	if err != nil {
		t.Fatalf("CreateRoom defaults: %v", err)
	}
	if def.EmptyTimeout != 300 || def.DepartureTimeout != 20 || def.MaxParticipants != 0 {
		t.Errorf("default timeouts/max = %d/%d/%d, want 300/20/0", def.EmptyTimeout, def.DepartureTimeout, def.MaxParticipants)
	}

	list, err := rc.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		t.Fatalf("ListRooms: %v", err)
	}
	if got := roomNames(list.Rooms); got != "classroom-1,defaults" {
		t.Errorf("ListRooms = %s", got)
	}
	list, err = rc.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{"defaults", "missing"}})
	if err != nil {
		t.Fatalf("ListRooms filtered: %v", err)
	}
	if got := roomNames(list.Rooms); got != "defaults" {
		t.Errorf("ListRooms(names) = %s, want defaults", got)
	}

	upd, err := rc.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: "classroom-1", Metadata: "new"})
	if err != nil {
		t.Fatalf("UpdateRoomMetadata: %v", err)
	}
	if upd.Metadata != "new" || upd.Sid != room.Sid {
		t.Errorf("UpdateRoomMetadata returned %q/%q", upd.Metadata, upd.Sid)
	}
	list, _ = rc.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{"classroom-1"}})
	if len(list.Rooms) != 1 || list.Rooms[0].Metadata != "new" {
		t.Errorf("metadata not stored: %v", list.Rooms)
	}

	if _, err := rc.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: "classroom-1"}); err != nil {
		t.Fatalf("DeleteRoom: %v", err)
	}
	list, _ = rc.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if got := roomNames(list.Rooms); got != "defaults" {
		t.Errorf("after delete ListRooms = %s", got)
	}
	_, err = rc.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: "classroom-1"})
	if code := twirpCode(t, err); code != twirp.NotFound {
		t.Errorf("DeleteRoom of a deleted room: code %s, want not_found", code)
	}
}

func roomNames(rooms []*livekit.Room) string {
	names := make([]string, len(rooms))
	for i, r := range rooms {
		names[i] = r.Name
	}
	return strings.Join(names, ",")
}

func TestRoomValidationErrors(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
		c.Limit.MaxRoomNameLength = 16
		c.Limit.MaxMetadataSize = 32
	}))
	rc := srv.RoomClient()
	ctx := testutil.Context(t, 10*time.Second)
	if _, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "keep-me"}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		call func() error
		code twirp.ErrorCode
		msg  string
	}{
		{"empty name", func() error {
			_, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{})
			return err
		}, twirp.InvalidArgument, "room name is empty"},
		{"long name", func() error {
			_, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: strings.Repeat("n", 17)})
			return err
		}, twirp.InvalidArgument, "room name is 17 bytes; the limit is 16"},
		{"control char", func() error {
			_, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "a\nb"})
			return err
		}, twirp.InvalidArgument, "control character"},
		{"long metadata", func() error {
			_, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "x", Metadata: strings.Repeat("m", 33)})
			return err
		}, twirp.InvalidArgument, "room metadata is 33 bytes; the limit is 32"},
		{"playout delays", func() error {
			_, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "x", MinPlayoutDelay: 500, MaxPlayoutDelay: 100})
			return err
		}, twirp.InvalidArgument, "min_playout_delay"},
		{"egress", func() error {
			_, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "x", Egress: &livekit.RoomEgress{}})
			return err
		}, twirp.Unimplemented, "egress"},
		{"update metadata too long", func() error {
			_, err := rc.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: "keep-me", Metadata: strings.Repeat("m", 33)})
			return err
		}, twirp.InvalidArgument, "room metadata is 33 bytes"},
		{"update metadata unknown room", func() error {
			_, err := rc.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: "nope", Metadata: "x"})
			return err
		}, twirp.NotFound, `room not found: "nope"`},
		{"delete empty name", func() error {
			_, err := rc.DeleteRoom(ctx, &livekit.DeleteRoomRequest{})
			return err
		}, twirp.InvalidArgument, "room name is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if code := twirpCode(t, err); code != tc.code {
				t.Errorf("code = %s, want %s (%v)", code, tc.code, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not say %q", err.Error(), tc.msg)
			}
		})
	}

	// Nothing was lost: the existing room is intact and no stray room was made.
	list, err := rc.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := roomNames(list.Rooms); got != "keep-me" {
		t.Errorf("rooms after bad input = %s, want keep-me", got)
	}
}

func TestEmptyTimeoutClosesRoom(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	ctx := testutil.Context(t, 10*time.Second)
	if _, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "short", EmptyTimeout: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "long"}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		list, err := rc.ListRooms(ctx, &livekit.ListRoomsRequest{})
		return err == nil && roomNames(list.Rooms) == "long"
	}, "room with empty_timeout 1 s was not closed")
	// Creating it again gives a new session.
	r2, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "short"})
	if err != nil || r2.EmptyTimeout != 300 {
		t.Fatalf("recreate: %v %v", r2, err)
	}
}

func TestEmptyTimeoutFromConfig(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) { c.Room.EmptyTimeout = 1 }))
	rc := srv.RoomClient()
	ctx := testutil.Context(t, 10*time.Second)
	r, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "cfg"})
	if err != nil || r.EmptyTimeout != 1 {
		t.Fatalf("CreateRoom: %v %v", r, err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		list, err := rc.ListRooms(ctx, &livekit.ListRoomsRequest{})
		return err == nil && len(list.Rooms) == 0
	}, "room was not closed after the configured empty_timeout")
}

func TestConcurrentCreateIsIdempotent(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	ctx := testutil.Context(t, 20*time.Second)
	const n = 32
	sids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "race"})
			if err != nil {
				t.Errorf("CreateRoom: %v", err)
				return
			}
			sids[i] = r.Sid
		}()
	}
	wg.Wait()
	for _, s := range sids {
		if s != sids[0] {
			t.Fatalf("concurrent CreateRoom returned different rooms: %v", sids)
		}
	}
}

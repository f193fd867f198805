package test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/usher-rtc/usher/internal/testutil"
)

// An API path has one spelling: "//", "/./" and "/../" are bad routes, not redirects
// to a method.
func TestTwirpPathsAreCanonical(t *testing.T) {
	srv := testutil.StartServer(t)
	tok := testutil.Token(t, "admin", adminGrant("r"))
	for _, method := range []string{"/CreateRoom", "./CreateRoom", "x/../CreateRoom"} {
		r := post(t, srv.URL, method, "application/json", tok, []byte(`{"name":"r"}`))
		if code, msg := r.errCode(t); r.status != http.StatusNotFound || code != "bad_route" || !strings.Contains(msg, "canonical") {
			t.Errorf("%q: %d %s, want 404 bad_route", method, r.status, r.body)
		}
	}
	if rooms, err := srv.RoomClient().ListRooms(ctx10(t), &livekit.ListRoomsRequest{}); err != nil || len(rooms.Rooms) != 0 {
		t.Fatalf("a room was created through a non-canonical path: %v %v", rooms, err)
	}
	if r := post(t, srv.URL, "CreateRoom", "application/json", tok, []byte(`{"name":"r"}`)); r.status != http.StatusOK {
		t.Fatalf("the canonical path: %d %s", r.status, r.body)
	}
}

// Names shown to people carry no control characters, and permissions name only real
// sources.
func TestUpdateParticipantRefusesWhatClientsCannotShow(t *testing.T) {
	srv := testutil.StartServer(t)
	srv.Join(t, "r", "alice")
	rc := srv.RoomClient()
	cases := []struct {
		name string
		req  *livekit.UpdateParticipantRequest
		want string
	}{
		{"NUL in the name", &livekit.UpdateParticipantRequest{Name: "Al\x00ice"}, "control character"},
		{"ANSI escape in the name", &livekit.UpdateParticipantRequest{Name: "\x1b[31mAlice"}, "control character"},
		{"newline in the name", &livekit.UpdateParticipantRequest{Name: "Alice\nAdmin"}, "control character"},
		{"unknown source", &livekit.UpdateParticipantRequest{Permission: &livekit.ParticipantPermission{
			CanPublish: true, CanPublishSources: []livekit.TrackSource{livekit.TrackSource(42)}}}, "can_publish_sources"},
		{"UNKNOWN source", &livekit.UpdateParticipantRequest{Permission: &livekit.ParticipantPermission{
			CanPublish: true, CanPublishSources: []livekit.TrackSource{livekit.TrackSource_UNKNOWN}}}, "can_publish_sources"},
		{"a source twice", &livekit.UpdateParticipantRequest{Permission: &livekit.ParticipantPermission{
			CanPublish: true, CanPublishSources: []livekit.TrackSource{livekit.TrackSource_CAMERA, livekit.TrackSource_CAMERA}}}, "twice"},
		{"control character in an attribute key", &livekit.UpdateParticipantRequest{Attributes: map[string]string{"ro\x07le": "x"}}, "control character"},
	}
	for _, tc := range cases {
		tc.req.Room, tc.req.Identity = "r", "alice"
		_, err := rc.UpdateParticipant(ctx10(t), tc.req)
		var te twirp.Error
		if !errors.As(err, &te) || te.Code() != twirp.InvalidArgument || !strings.Contains(te.Msg(), tc.want) {
			t.Errorf("%s: %v, want invalid_argument mentioning %q", tc.name, err, tc.want)
		}
	}
	// Nothing changed: the next allowed update is the first the client sees.
	if _, err := rc.UpdateParticipant(ctx10(t), &livekit.UpdateParticipantRequest{Room: "r", Identity: "alice", Name: "Alice B."}); err != nil {
		t.Fatal(err)
	}
	info := srv.Participant(t, "r", "alice")
	if info.Name != "Alice B." || len(info.Permission.CanPublishSources) != 0 || len(info.Attributes) != 0 {
		t.Fatalf("state after refused updates: %+v", info)
	}
}

package test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/usher-rtc/usher/internal/testutil"
)

// A token the gateway issues to tenant A names A in a signed claim: it joins A's rooms
// only, even when a room of the same name now belongs to B.
func TestTenantTokensDoNotCrossTenants(t *testing.T) {
	srv := testutil.StartServer(t, withREST(true))
	r := rest(t, srv, "POST", "/livekit/token", tokA, `{"room_name":"standup","participant_name":"Ann","participant_identity":"ann","metadata":"{\"role\":\"host\"}"}`)
	if r.status != http.StatusOK {
		t.Fatalf("A's token: %d %s", r.status, r.body)
	}
	annTok := r.str("token")
	srv.Join(t, "standup", "ann", testutil.WithToken(annTok)).Room.Disconnect()

	// A deletes the room; B creates one with the same name, with a participant.
	if r := rest(t, srv, "DELETE", "/livekit/rooms/standup", tokA, ""); r.status != http.StatusOK {
		t.Fatalf("A deletes standup: %d %s", r.status, r.body)
	}
	if r := rest(t, srv, "POST", "/livekit/rooms", tokB, `{"room_name":"standup"}`); r.status != http.StatusCreated {
		t.Fatalf("B creates standup: %d %s", r.status, r.body)
	}
	bobTok := rest(t, srv, "POST", "/livekit/token", tokB, `{"room_name":"standup","participant_name":"Bob","participant_identity":"bob"}`).str("token")
	bob := srv.Join(t, "standup", "bob", testutil.WithToken(bobTok))

	// A's still-valid token no longer gets in: not through /rtc/validate, not through a join.
	if status, body := rawValidate(t, srv, annTok, ""); status != http.StatusForbidden || !strings.Contains(body, "another tenant") {
		t.Fatalf("A's token validated against B's room: %d %q", status, body)
	}
	if _, err := srv.TryJoin(t, "standup", "ann", testutil.WithToken(annTok)); err == nil {
		t.Fatal("A's token joined B's room")
	}
	// Bob never saw Ann: the next participant he sees is the one B admits.
	carolTok := rest(t, srv, "POST", "/livekit/token", tokB, `{"room_name":"standup","participant_name":"Carol","participant_identity":"carol"}`).str("token")
	srv.Join(t, "standup", "carol", testutil.WithToken(carolTok))
	bob.WaitFor(t, 10*time.Second, "participant_connected", "carol")
	if bob.Has("participant_connected", "ann") {
		t.Fatal("B's participant saw A's user join")
	}
	res := rest(t, srv, "GET", "/livekit/rooms/standup", tokB, "")
	if strings.Contains(string(res.body), "ann") {
		t.Fatalf("B's room lists A's user: %s", res.body)
	}
}

// A room auto-created by a join with a tenant's token belongs to that tenant, so the
// tenant can still manage it and nobody else can.
func TestAutoCreatedRoomBelongsToTheTokensTenant(t *testing.T) {
	srv := testutil.StartServer(t, withREST(true))
	annTok := rest(t, srv, "POST", "/livekit/token", tokA, `{"room_name":"retro","participant_name":"Ann","participant_identity":"ann"}`).str("token")
	if r := rest(t, srv, "DELETE", "/livekit/rooms/retro", tokA, ""); r.status != http.StatusOK {
		t.Fatalf("A deletes retro: %d %s", r.status, r.body)
	}
	srv.Join(t, "retro", "ann", testutil.WithToken(annTok)) // auto-creates retro

	if r := rest(t, srv, "GET", "/livekit/rooms/retro", tokA, ""); r.status != http.StatusOK || !strings.Contains(string(r.body), `"ann"`) {
		t.Fatalf("A cannot see the room its token re-created: %d %s", r.status, r.body)
	}
	if r := rest(t, srv, "GET", "/livekit/rooms/retro", tokB, ""); r.status != http.StatusNotFound {
		t.Fatalf("B sees A's room: %d %s", r.status, r.body)
	}
	if r := rest(t, srv, "DELETE", "/livekit/participant", tokA, `{"room_name":"retro","participant_identity":"ann"}`); r.status != http.StatusOK {
		t.Fatalf("A cannot manage the room its token re-created: %d %s", r.status, r.body)
	}
}

// A room's tenant is fixed for its life: metadata updates keep its auth_id. Tokens
// bound to no tenant (minted with the API key) still join tenant rooms.
func TestRoomTenantIsFixed(t *testing.T) {
	srv := testutil.StartServer(t, withREST(true))
	if r := rest(t, srv, "POST", "/livekit/rooms", tokA, `{"room_name":"a1","metadata":"{\"topic\":\"x\"}"}`); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	rc := srv.RoomClient()
	for _, md := range []string{`{"topic":"y"}`, `{"auth_id":"tenant-b"}`, `plain`} {
		_, err := rc.UpdateRoomMetadata(ctx10(t), &livekit.UpdateRoomMetadataRequest{Room: "a1", Metadata: md})
		if twirpCode(t, err) != twirp.InvalidArgument {
			t.Errorf("metadata %q: %v", md, err)
		}
	}
	if _, err := rc.UpdateRoomMetadata(ctx10(t), &livekit.UpdateRoomMetadataRequest{Room: "a1", Metadata: `{"auth_id":"tenant-a","topic":"y"}`}); err != nil {
		t.Fatalf("a metadata update that keeps the auth_id: %v", err)
	}
	srv.Join(t, "a1", "operator-made") // a token minted with the API key, bound to no tenant
	// A room of no tenant cannot be given one through its metadata.
	if _, err := rc.CreateRoom(ctx10(t), &livekit.CreateRoomRequest{Name: "free"}); err != nil {
		t.Fatal(err)
	}
	_, err := rc.UpdateRoomMetadata(ctx10(t), &livekit.UpdateRoomMetadataRequest{Room: "free", Metadata: `{"auth_id":"tenant-a"}`})
	if twirpCode(t, err) != twirp.InvalidArgument {
		t.Errorf("giving a room a tenant: %v", err)
	}
}

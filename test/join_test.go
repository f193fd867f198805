package test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

var singlePC = testutil.WithSDKOptions(lksdk.WithSinglePeerConnection())

func TestTwoParticipantsSeeEachOther(t *testing.T) {
	forBothModes(t, func(t *testing.T, mode ...testutil.JoinOption) {
		srv := testutil.StartServer(t)
		alice := srv.Join(t, "class", "alice", append(mode, testutil.WithName("Alice"), testutil.WithMetadata(`{"role":"teacher"}`))...)
		bob := srv.Join(t, "class", "bob", mode...)

		alice.WaitFor(t, 5*time.Second, "participant_connected", "bob")
		rp := bob.Room.GetParticipantByIdentity("alice")
		if rp == nil {
			t.Fatalf("bob's JoinResponse did not list alice")
		}
		if rp.Name() != "Alice" || rp.Metadata() != `{"role":"teacher"}` {
			t.Errorf("alice as bob sees her: name %q metadata %q", rp.Name(), rp.Metadata())
		}
		if bob.Room.SID() == "" || bob.Room.Name() != "class" || bob.Room.LocalParticipant.SID() == "" {
			t.Errorf("room %q sid %q local sid %q", bob.Room.Name(), bob.Room.SID(), bob.Room.LocalParticipant.SID())
		}
		// The server sees both, ACTIVE once their transports connected.
		testutil.Eventually(t, 5*time.Second, func() bool {
			return participantState(t, srv, "class", "bob") == livekit.ParticipantInfo_ACTIVE &&
				participantState(t, srv, "class", "alice") == livekit.ParticipantInfo_ACTIVE
		}, "participants did not become ACTIVE")
		if n := roomInfo(t, srv, "class").NumParticipants; n != 2 {
			t.Errorf("num_participants = %d, want 2", n)
		}

		bob.Room.Disconnect()
		e := alice.WaitFor(t, 5*time.Second, "participant_disconnected", "bob")
		if e.Detail != "CLIENT_INITIATED" {
			t.Errorf("bob left with reason %s, want CLIENT_INITIATED", e.Detail)
		}
		// The count is exact as soon as the departure is announced.
		if n := roomInfo(t, srv, "class").NumParticipants; n != 1 {
			t.Errorf("num_participants after a leave = %d, want 1", n)
		}
	})
}

// participantState reads a participant's state from the room manager.
func participantState(t *testing.T, srv *testutil.TestServer, roomName, identity string) livekit.ParticipantInfo_State {
	t.Helper()
	rm, err := srv.Rooms().Room(roomName)
	if err != nil {
		return livekit.ParticipantInfo_DISCONNECTED
	}
	p := rm.Participant(identity)
	if p == nil {
		return livekit.ParticipantInfo_DISCONNECTED
	}
	return p.Info().State
}

func roomInfo(t *testing.T, srv *testutil.TestServer, name string) *livekit.Room {
	t.Helper()
	res, err := srv.RoomClient().ListRooms(context.Background(), &livekit.ListRoomsRequest{Names: []string{name}})
	if err != nil {
		t.Fatalf("ListRooms: %v", err)
	}
	if len(res.Rooms) != 1 {
		t.Fatalf("room %q is not open", name)
	}
	return res.Rooms[0]
}

func TestDuplicateIdentityNewestWins(t *testing.T) {
	srv := testutil.StartServer(t)
	first := srv.Join(t, "r", "sam")
	watcher := srv.Join(t, "r", "watcher")
	if watcher.Room.GetParticipantByIdentity("sam") == nil {
		t.Fatal("watcher's JoinResponse does not list sam")
	}
	firstSID := first.Room.LocalParticipant.SID()

	second := srv.Join(t, "r", "sam")
	e := first.WaitFor(t, 5*time.Second, "disconnected", "sam")
	if e.Detail != "DUPLICATE_IDENTITY" {
		t.Errorf("first connection left with %s, want DUPLICATE_IDENTITY", e.Detail)
	}
	// The watcher sees the new session replace the old one.
	testutil.Eventually(t, 5*time.Second, func() bool {
		rp := watcher.Room.GetParticipantByIdentity("sam")
		return rp != nil && rp.SID() == second.Room.LocalParticipant.SID() && rp.SID() != firstSID
	}, "watcher does not see sam's new session")
	if n := roomInfo(t, srv, "r").NumParticipants; n != 2 {
		t.Errorf("num_participants = %d, want 2", n)
	}
}

func TestDuplicateIdentityRejected(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) { c.Room.DuplicateIdentity = config.DuplicateReject }))
	first := srv.Join(t, "r", "sam")
	_, err := srv.TryJoin(t, "r", "sam")
	if err == nil || !strings.Contains(err.Error(), `"sam" is already in room "r"`) {
		t.Fatalf("second join: %v, want a refusal naming the identity", err)
	}
	// The first connection is untouched: a refused join never reaches the room, and
	// had it closed the first connection (which happens before the refusal is sent),
	// the first client would never see a barrier sent after it.
	srv.SignalBarrier(t, "r", first)
	if first.Has("disconnected", "") || first.Room.ConnectionState() != lksdk.ConnectionStateConnected {
		t.Errorf("first connection was disturbed: %v", first.Events())
	}
	// Raw HTTP: refused before the upgrade with 409 and the reason.
	status, body := rawDial(t, srv, testutil.JoinToken(t, "r", "sam"), "")
	if status != http.StatusConflict || !strings.Contains(body, "duplicate_identity") {
		t.Errorf("raw duplicate join: %d %q", status, body)
	}
}

func TestHiddenParticipantIsInvisibleAndNotCounted(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) { c.Room.MaxParticipants = 3 }))
	alice := srv.Join(t, "r", "alice")
	// A raw client shows every message the server sends; the SDK would ignore the
	// departure of a participant it never knew.
	raw := dialRaw(t, srv, testutil.JoinToken(t, "r", "raw"), "")
	spy := srv.Join(t, "r", "spy", testutil.WithGrant(&lkauth.VideoGrant{Hidden: true}))
	bob := srv.Join(t, "r", "bob") // the hidden participant does not take a seat

	if bob.Room.GetParticipantByIdentity("alice") == nil {
		t.Errorf("bob's JoinResponse does not list alice")
	}
	if bob.Room.GetParticipantByIdentity("spy") != nil {
		t.Errorf("bob's JoinResponse lists the hidden participant")
	}
	// The spy sees everyone.
	spy.WaitFor(t, 5*time.Second, "participant_connected", "bob")
	if spy.Room.GetParticipantByIdentity("alice") == nil || spy.Room.GetParticipantByIdentity("raw") == nil {
		t.Errorf("the hidden participant does not see alice and raw")
	}
	// The spy's join was announced (or not) before its JoinResponse: after a barrier,
	// alice's SDK would hold it.
	srv.SignalBarrier(t, "r", alice)
	if alice.Room.GetParticipantByIdentity("spy") != nil || alice.Has("participant_connected", "spy") {
		t.Errorf("alice was told about the hidden participant")
	}
	if n := roomInfo(t, srv, "r").NumParticipants; n != 3 {
		t.Errorf("num_participants = %d, want 3 (hidden excluded)", n)
	}
	spy.Room.Disconnect()
	testutil.Eventually(t, 5*time.Second, func() bool { return participantState(t, srv, "r", "spy") == livekit.ParticipantInfo_DISCONNECTED },
		"the server did not see the spy leave")
	// The departure was announced (or not) when the server removed the spy: after a
	// barrier, raw has read every message sent to it before.
	raw.barrier()
	for _, res := range raw.received() {
		for _, p := range append(res.GetUpdate().GetParticipants(), res.GetJoin().GetOtherParticipants()...) {
			if p.Identity == "spy" {
				t.Errorf("raw was told about the hidden participant: %v", res)
			}
		}
	}
	if !slices.ContainsFunc(raw.received(), func(r *livekit.SignalResponse) bool {
		return slices.ContainsFunc(r.GetUpdate().GetParticipants(), func(p *livekit.ParticipantInfo) bool { return p.Identity == "bob" })
	}) {
		t.Errorf("raw was not told about bob, so its silence about the spy proves nothing: %v", raw.received())
	}
}

func TestMaxParticipants(t *testing.T) {
	srv := testutil.StartServer(t)
	ctx := testutil.Context(t, 10*time.Second)
	if _, err := srv.RoomClient().CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "small", MaxParticipants: 2}); err != nil {
		t.Fatal(err)
	}
	a := srv.Join(t, "small", "a")
	b := srv.Join(t, "small", "b")
	_, err := srv.TryJoin(t, "small", "c")
	if err == nil || !strings.Contains(err.Error(), "limit of 2 participants") {
		t.Fatalf("third join: %v, want a room-full refusal", err)
	}
	status, body := rawDial(t, srv, testutil.JoinToken(t, "small", "c"), "")
	if status != http.StatusTooManyRequests || !strings.Contains(body, "room is full") {
		t.Errorf("raw full join: %d %q", status, body)
	}
	// Rejoining with an identity already present replaces it and needs no extra seat.
	srv.Join(t, "small", "b")
	b.WaitFor(t, 5*time.Second, "disconnected", "b")
	// When someone leaves, a seat frees up at once.
	a.Room.Disconnect()
	testutil.Eventually(t, 5*time.Second, func() bool { return roomInfo(t, srv, "small").NumParticipants == 1 }, "a did not leave")
	srv.Join(t, "small", "c")
}

func TestRefusedJoinsSayWhy(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) { c.Room.AutoCreate = false }))
	ctx := testutil.Context(t, 10*time.Second)
	if _, err := srv.RoomClient().CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "exists"}); err != nil {
		t.Fatal(err)
	}
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": testutil.APIKey, "sub": "x", "exp": time.Now().Add(-2 * time.Minute).Unix(),
		"video": map[string]any{"roomJoin": true, "room": "exists"},
	}).SignedString([]byte(testutil.APISecret))
	wrongKey, _ := lkauth.NewAccessToken(testutil.APIKey, "not-the-secret-at-all-0123456789").SetIdentity("x").
		SetVideoGrant(&lkauth.VideoGrant{RoomJoin: true, Room: "exists"}).ToJWT()
	noJoin := testutil.Token(t, "x", &lkauth.VideoGrant{RoomAdmin: true, Room: "exists"})

	cases := []struct {
		name   string
		token  string
		query  string
		status int
		msg    string
	}{
		{"no token", "", "", 401, "no access token"},
		{"expired", expired, "", 401, "expired"},
		{"bad signature", wrongKey, "", 401, "signature is invalid"},
		{"no roomJoin grant", noJoin, "", 403, "roomJoin"},
		{"unknown room without auto-create", testutil.JoinToken(t, "missing", "x"), "", 404, "auto_create"},
		{"bad parameter", testutil.JoinToken(t, "exists", "x"), "auto_subscribe=maybe", 400, "auto_subscribe"},
		{"bad join_request", testutil.JoinToken(t, "exists", "x"), "join_request=%21%21", 400, "join_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := rawDial(t, srv, tc.token, tc.query)
			if status != tc.status || !strings.Contains(body, tc.msg) {
				t.Errorf("got %d %q, want %d mentioning %q", status, body, tc.status, tc.msg)
			}
			if tc.token != "" && strings.Contains(body, tc.token[len(tc.token)-20:]) {
				t.Errorf("the error echoes the token")
			}
			// /rtc/validate gives the same answer.
			vs, vb := rawValidate(t, srv, tc.token, tc.query)
			if vs != tc.status || !strings.Contains(vb, tc.msg) {
				t.Errorf("validate: %d %q", vs, vb)
			}
		})
	}
	// The SDK surfaces the reason too (it asks /rtc/validate after a refused dial).
	_, err := srv.TryJoin(t, "exists", "x", testutil.WithToken(expired))
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("SDK join with an expired token: %v", err)
	}
	vs, vb := rawValidate(t, srv, testutil.JoinToken(t, "exists", "x"), "")
	if vs != 200 || vb != "success" {
		t.Errorf("validate of a good join: %d %q", vs, vb)
	}
}

// rawDial attempts a WebSocket upgrade on /rtc and returns the HTTP refusal.
func rawDial(t *testing.T, srv *testutil.TestServer, token, query string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/rtc?"+query, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func rawValidate(t *testing.T, srv *testutil.TestServer, token, query string) (int, string) {
	t.Helper()
	u := srv.URL + "/rtc/validate?" + query
	if token != "" {
		u += "&access_token=" + url.QueryEscape(token)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// forBothModes runs f once per transport mode: two peer connections (the SDK's
// default) and a single peer connection. mode holds the join options of the mode.
func forBothModes(t *testing.T, f func(t *testing.T, mode ...testutil.JoinOption)) {
	t.Run("dual peer connections", func(t *testing.T) { f(t) })
	t.Run("single peer connection", func(t *testing.T) { f(t, singlePC) })
}

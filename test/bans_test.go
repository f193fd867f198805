package test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/usher-rtc/usher/internal/api/twirp"
	"github.com/usher-rtc/usher/internal/app"
	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/testutil"
)

// moderation returns a client of the server's usher.Moderation service signed with
// the test key.
func moderation(srv *testutil.TestServer) *twirpapi.Client {
	return twirpapi.NewClient(srv.URL, testutil.APIKey, testutil.APISecret, nil)
}

// wantBanned fails unless a join with tok is refused before the upgrade with 403 and
// the ban's reason, and /rtc/validate says the same.
func wantBanned(t *testing.T, srv *testutil.TestServer, what, tok, query, reason string) {
	t.Helper()
	if status, body := rawDial(t, srv, tok, query); status != http.StatusForbidden || body != reason {
		t.Errorf("%s: /rtc answered %d %q, want 403 %q", what, status, body, reason)
	}
	if status, body := rawValidate(t, srv, tok, query); status != http.StatusForbidden || body != reason {
		t.Errorf("%s: /rtc/validate answered %d %q, want 403 %q", what, status, body, reason)
	}
}

func TestBanRemovesThePresentParticipantAndKeepsThemOut(t *testing.T) {
	dataDir := t.TempDir()
	withDir := testutil.WithConfig(func(c *config.Config) { c.DataDir = dataDir })
	srv := testutil.StartServer(t, withDir)
	watcher := srv.Join(t, "r", "watcher")
	oldTok := joinTokenFor(t, "r", "troll", time.Hour)
	troll := srv.Join(t, "r", "troll", testutil.WithToken(oldTok))
	waitActive(t, srv, "r", "troll")

	res, err := moderation(srv).BanParticipant(ctx10(t), &twirpapi.BanParticipantRequest{Room: "r", Identity: "troll", Reason: "spamming the chat"})
	if err != nil {
		t.Fatal(err)
	}
	bannedAt := time.Now() // after the call returned: the removal may fall in a later second than the call began
	if b := res.Ban; b.Room != "r" || b.Identity != "troll" || b.ExpiresAt != "" || b.Reason != "spamming the chat" ||
		b.CreatedBy != "admin "+testutil.APIKey || b.CreatedAt == "" || len(res.Removed) != 1 || res.Removed[0].Room != "r" || res.Removed[0].SID == "" {
		t.Errorf("BanParticipant = %+v", res)
	}
	// Removed as RemoveParticipant removes: the SDK reports the reason.
	if e := troll.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != "PARTICIPANT_REMOVED" {
		t.Errorf("troll disconnected with %s", e.Detail)
	}
	if e := watcher.WaitFor(t, 5*time.Second, "participant_disconnected", "troll"); e.Detail != "PARTICIPANT_REMOVED" {
		t.Errorf("watcher saw reason %s", e.Detail)
	}
	// Any token, even one issued after the ban, is refused before the upgrade.
	const reason = `banned from room "r" until lifted: spamming the chat`
	fresh := joinTokenFor(t, "r", "troll", 2*time.Hour) // not the old token, even when minted in its second
	wantBanned(t, srv, "a fresh token", fresh, "", reason)
	if _, err := srv.TryJoin(t, "r", "troll", testutil.WithToken(fresh)); err == nil || !strings.Contains(err.Error(), reason) {
		t.Errorf("the SDK's join of a banned identity: %v", err)
	}
	// Other rooms and identities are not affected.
	srv.Join(t, "elsewhere", "troll")
	srv.Join(t, "r", "alice")
	if rm, _ := srv.Rooms().Room("r"); rm.Participant("troll") != nil {
		t.Error("troll is in r")
	}
	list, err := moderation(srv).ListBans(ctx10(t), &twirpapi.ListBansRequest{Room: "r"})
	if err != nil || len(list.Bans) != 1 || list.Bans[0].Identity != "troll" || list.NextPageToken != "" {
		t.Errorf("ListBans = %+v %v", list, err)
	}

	// The ban survives a restart with the same data directory.
	stopServer(t, srv.Server)
	srv2 := testutil.StartServer(t, withDir)
	wantBanned(t, srv2, "after a restart", fresh, "", reason)
	if list, err := moderation(srv2).ListBans(ctx10(t), &twirpapi.ListBansRequest{}); err != nil || len(list.Bans) != 1 {
		t.Errorf("ListBans after a restart = %+v %v", list, err)
	}

	// Lifted: a token issued after the ban's removal (in a later second) joins; the ones
	// the removal revoked stay revoked.
	lifted, err := moderation(srv2).LiftBan(ctx10(t), &twirpapi.LiftBanRequest{Room: "r", Identity: "troll"})
	if err != nil || lifted.Ban.Reason != "spamming the chat" {
		t.Fatalf("LiftBan = %+v %v", lifted, err)
	}
	if _, err := moderation(srv2).LiftBan(ctx10(t), &twirpapi.LiftBanRequest{Room: "r", Identity: "troll"}); twirpCode(t, err) != twirp.NotFound {
		t.Errorf("lifting twice: %v", err)
	}
	wantRevoked(t, srv2, "the token the ban's removal revoked", oldTok)
	testutil.Eventually(t, 5*time.Second, func() bool { return time.Now().Unix() > bannedAt.Unix() }, "the clock did not move on")
	srv2.Join(t, "r", "troll")
}

func TestTimedBanEnds(t *testing.T) {
	srv := testutil.StartServer(t)
	start := time.Now()
	res, err := moderation(srv).BanParticipant(ctx10(t), &twirpapi.BanParticipantRequest{Room: "r", Identity: "brief", DurationSeconds: 2})
	if err != nil || len(res.Removed) != 0 {
		t.Fatalf("BanParticipant = %+v %v", res, err)
	}
	tok := joinTokenFor(t, "r", "brief", time.Hour)
	if status, body := rawValidate(t, srv, tok, ""); time.Since(start) < 1500*time.Millisecond &&
		(status != http.StatusForbidden || !strings.HasPrefix(body, `banned from room "r" until 20`)) {
		t.Errorf("during the ban: %d %q", status, body)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		status, _ := rawValidate(t, srv, tok, "")
		return status == http.StatusOK
	}, "the ban did not end")
}

// A connection admitted before a ban, becoming active or resuming after it, is refused.
func TestBanAtActivationAndResume(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) { c.Signal.ResumeWindow = time.Minute }))
	srv.Join(t, "r", "watcher")
	rm, err := srv.Rooms().Room("r")
	if err != nil {
		t.Fatal(err)
	}
	tok := joinTokenFor(t, "r", "late", time.Hour)
	claims, err := srv.Verifier().Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	reserved, err := rm.Reserve(room.JoinParams{Identity: "late", Grants: claims.Grants, Token: claims})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := moderation(srv).BanParticipant(ctx10(t), &twirpapi.BanParticipantRequest{Room: "r", Identity: "late", Reason: "no"}); err != nil {
		t.Fatal(err)
	}
	err = rm.Activate(reserved, &livekit.JoinResponse{})
	var be *auth.BannedError
	if !errors.As(err, &be) || err.Error() != `banned from room "r" until lifted: no` {
		t.Errorf("activation after the ban: %v", err)
	}
	if rm.Participant("late") != nil {
		t.Error("the banned identity became part of the room")
	}

	// A session whose signal connection dropped, banned while it waits, cannot resume.
	c := dialRaw(t, srv, joinTokenFor(t, "r", "away", time.Hour), "")
	join, _ := c.await(5*time.Second, "join", func(r *livekit.SignalResponse) bool { return r.GetJoin() != nil })
	sid := join.GetJoin().GetParticipant().GetSid()
	_ = c.ws.Close() // no leave: the server waits for a resume
	if _, err := moderation(srv).BanParticipant(ctx10(t), &twirpapi.BanParticipantRequest{Room: "r", Identity: "away"}); err != nil {
		t.Fatal(err)
	}
	resume := "reconnect=1&sid=" + url.QueryEscape(sid)
	wantBanned(t, srv, "a resume after the ban", joinTokenFor(t, "r", "away", time.Hour), resume, `banned from room "r" until lifted`)
}

func TestBanScopesMovesAndForwards(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	mc := moderation(srv)
	srv.Join(t, "stage", "speaker")
	waitActive(t, srv, "stage", "speaker")
	if _, err := rc.CreateRoom(ctx10(t), &livekit.CreateRoomRequest{Name: "backstage"}); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.BanParticipant(ctx10(t), &twirpapi.BanParticipantRequest{Room: "backstage", Identity: "speaker", Reason: "not here"}); err != nil {
		t.Fatal(err)
	}
	_, err := rc.MoveParticipant(ctx10(t), &livekit.MoveParticipantRequest{Room: "stage", Identity: "speaker", DestinationRoom: "backstage"})
	if twirpCode(t, err) != twirp.PermissionDenied || !strings.Contains(err.Error(), `banned from room "backstage"`) {
		t.Errorf("moving into a room the identity is banned from: %v", err)
	}
	_, err = rc.ForwardParticipant(ctx10(t), &livekit.ForwardParticipantRequest{Room: "stage", Identity: "speaker", DestinationRoom: "backstage"})
	if twirpCode(t, err) != twirp.PermissionDenied {
		t.Errorf("forwarding into a room the identity is banned from: %v", err)
	}

	// A ban of a room scoped to a tenant covers it only while it is that tenant's.
	if _, err := mc.BanParticipant(ctx10(t), &twirpapi.BanParticipantRequest{Room: "stage", Tenant: "acme", Identity: "speaker"}); err != nil {
		t.Fatal(err)
	}
	srv.Join(t, "stage", "speaker") // stage has no tenant: the speaker is still welcome
}

func TestBanGrantsAndBounds(t *testing.T) {
	srv := testutil.StartServer(t)
	call := func(token, method, body string) (int, string, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/twirp/usher.Moderation/"+method, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		r := do(t, req)
		if r.status == http.StatusOK {
			return r.status, "", string(r.body)
		}
		code, msg := r.errCode(t)
		return r.status, code, msg
	}
	adminOf := func(roomName string) string {
		return testutil.Token(t, "mod", &lkauth.VideoGrant{RoomAdmin: true, Room: roomName})
	}
	server := testutil.Token(t, "ops", &lkauth.VideoGrant{RoomCreate: true, RoomList: true})
	long := strings.Repeat("x", 300)
	cases := []struct {
		name, token, method, body string
		status                    int
		code, msg                 string
	}{
		{"room ban as admin of the room", adminOf("r"), "BanParticipant", `{"room":"r","identity":"a"}`, 200, "", `"identity":"a"`},
		{"room ban as admin of another room", adminOf("other"), "BanParticipant", `{"room":"r","identity":"a"}`, 403, "permission_denied", `roomAdmin grant is for room "other", not "r"`},
		{"tenant ban as a room admin", adminOf("r"), "BanParticipant", `{"tenant":"acme","identity":"a"}`, 403, "permission_denied", "roomCreate and roomList"},
		{"tenant ban with roomCreate and roomList", server, "BanParticipant", `{"tenant":"acme","identity":"a","duration_seconds":60}`, 200, "", `"tenant":"acme"`},
		{"listing every ban as a room admin", adminOf("r"), "ListBans", `{}`, 403, "permission_denied", "roomCreate and roomList"},
		{"listing a room's bans", adminOf("r"), "ListBans", `{"room":"r"}`, 200, "", `"bans":[{"room":"r"`},
		{"listing every ban", server, "ListBans", `{}`, 200, "", `"tenant":"acme"`},
		{"lifting as admin of another room", adminOf("other"), "LiftBan", `{"room":"r","identity":"a"}`, 403, "permission_denied", "roomAdmin"},
		{"no room nor tenant", server, "BanParticipant", `{"identity":"a"}`, 400, "invalid_argument", "name a room, or a tenant"},
		{"no identity", adminOf("r"), "BanParticipant", `{"room":"r"}`, 400, "invalid_argument", "participant identity is empty"},
		{"identity over the limit", adminOf("r"), "BanParticipant", `{"room":"r","identity":"` + long + `"}`, 400, "invalid_argument", "the limit is 256"},
		{"reason over the limit", adminOf("r"), "BanParticipant", `{"room":"r","identity":"a","reason":"` + strings.Repeat(long, 2) + `"}`, 400, "invalid_argument", "reason is 600 bytes; the limit is 512"},
		{"reason with a control character", adminOf("r"), "BanParticipant", `{"room":"r","identity":"a","reason":"a\u001b[31m"}`, 400, "invalid_argument", "control character"},
		{"tenant over the limit", server, "BanParticipant", `{"tenant":"` + long + `","identity":"a"}`, 400, "invalid_argument", "tenant is 300 bytes"},
		{"negative duration", adminOf("r"), "BanParticipant", `{"room":"r","identity":"a","duration_seconds":-1}`, 400, "invalid_argument", "duration_seconds must be between 0"},
		{"duration over ten years", adminOf("r"), "BanParticipant", `{"room":"r","identity":"a","duration_seconds":400000000}`, 400, "invalid_argument", "duration_seconds"},
		{"unknown field", adminOf("r"), "BanParticipant", `{"room":"r","identity":"a","until":"never"}`, 400, "malformed", `unknown field "until"`},
		{"limit over the page size", adminOf("r"), "ListBans", `{"room":"r","limit":5000}`, 400, "invalid_argument", "limit must be between 0"},
		{"a page token the server did not issue", adminOf("r"), "ListBans", `{"room":"r","page_token":"%%"}`, 400, "invalid_argument", "page_token"},
		{"lifting a ban that does not exist", adminOf("r"), "LiftBan", `{"room":"r","identity":"nobody"}`, 404, "not_found", `"nobody" is not banned from room "r"`},
		{"unknown method", adminOf("r"), "Pardon", `{}`, 404, "bad_route", `has no method "Pardon"`},
	}
	for _, tc := range cases {
		status, code, msg := call(tc.token, tc.method, tc.body)
		if status != tc.status || code != tc.code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d %s %q, want %d %s containing %q", tc.name, status, code, msg, tc.status, tc.code, tc.msg)
		}
	}
}

func TestTenantBansThroughREST(t *testing.T) {
	srv := testutil.StartServer(t, withREST(true))
	join := func(tenantToken, roomName, identity string) string {
		t.Helper()
		return restToken(t, srv, tenantToken, roomName, identity, "")
	}
	watcher := srv.Join(t, "a-room", "watcher", testutil.WithToken(join(tokA, "a-room", "watcher")))
	troll := srv.Join(t, "a-room", "troll", testutil.WithToken(join(tokA, "a-room", "troll")))
	waitActive(t, srv, "a-room", "troll")
	tenantWide, inRoom := watchEvents(t, srv, ""), watchEvents(t, srv, "a-room") // a ban from every room has no room

	// Tenant A bans troll from every room of A: troll is removed.
	r := rest(t, srv, "POST", "/livekit/bans", tokA, `{"participant_identity":"troll","reason":"abuse"}`)
	if r.status != 200 || r.str("status") != "banned" || r.str("room_name") != "" || r.str("auth_id") != "tenant-a" ||
		!bytes.Contains(r.body, []byte(`"removed_from":["a-room"]`)) || !bytes.Contains(r.body, []byte(`"expires_at":0`)) {
		t.Fatalf("ban: %d %s", r.status, r.body)
	}
	if e := troll.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != "PARTICIPANT_REMOVED" {
		t.Errorf("troll disconnected with %s", e.Detail)
	}
	watcher.WaitFor(t, 5*time.Second, "participant_disconnected", "troll")
	// The ban and the removal it causes name the caller as every gateway call does: the
	// tenant, from its address, with the request's id.
	for _, e := range []*events.Event{tenantWide.find(t, events.ParticipantBanned), inRoom.find(t, events.ParticipantRemoved)} {
		if a := e.Actor; a.Kind != events.ActorTenant || a.Tenant != "tenant-a" || a.Address != "127.0.0.1" || a.RequestID == "" {
			t.Errorf("%s by %+v; want tenant-a from 127.0.0.1 with a request id", e.Kind, a)
		}
	}
	// Every room of A refuses troll, including one created later...
	wantBanned(t, srv, "another room of A", join(tokA, "a-later", "troll"), "", `banned from every room of tenant "tenant-a" until lifted: abuse`)
	// ...but B's rooms do not.
	srv.Join(t, "b-room", "troll", testutil.WithToken(join(tokB, "b-room", "troll")))

	// A room ban of B covers B's room of that name only.
	if r := rest(t, srv, "POST", "/livekit/bans", tokB, `{"room_name":"shared","participant_identity":"mallory","duration_seconds":3600}`); r.status != 200 ||
		r.str("room_name") != "shared" || !bytes.Contains(r.body, []byte(`"removed_from":[]`)) {
		t.Fatalf("B's room ban: %d %s", r.status, r.body)
	}
	srv.Join(t, "shared", "mallory", testutil.WithToken(join(tokA, "shared", "mallory")))

	// Each tenant sees and lifts only its own bans.
	listA := rest(t, srv, "GET", "/livekit/bans", tokA, "")
	if listA.status != 200 || !bytes.Contains(listA.body, []byte(`"participant_identity":"troll"`)) || bytes.Contains(listA.body, []byte("mallory")) {
		t.Errorf("A's bans: %d %s", listA.status, listA.body)
	}
	listB := rest(t, srv, "GET", "/livekit/bans?room_name=shared&limit=10", tokB, "")
	if listB.status != 200 || !bytes.Contains(listB.body, []byte(`"participant_identity":"mallory"`)) || bytes.Contains(listB.body, []byte("troll")) {
		t.Errorf("B's bans: %d %s", listB.status, listB.body)
	}
	if r := rest(t, srv, "DELETE", "/livekit/bans", tokB, `{"participant_identity":"troll"}`); r.status != 404 || r.str("code") != "BAN_NOT_FOUND" {
		t.Errorf("B lifting A's ban: %d %s", r.status, r.body)
	}
	if r := rest(t, srv, "GET", "/livekit/bans?limit=0", tokA, ""); r.status != 400 || r.str("code") != "INVALID_REQUEST" {
		t.Errorf("limit 0: %d %s", r.status, r.body)
	}
	if r := rest(t, srv, "POST", "/livekit/bans", tokA, `{"participant_identity":"x","participant_identity":"y"}`); r.status != 400 {
		t.Errorf("a duplicate key: %d %s", r.status, r.body)
	}
	if r := rest(t, srv, "DELETE", "/livekit/bans", tokA, `{"participant_identity":"troll"}`); r.status != 200 || r.str("status") != "lifted" {
		t.Fatalf("A lifting its ban: %d %s", r.status, r.body)
	}
	srv.Join(t, "a-later", "troll", testutil.WithToken(join(tokA, "a-later", "troll")))
}

func TestRESTBansInOpenModeNeedARoom(t *testing.T) {
	srv := testutil.StartServer(t, withREST(false))
	if r := rest(t, srv, "POST", "/livekit/bans", "", `{"participant_identity":"x"}`); r.status != 400 || !strings.Contains(r.str("error"), "room_name is required") {
		t.Errorf("a tenant-wide ban without a tenant: %d %s", r.status, r.body)
	}
	w := watchEvents(t, srv, "r")
	if r := rest(t, srv, "POST", "/livekit/bans", "", `{"room_name":"r","participant_identity":"x"}`); r.status != 200 || r.str("auth_id") != "" {
		t.Errorf("open-mode room ban: %d %s", r.status, r.body)
	}
	// The operator's ban is the gateway's operator's, as its other calls are.
	if a := w.find(t, events.ParticipantBanned).Actor; a.Kind != events.ActorAdmin || a.Identity != "rest-gateway" || a.Address != "127.0.0.1" {
		t.Errorf("participant_banned by %+v; want the gateway's operator from 127.0.0.1", a)
	}
	list, err := moderation(srv).ListBans(ctx10(t), &twirpapi.ListBansRequest{Room: "r"})
	if err != nil || len(list.Bans) != 1 || list.Bans[0].CreatedBy != "admin (rest-gateway)" {
		t.Errorf("the open-mode ban as stored: %+v %v", list, err)
	}
	wantBanned(t, srv, "open-mode ban", joinTokenFor(t, "r", "x", time.Hour), "", `banned from room "r" until lifted`)
	if r := rest(t, srv, "GET", "/livekit/bans", "", ""); r.status != 200 || !bytes.Contains(r.body, []byte(`"participant_identity":"x"`)) {
		t.Errorf("open-mode list: %d %s", r.status, r.body)
	}
}

// The REST gateway fronting another Usher bans through that Usher's usher.Moderation.
func TestRESTBansThroughAnUpstreamUsher(t *testing.T) {
	upstream := testutil.StartServer(t)
	gw := testutil.StartServer(t, withREST(true), testutil.WithConfig(func(c *config.Config) {
		c.REST.Upstream = config.UpstreamConfig{URL: upstream.URL, APIKey: testutil.APIKey, APISecret: testutil.APISecret, Timeout: 5 * time.Second}
	}))
	if r := rest(t, gw, "POST", "/livekit/bans", tokA, `{"room_name":"up","participant_identity":"u"}`); r.status != 200 || r.str("auth_id") != "tenant-a" {
		t.Fatalf("ban through the upstream: %d %s", r.status, r.body)
	}
	if err := upstream.Bans().Check("up", "tenant-a", "u"); !errors.Is(err, auth.ErrBanned) {
		t.Errorf("the upstream does not hold the ban: %v", err)
	}
	if r := rest(t, gw, "DELETE", "/livekit/bans", tokA, `{"room_name":"up","participant_identity":"nobody"}`); r.status != 404 || r.str("code") != "BAN_NOT_FOUND" {
		t.Errorf("lifting a missing ban upstream: %d %s", r.status, r.body)
	}
}

func TestBansCommandLine(t *testing.T) {
	srv := testutil.StartServer(t)
	srv.Join(t, "r", "troll")
	waitActive(t, srv, "r", "troll")
	env := map[string]string{"LIVEKIT_URL": strings.Replace(srv.URL, "http://", "ws://", 1), "LIVEKIT_API_KEY": testutil.APIKey}
	usher := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := app.Run(context.Background(), append([]string{"bans"}, args...), &out, &errOut, func(k string) string { return env[k] })
		return out.String(), errOut.String(), err
	}
	if _, _, err := usher("list"); err == nil || !strings.Contains(err.Error(), "--api-secret") {
		t.Errorf("without a secret: %v", err)
	}
	env["LIVEKIT_API_SECRET"] = testutil.APISecret

	out, _, err := usher("add", "--room", "r", "--identity", "troll", "--duration", "1h", "--reason", "flooding")
	if err != nil || !strings.Contains(out, `banned "troll" from room "r" until 20`) || !strings.Contains(out, `removed "troll" from room "r"`) {
		t.Errorf("bans add: %q %v", out, err)
	}
	if out, _, err := usher("add", "--tenant", "acme", "--identity", "eve"); err != nil || !strings.Contains(out, `banned "eve" from every room of tenant "acme" until lifted`) {
		t.Errorf("bans add --tenant: %q %v", out, err)
	}
	out, _, err = usher("list")
	if err != nil || !strings.Contains(out, "IDENTITY") || !strings.Contains(out, "flooding") || !strings.Contains(out, "(every room)") {
		t.Errorf("bans list: %q %v", out, err)
	}
	out, _, err = usher("list", "--room", "r", "--json")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"reason":"flooding"`) {
		t.Errorf("bans list --json: %q %v", out, err)
	}
	if status, body := rawValidate(t, srv, joinTokenFor(t, "r", "troll", time.Hour), ""); status != http.StatusForbidden || !strings.HasSuffix(body, ": flooding") {
		t.Errorf("after bans add: %d %q", status, body)
	}
	if out, _, err := usher("lift", "--room", "r", "--identity", "troll"); err != nil || !strings.Contains(out, `lifted the ban of "troll" from room "r"`) {
		t.Errorf("bans lift: %q %v", out, err)
	}
	if _, _, err := usher("lift", "--room", "r", "--identity", "troll"); err == nil || !strings.Contains(err.Error(), "not banned") {
		t.Errorf("bans lift of a lifted ban: %v", err)
	}
	if _, _, err := usher("add", "--identity", "x"); err == nil || !strings.Contains(err.Error(), "--room or --tenant") {
		t.Errorf("bans add without a room: %v", err)
	}
	if _, _, err := usher("pardon"); err == nil || !strings.Contains(err.Error(), `unknown bans command "pardon"`) {
		t.Errorf("unknown command: %v", err)
	}
	env["LIVEKIT_API_SECRET"] = "wrong-secret-wrong-secret-wrong-secret"
	if _, _, err := usher("list"); err == nil || !strings.Contains(err.Error(), "signature is invalid") {
		t.Errorf("a wrong secret: %v", err)
	}
}

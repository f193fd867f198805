package test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/testutil"
)

// opsToken may manage presets: roomCreate writes them, roomList reads them.
func opsToken(t *testing.T) string {
	return testutil.Token(t, "ops", &lkauth.VideoGrant{RoomCreate: true, RoomList: true})
}

// presetsCall calls usher.Presets/method with token and returns the status and the
// decoded body.
func presetsCall(t *testing.T, srv *testutil.TestServer, token, method, body string) (int, map[string]any) {
	t.Helper()
	var out map[string]any
	status := twirpJSON(t, srv, "usher.Presets/"+method, token, body, &out)
	return status, out
}

func mustPresets(t *testing.T, srv *testutil.TestServer, method, body string) map[string]any {
	t.Helper()
	status, out := presetsCall(t, srv, opsToken(t), method, body)
	if status != http.StatusOK {
		t.Fatalf("%s %s: %d %v", method, body, status, out)
	}
	return out
}

func hostControls(t *testing.T, srv *testutil.TestServer, room, identity string) map[string]bool {
	t.Helper()
	var h map[string]bool
	if err := json.Unmarshal([]byte(srv.Participant(t, room, identity).Attributes["usher.permissions"]), &h); err != nil {
		t.Fatalf("%s's usher.permissions: %v", identity, err)
	}
	return h
}

// A preset made through the API is given by a token; updating it changes its holders
// at once: can_publish false unpublishes their tracks and changes their permission
// (old tokens revoked), and host controls it now grants work over RPC right away.
func TestPresetUpdateAppliesLive(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(classPresets))
	out := mustPresets(t, srv, "CreatePreset",
		`{"name":"speaker","preset":{"can_publish":true,"can_subscribe":true,"can_publish_data":true}}`)
	if p := out["preset"].(map[string]any); p["source"] != "api" || p["name"] != "speaker" {
		t.Fatalf("CreatePreset = %v", out)
	}
	teacher := srv.Join(t, "class", "teacher", preset("host"))
	tok := testutil.JoinToken(t, "class", "spk", preset("speaker"))
	spk := srv.Join(t, "class", "spk", testutil.WithToken(tok))
	mp, apub, vpub := publishMedia(t, spk)
	defer mp.close()
	testutil.Eventually(t, 5*time.Second, func() bool { return len(srv.Participant(t, "class", "spk").Tracks) == 2 }, "not published")
	_, rerr := rpc(t, spk, "pin", `{"identity":"teacher"}`)
	wantCode(t, "pin before the update", rerr, 1201)

	w := watchEvents(t, srv, "class")
	out = mustPresets(t, srv, "UpdatePreset",
		`{"name":"speaker","preset":{"can_publish":false,"can_subscribe":true,"can_publish_data":true,"host":{"pin_participant":true}}}`)
	if n, _ := out["updated_participants"].(float64); n != 1 {
		t.Fatalf("UpdatePreset changed %v participants; want 1", out["updated_participants"])
	}
	// Applied before the call returned.
	p := srv.Participant(t, "class", "spk")
	if p.Permission.CanPublish || len(p.Tracks) != 0 || p.Attributes["usher.preset"] != "speaker" {
		t.Fatalf("after the update: can_publish %v, %d tracks, preset %q", p.Permission.CanPublish, len(p.Tracks), p.Attributes["usher.preset"])
	}
	if h := hostControls(t, srv, "class", "spk"); !h["pin_participant"] || h["kick_participant"] {
		t.Fatalf("usher.permissions after the update: %v", h)
	}
	e := w.find(t, events.ParticipantUpdated)
	if e.Actor.Kind != events.ActorAdmin || e.Actor.APIKey != testutil.APIKey || e.Participant.GetIdentity() != "spk" {
		t.Fatalf("participant_updated by %+v of %s", e.Actor, e.Participant.GetIdentity())
	}
	// Everyone sees the tracks go; the speaker's SDK sees its new permission.
	for _, sid := range []string{apub.SID(), vpub.SID()} {
		teacher.WaitForDetail(t, 5*time.Second, "track_unpublished", sid)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return !spk.Room.LocalParticipant.Permissions().GetCanPublish() },
		"the speaker's SDK does not see the new permission")
	wantRevoked(t, srv, "the join token of a holder whose permission changed", tok)
	// The host control the update granted works at once.
	if _, rerr := rpc(t, spk, "pin", `{"identity":"teacher"}`); rerr != nil {
		t.Fatalf("pin after the update: %v", rerr)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return srv.Participant(t, "class", "teacher").Attributes["usher.pinned"] == "true" },
		"the pin did not land")
}

// API presets survive a restart; configuration presets are read-only through the API;
// deleting a preset takes its host controls from its holders, who keep their media
// permissions, and its name can no longer join.
func TestPresetsSurviveARestartAndDeletion(t *testing.T) {
	dataDir := t.TempDir()
	withDir := testutil.WithConfig(func(c *config.Config) { classPresets(c); c.DataDir = dataDir })
	srv := testutil.StartServer(t, withDir)
	mustPresets(t, srv, "CreatePreset",
		`{"name":"moderator","preset":{"can_publish":true,"can_publish_sources":["microphone"],"can_subscribe":true,"host":{"kick_participant":true}}}`)
	for _, c := range []struct{ method, body, code string }{
		{"UpdatePreset", `{"name":"host","preset":{}}`, "failed_precondition"},
		{"DeletePreset", `{"name":"host"}`, "failed_precondition"},
		{"CreatePreset", `{"name":"host","preset":{}}`, "already_exists"},
		{"CreatePreset", `{"name":"moderator","preset":{}}`, "already_exists"},
		{"UpdatePreset", `{"name":"nobody","preset":{}}`, "not_found"},
		{"CreatePreset", `{"name":"bad name","preset":{}}`, "invalid_argument"},
		{"CreatePreset", `{"name":"x","preset":{"can_publish_sources":["laser"]}}`, "invalid_argument"},
		{"CreatePreset", `{"name":"x","preset":{"host":{"fly":true}}}`, "malformed"},
	} {
		if _, out := presetsCall(t, srv, opsToken(t), c.method, c.body); out["code"] != c.code {
			t.Errorf("%s %s: %v; want %s", c.method, c.body, out, c.code)
		}
	}

	stopServer(t, srv.Server)
	srv = testutil.StartServer(t, withDir)
	list := mustPresets(t, srv, "ListPresets", `{}`)["presets"].([]any)
	if len(list) != 3 {
		t.Fatalf("ListPresets after a restart: %v", list)
	}
	got := mustPresets(t, srv, "GetPreset", `{"name":"moderator"}`)["preset"].(map[string]any)
	if got["source"] != "api" || !got["preset"].(map[string]any)["host"].(map[string]any)["kick_participant"].(bool) {
		t.Fatalf("GetPreset after a restart: %v", got)
	}
	mod := srv.Join(t, "class", "mod", preset("moderator"))
	srv.Join(t, "class", "student", preset("student"))
	if h := hostControls(t, srv, "class", "mod"); !h["kick_participant"] {
		t.Fatalf("the moderator's host controls: %v", h)
	}

	out := mustPresets(t, srv, "DeletePreset", `{"name":"moderator"}`)
	if n, _ := out["updated_participants"].(float64); n != 1 {
		t.Fatalf("DeletePreset changed %v participants; want 1", out["updated_participants"])
	}
	p := srv.Participant(t, "class", "mod")
	if _, ok := p.Attributes["usher.preset"]; ok || p.Attributes["usher.permissions"] != "" {
		t.Fatalf("after the deletion the holder has attributes %v", p.Attributes)
	}
	if !p.Permission.CanPublish || len(p.Permission.CanPublishSources) != 1 {
		t.Fatalf("after the deletion the holder's media permission changed: %v", p.Permission)
	}
	_, rerr := rpc(t, mod, "kick", `{"identity":"student"}`)
	wantCode(t, "kick after the deletion", rerr, 1201)
	if _, err := srv.TryJoin(t, "class", "late", preset("moderator")); err == nil {
		t.Fatal("a token naming a deleted preset joined")
	}
	if _, out := presetsCall(t, srv, opsToken(t), "GetPreset", `{"name":"moderator"}`); out["code"] != "not_found" {
		t.Fatalf("GetPreset of a deleted preset: %v", out)
	}
}

// Presets apply to every room: writes need roomCreate, reads roomList; roomAdmin of a
// room is not enough.
func TestPresetsGrants(t *testing.T) {
	srv := testutil.StartServer(t)
	admin := testutil.Token(t, "a", &lkauth.VideoGrant{RoomAdmin: true, Room: "class"})
	lister := testutil.Token(t, "l", &lkauth.VideoGrant{RoomList: true})
	creator := testutil.Token(t, "c", &lkauth.VideoGrant{RoomCreate: true})
	for _, c := range []struct {
		token, method, body string
		status              int
	}{
		{admin, "CreatePreset", `{"name":"x","preset":{}}`, http.StatusForbidden},
		{admin, "ListPresets", `{}`, http.StatusForbidden},
		{lister, "CreatePreset", `{"name":"x","preset":{}}`, http.StatusForbidden},
		{lister, "ListPresets", `{}`, http.StatusOK},
		{creator, "ListPresets", `{}`, http.StatusForbidden},
		{creator, "CreatePreset", `{"name":"x","preset":{}}`, http.StatusOK},
		{creator, "GetPreset", `{"name":"x"}`, http.StatusForbidden},
		{lister, "GetPreset", `{"name":"x"}`, http.StatusOK},
		{lister, "DeletePreset", `{"name":"x"}`, http.StatusForbidden},
		{creator, "DeletePreset", `{"name":"x"}`, http.StatusOK},
		{"", "ListPresets", `{}`, http.StatusUnauthorized},
	} {
		if status, out := presetsCall(t, srv, c.token, c.method, c.body); status != c.status {
			t.Errorf("%s with token %s: %d %v; want %d", c.method, c.token[:min(len(c.token), 8)], status, out, c.status)
		}
	}
}

// The REST token endpoint's preset field puts usher.preset in the token; an unknown
// preset is refused.
func TestRESTTokenWithPreset(t *testing.T) {
	srv := testutil.StartServer(t, withREST(false), testutil.WithConfig(classPresets))
	r := rest(t, srv, "POST", "/livekit/token", tokA,
		`{"room_name":"class","participant_name":"T","participant_identity":"teacher","preset":"host"}`)
	if r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	claims, err := srv.Verifier().Verify(r.str("token"))
	if err != nil || claims.Grants.Attributes["usher.preset"] != "host" {
		t.Fatalf("the token's attributes: %v %v", claims.Grants.Attributes, err)
	}
	srv.Join(t, "", "", testutil.WithToken(r.str("token")))
	if h := hostControls(t, srv, "class", "teacher"); !h["kick_participant"] {
		t.Fatalf("the teacher's host controls: %v", h)
	}
	r = rest(t, srv, "POST", "/livekit/token", tokA,
		`{"room_name":"class","participant_name":"X","participant_identity":"x","preset":"admiral"}`)
	if r.status != http.StatusBadRequest || r.str("code") != "INVALID_REQUEST" || !strings.Contains(r.str("error"), "admiral") {
		t.Fatalf("an unknown preset: %d %s", r.status, r.body)
	}
	r = rest(t, srv, "POST", "/livekit/token", tokA,
		`{"room_name":"class","participant_name":"X","participant_identity":"x","preset":"host","attributes":{"usher.preset":"student"}}`)
	if r.status != http.StatusBadRequest {
		t.Fatalf("a preset and a different attributes[usher.preset]: %d %s", r.status, r.body)
	}
}

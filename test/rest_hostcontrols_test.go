package test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/usher-rtc/usher/internal/audit"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/testutil"
)

// restRoom creates a room through the gateway, bound to the tenant of tok.
func restRoom(t *testing.T, srv *testutil.TestServer, tok, name string) {
	t.Helper()
	if r := rest(t, srv, "POST", "/livekit/rooms", tok, `{"room_name":"`+name+`"}`); r.status != http.StatusCreated {
		t.Fatalf("creating %s: %d %s", name, r.status, r.body)
	}
}

// identities reads the identities of a host-control answer ("<none>" when it has no
// list).
func identities(r restResp) string {
	ids, ok := r.json["identities"].([]any)
	if !ok {
		return "<none>"
	}
	var out []string
	for _, id := range ids {
		out = append(out, id.(string))
	}
	return strings.Join(out, ",")
}

// seesAttr reports whether c sees participant identity with attribute key = value
// ("" for absent).
func seesAttr(c *testutil.Client, identity, key, value string) bool {
	p := c.Room.GetParticipantByIdentity(identity)
	return p != nil && p.Attributes()[key] == value
}

// A tenant mutes every student of its room for good through the gateway: the students'
// SDKs show their microphones muted and their own unmute is refused, until the tenant
// lifts it for one of them; the host keeps its microphone (except_hosts), and the
// events name the tenant as actor.
func TestRESTDisableAllHardMutesUntilEnabled(t *testing.T) {
	srv := testutil.StartServer(t, withREST(true), testutil.WithConfig(classPresets))
	restRoom(t, srv, tokA, "class")
	teacher := srv.Join(t, "class", "teacher", preset("host"))
	s1 := srv.Join(t, "class", "s1", preset("student"))
	s2 := srv.Join(t, "class", "s2", preset("student"))
	mp, a1, v1 := publishMedia(t, s1)
	defer mp.close()
	a2, err := s2.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	teacher.WaitForDetail(t, 5*time.Second, "track_published", a1.SID())
	teacher.WaitForDetail(t, 5*time.Second, "track_published", a2.SID())
	audioMuted := func() bool {
		for _, tr := range srv.Participant(t, "class", "s1").Tracks {
			if tr.Sid == a1.SID() {
				return tr.Muted
			}
		}
		return false
	}
	w := watchEvents(t, srv, "class")

	r := rest(t, srv, "POST", "/livekit/participants/disable", tokA,
		`{"room_name":"class","kind":"audio","allow_unmute":false,"presets":["student"],"except_hosts":true}`)
	if r.status != http.StatusOK || r.str("status") != "disabled" || r.str("kind") != "audio" || r.json["allow_unmute"] != false || identities(r) != "s1,s2" {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	for _, sid := range []string{a1.SID(), a2.SID()} {
		teacher.WaitForDetail(t, 5*time.Second, "track_muted", sid)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return a1.IsMuted() && a2.IsMuted() }, "the students' SDKs do not show themselves muted")
	testutil.Eventually(t, 5*time.Second, func() bool { return seesAttr(teacher, "s1", "usher.audio_locked", "true") },
		"the teacher does not see s1 hard-muted")
	e := w.find(t, events.TrackMuted)
	if e.Actor.Kind != events.ActorTenant || e.Actor.Tenant != "tenant-a" || e.Actor.Address != "127.0.0.1" {
		t.Fatalf("track_muted by %+v; want tenant-a through the gateway", e.Actor)
	}

	// s1's own unmute is refused: its camera mute, sent after it, is the barrier.
	a1.SetMuted(false)
	v1.SetMuted(true)
	teacher.WaitForDetail(t, 5*time.Second, "track_muted", v1.SID())
	if !audioMuted() {
		t.Fatal("s1 unmuted itself through a hard mute")
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return a1.IsMuted() }, "s1's SDK does not show the hard mute again")

	r = rest(t, srv, "POST", "/livekit/participant/enable", tokA, `{"room_name":"class","participant_identity":"s1","kind":"audio"}`)
	if r.status != http.StatusOK || r.str("status") != "enabled" || r.str("participant_identity") != "s1" || r.str("kind") != "audio" {
		t.Fatalf("enable: %d %s", r.status, r.body)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return seesAttr(teacher, "s1", "usher.audio_locked", "") },
		"the teacher still sees s1 hard-muted")
	a1.SetMuted(false)
	teacher.WaitForDetail(t, 5*time.Second, "track_unmuted", a1.SID())
	if !srv.Participant(t, "class", "s2").Tracks[0].Muted {
		t.Fatal("enabling s1 unmuted s2")
	}
}

// Pin and unpin are seen by everyone as usher.pinned; a bulk removal except hosts
// disconnects the students for good (PARTICIPANT_REMOVED) and leaves the host, and
// the tenant's audit log names it as the actor.
func TestRESTPinAndRemoveParticipants(t *testing.T) {
	srv := testutil.StartServer(t, withREST(true), testutil.WithConfig(classPresets))
	restRoom(t, srv, tokA, "class")
	teacher := srv.Join(t, "class", "teacher", preset("host"))
	tok1 := testutil.JoinToken(t, "class", "s1", preset("student"))
	s1 := srv.Join(t, "class", "s1", testutil.WithToken(tok1))
	s2 := srv.Join(t, "class", "s2", preset("student"))

	r := rest(t, srv, "POST", "/livekit/participant/pin", tokA, `{"room_name":"class","participant_identity":"s1"}`)
	if r.status != http.StatusOK || r.str("status") != "pinned" || r.str("pinned") != "s1" || r.str("unpinned") != "" {
		t.Fatalf("pin s1: %d %s", r.status, r.body)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return seesAttr(s2, "s1", "usher.pinned", "true") }, "s2 does not see s1 pinned")
	r = rest(t, srv, "POST", "/livekit/participant/pin", tokA, `{"room_name":"class","participant_identity":"s2"}`)
	if r.status != http.StatusOK || r.str("pinned") != "s2" || r.str("unpinned") != "s1" {
		t.Fatalf("pin s2: %d %s", r.status, r.body)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		return seesAttr(teacher, "s1", "usher.pinned", "") && seesAttr(teacher, "s2", "usher.pinned", "true")
	}, "the teacher does not see s2 pinned instead of s1")
	r = rest(t, srv, "POST", "/livekit/participant/unpin", tokA, `{"room_name":"class","participant_identity":"s2"}`)
	if r.status != http.StatusOK || r.str("status") != "unpinned" || r.str("pinned") != "" || r.str("unpinned") != "s2" {
		t.Fatalf("unpin s2: %d %s", r.status, r.body)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return seesAttr(s1, "s2", "usher.pinned", "") }, "s1 still sees s2 pinned")

	r = rest(t, srv, "POST", "/livekit/participants/remove", tokA, `{"room_name":"class","except_hosts":true}`)
	if r.status != http.StatusOK || r.str("status") != "removed" || identities(r) != "s1,s2" {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	for _, c := range []*testutil.Client{s1, s2} {
		if e := c.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != livekit.DisconnectReason_PARTICIPANT_REMOVED.String() {
			t.Fatalf("%s left with %q", c.Identity, e.Detail)
		}
		teacher.WaitFor(t, 5*time.Second, "participant_disconnected", c.Identity)
	}
	if teacher.Has("disconnected", "") {
		t.Fatal("the host was removed too")
	}
	if _, err := srv.TryJoin(t, "class", "s1", testutil.WithToken(tok1)); err == nil {
		t.Fatal("a removed student came back with its token")
	}
	// Nobody is left to remove: an empty list, not null.
	if r := rest(t, srv, "POST", "/livekit/participants/remove", tokA, `{"room_name":"class","except_hosts":true}`); r.status != http.StatusOK || identities(r) != "" {
		t.Fatalf("remove again: %d %s", r.status, r.body)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		res := rest(t, srv, "GET", "/livekit/audit?kind=participant_removed", tokA, "")
		var p audit.Page
		if res.status != http.StatusOK || json.Unmarshal(res.body, &p) != nil || len(p.Events) != 2 {
			return false
		}
		for _, rec := range p.Events {
			if rec.Actor.Kind != events.ActorTenant || rec.Actor.Tenant != "tenant-a" {
				t.Fatalf("the removal of %s is recorded as by %+v", rec.ParticipantIdentity, rec.Actor)
			}
		}
		return true
	}, "tenant-a's audit log does not show the two removals")
}

// Another tenant's room is not found for every host control, and nothing happens to
// it; bad input is refused with a message that names what is wrong.
func TestRESTHostControlsTenantsAndBadInput(t *testing.T) {
	srv := testutil.StartServer(t, withREST(true), testutil.WithConfig(classPresets))
	restRoom(t, srv, tokA, "class")
	restRoom(t, srv, tokB, "b-room")
	teacher := srv.Join(t, "class", "teacher", preset("host"))
	s1 := srv.Join(t, "class", "s1", preset("student"))
	pub, err := s1.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	teacher.WaitForDetail(t, 5*time.Second, "track_published", pub.SID())

	for _, c := range []struct{ path, body string }{
		{"/livekit/participants/disable", `{"room_name":"class","kind":"audio","allow_unmute":false}`},
		{"/livekit/participant/enable", `{"room_name":"class","participant_identity":"s1","kind":"audio"}`},
		{"/livekit/participant/pin", `{"room_name":"class","participant_identity":"s1"}`},
		{"/livekit/participant/unpin", `{"room_name":"class","participant_identity":"s1"}`},
		{"/livekit/participants/remove", `{"room_name":"class"}`},
	} {
		r := rest(t, srv, "POST", c.path, tokB, c.body)
		if r.status != http.StatusNotFound || r.str("code") != "ROOM_NOT_FOUND" || r.str("error") != `room not found: "class"` {
			t.Errorf("tenant B: POST %s: %d %s, want the masked not-found", c.path, r.status, r.body)
		}
	}
	// Tenant A's pin, after B's calls, is the barrier: by the time the teacher sees it,
	// it would have seen anything B did.
	if r := rest(t, srv, "POST", "/livekit/participant/pin", tokA, `{"room_name":"class","participant_identity":"s1"}`); r.status != http.StatusOK {
		t.Fatalf("A's pin: %d %s", r.status, r.body)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return seesAttr(teacher, "s1", "usher.pinned", "true") }, "the teacher does not see A's pin")
	if teacher.Has("track_muted", "s1") || teacher.Has("participant_disconnected", "s1") || s1.Has("disconnected", "") {
		t.Fatalf("tenant B acted on tenant A's room: the teacher saw %v", teacher.Events())
	}

	presets65 := `["` + strings.Repeat(`student","`, 64) + `student"]`
	for _, c := range []struct {
		name, path, body string
		status           int
		code, msg        string
	}{
		{"no room or kind", "/livekit/participants/disable", `{"allow_unmute":true}`, 400, "INVALID_REQUEST", "room_name, kind are required"},
		{"unknown kind", "/livekit/participants/disable", `{"room_name":"class","kind":"smell","allow_unmute":true}`, 400, "INVALID_REQUEST", `kind must be "audio" or "video", not "smell"`},
		{"no allow_unmute", "/livekit/participants/disable", `{"room_name":"class","kind":"audio"}`, 400, "INVALID_REQUEST", "allow_unmute is required"},
		{"allow_unmute as a string", "/livekit/participants/disable", `{"room_name":"class","kind":"audio","allow_unmute":"no"}`, 400, "INVALID_REQUEST", `"allow_unmute" must be true or false`},
		{"65 presets", "/livekit/participants/disable", `{"room_name":"class","kind":"audio","allow_unmute":true,"presets":` + presets65 + `}`, 400, "INVALID_REQUEST", "at most 64"},
		{"an undefined preset", "/livekit/participants/disable", `{"room_name":"class","kind":"video","allow_unmute":true,"except_presets":["studnet"]}`, 400, "INVALID_REQUEST", `except_presets: preset "studnet" is not defined`},
		{"not a preset name", "/livekit/participants/remove", `{"room_name":"class","presets":["a b"]}`, 400, "INVALID_REQUEST", `presets[0]: "a b" is not a preset name`},
		{"presets as a string", "/livekit/participants/remove", `{"room_name":"class","presets":"student"}`, 400, "INVALID_REQUEST", `field "presets" must be an array`},
		{"unknown field", "/livekit/participants/remove", `{"room_name":"class","everyone":true}`, 400, "INVALID_REQUEST", `unknown field "everyone"`},
		{"duplicate key", "/livekit/participants/remove", `{"room_name":"class","except_hosts":true,"except_hosts":false}`, 400, "INVALID_REQUEST", `duplicate key "except_hosts"`},
		{"enable without identity", "/livekit/participant/enable", `{"room_name":"class","kind":"audio"}`, 400, "INVALID_REQUEST", "participant_identity is required"},
		{"enable of a screen", "/livekit/participant/enable", `{"room_name":"class","participant_identity":"s1","kind":"screen"}`, 400, "INVALID_REQUEST", "kind must be"},
		{"pin nobody", "/livekit/participant/pin", `{"room_name":"class","participant_identity":"nobody"}`, 404, "PARTICIPANT_NOT_FOUND", `"nobody"`},
		{"pin in a missing room", "/livekit/participant/pin", `{"room_name":"nowhere","participant_identity":"s1"}`, 404, "ROOM_NOT_FOUND", `"nowhere"`},
		{"unpin without a room", "/livekit/participant/unpin", `{"participant_identity":"s1"}`, 400, "INVALID_REQUEST", "room_name is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rest(t, srv, "POST", c.path, tokA, c.body)
			if r.status != c.status || r.str("code") != c.code || !strings.Contains(r.str("error"), c.msg) {
				t.Errorf("%d %s, want %d %s mentioning %q", r.status, r.body, c.status, c.code, c.msg)
			}
		})
	}
	if r := rest(t, srv, "GET", "/livekit/participant/pin", tokA, ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET on pin: %d %s", r.status, r.body)
	}
}

// Presets through the gateway: every caller reads them; a tenant cannot change them
// (OPERATOR_ONLY); an operator creates, updates (applied at once to holders, the
// operator as actor) and deletes them; configuration presets are read-only.
func TestRESTPresets(t *testing.T) {
	srv := testutil.StartServer(t, withREST(false), testutil.WithConfig(classPresets))
	const operator = "" // open mode: a request without a token acts on the whole server

	r := rest(t, srv, "GET", "/livekit/presets", tokA, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"name":"host","source":"config"`) || len(r.json["presets"].([]any)) != 2 {
		t.Fatalf("a tenant lists the presets: %d %s", r.status, r.body)
	}
	r = rest(t, srv, "GET", "/livekit/presets/student", tokB, "")
	if r.status != http.StatusOK || r.json["can_publish"] != true || r.str("source") != "config" ||
		r.json["host"].(map[string]any)["kick_participant"] != false || len(r.json["can_publish_sources"].([]any)) != 2 {
		t.Fatalf("a tenant gets a preset: %d %s", r.status, r.body)
	}
	if r := rest(t, srv, "GET", "/livekit/presets/admiral", tokA, ""); r.status != http.StatusNotFound || r.str("code") != "PRESET_NOT_FOUND" {
		t.Errorf("an unknown preset: %d %s", r.status, r.body)
	}

	speaker := `{"name":"speaker","can_publish":true,"can_subscribe":true,"can_publish_data":true}`
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/livekit/presets", speaker},
		{"PUT", "/livekit/presets/student", `{"can_subscribe":true}`},
		{"DELETE", "/livekit/presets/student", ""},
	} {
		r := rest(t, srv, c.method, c.path, tokA, c.body)
		if r.status != http.StatusForbidden || r.str("code") != "OPERATOR_ONLY" || !strings.Contains(r.str("error"), "operator") {
			t.Errorf("tenant A: %s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}

	r = rest(t, srv, "POST", "/livekit/presets", operator, speaker)
	if r.status != http.StatusCreated || r.str("name") != "speaker" || r.str("source") != "api" || r.json["can_publish"] != true {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		code, msg                string
	}{
		{"create again", "POST", "/livekit/presets", speaker, 409, "PRESET_EXISTS", `"speaker"`},
		{"create a configuration preset", "POST", "/livekit/presets", `{"name":"host"}`, 409, "PRESET_EXISTS", "configuration file"},
		{"update a configuration preset", "PUT", "/livekit/presets/host", `{"can_publish":true}`, 412, "PRESET_READ_ONLY", "configuration file"},
		{"delete a configuration preset", "DELETE", "/livekit/presets/host", "", 412, "PRESET_READ_ONLY", "configuration file"},
		{"update a missing preset", "PUT", "/livekit/presets/nobody", `{}`, 404, "PRESET_NOT_FOUND", `"nobody"`},
		{"delete a missing preset", "DELETE", "/livekit/presets/nobody", "", 404, "PRESET_NOT_FOUND", `"nobody"`},
		{"create without a name", "POST", "/livekit/presets", `{"can_publish":true}`, 400, "INVALID_REQUEST", "name is required"},
		{"create with a bad name", "POST", "/livekit/presets", `{"name":"a b"}`, 400, "INVALID_REQUEST", "not a preset name"},
		{"create with an unknown source", "POST", "/livekit/presets", `{"name":"x","can_publish_sources":["smell"]}`, 400, "INVALID_REQUEST", `"smell"`},
		{"create with an unknown host control", "POST", "/livekit/presets", `{"name":"x","host":{"fly":true}}`, 400, "INVALID_REQUEST", `unknown field "host.fly"`},
		{"update with the name in the body", "PUT", "/livekit/presets/speaker", `{"name":"speaker"}`, 400, "INVALID_REQUEST", `unknown field "name"`},
		{"update without a body", "PUT", "/livekit/presets/speaker", "", 400, "INVALID_REQUEST", "JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rest(t, srv, c.method, c.path, operator, c.body)
			if r.status != c.status || r.str("code") != c.code || !strings.Contains(r.str("error"), c.msg) {
				t.Errorf("%d %s, want %d %s mentioning %q", r.status, r.body, c.status, c.code, c.msg)
			}
		})
	}

	// A tenant issues a token with the new preset; its holder publishes.
	tr := rest(t, srv, "POST", "/livekit/token", tokA, `{"room_name":"stage","participant_name":"S","participant_identity":"spk","preset":"speaker"}`)
	if tr.status != http.StatusOK {
		t.Fatalf("token: %d %s", tr.status, tr.body)
	}
	spk := srv.Join(t, "", "", testutil.WithToken(tr.str("token")))
	watcher := srv.Join(t, "stage", "watcher")
	pub, err := spk.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	watcher.WaitForDetail(t, 5*time.Second, "track_published", pub.SID())
	w := watchEvents(t, srv, "stage")

	r = rest(t, srv, "PUT", "/livekit/presets/speaker", operator, `{"can_subscribe":true,"host":{"pin_participant":true}}`)
	if r.status != http.StatusOK || r.json["updated_participants"] != float64(1) || r.json["can_publish"] != false ||
		r.json["host"].(map[string]any)["pin_participant"] != true {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	watcher.WaitForDetail(t, 5*time.Second, "track_unpublished", pub.SID())
	testutil.Eventually(t, 5*time.Second, func() bool { return !spk.Room.LocalParticipant.Permissions().GetCanPublish() },
		"the holder's SDK does not see its new permission")
	e := w.find(t, events.ParticipantUpdated)
	if e.Actor.Kind != events.ActorAdmin || e.Actor.Identity != "rest-gateway" || e.Participant.GetIdentity() != "spk" {
		t.Fatalf("participant_updated of %s by %+v; want the gateway's operator", e.Participant.GetIdentity(), e.Actor)
	}

	r = rest(t, srv, "DELETE", "/livekit/presets/speaker", operator, "")
	if r.status != http.StatusOK || r.str("status") != "deleted" || r.str("name") != "speaker" || r.json["updated_participants"] != float64(1) {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return seesAttr(watcher, "spk", "usher.preset", "") },
		"the watcher still sees spk holding the deleted preset")
	if r := rest(t, srv, "GET", "/livekit/presets/speaker", tokA, ""); r.status != http.StatusNotFound {
		t.Errorf("get after the deletion: %d %s", r.status, r.body)
	}
	r = rest(t, srv, "POST", "/livekit/token", tokA, `{"room_name":"stage","participant_name":"L","participant_identity":"late","preset":"speaker"}`)
	if r.status != http.StatusBadRequest || !strings.Contains(r.str("error"), `preset "speaker" is not defined`) {
		t.Errorf("a token with the deleted preset: %d %s", r.status, r.body)
	}
}

// The gateway of one server fronting another Usher acts through that Usher's
// usher.HostControls and usher.Presets, with their errors keeping their meaning.
func TestRESTHostControlsAndPresetsThroughAnUpstreamUsher(t *testing.T) {
	upstreamSrv := testutil.StartServer(t, testutil.WithConfig(classPresets))
	gw := testutil.StartServer(t, withREST(false), testutil.WithConfig(func(c *config.Config) {
		c.REST.Upstream = config.UpstreamConfig{URL: upstreamSrv.URL, APIKey: testutil.APIKey, APISecret: testutil.APISecret, Timeout: 5 * time.Second}
		c.REST.LiveKitURL = upstreamSrv.WSURL
	}))
	join := func(identity, presetName string) *testutil.Client {
		return upstreamSrv.Join(t, "", "", testutil.WithToken(restToken(t, gw, tokA, "up", identity, presetName)))
	}
	teacher := join("teacher", "host")
	s1 := join("s1", "student")
	pub, err := s1.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	teacher.WaitForDetail(t, 5*time.Second, "track_published", pub.SID())

	// Mute all but the hosts, soft: the student may unmute.
	r := rest(t, gw, "POST", "/livekit/participants/disable", tokA, `{"room_name":"up","kind":"audio","allow_unmute":true,"except_hosts":true}`)
	if r.status != http.StatusOK || identities(r) != "s1" {
		t.Fatalf("disable through the upstream: %d %s", r.status, r.body)
	}
	teacher.WaitForDetail(t, 5*time.Second, "track_muted", pub.SID())
	testutil.Eventually(t, 5*time.Second, func() bool { return pub.IsMuted() }, "s1's SDK does not show itself muted")
	pub.SetMuted(false)
	teacher.WaitForDetail(t, 5*time.Second, "track_unmuted", pub.SID())

	if r := rest(t, gw, "POST", "/livekit/participant/pin", tokA, `{"room_name":"up","participant_identity":"s1"}`); r.status != http.StatusOK || r.str("pinned") != "s1" {
		t.Fatalf("pin through the upstream: %d %s", r.status, r.body)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return seesAttr(teacher, "s1", "usher.pinned", "true") }, "the teacher does not see s1 pinned")
	if r := rest(t, gw, "POST", "/livekit/participant/pin", tokB, `{"room_name":"up","participant_identity":"s1"}`); r.status != http.StatusNotFound || r.str("code") != "ROOM_NOT_FOUND" {
		t.Errorf("tenant B through the upstream: %d %s", r.status, r.body)
	}
	if r := rest(t, gw, "POST", "/livekit/participant/enable", tokA, `{"room_name":"up","participant_identity":"ghost","kind":"audio"}`); r.status != http.StatusNotFound || r.str("code") != "PARTICIPANT_NOT_FOUND" {
		t.Errorf("enable of nobody through the upstream: %d %s", r.status, r.body)
	}

	// The presets are the upstream's (the gateway's own server has none).
	r = rest(t, gw, "GET", "/livekit/presets", tokA, "")
	if r.status != http.StatusOK || len(r.json["presets"].([]any)) != 2 || !strings.Contains(string(r.body), `"name":"student"`) {
		t.Fatalf("presets through the upstream: %d %s", r.status, r.body)
	}
	if r := rest(t, gw, "POST", "/livekit/presets", "", `{"name":"guest","can_subscribe":true}`); r.status != http.StatusCreated || r.str("source") != "api" {
		t.Fatalf("create through the upstream: %d %s", r.status, r.body)
	}
	if _, ok := upstreamSrv.Rooms().Presets().Get("guest"); !ok {
		t.Error("the upstream does not hold the preset created through the gateway")
	}
	for _, c := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"PUT", "/livekit/presets/host", `{}`, 412, "PRESET_READ_ONLY"},
		{"POST", "/livekit/presets", `{"name":"guest"}`, 409, "PRESET_EXISTS"},
		{"GET", "/livekit/presets/nobody", "", 404, "PRESET_NOT_FOUND"},
		{"DELETE", "/livekit/presets/nobody", "", 404, "PRESET_NOT_FOUND"},
	} {
		if r := rest(t, gw, c.method, c.path, "", c.body); r.status != c.status || r.str("code") != c.code {
			t.Errorf("%s %s through the upstream: %d %s, want %d %s", c.method, c.path, r.status, r.body, c.status, c.code)
		}
	}

	r = rest(t, gw, "POST", "/livekit/participants/remove", tokA, `{"room_name":"up","presets":["student"]}`)
	if r.status != http.StatusOK || identities(r) != "s1" {
		t.Fatalf("remove through the upstream: %d %s", r.status, r.body)
	}
	if e := s1.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != livekit.DisconnectReason_PARTICIPANT_REMOVED.String() {
		t.Fatalf("s1 left with %q", e.Detail)
	}
}

// An upstream without Usher's services (livekit-server answers their paths with a
// plain 404) makes host controls, the waiting room, presets and bans NOT_SUPPORTED, while the Room
// service still works through it.
func TestRESTUsherServicesNotSupportedUpstream(t *testing.T) {
	usherSrv := testutil.StartServer(t)
	target, err := url.Parse(usherSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	lk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/twirp/usher.") {
			http.NotFound(w, r) // what livekit-server's default handler answers
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(lk.Close)
	gw := testutil.StartServer(t, withREST(false), testutil.WithConfig(func(c *config.Config) {
		c.REST.Upstream = config.UpstreamConfig{URL: lk.URL, APIKey: testutil.APIKey, APISecret: testutil.APISecret, Timeout: 5 * time.Second}
	}))
	restRoom(t, gw, tokA, "lk")
	for _, c := range []struct{ method, path, body, what string }{
		{"POST", "/livekit/participants/disable", `{"room_name":"lk","kind":"audio","allow_unmute":true}`, "usher.HostControls"},
		{"POST", "/livekit/participant/pin", `{"room_name":"lk","participant_identity":"x"}`, "usher.HostControls"},
		{"GET", "/livekit/presets", "", "usher.Presets"},
		{"GET", "/livekit/waiting?room_name=lk", "", "usher.WaitingRoom"},
		{"PUT", "/livekit/waiting/settings", `{"room_name":"lk","enabled":true}`, "usher.WaitingRoom"},
		{"POST", "/livekit/bans", `{"room_name":"lk","participant_identity":"x"}`, "usher.Moderation"},
	} {
		r := rest(t, gw, c.method, c.path, tokA, c.body)
		if r.status != http.StatusNotImplemented || r.str("code") != "NOT_SUPPORTED" || !strings.Contains(r.str("error"), c.what) {
			t.Errorf("%s %s: %d %s, want 501 NOT_SUPPORTED naming %s", c.method, c.path, r.status, r.body, c.what)
		}
	}
}

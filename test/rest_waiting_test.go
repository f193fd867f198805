package test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/testutil"
)

// waitingIdentities reads the identities of a waiting list, in order, checking that
// each entry is complete and that they arrived in that order.
func waitingIdentities(t *testing.T, r restResp) string {
	t.Helper()
	list, ok := r.json["waiting"].([]any)
	if r.status != http.StatusOK || !ok {
		t.Fatalf("waiting list: %d %s", r.status, r.body)
	}
	var ids []string
	last := 0.0
	for _, e := range list {
		w := e.(map[string]any)
		since, _ := w["since"].(float64)
		if w["sid"] == "" || w["name"] != w["participant_identity"] || since < last {
			t.Errorf("waiting entry %v (after one since %v)", w, last)
		}
		last = since
		ids = append(ids, w["participant_identity"].(string))
	}
	return strings.Join(ids, ",")
}

// wantGatewayActor fails unless e was caused by tenant A through the gateway.
func wantGatewayActor(t *testing.T, e *events.Event) {
	t.Helper()
	if a := e.Actor; a.Kind != events.ActorTenant || a.Tenant != "tenant-a" || a.Address != "127.0.0.1" || a.RequestID == "" {
		t.Errorf("%s of %s by %+v; want tenant-a through the gateway", e.Kind, e.Participant.GetIdentity(), a)
	}
}

// A tenant's backend turns its room's waiting room on and runs it through the
// gateway: the queue in the order of arrival, a denial the SDK reports as
// USER_REJECTED (the old token is refused from then on), and an admission of everyone,
// who then see each other. The events name the tenant as actor.
func TestRESTWaitingRoomFromATenantBackend(t *testing.T) {
	srv := testutil.StartServer(t, withREST(true), testutil.WithConfig(clinicPresets))
	restRoom(t, srv, tokA, "visit")
	r := rest(t, srv, "PUT", "/livekit/waiting/settings", tokA, `{"room_name":"visit","enabled":true,"message":"Starting soon"}`)
	if r.status != http.StatusOK || r.str("room_name") != "visit" || r.json["enabled"] != true || r.str("mode") != "admit" ||
		r.str("message") != "Starting soon" || r.json["opened"] != false {
		t.Fatalf("settings: %d %s", r.status, r.body)
	}
	if g := rest(t, srv, "GET", "/livekit/waiting/settings?room_name=visit", tokA, ""); g.status != http.StatusOK || string(g.body) != string(r.body) {
		t.Fatalf("settings read back: %d %s; set: %s", g.status, g.body, r.body)
	}
	w := watchEvents(t, srv, "visit")

	// Everyone without a host preset waits now, a patient's preset or none.
	a := srv.Join(t, "", "", testutil.WithToken(restToken(t, srv, tokA, "visit", "a", "")))
	tokenB := restToken(t, srv, tokA, "visit", "b", "patient")
	b := srv.Join(t, "", "", testutil.WithToken(tokenB))
	c := srv.Join(t, "", "", testutil.WithToken(restToken(t, srv, tokA, "visit", "c", "")))
	for _, x := range []*testutil.Client{a, b, c} {
		if attrOf(x)["usher.waiting"] != "true" || attrOf(x)["usher.waiting_message"] != "Starting soon" {
			t.Fatalf("%s: %v", x.Identity, attrOf(x))
		}
	}
	r = rest(t, srv, "GET", "/livekit/waiting?room_name=visit", tokA, "")
	if ids := waitingIdentities(t, r); ids != "a,b,c" || r.str("room_name") != "visit" {
		t.Fatalf("the queue: %s", r.body)
	}
	if p := r.json["waiting"].([]any)[1].(map[string]any)["preset"]; p != "patient" {
		t.Errorf("b's preset in the queue: %v", p)
	}

	r = rest(t, srv, "POST", "/livekit/waiting/deny", tokA, `{"room_name":"visit","participant_identity":"b","reason":"no ticket"}`)
	if r.status != http.StatusOK || r.str("status") != "denied" || r.str("room_name") != "visit" || identities(r) != "b" {
		t.Fatalf("deny: %d %s", r.status, r.body)
	}
	if e := b.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != livekit.DisconnectReason_USER_REJECTED.String() {
		t.Fatalf("the denied participant left with %q", e.Detail)
	}
	e := w.find(t, events.ParticipantDenied)
	if e.Participant.GetIdentity() != "b" || e.Reason != "no ticket" {
		t.Errorf("participant_denied of %q (%q)", e.Participant.GetIdentity(), e.Reason)
	}
	wantGatewayActor(t, e)
	if _, err := srv.TryJoin(t, "visit", "b", testutil.WithToken(tokenB)); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("the denied participant's token: %v; want it refused as revoked", err)
	}
	if r := rest(t, srv, "POST", "/livekit/waiting/deny", tokA, `{"room_name":"visit","participant_identity":"b"}`); r.status != http.StatusNotFound || r.str("code") != "PARTICIPANT_NOT_FOUND" {
		t.Errorf("denying b again: %d %s", r.status, r.body)
	}

	r = rest(t, srv, "POST", "/livekit/waiting/admit_all", tokA, `{"room_name":"visit"}`)
	if r.status != http.StatusOK || r.str("status") != "admitted" || r.str("room_name") != "visit" || identities(r) != "a,c" {
		t.Fatalf("admit all: %d %s", r.status, r.body)
	}
	for _, x := range []*testutil.Client{a, c} {
		waitAttr(t, x, "usher.waiting", "")
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		return a.Room.GetParticipantByIdentity("c") != nil && c.Room.GetParticipantByIdentity("a") != nil
	}, "the admitted do not see each other")
	for _, id := range []string{"a", "c"} {
		e := w.find(t, events.ParticipantAdmitted)
		if e.Participant.GetIdentity() != id {
			t.Fatalf("participant_admitted of %q; want %q", e.Participant.GetIdentity(), id)
		}
		wantGatewayActor(t, e)
	}

	if r := rest(t, srv, "POST", "/livekit/waiting/admit", tokA, `{"room_name":"visit","participant_identity":"a"}`); r.status != http.StatusPreconditionFailed || r.str("code") != "NOT_WAITING" {
		t.Errorf("admitting a participant in the session: %d %s", r.status, r.body)
	}
	if ids := waitingIdentities(t, rest(t, srv, "GET", "/livekit/waiting?room_name=visit", tokA, "")); ids != "" {
		t.Errorf("the queue after admit all: %s", ids)
	}
	// Nobody left to admit: an empty list, not null.
	if r := rest(t, srv, "POST", "/livekit/waiting/admit_all", tokA, `{"room_name":"visit"}`); r.status != http.StatusOK || identities(r) != "" {
		t.Errorf("admit all again: %d %s", r.status, r.body)
	}
	// One admitted by itself.
	d := srv.Join(t, "", "", testutil.WithToken(restToken(t, srv, tokA, "visit", "d", "")))
	r = rest(t, srv, "POST", "/livekit/waiting/admit", tokA, `{"room_name":"visit","participant_identity":"d"}`)
	if r.status != http.StatusOK || r.str("status") != "admitted" || identities(r) != "d" {
		t.Fatalf("admit d: %d %s", r.status, r.body)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return d.Room.GetParticipantByIdentity("a") != nil }, "the admitted d sees nobody")
}

// Another tenant gets 404 on every waiting-room route and changes nothing; bad input
// is refused with a message that says what is wrong; admitting into a full room is
// ROOM_FULL.
func TestRESTWaitingRoomTenantsAndBadInput(t *testing.T) {
	srv := testutil.StartServer(t, withREST(true), testutil.WithConfig(clinicPresets))
	restRoom(t, srv, tokA, "visit")
	restRoom(t, srv, tokB, "b-room")
	if r := rest(t, srv, "PUT", "/livekit/waiting/settings", tokA, `{"room_name":"visit","enabled":true,"message":"wait"}`); r.status != http.StatusOK {
		t.Fatalf("settings: %d %s", r.status, r.body)
	}
	srv.Join(t, "", "", testutil.WithToken(restToken(t, srv, tokA, "visit", "doctor", "doctor")))
	p := srv.Join(t, "", "", testutil.WithToken(restToken(t, srv, tokA, "visit", "p", "")))
	waitAttr(t, p, "usher.waiting", "true")

	for _, c := range []struct{ method, path, body string }{
		{"GET", "/livekit/waiting?room_name=visit", ""},
		{"POST", "/livekit/waiting/admit", `{"room_name":"visit","participant_identity":"p"}`},
		{"POST", "/livekit/waiting/admit_all", `{"room_name":"visit"}`},
		{"POST", "/livekit/waiting/deny", `{"room_name":"visit","participant_identity":"p","reason":"mine now"}`},
		{"GET", "/livekit/waiting/settings?room_name=visit", ""},
		{"PUT", "/livekit/waiting/settings", `{"room_name":"visit","enabled":false,"message":"go away"}`},
	} {
		r := rest(t, srv, c.method, c.path, tokB, c.body)
		if r.status != http.StatusNotFound || r.str("code") != "ROOM_NOT_FOUND" || r.str("error") != `room not found: "visit"` {
			t.Errorf("tenant B: %s %s: %d %s, want the masked not-found", c.method, c.path, r.status, r.body)
		}
	}
	// The server's state after B's calls: p still waits, the settings are A's.
	if ids := waitingIdentities(t, rest(t, srv, "GET", "/livekit/waiting?room_name=visit", tokA, "")); ids != "p" {
		t.Errorf("the queue after tenant B's calls: %q", ids)
	}
	if r := rest(t, srv, "GET", "/livekit/waiting/settings?room_name=visit", tokA, ""); r.json["enabled"] != true || r.str("message") != "wait" {
		t.Errorf("the settings after tenant B's calls: %s", r.body)
	}

	for _, c := range []struct {
		name, method, path, body string
		status                   int
		code, msg                string
	}{
		{"list without a room", "GET", "/livekit/waiting", "", 400, "INVALID_REQUEST", "room_name is required"},
		{"list with an unknown parameter", "GET", "/livekit/waiting?room_name=visit&room=visit", "", 400, "INVALID_REQUEST", `unknown query parameter "room"`},
		{"list with the room twice", "GET", "/livekit/waiting?room_name=visit&room_name=b-room", "", 400, "INVALID_REQUEST", `"room_name" is given 2 times`},
		{"settings without a room", "GET", "/livekit/waiting/settings?api_key=" + tokA, "", 400, "INVALID_REQUEST", "room_name is required"},
		{"admit without an identity", "POST", "/livekit/waiting/admit", `{"room_name":"visit"}`, 400, "INVALID_REQUEST", "participant_identity is required"},
		{"admit with a reason", "POST", "/livekit/waiting/admit", `{"room_name":"visit","participant_identity":"p","reason":"x"}`, 400, "INVALID_REQUEST", `unknown field "reason"`},
		{"admit all of one", "POST", "/livekit/waiting/admit_all", `{"room_name":"visit","participant_identity":"p"}`, 400, "INVALID_REQUEST", `unknown field "participant_identity"`},
		{"admit all without a room", "POST", "/livekit/waiting/admit_all", `{}`, 400, "INVALID_REQUEST", "room_name is required"},
		{"deny with a reason of 600 bytes", "POST", "/livekit/waiting/deny", `{"room_name":"visit","participant_identity":"p","reason":"` + strings.Repeat("r", 600) + `"}`, 400, "INVALID_REQUEST", "reason is 600 bytes; the limit is 512"},
		{"deny with the identity twice", "POST", "/livekit/waiting/deny", `{"room_name":"visit","participant_identity":"p","participant_identity":"q"}`, 400, "INVALID_REQUEST", `duplicate key "participant_identity"`},
		{"settings without enabled", "PUT", "/livekit/waiting/settings", `{"room_name":"visit","message":"x"}`, 400, "INVALID_REQUEST", "enabled is required"},
		{"settings with enabled as a string", "PUT", "/livekit/waiting/settings", `{"room_name":"visit","enabled":"yes"}`, 400, "INVALID_REQUEST", `"enabled" must be true or false`},
		{"settings with an unknown mode", "PUT", "/livekit/waiting/settings", `{"room_name":"visit","enabled":true,"mode":"lottery"}`, 400, "INVALID_REQUEST", `mode "lottery" is not one of "admit", "host_opens"`},
		{"settings with a message of 1025 bytes", "PUT", "/livekit/waiting/settings", `{"room_name":"visit","enabled":true,"message":"` + strings.Repeat("m", 1025) + `"}`, 400, "INVALID_REQUEST", "the limit is 1024"},
		{"settings with opened", "PUT", "/livekit/waiting/settings", `{"room_name":"visit","enabled":true,"opened":true}`, 400, "INVALID_REQUEST", `unknown field "opened"`},
		{"admit nobody", "POST", "/livekit/waiting/admit", `{"room_name":"visit","participant_identity":"nobody"}`, 404, "PARTICIPANT_NOT_FOUND", `nobody called "nobody" is waiting in room "visit"`},
		{"admit the doctor", "POST", "/livekit/waiting/admit", `{"room_name":"visit","participant_identity":"doctor"}`, 412, "NOT_WAITING", `"doctor" is not waiting`},
		{"deny the doctor", "POST", "/livekit/waiting/deny", `{"room_name":"visit","participant_identity":"doctor"}`, 412, "NOT_WAITING", `"doctor" is not waiting`},
		{"admit in a missing room", "POST", "/livekit/waiting/admit", `{"room_name":"nowhere","participant_identity":"p"}`, 404, "ROOM_NOT_FOUND", `"nowhere"`},
		{"list a missing room", "GET", "/livekit/waiting?room_name=nowhere", "", 404, "ROOM_NOT_FOUND", `"nowhere"`},
		{"POST on settings", "POST", "/livekit/waiting/settings", `{}`, 405, "METHOD_NOT_ALLOWED", "GET or PUT"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rest(t, srv, c.method, c.path, tokA, c.body)
			if r.status != c.status || r.str("code") != c.code || !strings.Contains(r.str("error"), c.msg) {
				t.Errorf("%d %s, want %d %s mentioning %q", r.status, r.body, c.status, c.code, c.msg)
			}
		})
	}
	if ids := waitingIdentities(t, rest(t, srv, "GET", "/livekit/waiting?room_name=visit", tokA, "")); ids != "p" {
		t.Errorf("the queue after the bad input: %q", ids)
	}

	// A full room: the doctor holds its only seat; the waiting take none.
	if r := rest(t, srv, "POST", "/livekit/rooms", tokA, `{"room_name":"small","max_participants":1}`); r.status != http.StatusCreated {
		t.Fatalf("creating small: %d %s", r.status, r.body)
	}
	srv.Join(t, "", "", testutil.WithToken(restToken(t, srv, tokA, "small", "doctor", "doctor")))
	srv.Join(t, "", "", testutil.WithToken(restToken(t, srv, tokA, "small", "p1", "patient")))
	for _, c := range []struct{ path, body string }{
		{"/livekit/waiting/admit", `{"room_name":"small","participant_identity":"p1"}`},
		{"/livekit/waiting/admit_all", `{"room_name":"small"}`},
	} {
		if r := rest(t, srv, "POST", c.path, tokA, c.body); r.status != http.StatusTooManyRequests || r.str("code") != "ROOM_FULL" {
			t.Errorf("POST %s into a full room: %d %s", c.path, r.status, r.body)
		}
	}
}

// The gateway of one server fronting another Usher runs the waiting room through that
// Usher's usher.WaitingRoom, with its errors keeping their meaning.
func TestRESTWaitingRoomThroughAnUpstreamUsher(t *testing.T) {
	upstreamSrv := testutil.StartServer(t, testutil.WithConfig(clinicPresets))
	gw := testutil.StartServer(t, withREST(false), testutil.WithConfig(func(c *config.Config) {
		c.REST.Upstream = config.UpstreamConfig{URL: upstreamSrv.URL, APIKey: testutil.APIKey, APISecret: testutil.APISecret, Timeout: 5 * time.Second}
		c.REST.LiveKitURL = upstreamSrv.WSURL
	}))
	doctor := upstreamSrv.Join(t, "", "", testutil.WithToken(restToken(t, gw, tokA, "up", "doctor", "doctor")))
	p1 := upstreamSrv.Join(t, "", "", testutil.WithToken(restToken(t, gw, tokA, "up", "p1", "patient")))
	p2 := upstreamSrv.Join(t, "", "", testutil.WithToken(restToken(t, gw, tokA, "up", "p2", "patient")))
	waitAttr(t, p2, "usher.waiting", "true")

	if ids := waitingIdentities(t, rest(t, gw, "GET", "/livekit/waiting?room_name=up", tokA, "")); ids != "p1,p2" {
		t.Fatalf("the queue through the upstream: %q", ids)
	}
	r := rest(t, gw, "POST", "/livekit/waiting/admit", tokA, `{"room_name":"up","participant_identity":"p1"}`)
	if r.status != http.StatusOK || r.str("status") != "admitted" || identities(r) != "p1" {
		t.Fatalf("admit through the upstream: %d %s", r.status, r.body)
	}
	waitAttr(t, p1, "usher.waiting", "")
	testutil.Eventually(t, 5*time.Second, func() bool { return p1.Room.GetParticipantByIdentity("doctor") != nil }, "the admitted p1 does not see the doctor")

	for _, c := range []struct {
		method, path, token, body string
		status                    int
		code                      string
	}{
		{"POST", "/livekit/waiting/admit", tokA, `{"room_name":"up","participant_identity":"p1"}`, 412, "NOT_WAITING"},
		{"POST", "/livekit/waiting/admit", tokA, `{"room_name":"up","participant_identity":"ghost"}`, 404, "PARTICIPANT_NOT_FOUND"},
		{"PUT", "/livekit/waiting/settings", tokA, `{"room_name":"up","enabled":true,"mode":"lottery"}`, 400, "INVALID_REQUEST"},
		{"GET", "/livekit/waiting?room_name=up", tokB, "", 404, "ROOM_NOT_FOUND"},
		{"POST", "/livekit/waiting/deny", tokB, `{"room_name":"up","participant_identity":"p2"}`, 404, "ROOM_NOT_FOUND"},
	} {
		if r := rest(t, gw, c.method, c.path, c.token, c.body); r.status != c.status || r.str("code") != c.code {
			t.Errorf("%s %s through the upstream: %d %s, want %d %s", c.method, c.path, r.status, r.body, c.status, c.code)
		}
	}

	r = rest(t, gw, "PUT", "/livekit/waiting/settings", tokA, `{"room_name":"up","enabled":false,"mode":"admit","message":"soon"}`)
	if r.status != http.StatusOK || r.json["enabled"] != false || r.str("mode") != "admit" || r.str("message") != "soon" {
		t.Fatalf("settings through the upstream: %d %s", r.status, r.body)
	}
	waitAttr(t, p2, "usher.waiting_message", "soon")
	if r := rest(t, gw, "POST", "/livekit/waiting/deny", tokA, `{"room_name":"up","participant_identity":"p2"}`); r.status != http.StatusOK || identities(r) != "p2" {
		t.Fatalf("deny through the upstream: %d %s", r.status, r.body)
	}
	if e := p2.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != livekit.DisconnectReason_USER_REJECTED.String() {
		t.Fatalf("p2 left with %q", e.Detail)
	}
	doctor.WaitFor(t, 5*time.Second, "participant_disconnected", "p2")
}

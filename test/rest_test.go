package test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/usher-rtc/usher/docs"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

const (
	tokA = "tenant-a-token-0123456789"
	tokB = "tenant-b-token-0123456789"
)

func withREST(authRequired bool) testutil.Option {
	return testutil.WithConfig(func(c *config.Config) {
		c.REST.Enabled = true
		c.REST.AuthRequired = authRequired
		c.REST.Tokens = map[string]string{tokA: "tenant-a", tokB: "tenant-b"}
	})
}

var (
	specOnce   sync.Once
	specRouter routers.Router
	errSpec    error
)

// openAPIRouter loads docs/openapi.yaml (the document the server serves) once.
func openAPIRouter(t *testing.T) routers.Router {
	t.Helper()
	specOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPIYAML)
		if err != nil {
			errSpec = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			errSpec = err
			return
		}
		doc.Servers = nil // match paths on any host: the tests use random ports
		specRouter, errSpec = legacy.NewRouter(doc)
	})
	if errSpec != nil {
		t.Fatalf("docs/openapi.yaml: %v", errSpec)
	}
	return specRouter
}

type restResp struct {
	status int
	body   []byte
	json   map[string]any
}

func (r restResp) str(key string) string {
	s, _ := r.json[key].(string)
	return s
}

// rest calls the gateway and checks the exchange against the OpenAPI document: a
// response the document does not describe fails the test.
func rest(t *testing.T, srv *testutil.TestServer, method, path, token, body string) restResp {
	t.Helper()
	var rdr io.Reader
	if body != "" {
		rdr = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rdr)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	out := restResp{status: resp.StatusCode, body: data}
	_ = json.Unmarshal(data, &out.json)
	validateExchange(t, req, body, resp, data)
	return out
}

// restToken issues a join token through the gateway of srv for the tenant of tok, with
// a preset unless presetName is "".
func restToken(t *testing.T, srv *testutil.TestServer, tok, roomName, identity, presetName string) string {
	t.Helper()
	r := rest(t, srv, "POST", "/livekit/token", tok, string(jsonBody(map[string]any{
		"room_name": roomName, "participant_name": identity, "participant_identity": identity, "preset": presetName,
	})))
	if r.status != http.StatusOK {
		t.Fatalf("token for %s: %d %s", identity, r.status, r.body)
	}
	return r.str("token")
}

func validateExchange(t *testing.T, req *http.Request, body string, resp *http.Response, data []byte) {
	t.Helper()
	router := openAPIRouter(t)
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(strings.NewReader(body))
	route, params, err := router.FindRoute(vreq)
	if err != nil {
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return // an endpoint the document does not have, answered as such
		}
		t.Errorf("%s %s is not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(data)),
	})
	if err != nil {
		t.Errorf("%s %s answered %d %s, which the OpenAPI document does not allow: %v", req.Method, req.URL.Path, resp.StatusCode, data, err)
	}
}

func TestRESTSeedFlowRemoveParticipant(t *testing.T) {
	srv := testutil.StartServer(t, withREST(false))
	// A room of tenant A, with a participant connected through the token the gateway issued.
	tr := rest(t, srv, "POST", "/livekit/token", tokA,
		`{"room_name":"conversation-room-123","participant_name":"Alice","participant_identity":"user-alice-456"}`)
	if tr.status != 200 || tr.str("room_name") != "conversation-room-123" || tr.str("participant_identity") != "user-alice-456" {
		t.Fatalf("token: %d %s", tr.status, tr.body)
	}
	if want := srv.WSURL; tr.str("livekit_url") != want {
		t.Errorf("livekit_url %q, want %q", tr.str("livekit_url"), want)
	}
	claims, err := srv.Verifier().Verify(tr.str("token"))
	if err != nil {
		t.Fatal(err)
	}
	v := claims.Video()
	if !v.RoomJoin || v.Room != "conversation-room-123" || v.RoomAdmin || v.RoomCreate || v.RoomList || claims.Grants.Name != "Alice" {
		t.Errorf("issued token grants: %+v", v)
	}
	if ttl := time.Until(claims.ExpiresAt); ttl < 5*time.Hour || ttl > 7*time.Hour {
		t.Errorf("default TTL %s, want 6h", ttl)
	}
	alice := srv.Join(t, "", "", testutil.WithToken(tr.str("token")))
	watcher := srv.Join(t, "conversation-room-123", "watcher")
	waitActive(t, srv, "conversation-room-123", "user-alice-456")

	// The seed's request and response, verbatim.
	r := rest(t, srv, "DELETE", "/livekit/participant", tokA, `{
"room_name": "conversation-room-123",
"participant_identity": "user-alice-456"
}`)
	if r.status != 200 || string(bytes.TrimSpace(r.body)) != `{"participant_identity":"user-alice-456","room_name":"conversation-room-123","status":"removed"}` {
		t.Errorf("remove: %d %s", r.status, r.body)
	}
	if e := alice.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != "PARTICIPANT_REMOVED" {
		t.Errorf("alice disconnected with %s", e.Detail)
	}
	watcher.WaitFor(t, 5*time.Second, "participant_disconnected", "user-alice-456")

	// The seed's errors.
	r = rest(t, srv, "DELETE", "/livekit/participant", tokA, `{"room_name":"","participant_identity":""}`)
	if r.status != 400 || r.str("code") != "INVALID_REQUEST" || !strings.Contains(r.str("error"), "room_name, participant_identity are required") {
		t.Errorf("empty fields: %d %s", r.status, r.body)
	}
	r = rest(t, srv, "DELETE", "/livekit/participant", tokA, `{"room_name":"conversation-room-123","participant_identity":"user-alice-456"}`)
	if r.status != 404 || r.str("code") != "PARTICIPANT_NOT_FOUND" {
		t.Errorf("already removed: %d %s", r.status, r.body)
	}
	r = rest(t, srv, "DELETE", "/livekit/participant", tokB, `{"room_name":"conversation-room-123","participant_identity":"watcher"}`)
	if r.status != 404 || r.str("code") != "ROOM_NOT_FOUND" {
		t.Errorf("another tenant: %d %s", r.status, r.body)
	}
	if watcher.Has("disconnected", "") {
		t.Errorf("tenant B removed tenant A's participant")
	}
}

func TestRESTTenantIsolation(t *testing.T) {
	srv := testutil.StartServer(t, withREST(false))
	for _, c := range []struct{ tok, room string }{{tokA, "a-room"}, {tokB, "b-room"}} {
		if r := rest(t, srv, "POST", "/livekit/rooms", c.tok, `{"room_name":"`+c.room+`","max_participants":10}`); r.status != 201 {
			t.Fatalf("create %s: %d %s", c.room, r.status, r.body)
		}
	}
	srv.Join(t, "a-room", "ann")
	srv.Join(t, "b-room", "bob")

	// Each tenant lists only its rooms; open mode (no token) lists all; operators too.
	names := func(r restResp) string {
		var out []string
		for _, rm := range r.json["rooms"].([]any) {
			out = append(out, rm.(map[string]any)["name"].(string))
		}
		return strings.Join(out, ",")
	}
	if got := names(rest(t, srv, "GET", "/livekit/rooms", tokA, "")); got != "a-room" {
		t.Errorf("A lists %s", got)
	}
	if got := names(rest(t, srv, "GET", "/livekit/rooms", tokB, "")); got != "b-room" {
		t.Errorf("B lists %s", got)
	}
	if got := names(rest(t, srv, "GET", "/livekit/rooms", "", "")); got != "a-room,b-room" {
		t.Errorf("open mode lists %s", got)
	}
	if res, err := srv.RoomClient().ListRooms(ctx10(t), &livekit.ListRoomsRequest{}); err != nil || len(res.Rooms) != 2 {
		t.Errorf("operators (Twirp) list %v %v", res, err)
	}

	// A's room with its participants.
	r := rest(t, srv, "GET", "/livekit/rooms/a-room", tokA, "")
	parts, _ := r.json["participants"].([]any)
	if r.status != 200 || len(parts) != 1 || parts[0].(map[string]any)["identity"] != "ann" || r.json["max_participants"] != float64(10) {
		t.Errorf("A gets a-room: %d %s", r.status, r.body)
	}
	if !strings.Contains(r.str("metadata"), `"auth_id":"tenant-a"`) {
		t.Errorf("a-room is not bound to tenant A: %s", r.str("metadata"))
	}

	// Masking: B asking for A's room gets exactly what it gets for a missing room.
	foreign := rest(t, srv, "GET", "/livekit/rooms/a-room", tokB, "")
	if foreign.status != 404 || foreign.str("code") != "ROOM_NOT_FOUND" {
		t.Fatalf("B gets a-room: %d %s", foreign.status, foreign.body)
	}
	for _, call := range []struct{ method, path, body string }{
		{"DELETE", "/livekit/rooms/a-room", ""},
		{"DELETE", "/livekit/participant", `{"room_name":"a-room","participant_identity":"ann"}`},
		{"POST", "/livekit/participant/mute", `{"room_name":"a-room","participant_identity":"ann","track_sid":"TR_x","muted":true}`},
		{"POST", "/livekit/participant/update", `{"room_name":"a-room","participant_identity":"ann","metadata":"x"}`},
	} {
		if r := rest(t, srv, call.method, call.path, tokB, call.body); r.status != 404 || !bytes.Equal(r.body, foreign.body) {
			t.Errorf("B %s %s: %d %s, want the masked not-found", call.method, call.path, r.status, r.body)
		}
	}
	// ...and after A deletes it, B sees the same answer for the truly missing room.
	if r := rest(t, srv, "DELETE", "/livekit/rooms/a-room", tokA, ""); r.status != 200 || r.str("status") != "deleted" {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if missing := rest(t, srv, "GET", "/livekit/rooms/a-room", tokB, ""); !bytes.Equal(missing.body, foreign.body) {
		t.Errorf("a foreign room (%s) and a missing one (%s) are distinguishable", foreign.body, missing.body)
	}

	// Creating or issuing tokens for another tenant's room is refused (403).
	r = rest(t, srv, "POST", "/livekit/token", tokA, `{"room_name":"b-room","participant_name":"X","participant_identity":"x"}`)
	if r.status != 403 || r.str("code") != "ROOM_ACCESS_DENIED" {
		t.Errorf("A issues a token for b-room: %d %s", r.status, r.body)
	}
	r = rest(t, srv, "POST", "/livekit/rooms", tokA, `{"room_name":"b-room"}`)
	if r.status != 403 || r.str("code") != "ROOM_ACCESS_DENIED" {
		t.Errorf("A creates b-room: %d %s", r.status, r.body)
	}
	// A room nobody bound (made by an operator) is not a tenant's.
	if _, err := srv.RoomClient().CreateRoom(ctx10(t), &livekit.CreateRoomRequest{Name: "operators"}); err != nil {
		t.Fatal(err)
	}
	if r := rest(t, srv, "GET", "/livekit/rooms/operators", tokA, ""); r.status != 404 {
		t.Errorf("A gets an unbound room: %d %s", r.status, r.body)
	}
	if r := rest(t, srv, "GET", "/livekit/rooms/operators", "", ""); r.status != 200 {
		t.Errorf("open mode gets an unbound room: %d %s", r.status, r.body)
	}
	// Creating twice answers 200 with the existing room; metadata must be a JSON object.
	if r := rest(t, srv, "POST", "/livekit/rooms", tokB, `{"room_name":"b-room"}`); r.status != 200 {
		t.Errorf("create again: %d %s", r.status, r.body)
	}
	r = rest(t, srv, "POST", "/livekit/rooms", tokB, `{"room_name":"b2","metadata":"plain text"}`)
	if r.status != 400 || !strings.Contains(r.str("error"), "JSON object") {
		t.Errorf("non-JSON metadata with an auth id: %d %s", r.status, r.body)
	}
	r = rest(t, srv, "POST", "/livekit/rooms", tokB, `{"room_name":"b3","metadata":"{\"topic\":\"math\",\"auth_id\":\"tenant-a\"}"}`)
	if r.status != 201 || !strings.Contains(r.str("metadata"), `"auth_id":"tenant-b"`) || !strings.Contains(r.str("metadata"), `"topic":"math"`) {
		t.Errorf("metadata binding (a forged auth_id is replaced): %d %s", r.status, r.body)
	}
}

func TestRESTParticipantOperations(t *testing.T) {
	srv := testutil.StartServer(t, withREST(true))
	mk := func(room string) {
		if r := rest(t, srv, "POST", "/livekit/rooms", tokA, `{"room_name":"`+room+`"}`); r.status != 201 {
			t.Fatalf("create %s: %d %s", room, r.status, r.body)
		}
	}
	mk("stage")
	mk("breakout")
	if r := rest(t, srv, "POST", "/livekit/rooms", tokB, `{"room_name":"b-only"}`); r.status != 201 {
		t.Fatal(r.status)
	}
	speaker := srv.Join(t, "stage", "speaker")
	viewer := srv.Join(t, "stage", "viewer")
	pub, err := speaker.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	viewer.WaitFor(t, 5*time.Second, "track_published", "speaker")

	// Mute: the viewer sees the track muted; the response carries the result.
	r := rest(t, srv, "POST", "/livekit/participant/mute", tokA,
		`{"room_name":"stage","participant_identity":"speaker","track_sid":"`+pub.SID()+`","muted":true}`)
	if r.status != 200 || r.json["muted"] != true || r.str("track_sid") != pub.SID() {
		t.Errorf("mute: %d %s", r.status, r.body)
	}
	viewer.WaitFor(t, 5*time.Second, "track_muted", "speaker")
	r = rest(t, srv, "POST", "/livekit/participant/mute", tokA,
		`{"room_name":"stage","participant_identity":"speaker","track_sid":"`+pub.SID()+`","muted":false}`)
	if r.status != 412 || r.str("code") != "REMOTE_UNMUTE_DISABLED" {
		t.Errorf("unmute: %d %s", r.status, r.body)
	}
	r = rest(t, srv, "POST", "/livekit/participant/mute", tokA, `{"room_name":"stage","participant_identity":"speaker","track_sid":"TR_nope","muted":true}`)
	if r.status != 404 || r.str("code") != "TRACK_NOT_FOUND" {
		t.Errorf("unknown track: %d %s", r.status, r.body)
	}
	r = rest(t, srv, "POST", "/livekit/participant/mute", tokA, `{"room_name":"stage","participant_identity":"ghost","track_sid":"TR_nope","muted":true}`)
	if r.status != 404 || r.str("code") != "PARTICIPANT_NOT_FOUND" {
		t.Errorf("unknown participant on mute: %d %s", r.status, r.body)
	}
	r = rest(t, srv, "POST", "/livekit/participant/mute", tokA, `{"room_name":"stage","participant_identity":"speaker","track_sid":"`+pub.SID()+`"}`)
	if r.status != 400 || !strings.Contains(r.str("error"), "muted is required") {
		t.Errorf("mute without muted: %d %s", r.status, r.body)
	}

	// Update: name, metadata, attributes, permission, seen by clients.
	r = rest(t, srv, "POST", "/livekit/participant/update", tokA,
		`{"room_name":"stage","participant_identity":"viewer","metadata":"{\"hand\":true}","attributes":{"seat":"4"}}`)
	if r.status != 200 || r.str("metadata") != `{"hand":true}` || r.json["attributes"].(map[string]any)["seat"] != "4" {
		t.Errorf("update: %d %s", r.status, r.body)
	}
	speaker.WaitFor(t, 5*time.Second, "metadata_changed", "viewer")
	r = rest(t, srv, "POST", "/livekit/participant/update", tokA,
		`{"room_name":"stage","participant_identity":"speaker","permission":{"can_subscribe":true,"can_publish":false}}`)
	if r.status != 200 || r.json["permission"].(map[string]any)["can_publish"] != false {
		t.Errorf("demote: %d %s", r.status, r.body)
	}
	viewer.WaitFor(t, 5*time.Second, "track_unpublished", "speaker")
	r = rest(t, srv, "POST", "/livekit/participant/update", tokA, `{"room_name":"stage","participant_identity":"viewer"}`)
	if r.status != 400 || r.str("code") != "INVALID_REQUEST" {
		t.Errorf("empty update: %d %s", r.status, r.body)
	}

	// Move within the tenant; a destination of another tenant is masked.
	r = rest(t, srv, "POST", "/livekit/participant/move", tokA, `{"room_name":"stage","participant_identity":"viewer","destination_room":"b-only"}`)
	if r.status != 404 || r.str("code") != "ROOM_NOT_FOUND" || !strings.Contains(r.str("error"), "destination") {
		t.Errorf("move to a foreign room: %d %s", r.status, r.body)
	}
	r = rest(t, srv, "POST", "/livekit/participant/move", tokA, `{"room_name":"stage","participant_identity":"viewer","destination_room":"breakout"}`)
	if r.status != 200 || r.str("status") != "moved" {
		t.Fatalf("move: %d %s", r.status, r.body)
	}
	if e := viewer.WaitFor(t, 5*time.Second, "room_moved", ""); e.Detail != "breakout" {
		t.Errorf("moved to %q", e.Detail)
	}

	// Forward into a new room: created and bound to the caller.
	r = rest(t, srv, "POST", "/livekit/participant/forward", tokA, `{"room_name":"stage","participant_identity":"speaker","destination_room":"overflow"}`)
	if r.status != 200 || r.str("status") != "forwarded" {
		t.Fatalf("forward: %d %s", r.status, r.body)
	}
	r = rest(t, srv, "GET", "/livekit/rooms/overflow", tokA, "")
	if r.status != 200 || len(r.json["participants"].([]any)) != 1 ||
		r.json["participants"].([]any)[0].(map[string]any)["kind_details"].([]any)[0] != "FORWARDED" {
		t.Errorf("overflow: %d %s", r.status, r.body)
	}
	if r := rest(t, srv, "GET", "/livekit/rooms/overflow", tokB, ""); r.status != 404 {
		t.Errorf("B sees A's forward room: %d", r.status)
	}
	r = rest(t, srv, "POST", "/livekit/participant/forward", tokA, `{"room_name":"stage","participant_identity":"speaker","destination_room":"b-only"}`)
	if r.status != 404 || r.str("code") != "ROOM_NOT_FOUND" {
		t.Errorf("forward into a foreign room: %d %s", r.status, r.body)
	}

	// Delete the room: the session ends for everyone.
	if r := rest(t, srv, "DELETE", "/livekit/rooms/stage", tokA, ""); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if e := speaker.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != "ROOM_DELETED" {
		t.Errorf("speaker disconnected with %s", e.Detail)
	}
}

func TestRESTAuthenticationAndValidation(t *testing.T) {
	required := testutil.StartServer(t, withREST(true))
	open := testutil.StartServer(t, withREST(false))

	r := rest(t, required, "GET", "/livekit/rooms", "", "")
	if r.status != 401 || r.str("code") != "UNAUTHORIZED" || !strings.Contains(r.str("error"), "api_key") {
		t.Errorf("no token when required: %d %s", r.status, r.body)
	}
	for _, srv := range []*testutil.TestServer{required, open} {
		r = rest(t, srv, "GET", "/livekit/rooms", "wrong-token-0123456789", "")
		if r.status != 401 || r.str("code") != "UNAUTHORIZED" || strings.Contains(string(r.body), "wrong-token") {
			t.Errorf("a wrong token: %d %s", r.status, r.body)
		}
	}
	// The query form.
	resp, err := http.Get(required.URL + "/livekit/rooms?api_key=" + url.QueryEscape(tokA))
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("?api_key=: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	srv := open
	cases := []struct {
		name, method, path, body string
		status                   int
		code, msg                string
	}{
		{"malformed JSON", "POST", "/livekit/token", `{"room_name":`, 400, "INVALID_REQUEST", "malformed JSON"},
		{"wrong type", "POST", "/livekit/participant/mute", `{"room_name":"r","participant_identity":"p","track_sid":"t","muted":"yes"}`, 400, "INVALID_REQUEST", `field "muted" must be true or false`},
		{"unknown field", "POST", "/livekit/token", `{"room_name":"r","participant_name":"n","participant_identity":"i","admin":true}`, 400, "INVALID_REQUEST", `unknown field "admin"`},
		{"not an object", "DELETE", "/livekit/participant", `[1,2]`, 400, "INVALID_REQUEST", "JSON object"},
		{"empty body", "DELETE", "/livekit/participant", ``, 400, "INVALID_REQUEST", "JSON object"},
		{"trailing data", "DELETE", "/livekit/participant", `{"room_name":"r","participant_identity":"p"} {}`, 400, "INVALID_REQUEST", "after its JSON object"},
		{"missing field", "POST", "/livekit/token", `{"room_name":"r","participant_identity":"i"}`, 400, "INVALID_REQUEST", "participant_name is required"},
		{"ttl too long", "POST", "/livekit/token", `{"room_name":"r","participant_name":"n","participant_identity":"i","ttl":999999}`, 400, "INVALID_REQUEST", "ttl must be between"},
		{"bad room name", "POST", "/livekit/rooms", `{"room_name":"` + strings.Repeat("x", 300) + `"}`, 400, "INVALID_REQUEST", "room name is 300 bytes"},
		{"oversized body", "POST", "/livekit/token", `{"room_name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "PAYLOAD_TOO_LARGE", "limit is"},
		{"wrong method", "PUT", "/livekit/participant", `{}`, 405, "METHOD_NOT_ALLOWED", "DELETE"},
		{"unknown endpoint", "GET", "/livekit/whatever", "", 404, "NOT_FOUND", "no endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rest(t, srv, tc.method, tc.path, "", tc.body)
			if r.status != tc.status || r.str("code") != tc.code || !strings.Contains(r.str("error"), tc.msg) {
				t.Errorf("%d %s, want %d %s mentioning %q", r.status, r.body, tc.status, tc.code, tc.msg)
			}
		})
	}
	// Nothing was created by the refused requests.
	if res, _ := srv.RoomClient().ListRooms(ctx10(t), &livekit.ListRoomsRequest{}); len(res.GetRooms()) != 0 {
		t.Errorf("refused requests left rooms: %v", res.GetRooms())
	}
	// A token with a permission, bounded TTL.
	r = rest(t, srv, "POST", "/livekit/token", "", `{"room_name":"webinar","participant_name":"Viewer","participant_identity":"v1","ttl":600,"permission":{"can_publish":false,"can_publish_sources":["microphone"]}}`)
	claims, err := srv.Verifier().Verify(r.str("token"))
	if err != nil || claims.Video().GetCanPublish() || time.Until(claims.ExpiresAt) > 601*time.Second {
		t.Errorf("token with permission: %v %+v", err, claims)
	}
}

func TestRESTServesItsOpenAPIDocument(t *testing.T) {
	srv := testutil.StartServer(t, withREST(false))
	for _, path := range []string{"/livekit/openapi.json", "/livekit/openapi.yaml"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		doc, err := openapi3.NewLoader().LoadFromData(data)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
		if err := doc.Validate(context.Background()); err != nil || doc.OpenAPI != "3.1.0" {
			t.Errorf("%s: %v (version %s)", path, err, doc.OpenAPI)
		}
		// Exactly the gateway's endpoints.
		var ops []string
		for p, item := range doc.Paths.Map() {
			for method := range item.Operations() {
				ops = append(ops, method+" "+p)
			}
		}
		sort.Strings(ops)
		want := []string{
			"DELETE /livekit/bans", "DELETE /livekit/participant", "DELETE /livekit/presets/{name}",
			"DELETE /livekit/rooms/{room_name}", "GET /livekit/audit", "GET /livekit/bans", "GET /livekit/presets",
			"GET /livekit/presets/{name}", "GET /livekit/rooms", "GET /livekit/rooms/{room_name}", "GET /livekit/waiting",
			"GET /livekit/waiting/settings", "POST /livekit/bans", "POST /livekit/participant/enable",
			"POST /livekit/participant/forward", "POST /livekit/participant/move", "POST /livekit/participant/mute",
			"POST /livekit/participant/pin", "POST /livekit/participant/unpin", "POST /livekit/participant/update",
			"POST /livekit/participants/disable", "POST /livekit/participants/remove", "POST /livekit/presets",
			"POST /livekit/rooms", "POST /livekit/token", "POST /livekit/waiting/admit", "POST /livekit/waiting/admit_all",
			"POST /livekit/waiting/deny", "PUT /livekit/presets/{name}", "PUT /livekit/waiting/settings",
		}
		if strings.Join(ops, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s documents:\n%s", path, strings.Join(ops, "\n"))
		}
		// And every one of them is served (an undocumented path would be NOT_FOUND).
		for _, op := range want {
			method, p, _ := strings.Cut(op, " ")
			p = strings.NewReplacer("{room_name}", "x", "{name}", "x").Replace(p)
			req, _ := http.NewRequest(method, srv.URL+p, strings.NewReader("{}"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct{ Code string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if body.Code == "NOT_FOUND" || body.Code == "METHOD_NOT_ALLOWED" {
				t.Errorf("%s is documented but not served (%s)", op, body.Code)
			}
		}
	}
}

func TestRESTFrontsAnUpstreamServer(t *testing.T) {
	upstreamSrv := testutil.StartServer(t)
	gw := testutil.StartServer(t, withREST(false), testutil.WithConfig(func(c *config.Config) {
		c.REST.Upstream = config.UpstreamConfig{URL: upstreamSrv.URL, APIKey: testutil.APIKey, APISecret: testutil.APISecret, Timeout: 5 * time.Second}
		c.REST.LiveKitURL = upstreamSrv.WSURL
	}))
	// Tokens issued by the gateway join the upstream server.
	tr := rest(t, gw, "POST", "/livekit/token", tokA, `{"room_name":"up","participant_name":"U","participant_identity":"u1"}`)
	if tr.status != 200 || tr.str("livekit_url") != upstreamSrv.WSURL {
		t.Fatalf("token: %d %s", tr.status, tr.body)
	}
	u1 := upstreamSrv.Join(t, "", "", testutil.WithToken(tr.str("token")))
	waitActive(t, upstreamSrv, "up", "u1")
	if _, err := gw.Rooms().Room("up"); err == nil {
		t.Errorf("the gateway created the room locally instead of upstream")
	}
	r := rest(t, gw, "GET", "/livekit/rooms/up", tokA, "")
	if r.status != 200 || len(r.json["participants"].([]any)) != 1 {
		t.Errorf("get through the upstream: %d %s", r.status, r.body)
	}
	if r := rest(t, gw, "GET", "/livekit/rooms/up", tokB, ""); r.status != 404 || r.str("code") != "ROOM_NOT_FOUND" {
		t.Errorf("tenancy through the upstream: %d %s", r.status, r.body)
	}
	r = rest(t, gw, "POST", "/livekit/participant/mute", tokA, `{"room_name":"up","participant_identity":"u1","track_sid":"TR_nope","muted":true}`)
	if r.status != 404 || r.str("code") != "TRACK_NOT_FOUND" {
		t.Errorf("typed errors through the upstream: %d %s", r.status, r.body)
	}
	r = rest(t, gw, "DELETE", "/livekit/participant", tokA, `{"room_name":"up","participant_identity":"u1"}`)
	if r.status != 200 {
		t.Fatalf("remove through the upstream: %d %s", r.status, r.body)
	}
	if e := u1.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != "PARTICIPANT_REMOVED" {
		t.Errorf("u1 disconnected with %s", e.Detail)
	}
}

func TestRESTUpstreamFailures(t *testing.T) {
	// Nothing listens here.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	_ = dead.Close()
	// This one accepts connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for _, tc := range []struct {
		name, url string
		status    int
		code      string
	}{
		{"unreachable", deadURL, 502, "UPSTREAM_UNAVAILABLE"},
		{"silent", "http://" + silent.Addr().String(), 504, "UPSTREAM_TIMEOUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := testutil.StartServer(t, withREST(false), testutil.WithConfig(func(c *config.Config) {
				c.REST.Upstream = config.UpstreamConfig{URL: tc.url, APIKey: "APIx", APISecret: "upstream-secret-0123456789abcdef", Timeout: time.Second}
			}))
			r := rest(t, gw, "GET", "/livekit/rooms", "", "")
			if r.status != tc.status || r.str("code") != tc.code {
				t.Errorf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
}

package test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

// adminGrant can do everything on room.
func adminGrant(room string) *lkauth.VideoGrant {
	return &lkauth.VideoGrant{RoomCreate: true, RoomList: true, RoomAdmin: true, Room: room}
}

type twirpResp struct {
	status int
	header http.Header
	body   []byte
}

func (r twirpResp) errCode(t *testing.T) (code, msg string) {
	t.Helper()
	var e struct{ Code, Msg string }
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body is not Twirp JSON (%v): %s", err, r.body)
	}
	return e.Code, e.Msg
}

func post(t *testing.T, url, method, contentType, token string, body []byte) twirpResp {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/twirp/livekit.RoomService/"+method, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) twirpResp {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return twirpResp{resp.StatusCode, resp.Header, b}
}

func TestJSONKeyStylesAndUnknownFields(t *testing.T) {
	srv := testutil.StartServer(t)
	tok := testutil.Token(t, "admin", adminGrant("camel"))

	// camelCase keys, an unknown field that must be ignored.
	r := post(t, srv.URL, "CreateRoom", "application/json", tok,
		[]byte(`{"name":"camel","emptyTimeout":42,"maxParticipants":7,"someFutureField":{"x":1}}`))
	if r.status != 200 {
		t.Fatalf("camelCase CreateRoom: %d %s", r.status, r.body)
	}
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	// Responses use proto (snake_case) names, emit unset fields, and 64-bit ints as strings.
	if got["empty_timeout"] != float64(42) || got["max_participants"] != float64(7) {
		t.Errorf("response fields: %s", r.body)
	}
	if _, ok := got["creation_time"].(string); !ok {
		t.Errorf("creation_time should be a JSON string (int64), got %T in %s", got["creation_time"], r.body)
	}
	if _, ok := got["num_participants"]; !ok {
		t.Errorf("unset fields should be emitted: %s", r.body)
	}

	// snake_case keys.
	tok2 := testutil.Token(t, "admin", adminGrant("snake"))
	r = post(t, srv.URL, "CreateRoom", "application/json", tok2, []byte(`{"name":"snake","empty_timeout":43}`))
	if r.status != 200 || !strings.Contains(string(r.body), `"empty_timeout":43`) {
		t.Fatalf("snake_case CreateRoom: %d %s", r.status, r.body)
	}

	// The seed's example: ListRooms with names.
	r = post(t, srv.URL, "ListRooms", "application/json", tok, []byte(`{ "names": ["snake"] }`))
	var list struct {
		Rooms []struct{ Name string } `json:"rooms"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil || r.status != 200 {
		t.Fatalf("ListRooms: %d %s", r.status, r.body)
	}
	if len(list.Rooms) != 1 || list.Rooms[0].Name != "snake" {
		t.Errorf("ListRooms(names) = %s", r.body)
	}

	// An empty body object works for parameterless calls.
	r = post(t, srv.URL, "ListRooms", "application/json", tok, []byte(`{}`))
	if r.status != 200 {
		t.Errorf("ListRooms {}: %d %s", r.status, r.body)
	}
}

func TestProtobufContentType(t *testing.T) {
	srv := testutil.StartServer(t)
	tok := testutil.Token(t, "admin", adminGrant("pb"))
	body, _ := proto.Marshal(&livekit.CreateRoomRequest{Name: "pb", Metadata: "m"})
	r := post(t, srv.URL, "CreateRoom", "application/protobuf", tok, body)
	if r.status != 200 || r.header.Get("Content-Type") != "application/protobuf" {
		t.Fatalf("protobuf CreateRoom: %d %s", r.status, r.header.Get("Content-Type"))
	}
	var room livekit.Room
	if err := proto.Unmarshal(r.body, &room); err != nil {
		t.Fatal(err)
	}
	if room.Name != "pb" || room.Metadata != "m" {
		t.Errorf("room = %v", &room)
	}
}

func TestRoutingErrors(t *testing.T) {
	srv := testutil.StartServer(t)
	tok := testutil.Token(t, "admin", adminGrant("x"))

	// Health check.
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "OK" {
		t.Errorf("GET / = %d %q, want 200 OK", resp.StatusCode, b)
	}

	// GET on a Twirp method is bad_route 404.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/twirp/livekit.RoomService/ListRooms", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	r := do(t, req)
	if code, _ := r.errCode(t); r.status != 404 || code != "bad_route" {
		t.Errorf("GET twirp: %d %s", r.status, r.body)
	}
	// Wrong content type.
	r = post(t, srv.URL, "ListRooms", "text/plain", tok, []byte(`{}`))
	if code, _ := r.errCode(t); r.status != 404 || code != "bad_route" {
		t.Errorf("text/plain: %d %s", r.status, r.body)
	}
	// Unknown method and unknown service.
	r = post(t, srv.URL, "Nope", "application/json", tok, []byte(`{}`))
	if code, _ := r.errCode(t); r.status != 404 || code != "bad_route" {
		t.Errorf("unknown method: %d %s", r.status, r.body)
	}
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/twirp/livekit.Egress/ListEgress", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	r = do(t, req)
	if code, msg := r.errCode(t); r.status != 404 || code != "bad_route" || !strings.Contains(msg, "livekit.Egress") {
		t.Errorf("unknown service: %d %s", r.status, r.body)
	}
	// Malformed JSON.
	r = post(t, srv.URL, "CreateRoom", "application/json", tok, []byte(`{"name":`))
	if code, _ := r.errCode(t); r.status != 400 || code != "malformed" {
		t.Errorf("malformed JSON: %d %s", r.status, r.body)
	}
	// Wrong JSON type.
	r = post(t, srv.URL, "CreateRoom", "application/json", tok, []byte(`{"name": 5}`))
	if code, _ := r.errCode(t); r.status != 400 || code != "malformed" {
		t.Errorf("wrong JSON type: %d %s", r.status, r.body)
	}
	// A bad X-Twirp-Timeout-Ms.
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/twirp/livekit.RoomService/ListRooms", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Twirp-Timeout-Ms", "soon")
	r = do(t, req)
	if code, _ := r.errCode(t); r.status != 400 || code != "malformed" {
		t.Errorf("bad timeout header: %d %s", r.status, r.body)
	}
}

func TestParticipantMethodsExistOnTheWire(t *testing.T) {
	srv := testutil.StartServer(t)
	tok := testutil.Token(t, "admin", &lkauth.VideoGrant{RoomAdmin: true, Room: "r", DestinationRoom: "d"})
	for _, m := range []string{"ListParticipants", "GetParticipant", "RemoveParticipant", "MutePublishedTrack",
		"UpdateParticipant", "UpdateSubscriptions", "SendData", "ForwardParticipant", "MoveParticipant", "PerformRpc"} {
		r := post(t, srv.URL, m, "application/json", tok, []byte(`{"room":"r","destination_room":"d","identity":"p"}`))
		code, _ := r.errCode(t)
		// Each method is routed (never bad_route); until its issue lands it may be unimplemented.
		if code == "bad_route" || r.status == 404 && code != "not_found" {
			t.Errorf("%s is not routed: %d %s", m, r.status, r.body)
		}
	}
}

func TestAuthFailures(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
		c.Keys["otherkey"] = "another-secret-that-is-long-enough-xyz"
	}))
	sign := func(key, secret string, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	video := map[string]any{"roomList": true}
	valid := jwt.MapClaims{"iss": testutil.APIKey, "sub": "a", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "video": video}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range valid {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	noneTok := func() string {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, valid).SignedString(jwt.UnsafeAllowNoneSignatureType)
		return tok
	}()
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, valid).SignedString([]byte(testutil.APISecret))

	cases := []struct {
		name, header, msg string
	}{
		{"missing", "", "no access token"},
		{"not bearer", "Basic abc", `"Bearer <token>"`},
		{"garbage", "Bearer not.a.jwt", "malformed"},
		{"expired", "Bearer " + sign(testutil.APIKey, testutil.APISecret, with("exp", now.Add(-2*time.Minute).Unix())), "expired"},
		{"not yet valid", "Bearer " + sign(testutil.APIKey, testutil.APISecret, with("nbf", now.Add(10*time.Minute).Unix())), "not valid yet"},
		{"no exp", "Bearer " + sign(testutil.APIKey, testutil.APISecret, with("exp", nil)), "no expiry"},
		{"unknown key", "Bearer " + sign("nobody", "whatever-secret", with("iss", "nobody")), `unknown API key "nobody"`},
		{"bad signature", "Bearer " + sign(testutil.APIKey, "wrong-secret", valid), "signature is invalid"},
		{"other key's secret", "Bearer " + sign(testutil.APIKey, "another-secret-that-is-long-enough-xyz", valid), "signature is invalid"},
		{"alg none", "Bearer " + noneTok, "HS256"},
		{"alg HS512", "Bearer " + hs512, "HS256"},
		{"lifetime over auth.max_token_lifetime", "Bearer " + sign(testutil.APIKey, testutil.APISecret, with("exp", now.Add(169*time.Hour).Unix())), "longer than auth.max_token_lifetime (168h0m0s) allows"},
		{"no issue time", "Bearer " + sign(testutil.APIKey, testutil.APISecret, with("iat", nil)), "neither an issue time (iat) nor a not-before time (nbf)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/twirp/livekit.RoomService/ListRooms", strings.NewReader(`{}`))
			req.Header.Set("Content-Type", "application/json")
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			r := do(t, req)
			code, msg := r.errCode(t)
			if r.status != 401 || code != "unauthenticated" {
				t.Errorf("status %d code %s, want 401 unauthenticated (%s)", r.status, code, r.body)
			}
			if !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not say %q", msg, tc.msg)
			}
			// Never echo the token or any piece of it.
			if tok := strings.TrimPrefix(tc.header, "Bearer "); len(tok) > 12 {
				for _, part := range strings.Split(tok, ".") {
					if len(part) > 8 && strings.Contains(string(r.body), part) {
						t.Errorf("error body echoes the token: %s", r.body)
					}
				}
			}
		})
	}

	// A valid token signed with the second key works.
	tok := sign("otherkey", "another-secret-that-is-long-enough-xyz", with("iss", "otherkey"))
	if r := post(t, srv.URL, "ListRooms", "application/json", tok, []byte(`{}`)); r.status != 200 {
		t.Errorf("second key: %d %s", r.status, r.body)
	}
}

func TestGrantChecks(t *testing.T) {
	srv := testutil.StartServer(t)
	type call struct{ method, body string }
	cases := []struct {
		name  string
		grant *lkauth.VideoGrant
		call  call
		ok    bool
		msg   string
	}{
		{"create needs roomCreate", &lkauth.VideoGrant{RoomAdmin: true, Room: "a"}, call{"CreateRoom", `{"name":"a"}`}, false, "roomCreate"},
		{"create with roomCreate", &lkauth.VideoGrant{RoomCreate: true}, call{"CreateRoom", `{"name":"a"}`}, true, ""},
		{"list needs roomList", &lkauth.VideoGrant{RoomCreate: true}, call{"ListRooms", `{}`}, false, "roomList"},
		{"delete needs roomCreate", &lkauth.VideoGrant{RoomAdmin: true, Room: "a"}, call{"DeleteRoom", `{"room":"a"}`}, false, "roomCreate"},
		{"join grant is not admin", &lkauth.VideoGrant{RoomJoin: true, Room: "a"}, call{"UpdateRoomMetadata", `{"room":"a","metadata":"x"}`}, false, "roomAdmin"},
		{"admin of another room", &lkauth.VideoGrant{RoomAdmin: true, Room: "b"}, call{"UpdateRoomMetadata", `{"room":"a","metadata":"x"}`}, false, `for room "b", not "a"`},
		{"admin without room", &lkauth.VideoGrant{RoomAdmin: true}, call{"UpdateRoomMetadata", `{"room":"a","metadata":"x"}`}, false, "names no room"},
		{"admin of the room", &lkauth.VideoGrant{RoomAdmin: true, Room: "a"}, call{"UpdateRoomMetadata", `{"room":"a","metadata":"x"}`}, true, ""},
		{"participant method of another room", &lkauth.VideoGrant{RoomAdmin: true, Room: "b"}, call{"ListParticipants", `{"room":"a"}`}, false, "roomAdmin"},
		{"move needs destinationRoom", &lkauth.VideoGrant{RoomAdmin: true, Room: "a"}, call{"MoveParticipant", `{"room":"a","identity":"p","destination_room":"c"}`}, false, "destinationRoom"},
		{"forward with the wrong destinationRoom", &lkauth.VideoGrant{RoomAdmin: true, Room: "a", DestinationRoom: "d"}, call{"ForwardParticipant", `{"room":"a","identity":"p","destination_room":"c"}`}, false, "destinationRoom"},
		{"delete with roomCreate", &lkauth.VideoGrant{RoomCreate: true}, call{"DeleteRoom", `{"room":"a"}`}, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, srv.URL, tc.call.method, "application/json", testutil.Token(t, "x", tc.grant), []byte(tc.call.body))
			if tc.ok {
				if r.status != 200 {
					t.Fatalf("want success, got %d %s", r.status, r.body)
				}
				return
			}
			code, msg := r.errCode(t)
			if r.status != 403 || code != "permission_denied" || !strings.Contains(msg, tc.msg) {
				t.Errorf("got %d %s, want 403 permission_denied mentioning %q", r.status, r.body, tc.msg)
			}
		})
	}
}

func TestTokenInQueryParameter(t *testing.T) {
	srv := testutil.StartServer(t)
	tok := testutil.Token(t, "x", &lkauth.VideoGrant{RoomList: true})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/twirp/livekit.RoomService/ListRooms?access_token="+tok, strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	if r := do(t, req); r.status != 200 {
		t.Errorf("access_token query: %d %s", r.status, r.body)
	}
}

func TestOversizedBodies(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) { c.Limit.MaxRequestBodySize = 1024 }))
	tok := testutil.Token(t, "x", adminGrant("big"))
	big := []byte(`{"name":"big","metadata":"` + strings.Repeat("x", 2000) + `"}`)

	// Declared Content-Length.
	r := post(t, srv.URL, "CreateRoom", "application/json", tok, big)
	code, msg := r.errCode(t)
	if r.status != http.StatusRequestEntityTooLarge || code != "resource_exhausted" || !strings.Contains(msg, "1024 bytes") {
		t.Errorf("oversized body: %d %s", r.status, r.body)
	}
	// Chunked (no Content-Length).
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/twirp/livekit.RoomService/CreateRoom", io.MultiReader(bytes.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	r = do(t, req)
	if code, _ := r.errCode(t); r.status != http.StatusRequestEntityTooLarge || code != "resource_exhausted" {
		t.Errorf("oversized chunked body: %d %s", r.status, r.body)
	}
	// A chunked body under the limit still works.
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/twirp/livekit.RoomService/CreateRoom", io.MultiReader(strings.NewReader(`{"name":"big"}`)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	if r = do(t, req); r.status != 200 {
		t.Errorf("small chunked body: %d %s", r.status, r.body)
	}
}

func TestCORS(t *testing.T) {
	srv := testutil.StartServer(t)
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/twirp/livekit.RoomService/ListRooms", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	r := do(t, req)
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "authorization") ||
		r.header.Get("Access-Control-Allow-Methods") != "POST" {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
	tok := testutil.Token(t, "x", &lkauth.VideoGrant{RoomList: true})
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/twirp/livekit.RoomService/ListRooms", strings.NewReader(`{}`))
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	r = do(t, req)
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("CORS on POST: %d %v", r.status, r.header)
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	srv := testutil.StartServer(t)
	tok := testutil.Token(t, "x", adminGrant("late"))

	// The request body arrives slowly: the server is mid-request when shutdown starts.
	// With "Expect: 100-continue" the server answers 100 Continue when the handler
	// starts reading the body: from then on the request is in flight.
	pr, pw := io.Pipe()
	started := make(chan struct{})
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{Got100Continue: func() { close(started) }})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/twirp/livekit.RoomService/CreateRoom", pr)
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Expect", "100-continue")
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	defer client.CloseIdleConnections()
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{status: resp.StatusCode, body: string(b)}
	}()
	select {
	case <-started:
	case res := <-done:
		t.Fatalf("the request ended before the server read its body: %+v", res)
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not start reading the request body")
	}
	if _, err := pw.Write([]byte(`{"name":`)); err != nil {
		t.Fatal(err)
	}

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	// Shutdown is under way once new connections are refused.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	testutil.Eventually(t, 5*time.Second, func() bool {
		resp, err := fresh.Get(srv.URL + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	}, "new connections are still accepted during shutdown")
	// It cannot be done while the request waits for the rest of its body. (Whether a
	// Shutdown that does not wait would have returned by now is a matter of timing:
	// what is certain is that the request below must still succeed.)
	select {
	case err := <-shut:
		t.Fatalf("shutdown returned (%v) while a request was in flight", err)
	default:
	}
	_, _ = pw.Write([]byte(`"late"}`))
	_ = pw.Close()
	res := <-done
	if res.err != nil || res.status != 200 || !strings.Contains(res.body, `"name":"late"`) {
		t.Errorf("in-flight request: %d %s %v", res.status, res.body, res.err)
	}
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

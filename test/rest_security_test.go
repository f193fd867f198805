package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

// Regression tests for the REST gateway's security review: token issuing validates what
// a join would refuse, strict JSON is strict, and only configured web origins (and, in
// open mode, only this server's host names) may use the gateway.

// restCall is one request to the server with full control of its headers.
type restCall struct {
	method, path, token, body string
	// contentType defaults to application/json when there is a body; "-" sends none.
	contentType string
	origin      string
	host        string
	header      map[string]string
}

type restReply struct {
	restResp
	header http.Header
}

// restDo sends c and, except for CORS preflights (which are not API operations),
// checks the exchange against the OpenAPI document like rest(...).
func restDo(t *testing.T, srv *testutil.TestServer, c restCall) restReply {
	t.Helper()
	var rdr io.Reader
	if c.body != "" {
		rdr = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, srv.URL+c.path, rdr)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case c.contentType == "-":
	case c.contentType != "":
		req.Header.Set("Content-Type", c.contentType)
	case c.body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.origin != "" {
		req.Header.Set("Origin", c.origin)
	}
	if c.host != "" {
		req.Host = c.host
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	out := restReply{restResp: restResp{status: resp.StatusCode, body: data}, header: resp.Header}
	_ = json.Unmarshal(data, &out.json)
	if c.method != http.MethodOptions {
		validateExchange(t, req, c.body, resp, data)
	}
	return out
}

func serverRooms(t *testing.T, srv *testutil.TestServer) []string {
	t.Helper()
	res, err := srv.RoomClient().ListRooms(ctx10(t), &livekit.ListRoomsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range res.Rooms {
		out = append(out, r.Name)
	}
	return out
}

// --- finding 1: token issuing accepts what a join refuses ------------------------------

func TestRESTTokenIssuingRefusesWhatAJoinWouldRefuse(t *testing.T) {
	srv := testutil.StartServer(t, withREST(false))
	tok := func(extra string) string {
		return `{"room_name":"lobby","participant_name":"Ann","participant_identity":"ann"` + extra + `}`
	}
	cases := []struct {
		name, body string
		want       []string // in the error message
	}{
		{"ttl overflowing int64 nanoseconds", tok(`,"ttl":9223372037`), []string{"ttl", "86400"}},
		{"ttl at int64 max", tok(`,"ttl":9223372036854775807`), []string{"ttl", "86400"}},
		{"ttl at int64 min", tok(`,"ttl":-9223372036854775808`), []string{"ttl", "86400"}},
		{"negative ttl", tok(`,"ttl":-1`), []string{"ttl"}},
		{"zero ttl", tok(`,"ttl":0`), []string{"ttl"}},
		{"identity with NUL", `{"room_name":"lobby","participant_name":"Ann","participant_identity":"ann\u0000"}`,
			[]string{"participant_identity", "control character"}},
		{"identity with an ANSI escape", `{"room_name":"lobby","participant_name":"Ann","participant_identity":"\u001b[31mann"}`,
			[]string{"participant_identity", "control character"}},
		{"500 KB identity", `{"room_name":"lobby","participant_name":"Ann","participant_identity":"` + strings.Repeat("i", 500_000) + `"}`,
			[]string{"participant_identity", "500000 bytes", "the limit is 256"}},
		{"name with a newline", `{"room_name":"lobby","participant_name":"Ann\nAdmin","participant_identity":"ann"}`,
			[]string{"participant_name", "control character"}},
		{"300-byte name", `{"room_name":"lobby","participant_name":"` + strings.Repeat("n", 300) + `","participant_identity":"ann"}`,
			[]string{"participant_name", "the limit is 256"}},
		{"900 KB metadata", tok(`,"metadata":"` + strings.Repeat("m", 900_000) + `"`),
			[]string{"metadata", "900000 bytes", "the limit is 64000"}},
		{"oversized attributes", tok(`,"attributes":{"a":"` + strings.Repeat("v", 70_000) + `"}`),
			[]string{"attributes", "the limit is 64000"}},
		{"attribute key with a control character", tok(`,"attributes":{"a\tb":"v"}`),
			[]string{"attributes", "control character"}},
		{"room name with a control character", `{"room_name":"lob\u0007by","participant_name":"Ann","participant_identity":"ann"}`,
			[]string{"room_name", "control character"}},
		{"300-byte room name", `{"room_name":"` + strings.Repeat("r", 300) + `","participant_name":"Ann","participant_identity":"ann"}`,
			[]string{"room_name", "the limit is 256"}},
		{"a source twice", tok(`,"permission":{"can_publish_sources":["camera","camera"]}`),
			[]string{"can_publish_sources", "twice"}},
		{"an unknown source", tok(`,"permission":{"can_publish_sources":["webcam"]}`),
			[]string{"can_publish_sources", "webcam"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rest(t, srv, "POST", "/livekit/token", "", tc.body)
			if r.status != 400 || r.str("code") != "INVALID_REQUEST" || r.str("token") != "" {
				t.Fatalf("%d %.300s, want 400 INVALID_REQUEST", r.status, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.str("error"), w) {
					t.Errorf("error %.300q does not mention %q", r.str("error"), w)
				}
			}
		})
	}
	// A refused request creates nothing.
	if names := serverRooms(t, srv); len(names) != 0 {
		t.Errorf("refused token requests created rooms %q", names)
	}

	// A token for valid input, at the limits, is honoured by /rtc.
	attrs := map[string]string{"seat": "4", "rôle": "hôte"}
	body, _ := json.Marshal(map[string]any{
		"room_name": "lobby", "participant_name": "Ann Ünïcode", "participant_identity": strings.Repeat("ä", 128),
		"metadata": `{"hand":true}`, "attributes": attrs, "ttl": 86400,
		"permission": map[string]any{"can_publish_sources": []string{"camera", "microphone"}},
	})
	before := time.Now().Unix()
	tr := rest(t, srv, "POST", "/livekit/token", "", string(body))
	if tr.status != 200 {
		t.Fatalf("valid token request: %d %s", tr.status, tr.body)
	}
	if exp := int64(tr.json["expires_at"].(float64)); exp < before+86400 || exp > time.Now().Unix()+86400 {
		t.Errorf("expires_at %d, want now + 86400", exp)
	}
	c := srv.Join(t, "", "", testutil.WithToken(tr.str("token")))
	p := srv.Participant(t, "lobby", strings.Repeat("ä", 128))
	if p.Name != "Ann Ünïcode" || p.Metadata != `{"hand":true}` || p.Attributes["rôle"] != "hôte" || len(p.Permission.GetCanPublishSources()) != 2 {
		t.Errorf("joined as %v", p)
	}
	c.Room.Disconnect()

	// /rtc bounds the size of a token (auth.MaxTokenSize): a token too large for it is
	// refused at issuance (metadata at the join limit makes one), and a token just
	// under the bound is taken by /rtc/validate.
	big := func(size int) restResp {
		body, _ := json.Marshal(map[string]any{
			"room_name": "lobby", "participant_name": "Big", "participant_identity": "big",
			"metadata": strings.Repeat("m", size),
		})
		return rest(t, srv, "POST", "/livekit/token", "", string(body))
	}
	if r := big(srv.Config.Limit.MaxMetadataSize); r.status != 400 || r.str("code") != "INVALID_REQUEST" ||
		!strings.Contains(r.str("error"), "/rtc") || !strings.Contains(r.str("error"), "metadata") {
		t.Errorf("a token too large for /rtc: %d %.300s", r.status, r.body)
	}
	tr = big(11_500)
	if tr.status != 200 || len(tr.str("token")) < 15<<10 {
		t.Fatalf("a token just under the bound: %d %.300s (%d bytes)", tr.status, tr.body, len(tr.str("token")))
	}
	resp, err := http.Get(srv.URL + "/rtc/validate?access_token=" + tr.str("token") + "&auto_subscribe=1&sdk=js&version=2.15.0&protocol=16&adaptive_stream=1")
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/rtc/validate refused a token the gateway issued: %d %.300s", resp.StatusCode, msg)
	}
}

// --- finding 2: strict JSON is not strict ----------------------------------------------

func TestRESTStrictJSONRefusesDuplicateAndCaseVariantKeys(t *testing.T) {
	srv := testutil.StartServer(t, withREST(false))
	if r := rest(t, srv, "POST", "/livekit/rooms", tokA, `{"room_name":"stage"}`); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	ann := srv.Join(t, "stage", "ann")
	srv.Join(t, "stage", "victim")
	cases := []struct {
		name, method, path, body, want string
	}{
		{"duplicate room_name on token", "POST", "/livekit/token",
			`{"room_name":"r1","room_name":"r2","participant_name":"n","participant_identity":"i"}`, `duplicate key "room_name"`},
		{"upper-case key on token", "POST", "/livekit/token",
			`{"ROOM_NAME":"r1","participant_name":"n","participant_identity":"i"}`, `unknown field "ROOM_NAME"`},
		{"mixed-case key on room creation", "POST", "/livekit/rooms", `{"Room_Name":"r1"}`, `unknown field "Room_Name"`},
		{"duplicate key inside permission", "POST", "/livekit/token",
			`{"room_name":"r1","participant_name":"n","participant_identity":"i","permission":{"can_publish":false,"can_publish":true}}`,
			`duplicate key "permission.can_publish"`},
		{"case variant inside permission", "POST", "/livekit/token",
			`{"room_name":"r1","participant_name":"n","participant_identity":"i","permission":{"Can_Publish":true}}`,
			`unknown field "permission.Can_Publish"`},
		{"duplicate attribute", "POST", "/livekit/token",
			`{"room_name":"r1","participant_name":"n","participant_identity":"i","attributes":{"seat":"1","seat":"2"}}`,
			`duplicate key "attributes.seat"`},
		{"duplicate identity on removal", "DELETE", "/livekit/participant",
			`{"room_name":"stage","participant_identity":"ann","participant_identity":"victim"}`, `duplicate key "participant_identity"`},
		{"case variant on removal", "DELETE", "/livekit/participant",
			`{"room_name":"stage","participant_identity":"ann","Participant_Identity":"victim"}`, `unknown field "Participant_Identity"`},
		{"duplicate metadata on update", "POST", "/livekit/participant/update",
			`{"room_name":"stage","participant_identity":"ann","metadata":"a","metadata":"b"}`, `duplicate key "metadata"`},
		{"a stray closing brace after the object", "POST", "/livekit/rooms", `{"room_name":"r1"}}`, "after its JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rest(t, srv, tc.method, tc.path, "", tc.body)
			if r.status != 400 || r.str("code") != "INVALID_REQUEST" || !strings.Contains(r.str("error"), tc.want) {
				t.Errorf("%d %s, want 400 INVALID_REQUEST mentioning %s", r.status, r.body, tc.want)
			}
		})
	}
	// Nothing changed: no room r1/r2, both participants still in the room, ann's metadata untouched.
	if names := serverRooms(t, srv); len(names) != 1 || names[0] != "stage" {
		t.Errorf("rooms after refused requests: %q", names)
	}
	for _, id := range []string{"ann", "victim"} {
		if p := srv.Participant(t, "stage", id); p.Metadata != "" {
			t.Errorf("%s's metadata became %q", id, p.Metadata)
		}
	}
	if ann.Has("disconnected", "") {
		t.Errorf("ann was disconnected")
	}
	// Attribute keys are data: keys differing only in case are distinct and accepted.
	r := rest(t, srv, "POST", "/livekit/participant/update", "", `{"room_name":"stage","participant_identity":"ann","attributes":{"Seat":"1","seat":"2"}}`)
	if r.status != 200 || r.json["attributes"].(map[string]any)["Seat"] != "1" || r.json["attributes"].(map[string]any)["seat"] != "2" {
		t.Errorf("attributes differing in case: %d %s", r.status, r.body)
	}
}

// --- finding 3: the gateway answers any web page ---------------------------------------

const appOrigin = "https://app.example.com"

func withCORS(origins ...string) testutil.Option {
	return testutil.WithConfig(func(c *config.Config) { c.REST.CORSOrigins = origins })
}

func TestRESTRefusesOtherWebOrigins(t *testing.T) {
	srv := testutil.StartServer(t, withREST(false), withCORS(appOrigin))
	if r := rest(t, srv, "POST", "/livekit/rooms", "", `{"room_name":"stage","metadata":"{\"topic\":\"x\"}"}`); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	ann := srv.Join(t, "stage", "ann")
	const evil = "https://evil.example"

	refused := func(t *testing.T, r restReply) {
		t.Helper()
		if r.status != 403 || r.str("code") != "ORIGIN_NOT_ALLOWED" {
			t.Errorf("%d %s, want 403 ORIGIN_NOT_ALLOWED", r.status, r.body)
		}
		if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("a refused origin got Access-Control-Allow-Origin %q", got)
		}
	}
	t.Run("preflight", func(t *testing.T) {
		refused(t, restDo(t, srv, restCall{method: "OPTIONS", path: "/livekit/participant", origin: evil,
			header: map[string]string{"Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "content-type"}}))
	})
	t.Run("removal without preflight", func(t *testing.T) {
		refused(t, restDo(t, srv, restCall{method: "DELETE", path: "/livekit/participant", origin: evil,
			body: `{"room_name":"stage","participant_identity":"ann"}`}))
	})
	t.Run("simple text/plain POST", func(t *testing.T) {
		refused(t, restDo(t, srv, restCall{method: "POST", path: "/livekit/token", origin: evil, contentType: "text/plain",
			body: `{"room_name":"evil-room","participant_name":"Eve","participant_identity":"eve"}`}))
	})
	t.Run("simple form POST updating a participant", func(t *testing.T) {
		refused(t, restDo(t, srv, restCall{method: "POST", path: "/livekit/participant/update", origin: evil,
			contentType: "application/x-www-form-urlencoded", body: `{"room_name":"stage","participant_identity":"ann","metadata":"pwned"}`}))
	})
	t.Run("room deletion", func(t *testing.T) {
		refused(t, restDo(t, srv, restCall{method: "DELETE", path: "/livekit/rooms/stage", origin: evil}))
	})
	t.Run("reading", func(t *testing.T) {
		refused(t, restDo(t, srv, restCall{method: "GET", path: "/livekit/rooms/stage", origin: evil}))
	})
	t.Run("opaque origin", func(t *testing.T) {
		refused(t, restDo(t, srv, restCall{method: "DELETE", path: "/livekit/rooms/stage", origin: "null"}))
	})
	t.Run("with a valid API token", func(t *testing.T) {
		refused(t, restDo(t, srv, restCall{method: "GET", path: "/livekit/rooms", origin: evil, token: tokA}))
	})
	// Nothing changed.
	if names := serverRooms(t, srv); len(names) != 1 || names[0] != "stage" {
		t.Errorf("rooms after refused requests: %q", names)
	}
	if p := srv.Participant(t, "stage", "ann"); p.Metadata != "" {
		t.Errorf("ann's metadata became %q", p.Metadata)
	}
	if ann.Has("disconnected", "") {
		t.Errorf("ann was disconnected")
	}

	// The configured origin works, preflight and request.
	pre := restDo(t, srv, restCall{method: "OPTIONS", path: "/livekit/participant/update", origin: appOrigin,
		header: map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}})
	if pre.status != 204 || pre.header.Get("Access-Control-Allow-Origin") != appOrigin ||
		!strings.Contains(pre.header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(strings.ToLower(pre.header.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Errorf("allowed preflight: %d %v", pre.status, pre.header)
	}
	r := restDo(t, srv, restCall{method: "POST", path: "/livekit/participant/update", origin: appOrigin,
		body: `{"room_name":"stage","participant_identity":"ann","metadata":"hello"}`})
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != appOrigin || !strings.Contains(r.header.Get("Vary"), "Origin") {
		t.Errorf("allowed origin: %d %s %v", r.status, r.body, r.header)
	}
	// A page served by this server itself (same origin) works without configuration.
	if r := restDo(t, srv, restCall{method: "GET", path: "/livekit/rooms", origin: srv.URL}); r.status != 200 {
		t.Errorf("same origin: %d %s", r.status, r.body)
	}
	// Requests without Origin (backends, curl) are unaffected.
	if r := restDo(t, srv, restCall{method: "GET", path: "/livekit/rooms"}); r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no origin: %d %s %v", r.status, r.body, r.header)
	}

	// Twirp keeps LiveKit's any-origin CORS: its callers hold bearer tokens.
	req, _ := http.NewRequest("OPTIONS", srv.URL+"/twirp/livekit.RoomService/ListRooms", nil)
	req.Header.Set("Origin", evil)
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != evil {
		t.Errorf("Twirp preflight: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ = http.NewRequest("POST", srv.URL+"/twirp/livekit.RoomService/ListRooms", strings.NewReader("{}"))
	req.Header.Set("Origin", evil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testutil.Token(t, "", adminGrant("")))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != evil {
		t.Errorf("Twirp call: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestRESTWildcardOriginWithRequiredAuth(t *testing.T) {
	srv := testutil.StartServer(t, withREST(true), withCORS("*"))
	r := restDo(t, srv, restCall{method: "GET", path: "/livekit/rooms", origin: "https://anywhere.example", token: tokA})
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("wildcard: %d %s %v", r.status, r.body, r.header)
	}
	if r := restDo(t, srv, restCall{method: "GET", path: "/livekit/rooms", origin: "https://anywhere.example"}); r.status != 401 {
		t.Errorf("wildcard without a token: %d %s", r.status, r.body)
	}
}

func TestRESTRefusesRebindingHostsInOpenMode(t *testing.T) {
	srv := testutil.StartServer(t, withREST(false), withCORS(appOrigin), testutil.WithConfig(func(c *config.Config) {
		c.REST.LiveKitURL = "wss://rtc.example.com"
	}))
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	createAs := func(host, origin, token, room string) restReply {
		return restDo(t, srv, restCall{method: "POST", path: "/livekit/rooms", host: host, origin: origin, token: token,
			body: `{"room_name":"` + room + `"}`})
	}
	// A page on attacker.example whose name now resolves to this server: same "origin"
	// as far as the browser is concerned, no token.
	rebound := "attacker.example:" + port
	for _, origin := range []string{"", "http://" + rebound} {
		r := createAs(rebound, origin, "", "rebound")
		if r.status != 403 || r.str("code") != "HOST_NOT_ALLOWED" || !strings.Contains(r.str("error"), "attacker.example") {
			t.Errorf("rebinding host (origin %q): %d %s, want 403 HOST_NOT_ALLOWED", origin, r.status, r.body)
		}
	}
	if names := serverRooms(t, srv); len(names) != 0 {
		t.Errorf("a rebinding request created %q", names)
	}
	// This server's names: IP literals, localhost, the host of rest.livekit_url and of the
	// configured origins.
	for i, host := range []string{"127.0.0.1:" + port, "[::1]:" + port, "localhost:" + port, "LOCALHOST", "rtc.example.com", "app.example.com:443"} {
		if r := createAs(host, "", "", fmt.Sprintf("ok-%d", i)); r.status != 201 {
			t.Errorf("host %q: %d %s", host, r.status, r.body)
		}
	}
	// A tenant token is something a rebinding page cannot send: any host is fine with one.
	if r := createAs(rebound, "", tokA, "with-token"); r.status != 201 {
		t.Errorf("rebinding host with a token: %d %s", r.status, r.body)
	}
}

func TestRESTLiveKitURLIgnoresTheRequestHost(t *testing.T) {
	forged := map[string]string{"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
	issue := func(t *testing.T, srv *testutil.TestServer) string {
		t.Helper()
		r := restDo(t, srv, restCall{method: "POST", path: "/livekit/token", token: tokA, host: "evil.example", header: forged,
			body: `{"room_name":"r","participant_name":"n","participant_identity":"i"}`})
		if r.status != 200 {
			t.Fatalf("token: %d %s", r.status, r.body)
		}
		return r.str("livekit_url")
	}
	t.Run("default", func(t *testing.T) {
		srv := testutil.StartServer(t, withREST(true))
		if got := issue(t, srv); got != srv.WSURL {
			t.Errorf("livekit_url %q, want %q", got, srv.WSURL)
		}
	})
	t.Run("rtc.node_ip", func(t *testing.T) {
		srv := testutil.StartServer(t, withREST(true), testutil.WithConfig(func(c *config.Config) { c.RTC.NodeIP = "192.0.2.7" }))
		want := "ws://192.0.2.7:" + srv.URL[strings.LastIndex(srv.URL, ":")+1:]
		if got := issue(t, srv); got != want {
			t.Errorf("livekit_url %q, want %q", got, want)
		}
	})
	t.Run("rest.livekit_url", func(t *testing.T) {
		srv := testutil.StartServer(t, withREST(true), testutil.WithConfig(func(c *config.Config) { c.REST.LiveKitURL = "wss://rtc.example.com" }))
		if got := issue(t, srv); got != "wss://rtc.example.com" {
			t.Errorf("livekit_url %q", got)
		}
	})
}

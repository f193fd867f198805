package test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"

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

package test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/testutil"
)

// The bad-input catalogue: hostile inputs against every surface of a running server,
// each with the status, code and message the sender must get. A participant in another
// room stays connected throughout and must still hear the room after the last input.

// result is what a surface answered: the HTTP status, the machine code (Twirp code,
// REST code, signal RequestResponse reason) where the surface has one, and the message.
type result struct {
	status int
	code   string
	msg    string
}

type probe struct {
	name string
	call func(t *testing.T, e *catEnv) result
	want result
}

type catEnv struct {
	srv    *testutil.TestServer
	admin  string     // admin of "cat", with roomCreate, roomList and destination "cat2"
	signal *rawClient // joined to "sig"
}

// signRawClaims signs a hand-written claims object with the test key.
func signRawClaims(payload string) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, []byte(testutil.APISecret))
	mac.Write([]byte(head))
	return head + "." + enc.EncodeToString(mac.Sum(nil))
}

func signClaims(t *testing.T, claims jwt.MapClaims, method jwt.SigningMethod) string {
	key := any([]byte(testutil.APISecret))
	if method == jwt.SigningMethodNone {
		key = jwt.UnsafeAllowNoneSignatureType
	}
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// twirpCall posts to a Room service method and reads the Twirp error, if any.
func twirpCall(method, ctype, token string, body []byte, header ...string) func(*testing.T, *catEnv) result {
	return func(t *testing.T, e *catEnv) result {
		path := "/twirp/livekit.RoomService/" + method
		if strings.Contains(method, "/") { // one of Usher's own services: "usher.X/Method"
			path = "/twirp/" + method
		}
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		switch {
		case token == "$admin":
			req.Header.Set("Authorization", "Bearer "+e.admin)
		case token != "":
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(header); i += 2 {
			if header[i] == "Method" {
				req.Method = header[i+1]
				continue
			}
			req.Header.Set(header[i], header[i+1])
		}
		r := do(t, req)
		var te struct{ Code, Msg string }
		if r.status != http.StatusOK {
			if err := json.Unmarshal(r.body, &te); err != nil {
				t.Errorf("not a Twirp error body: %s", r.body)
			}
		}
		if token != "" && token != "$admin" && len(token) > 20 && strings.Contains(string(r.body), token[len(token)-20:]) {
			t.Errorf("the answer echoes the token")
		}
		return result{r.status, te.Code, te.Msg}
	}
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func pbBody(m proto.Message) []byte {
	b, _ := proto.Marshal(m)
	return b
}

// rtcCall attempts a join on /rtc and asks /rtc/validate the same question: both must
// give the same answer.
func rtcCall(token, query string) func(*testing.T, *catEnv) result {
	return func(t *testing.T, e *catEnv) result {
		status, body := rawDial(t, e.srv, token, query)
		if vs, vb := rawValidate(t, e.srv, token, query); vs != status || vb != body {
			t.Errorf("/rtc/validate answers %d %q where /rtc answers %d %q", vs, vb, status, body)
		}
		if len(token) > 20 && strings.Contains(body, token[len(token)-20:]) {
			t.Errorf("the answer echoes the token")
		}
		return result{status: status, msg: body}
	}
}

// httpCall sends a raw request and returns its status and body.
func httpCall(method, path string, body string) func(*testing.T, *catEnv) result {
	return func(t *testing.T, e *catEnv) result {
		req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return result{status: resp.StatusCode, msg: string(b)}
	}
}

func twirpProbes(t *testing.T) []probe {
	now := time.Now()
	valid := func(extra jwt.MapClaims) jwt.MapClaims {
		c := jwt.MapClaims{"iss": testutil.APIKey, "sub": "a", "exp": now.Add(time.Hour).Unix(), "video": map[string]any{"roomList": true}}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	good := signClaims(t, valid(nil), jwt.SigningMethodHS256)
	exp := fmt.Sprint(now.Add(time.Hour).Unix())
	noList := testutil.Token(t, "x", &lkauth.VideoGrant{RoomAdmin: true, Room: "cat"})
	long := strings.Repeat("n", 300)
	big := strings.Repeat("m", 70000)
	tw := func(name, method string, body []byte, status int, code, msg string) probe {
		return probe{name, twirpCall(method, "application/json", "$admin", body), result{status, code, msg}}
	}
	tok := func(name, token string, msg string) probe {
		return probe{name, twirpCall("ListRooms", "application/json", token, []byte(`{}`)), result{401, "unauthenticated", msg}}
	}
	return []probe{
		// Rooms.
		tw("CreateRoom: empty name", "CreateRoom", []byte(`{"name":""}`), 400, "invalid_argument", "room name is empty"),
		tw("CreateRoom: NUL in the name", "CreateRoom", jsonBody(map[string]any{"name": "a\x00b"}), 400, "invalid_argument", "control character"),
		tw("CreateRoom: ANSI escape in the name", "CreateRoom", jsonBody(map[string]any{"name": "\x1b[2Jroom"}), 400, "invalid_argument", "control character"),
		tw("CreateRoom: name over the limit", "CreateRoom", jsonBody(map[string]any{"name": long}), 400, "invalid_argument", "the limit is 256"),
		tw("CreateRoom: metadata over the limit", "CreateRoom", jsonBody(map[string]any{"name": "big", "metadata": big}), 400, "invalid_argument", "the limit is 64000"),
		tw("CreateRoom: playout delays reversed", "CreateRoom", []byte(`{"name":"p","min_playout_delay":500,"max_playout_delay":100}`), 400, "invalid_argument", "min_playout_delay"),
		tw("CreateRoom: egress", "CreateRoom", []byte(`{"name":"e","egress":{"room":{}}}`), 501, "unimplemented", "egress"),
		tw("CreateRoom: agents", "CreateRoom", []byte(`{"name":"e","agents":[{"agent_name":"x"}]}`), 501, "unimplemented", "agent"),
		tw("CreateRoom: room_preset", "CreateRoom", []byte(`{"name":"e","room_preset":"x"}`), 501, "unimplemented", "room_preset"),
		tw("CreateRoom: truncated JSON", "CreateRoom", []byte(`{"name":`), 400, "malformed", ""),
		tw("CreateRoom: JSON array", "CreateRoom", []byte(`[1,2]`), 400, "malformed", ""),
		tw("CreateRoom: wrong JSON type", "CreateRoom", []byte(`{"name":5}`), 400, "malformed", ""),
		tw("CreateRoom: metadata tenant in a room without one", "UpdateRoomMetadata", []byte(`{"room":"cat","metadata":"{\"auth_id\":\"t\"}"}`), 400, "invalid_argument", "belongs to no tenant"),
		{"CreateRoom: invalid UTF-8 in protobuf", twirpCall("CreateRoom", "application/protobuf", "$admin", []byte("\x0a\x02\xff\xfe")), result{400, "malformed", ""}},
		{"CreateRoom: protobuf garbage", twirpCall("CreateRoom", "application/protobuf", "$admin", []byte("\xff\xff\xff\xff")), result{400, "malformed", ""}},
		{"CreateRoom: body over 10 MiB", twirpCall("CreateRoom", "application/json", "$admin", bytes.Repeat([]byte(" "), 10<<20+1)), result{413, "resource_exhausted", "the limit is"}},
		tw("DeleteRoom: unknown room", "DeleteRoom", []byte(`{"room":"nowhere"}`), 404, "not_found", "room not found"),
		tw("DeleteRoom: empty name", "DeleteRoom", []byte(`{"room":""}`), 400, "invalid_argument", "empty"),
		tw("UpdateRoomMetadata: another room", "UpdateRoomMetadata", []byte(`{"room":"bystander","metadata":"x"}`), 403, "permission_denied", `"bystander"`),
		tw("ListParticipants: another room", "ListParticipants", []byte(`{"room":"bystander"}`), 200, "", ""),
		// Usher's own services.
		tw("usher.Moderation: reason over the limit", "usher.Moderation/BanParticipant", jsonBody(map[string]any{"room": "cat", "identity": "x", "reason": strings.Repeat("r", 600)}), 400, "invalid_argument", "the limit is 512"),
		tw("usher.Moderation: ban in another room", "usher.Moderation/BanParticipant", []byte(`{"room":"bystander","identity":"x"}`), 403, "permission_denied", `"bystander"`),
		tw("usher.Moderation: unknown field", "usher.Moderation/ListBans", []byte(`{"room":"cat","roomz":1}`), 400, "malformed", "roomz"),
		tw("usher.Audit: page_size over the limit", "usher.Audit/ListAuditEvents", []byte(`{"room":"cat","page_size":5000}`), 400, "invalid_argument", "page_size"),
		{"usher.Audit: another room, as a room's admin", twirpCall("usher.Audit/ListAuditEvents", "application/json", noList, []byte(`{"room":"bystander"}`)), result{403, "permission_denied", `"bystander"`}},
		tw("usher.Webhooks: unknown field", "usher.Webhooks/ListDeliveryStatus", []byte(`{"x":1}`), 400, "malformed", `"x"`),
		tw("usher.Presets: bad name", "usher.Presets/CreatePreset", []byte(`{"name":"a b","preset":{}}`), 400, "invalid_argument", "not a preset name"),
		tw("usher.Presets: unknown source", "usher.Presets/CreatePreset", []byte(`{"name":"ab","preset":{"can_publish_sources":["smell"]}}`), 400, "invalid_argument", `"smell"`),
		tw("usher.HostControls: bad kind", "usher.HostControls/DisableAll", []byte(`{"room":"cat","kind":"smell"}`), 400, "invalid_argument", "kind"),
		tw("usher.HostControls: 65 presets", "usher.HostControls/RemoveParticipants", jsonBody(map[string]any{"room": "cat", "presets": make([]string, 65)}), 400, "invalid_argument", "at most 64"),
		tw("usher.HostControls: another room", "usher.HostControls/Pin", []byte(`{"room":"bystander","identity":"stay"}`), 403, "permission_denied", `"bystander"`),
		tw("usher.HostControls: pin nobody", "usher.HostControls/Pin", []byte(`{"room":"cat","identity":"nobody"}`), 404, "not_found", `"nobody"`),
		tw("usher.WaitingRoom: admit nobody", "usher.WaitingRoom/Admit", []byte(`{"room":"cat","identity":"nobody"}`), 404, "not_found", `"nobody"`),
		tw("usher.WaitingRoom: admit someone not waiting", "usher.WaitingRoom/Admit", []byte(`{"room":"cat","identity":"alice"}`), 412, "failed_precondition", "not waiting"),
		tw("usher.WaitingRoom: unknown mode", "usher.WaitingRoom/SetSettings", []byte(`{"room":"cat","enabled":true,"mode":"lottery"}`), 400, "invalid_argument", "lottery"),
		tw("usher.WaitingRoom: long message", "usher.WaitingRoom/SetSettings", jsonBody(map[string]any{"room": "cat", "message": strings.Repeat("m", 1025)}), 400, "invalid_argument", "1024"),
		tw("usher.WaitingRoom: deny with a long reason", "usher.WaitingRoom/Deny", jsonBody(map[string]any{"room": "cat", "identity": "stay", "reason": strings.Repeat("r", 513)}), 400, "invalid_argument", "reason"),
		tw("usher.WaitingRoom: another room", "usher.WaitingRoom/AdmitAll", []byte(`{"room":"bystander"}`), 403, "permission_denied", `"bystander"`),
		tw("usher.WaitingRoom: unknown field", "usher.WaitingRoom/ListWaiting", []byte(`{"room":"cat","all":true}`), 400, "malformed", "all"),
		tw("usher service: unknown method", "usher.HostControls/Explode", []byte(`{}`), 404, "bad_route", "Explode"),
		{"usher service: protobuf", twirpCall("usher.Audit/ListAuditEvents", "application/protobuf", "$admin", []byte{0x0a, 0x01, 'x'}), result{404, "bad_route", "application/json"}},
		// Routing.
		{"text/plain content type", twirpCall("ListRooms", "text/plain", "$admin", []byte(`{}`)), result{404, "bad_route", ""}},
		{"no content type", twirpCall("ListRooms", "", "$admin", []byte(`{}`)), result{404, "bad_route", ""}},
		{"GET on a method", twirpCall("ListRooms", "application/json", "$admin", nil, "Method", "GET"), result{404, "bad_route", "POST"}},
		{"unknown method", twirpCall("Nope", "application/json", "$admin", []byte(`{}`)), result{404, "bad_route", ""}},
		{"empty method", twirpCall("", "application/json", "$admin", []byte(`{}`)), result{404, "bad_route", ""}},
		{"double slash before the method", twirpCall("/CreateRoom", "application/json", "$admin", []byte(`{"name":"x"}`)), result{404, "bad_route", "canonical"}},
		{"dot segment before the method", twirpCall("./CreateRoom", "application/json", "$admin", []byte(`{"name":"x"}`)), result{404, "bad_route", "canonical"}},
		{"dot-dot segment", twirpCall("x/../CreateRoom", "application/json", "$admin", []byte(`{"name":"x"}`)), result{404, "bad_route", "canonical"}},
		{"trailing slash", twirpCall("CreateRoom/", "application/json", "$admin", []byte(`{"name":"x"}`)), result{404, "bad_route", ""}},
		{"bad X-Twirp-Timeout-Ms", twirpCall("ListRooms", "application/json", "$admin", []byte(`{}`), "X-Twirp-Timeout-Ms", "soon"), result{400, "malformed", "X-Twirp-Timeout-Ms"}},
		{"negative X-Twirp-Timeout-Ms", twirpCall("ListRooms", "application/json", "$admin", []byte(`{}`), "X-Twirp-Timeout-Ms", "-5"), result{400, "malformed", "X-Twirp-Timeout-Ms"}},
		// Tokens.
		{"no token", twirpCall("ListRooms", "application/json", "", []byte(`{}`)), result{401, "unauthenticated", "no access token"}},
		{"Basic authorization", twirpCall("ListRooms", "application/json", "", []byte(`{}`), "Authorization", "Basic YTpi"), result{401, "unauthenticated", "Bearer"}},
		tok("junk token", "not-a-token", "three dot-separated parts"),
		tok("token with empty parts", "..", "empty"),
		tok("expired token", signClaims(t, valid(jwt.MapClaims{"exp": now.Add(-2 * time.Minute).Unix()}), jwt.SigningMethodHS256), "expired"),
		tok("token not valid yet", signClaims(t, valid(jwt.MapClaims{"nbf": now.Add(10 * time.Minute).Unix()}), jwt.SigningMethodHS256), "not valid yet"),
		tok("token without exp", signClaims(t, valid(jwt.MapClaims{"exp": nil}), jwt.SigningMethodHS256), "no expiry"),
		tok("token of an unknown key", signClaims(t, valid(jwt.MapClaims{"iss": "APIstranger"}), jwt.SigningMethodHS256), "unknown API key"),
		tok("token without issuer", signClaims(t, valid(jwt.MapClaims{"iss": nil}), jwt.SigningMethodHS256), "issuer"),
		tok("token signed with another secret", lkToken(t, "wrong-secret-wrong-secret-wrong-secret"), "signature is invalid"),
		tok("alg none", signClaims(t, valid(nil), jwt.SigningMethodNone)+"AAAA", "HS256"),
		tok("alg HS512", signClaims(t, valid(nil), jwt.SigningMethodHS512), "HS256"),
		tok("re-spelled signature", flipSignatureBits(t, good), "canonical"),
		tok("padded signature", good+"=", "canonical"),
		tok("standard base64 alphabet", strings.NewReplacer("_", "/", "-", "+").Replace(good)+"+", "canonical"),
		tok("exp of 1e300", signRawClaims(`{"iss":"`+testutil.APIKey+`","sub":"a","exp":1e300}`), `claim "exp"`),
		tok("exp as a string", signRawClaims(`{"iss":"`+testutil.APIKey+`","sub":"a","exp":"soon"}`), `claim "exp"`),
		tok("video grant as a string", signRawClaims(`{"iss":"`+testutil.APIKey+`","sub":"a","exp":`+exp+`,"video":"all"}`), `claim "video"`),
		tok("grant flag as a string", signRawClaims(`{"iss":"`+testutil.APIKey+`","sub":"a","exp":`+exp+`,"video":{"roomList":"yes"}}`), `claim "video.roomList"`),
		tok("duplicate claim", signRawClaims(`{"iss":"`+testutil.APIKey+`","sub":"a","exp":`+exp+`,"exp":9999999999}`), "appears twice"),
		tok("claims are an array", signRawClaims(`[]`), "not a JSON object"),
		tok("token over 16 KiB", good+strings.Repeat("A", 17<<10), "longer than"),
		// Grants.
		{"ListRooms without roomList", twirpCall("ListRooms", "application/json", noList, []byte(`{}`)), result{403, "permission_denied", "roomList"}},
		{"DeleteRoom without roomCreate", twirpCall("DeleteRoom", "application/json", noList, []byte(`{"room":"cat"}`)), result{403, "permission_denied", "roomCreate"}},
		{"RemoveParticipant in another room", twirpCall("RemoveParticipant", "application/json", noList, []byte(`{"room":"bystander","identity":"stay"}`)), result{403, "permission_denied", `"bystander"`}},
		tw("MoveParticipant without the destination grant", "MoveParticipant", []byte(`{"room":"cat","identity":"alice","destination_room":"bystander"}`), 403, "permission_denied", "destinationRoom"),
		// Participants.
		tw("GetParticipant: unknown identity", "GetParticipant", []byte(`{"room":"cat","identity":"nobody"}`), 404, "not_found", "nobody"),
		tw("GetParticipant: empty identity", "GetParticipant", []byte(`{"room":"cat","identity":""}`), 400, "invalid_argument", "identity is empty"),
		tw("RemoveParticipant: identity over the limit", "RemoveParticipant", jsonBody(map[string]any{"room": "cat", "identity": long}), 400, "invalid_argument", "the limit is 256"),
		tw("MutePublishedTrack: no track", "MutePublishedTrack", []byte(`{"room":"cat","identity":"alice","muted":true}`), 400, "invalid_argument", "track_sid"),
		tw("MutePublishedTrack: unknown track", "MutePublishedTrack", []byte(`{"room":"cat","identity":"alice","track_sid":"TR_nope","muted":true}`), 404, "not_found", "TR_nope"),
		tw("MutePublishedTrack: remote unmute", "MutePublishedTrack", []byte(`{"room":"cat","identity":"alice","track_sid":"TR_nope","muted":false}`), 412, "failed_precondition", "enable_remote_unmute"),
		tw("UpdateParticipant: nothing to change", "UpdateParticipant", []byte(`{"room":"cat","identity":"alice"}`), 400, "invalid_argument", "at least one"),
		tw("UpdateParticipant: NUL in the name", "UpdateParticipant", jsonBody(map[string]any{"room": "cat", "identity": "alice", "name": "a\x00"}), 400, "invalid_argument", "control character"),
		tw("UpdateParticipant: ANSI escape in the name", "UpdateParticipant", jsonBody(map[string]any{"room": "cat", "identity": "alice", "name": "\x1b[31mred"}), 400, "invalid_argument", "control character"),
		tw("UpdateParticipant: name over the limit", "UpdateParticipant", jsonBody(map[string]any{"room": "cat", "identity": "alice", "name": long}), 400, "invalid_argument", "the limit is 256"),
		tw("UpdateParticipant: metadata over the limit", "UpdateParticipant", jsonBody(map[string]any{"room": "cat", "identity": "alice", "metadata": big}), 400, "invalid_argument", "the limit is 64000"),
		tw("UpdateParticipant: attributes over the limit", "UpdateParticipant", jsonBody(map[string]any{"room": "cat", "identity": "alice", "attributes": map[string]string{"k": big}}), 400, "invalid_argument", "the limit is 64000"),
		tw("UpdateParticipant: empty attribute key", "UpdateParticipant", []byte(`{"room":"cat","identity":"alice","attributes":{"":"x"}}`), 400, "invalid_argument", "key is empty"),
		tw("UpdateParticipant: source that does not exist", "UpdateParticipant", []byte(`{"room":"cat","identity":"alice","permission":{"can_publish":true,"can_publish_sources":[42]}}`), 400, "invalid_argument", "can_publish_sources"),
		tw("UpdateParticipant: UNKNOWN source", "UpdateParticipant", []byte(`{"room":"cat","identity":"alice","permission":{"can_publish":true,"can_publish_sources":["UNKNOWN"]}}`), 400, "invalid_argument", "can_publish_sources"),
		tw("UpdateParticipant: a source twice", "UpdateParticipant", []byte(`{"room":"cat","identity":"alice","permission":{"can_publish":true,"can_publish_sources":["CAMERA","CAMERA"]}}`), 400, "invalid_argument", "twice"),
		tw("UpdateSubscriptions: nothing named", "UpdateSubscriptions", []byte(`{"room":"cat","identity":"alice","subscribe":true}`), 400, "invalid_argument", "track_sids"),
		tw("UpdateSubscriptions: unknown track", "UpdateSubscriptions", []byte(`{"room":"cat","identity":"alice","track_sids":["TR_x"],"subscribe":true}`), 404, "not_found", "TR_x"),
		tw("SendData: empty", "SendData", []byte(`{"room":"cat","kind":"RELIABLE"}`), 400, "invalid_argument", "data is empty"),
		tw("SendData: short nonce", "SendData", []byte(`{"room":"cat","data":"aGk=","nonce":"AAEC"}`), 400, "invalid_argument", "nonce"),
		tw("SendData: topic over the limit", "SendData", jsonBody(map[string]any{"room": "cat", "data": "aGk=", "topic": long}), 400, "invalid_argument", "topic"),
		tw("SendData: over 64 KiB", "SendData", jsonBody(map[string]any{"room": "cat", "data": base64.StdEncoding.EncodeToString(make([]byte, 70000))}), 400, "invalid_argument", "the limit is 65536"),
		tw("SendData: unknown kind", "SendData", []byte(`{"room":"cat","data":"aGk=","kind":7}`), 400, "invalid_argument", "kind"),
		tw("SendData: destination nobody", "SendData", []byte(`{"room":"cat","data":"aGk=","destination_identities":["ghost"]}`), 404, "not_found", "ghost"),
		tw("ListRooms: 2000 names", "ListRooms", jsonBody(map[string]any{"names": make([]string, 2000)}), 400, "invalid_argument", "names has 2000 entries; the limit is 1024"),
		tw("UpdateSubscriptions: 2000 tracks", "UpdateSubscriptions", jsonBody(map[string]any{"room": "cat", "identity": "alice", "track_sids": make([]string, 2000), "subscribe": true}), 400, "invalid_argument", "the limit is 1024"),
		tw("SendData: 2000 destinations", "SendData", jsonBody(map[string]any{"room": "cat", "data": "aGk=", "destination_identities": make([]string, 2000)}), 400, "invalid_argument", "destination_identities has 2000 entries"),
		tw("MoveParticipant: unknown participant", "MoveParticipant", []byte(`{"room":"cat","identity":"ghost","destination_room":"cat2"}`), 404, "not_found", "ghost"),
		tw("ForwardParticipant: unknown participant", "ForwardParticipant", []byte(`{"room":"cat","identity":"ghost","destination_room":"cat2"}`), 404, "not_found", "ghost"),
		tw("PerformRpc", "PerformRpc", []byte(`{"room":"cat","destination_identity":"alice","method":"x"}`), 501, "unimplemented", "PerformRpc"),
	}
}

// lkToken signs a roomList token with another secret.
func lkToken(t *testing.T, secret string) string {
	tok, err := lkauth.NewAccessToken(testutil.APIKey, secret).SetIdentity("x").SetValidFor(time.Hour).
		SetVideoGrant(&lkauth.VideoGrant{RoomList: true}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func rtcProbes(t *testing.T) []probe {
	join := func(identity string, opts ...testutil.JoinOption) string {
		return testutil.JoinToken(t, "cat", identity, opts...)
	}
	now := time.Now()
	claims := func(extra string) string {
		return signRawClaims(`{"iss":"` + testutil.APIKey + `","iat":` + fmt.Sprint(now.Unix()) + `,"exp":` + fmt.Sprint(now.Add(time.Hour).Unix()) + extra + `}`)
	}
	noIssueTime := signRawClaims(`{"iss":"` + testutil.APIKey + `","sub":"a","exp":` + fmt.Sprint(now.Add(time.Hour).Unix()) + `,"video":{"roomJoin":true,"room":"cat"}}`)
	tooLong := signRawClaims(`{"iss":"` + testutil.APIKey + `","sub":"a","nbf":` + fmt.Sprint(now.Unix()) + `,"exp":` + fmt.Sprint(now.Add(200*time.Hour).Unix()) + `,"video":{"roomJoin":true,"room":"cat"}}`)
	rtc := func(name, token, query string, status int, msg string) probe {
		return probe{name, rtcCall(token, query), result{status: status, msg: msg}}
	}
	good := join("joiner")
	return []probe{
		rtc("join without a token", "", "", 401, "no access token"),
		rtc("join with a junk token", "junk", "", 401, "malformed"),
		rtc("join with a re-spelled token", flipSignatureBits(t, good), "", 401, "canonical"),
		rtc("join without roomJoin", testutil.Token(t, "x", &lkauth.VideoGrant{RoomAdmin: true, Room: "cat"}), "", 403, "roomJoin"),
		rtc("join with roomJoin but no room", testutil.Token(t, "x", &lkauth.VideoGrant{RoomJoin: true}), "", 403, "roomJoin"),
		rtc("token without iat or nbf", noIssueTime, "", 401, "neither an issue time (iat) nor a not-before time (nbf)"),
		rtc("token living longer than auth.max_token_lifetime", tooLong, "", 401, "longer than auth.max_token_lifetime (168h0m0s) allows"),
		rtc("identity with NUL", claims(`,"sub":"a\u0000b","video":{"roomJoin":true,"room":"cat"}`), "", 400, "control character"),
		rtc("identity with an ANSI escape", claims(`,"sub":"\u001b[31ma","video":{"roomJoin":true,"room":"cat"}`), "", 400, "control character"),
		rtc("identity over the limit", claims(`,"sub":"`+strings.Repeat("i", 300)+`","video":{"roomJoin":true,"room":"cat"}`), "", 400, "the limit is 256"),
		rtc("no identity", claims(`,"video":{"roomJoin":true,"room":"cat"}`), "", 400, "identity is empty"),
		rtc("identity usher (the host controls' address)", join("usher"), "", 400, `identity "usher" is reserved`),
		rtc("token naming an unknown preset", join("p", testutil.WithAttributes(map[string]string{"usher.preset": "admiral"})), "", 403, `preset "admiral" is not defined`),
		rtc("join setting a reserved attribute", join("p", testutil.WithGrant(&lkauth.VideoGrant{CanUpdateOwnMetadata: ptr(true)})),
			"attributes="+base64.StdEncoding.EncodeToString([]byte(`{"usher.preset":"host"}`)), 403, `attribute "usher.preset" is reserved`),
		rtc("name with an ANSI escape", join("n", testutil.WithName("\x1b[2Jn")), "", 400, "control character"),
		rtc("name over the limit", join("n", testutil.WithName(strings.Repeat("n", 300))), "", 400, "the limit is 256"),
		rtc("token headers over 64 KiB", join("m", testutil.WithMetadata(strings.Repeat("m", 70000))), "", 431, "Request Header Fields Too Large"),
		rtc("join token over 16 KiB", join("a", testutil.WithAttributes(map[string]string{"k": strings.Repeat("v", 20000)})), "", 401, "longer than"),
		rtc("room name with NUL", claims(`,"sub":"r","video":{"roomJoin":true,"room":"c\u0000t"}`), "", 400, "control character"),
		rtc("auto_subscribe neither true nor false", good, "auto_subscribe=maybe", 400, "auto_subscribe"),
		rtc("reconnect neither true nor false", good, "reconnect=2", 400, "reconnect"),
		rtc("negative protocol", good, "protocol=-1", 400, "protocol"),
		rtc("protocol not a number", good, "protocol=seventeen", 400, "protocol"),
		rtc("join_request not base64", good, "join_request=%21%21", 400, "join_request"),
		rtc("join_request not a protobuf", good, "join_request="+base64.RawURLEncoding.EncodeToString([]byte("\xff\xff\xff")), 400, "join_request"),
		rtc("join_request with unknown compression", good, "join_request="+base64.RawURLEncoding.EncodeToString(pbBody(&livekit.WrappedJoinRequest{Compression: 9})), 400, "compression"),
		rtc("join_request that is not gzip", good, "join_request="+base64.RawURLEncoding.EncodeToString(pbBody(&livekit.WrappedJoinRequest{Compression: livekit.WrappedJoinRequest_GZIP, JoinRequest: []byte("plain")})), 400, "gzip"),
		rtc("join_request with an answer for an offer", good, "join_request="+base64.RawURLEncoding.EncodeToString(pbBody(&livekit.WrappedJoinRequest{JoinRequest: pbBody(&livekit.JoinRequest{PublisherOffer: &livekit.SessionDescription{Type: "answer", Sdp: "v=0"}})})), 400, "offer"),
		{"POST on /rtc", httpCall(http.MethodPost, "/rtc?access_token="+url.QueryEscape(good), ""), result{status: 405, msg: "GET"}},
		{"GET on /rtc without an upgrade", httpCall(http.MethodGet, "/rtc?access_token="+url.QueryEscape(good), ""), result{status: 400, msg: "WebSocket"}},
		{"POST on /rtc/validate", httpCall(http.MethodPost, "/rtc/validate", ""), result{status: 405, msg: "method not allowed"}},
		{"unknown /rtc path", httpCall(http.MethodGet, "/rtc/nope", ""), result{status: 404, msg: "not found"}},
		{"non-canonical path", httpCall(http.MethodGet, "/rtc//validate", ""), result{status: 404, msg: "not found"}},
	}
}

func TestBadInputCatalogue(t *testing.T) {
	srv := testutil.StartServer(t, withREST(true))
	rc := srv.RoomClient()
	for _, name := range []string{"cat", "cat2", "bystander"} {
		if _, err := rc.CreateRoom(ctx10(t), &livekit.CreateRoomRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ tok, room string }{{tokA, "acat"}, {tokB, "bcat"}} {
		if r := rest(t, srv, "POST", "/livekit/rooms", c.tok, `{"room_name":"`+c.room+`"}`); r.status != http.StatusCreated {
			t.Fatalf("creating %s: %d %s", c.room, r.status, r.body)
		}
	}
	stay := srv.Join(t, "bystander", "stay")
	srv.Join(t, "acat", "ann")
	srv.Join(t, "cat", "alice")
	e := &catEnv{srv: srv, admin: testutil.Token(t, "admin", &lkauth.VideoGrant{
		RoomCreate: true, RoomList: true, RoomAdmin: true, Room: "cat", DestinationRoom: "cat2",
	})}

	e.signal = joined(t, srv, "sig", "raw")

	var probes []probe
	probes = append(probes, twirpProbes(t)...)
	probes = append(probes, rtcProbes(t)...)
	probes = append(probes, restProbes(t)...)
	probes = append(probes, signalProbes(t)...)
	if len(probes) < 100 {
		t.Errorf("the catalogue has %d inputs; it must keep at least 100", len(probes))
	}
	seen := map[string]bool{}
	for _, p := range probes {
		if seen[p.name] {
			t.Errorf("two probes are called %q", p.name)
		}
		seen[p.name] = true
		t.Run(p.name, func(t *testing.T) {
			got := p.call(t, e)
			if got.status != p.want.status || got.code != p.want.code || !strings.Contains(got.msg, p.want.msg) {
				t.Errorf("got %d %q %q, want %d %q containing %q", got.status, got.code, truncate(got.msg), p.want.status, p.want.code, p.want.msg)
			}
		})
	}

	// The participant in the other room never noticed: it is still connected, and the
	// room's next change reaches it.
	if err := srv.RoomClientUpdateRoomMetadata(t, "bystander", "after the catalogue"); err != nil {
		t.Fatal(err)
	}
	if _, ok := stay.Await(10*time.Second, func(ev testutil.Event) bool { return ev.Kind == "room_metadata" && ev.Detail == "after the catalogue" }); !ok {
		t.Fatalf("the bystander did not hear its room after the catalogue; it saw %v", stay.Events())
	}
	if stay.Has("disconnected", "") || stay.Has("reconnecting", "") {
		t.Fatalf("the bystander lost its connection: %v", stay.Events())
	}
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// restProbe sends one gateway request (checked against the OpenAPI document) and
// reads its {"error","code"} body.
func restProbe(name string, c restCall, status int, code, msg string) probe {
	return probe{name, func(t *testing.T, e *catEnv) result {
		r := restDo(t, e.srv, c)
		if c.token != "" && strings.Contains(string(r.body), c.token) {
			t.Errorf("the answer echoes the API token")
		}
		return result{r.status, r.str("code"), r.str("error")}
	}, result{status, code, msg}}
}

func restProbes(t *testing.T) []probe {
	tokenBody := func(extra string) string {
		return `{"room_name":"acat","participant_name":"N","participant_identity":"n"` + extra + `}`
	}
	post := func(name, path, body string, status int, code, msg string) probe {
		return restProbe(name, restCall{method: "POST", path: path, token: tokA, body: body}, status, code, msg)
	}
	bad := func(name, path, body, msg string) probe { return post(name, path, body, 400, "INVALID_REQUEST", msg) }
	return []probe{
		bad("REST token: ttl that overflows", "/livekit/token", tokenBody(`,"ttl":9223372037`), "ttl"),
		bad("REST token: negative ttl", "/livekit/token", tokenBody(`,"ttl":-1`), "ttl"),
		bad("REST token: ttl over the maximum", "/livekit/token", tokenBody(`,"ttl":86401`), "ttl"),
		bad("REST token: identity with a control character", "/livekit/token", `{"room_name":"acat","participant_name":"N","participant_identity":"a\u0007b"}`, "control character"),
		bad("REST token: identity of 500 KB", "/livekit/token", `{"room_name":"acat","participant_name":"N","participant_identity":"`+strings.Repeat("i", 500<<10)+`"}`, "the limit is 256"),
		bad("REST token: metadata of 900 KB", "/livekit/token", tokenBody(`,"metadata":"`+strings.Repeat("m", 900<<10)+`"`), "the limit is 64000"),
		bad("REST token: name with an ANSI escape", "/livekit/token", `{"room_name":"acat","participant_name":"\u001b[31mN","participant_identity":"n"}`, "control character"),
		bad("REST token: room name with NUL", "/livekit/token", `{"room_name":"a\u0000b","participant_name":"N","participant_identity":"n"}`, "control character"),
		bad("REST token: unknown source", "/livekit/token", tokenBody(`,"permission":{"can_publish_sources":["webcam"]}`), "can_publish_sources"),
		bad("REST token: room_name twice", "/livekit/token", `{"room_name":"acat","room_name":"other","participant_name":"N","participant_identity":"n"}`, "duplicate key"),
		bad("REST token: ROOM_NAME in capitals", "/livekit/token", `{"ROOM_NAME":"acat","participant_name":"N","participant_identity":"n"}`, "ROOM_NAME"),
		bad("REST token: nested key twice", "/livekit/token", tokenBody(`,"permission":{"hidden":false,"hidden":true}`), "duplicate key"),
		bad("REST token: unknown field", "/livekit/token", tokenBody(`,"admin":true`), "unknown field"),
		bad("REST token: data after the object", "/livekit/token", tokenBody(``)+`{}`, "after"),
		bad("REST token: a JSON array", "/livekit/token", `[]`, "JSON object"),
		bad("REST token: empty body", "/livekit/token", ``, "JSON object"),
		bad("REST token: wrong type", "/livekit/token", `{"room_name":5}`, "room_name"),
		post("REST token: body over 1 MiB", "/livekit/token", tokenBody(`,"metadata":"`+strings.Repeat("m", 1<<20)+`"`), 413, "PAYLOAD_TOO_LARGE", "limit"),
		post("REST token: a room of another tenant", "/livekit/token", `{"room_name":"bcat","participant_name":"N","participant_identity":"n"}`, 403, "ROOM_ACCESS_DENIED", "another tenant"),
		bad("REST mute: muted missing", "/livekit/participant/mute", `{"room_name":"acat","participant_identity":"n","track_sid":"TR_x"}`, "muted"),
		bad("REST ban: no identity", "/livekit/bans", `{"room_name":"acat"}`, "participant_identity is required"),
		bad("REST ban: reason of 600 bytes", "/livekit/bans", `{"room_name":"acat","participant_identity":"n","reason":"`+strings.Repeat("r", 600)+`"}`, "the limit is 512"),
		bad("REST ban: negative duration", "/livekit/bans", `{"participant_identity":"n","duration_seconds":-5}`, "duration_seconds"),
		bad("REST ban: duration as a string", "/livekit/bans", `{"participant_identity":"n","duration_seconds":"1h"}`, "duration_seconds"),
		bad("REST ban: identity with a control character", "/livekit/bans", `{"participant_identity":"a\u0007b"}`, "control character"),
		restProbe("REST ban list: unknown parameter", restCall{method: "GET", path: "/livekit/bans?room=acat", token: tokA}, 400, "INVALID_REQUEST", `"room"`),
		restProbe("REST ban list: junk page token", restCall{method: "GET", path: "/livekit/bans?page_token=%25%25", token: tokA}, 400, "INVALID_REQUEST", "page_token"),
		restProbe("REST ban lift: no such ban", restCall{method: "DELETE", path: "/livekit/bans", token: tokA, body: `{"participant_identity":"nobody"}`}, 404, "BAN_NOT_FOUND", `"nobody" is not banned from every room of tenant "tenant-a"`),
		bad("REST disable: unknown kind", "/livekit/participants/disable", `{"room_name":"acat","kind":"smell","allow_unmute":true}`, `kind must be "audio" or "video"`),
		bad("REST disable: allow_unmute missing", "/livekit/participants/disable", `{"room_name":"acat","kind":"audio"}`, "allow_unmute is required"),
		bad("REST disable: 65 presets", "/livekit/participants/disable", string(jsonBody(map[string]any{"room_name": "acat", "kind": "audio", "allow_unmute": true, "presets": strings.Split(strings.Repeat("p,", 64)+"p", ",")})), "at most 64"),
		bad("REST disable: an undefined preset", "/livekit/participants/disable", `{"room_name":"acat","kind":"audio","allow_unmute":true,"except_presets":["ghost"]}`, `preset "ghost" is not defined`),
		post("REST disable: a foreign room", "/livekit/participants/disable", `{"room_name":"bcat","kind":"audio","allow_unmute":false}`, 404, "ROOM_NOT_FOUND", "bcat"),
		bad("REST bulk remove: presets as a string", "/livekit/participants/remove", `{"room_name":"acat","presets":"all"}`, `field "presets" must be an array`),
		bad("REST bulk remove: not a preset name", "/livekit/participants/remove", `{"room_name":"acat","except_presets":["a\u0000b"]}`, "not a preset name"),
		post("REST bulk remove: a foreign room", "/livekit/participants/remove", `{"room_name":"bcat","except_hosts":true}`, 404, "ROOM_NOT_FOUND", "bcat"),
		bad("REST enable: no kind", "/livekit/participant/enable", `{"room_name":"acat","participant_identity":"ann"}`, "kind is required"),
		post("REST pin: nobody", "/livekit/participant/pin", `{"room_name":"acat","participant_identity":"nobody"}`, 404, "PARTICIPANT_NOT_FOUND", `"nobody"`),
		post("REST unpin: a foreign room", "/livekit/participant/unpin", `{"room_name":"bcat","participant_identity":"b"}`, 404, "ROOM_NOT_FOUND", "bcat"),
		restProbe("REST waiting list: no room", restCall{method: "GET", path: "/livekit/waiting", token: tokA}, 400, "INVALID_REQUEST", "room_name is required"),
		restProbe("REST waiting list: unknown parameter", restCall{method: "GET", path: "/livekit/waiting?room_name=acat&identity=ann", token: tokA}, 400, "INVALID_REQUEST", `unknown query parameter "identity"`),
		restProbe("REST waiting list: a foreign room", restCall{method: "GET", path: "/livekit/waiting?room_name=bcat", token: tokA}, 404, "ROOM_NOT_FOUND", "bcat"),
		post("REST admit: in the session, not waiting", "/livekit/waiting/admit", `{"room_name":"acat","participant_identity":"ann"}`, 412, "NOT_WAITING", `"ann" is not waiting`),
		post("REST admit: nobody", "/livekit/waiting/admit", `{"room_name":"acat","participant_identity":"nobody"}`, 404, "PARTICIPANT_NOT_FOUND", `"nobody"`),
		bad("REST admit: a reason", "/livekit/waiting/admit", `{"room_name":"acat","participant_identity":"ann","reason":"x"}`, `unknown field "reason"`),
		bad("REST admit all: no room", "/livekit/waiting/admit_all", `{"room_name":""}`, "room_name is required"),
		post("REST admit all: a foreign room", "/livekit/waiting/admit_all", `{"room_name":"bcat"}`, 404, "ROOM_NOT_FOUND", "bcat"),
		bad("REST deny: reason of 600 bytes", "/livekit/waiting/deny", `{"room_name":"acat","participant_identity":"ann","reason":"`+strings.Repeat("r", 600)+`"}`, "the limit is 512"),
		bad("REST deny: reason with an ANSI escape", "/livekit/waiting/deny", `{"room_name":"acat","participant_identity":"ann","reason":"\u001b[2J"}`, "control character"),
		post("REST deny: a foreign room", "/livekit/waiting/deny", `{"room_name":"bcat","participant_identity":"b"}`, 404, "ROOM_NOT_FOUND", "bcat"),
		restProbe("REST waiting settings: a foreign room", restCall{method: "GET", path: "/livekit/waiting/settings?room_name=bcat", token: tokA}, 404, "ROOM_NOT_FOUND", "bcat"),
		restProbe("REST waiting settings: no enabled", restCall{method: "PUT", path: "/livekit/waiting/settings", token: tokA, body: `{"room_name":"acat"}`}, 400, "INVALID_REQUEST", "enabled is required"),
		restProbe("REST waiting settings: unknown mode", restCall{method: "PUT", path: "/livekit/waiting/settings", token: tokA, body: `{"room_name":"acat","enabled":true,"mode":"lottery"}`}, 400, "INVALID_REQUEST", `mode "lottery"`),
		restProbe("REST waiting settings: message of 1100 bytes", restCall{method: "PUT", path: "/livekit/waiting/settings", token: tokA, body: `{"room_name":"acat","enabled":true,"message":"` + strings.Repeat("m", 1100) + `"}`}, 400, "INVALID_REQUEST", "the limit is 1024"),
		restProbe("REST waiting settings: a foreign room's", restCall{method: "PUT", path: "/livekit/waiting/settings", token: tokA, body: `{"room_name":"bcat","enabled":true}`}, 404, "ROOM_NOT_FOUND", "bcat"),
		post("REST presets: a tenant creates one", "/livekit/presets", `{"name":"mine","host":{"end_session":true}}`, 403, "OPERATOR_ONLY", "operator"),
		restProbe("REST presets: a tenant updates one", restCall{method: "PUT", path: "/livekit/presets/mine", token: tokA, body: `{}`}, 403, "OPERATOR_ONLY", "operator"),
		restProbe("REST presets: a tenant deletes one", restCall{method: "DELETE", path: "/livekit/presets/mine", token: tokA}, 403, "OPERATOR_ONLY", "operator"),
		restProbe("REST presets: an unknown preset", restCall{method: "GET", path: "/livekit/presets/ghost", token: tokA}, 404, "PRESET_NOT_FOUND", `"ghost"`),
		restProbe("REST presets: PATCH", restCall{method: "PATCH", path: "/livekit/presets/ghost", token: tokA, body: `{}`}, 405, "METHOD_NOT_ALLOWED", "PUT"),
		bad("REST update: name with an ANSI escape", "/livekit/participant/update", `{"room_name":"acat","participant_identity":"ann","name":"\u001b[2J"}`, "control character"),
		restProbe("REST: no API token", restCall{method: "GET", path: "/livekit/rooms"}, 401, "UNAUTHORIZED", "API token"),
		restProbe("REST: unknown API token", restCall{method: "GET", path: "/livekit/rooms", token: "nobody-0123456789abcdef"}, 401, "UNAUTHORIZED", "not valid"),
		restProbe("REST: Basic authorization", restCall{method: "GET", path: "/livekit/rooms", header: map[string]string{"Authorization": "Basic YTpi"}}, 401, "UNAUTHORIZED", "Bearer"),
		restProbe("REST: a foreign room", restCall{method: "GET", path: "/livekit/rooms/bcat", token: tokA}, 404, "ROOM_NOT_FOUND", "bcat"),
		restProbe("REST: delete a foreign room", restCall{method: "DELETE", path: "/livekit/rooms/bcat", token: tokA}, 404, "ROOM_NOT_FOUND", "bcat"),
		restProbe("REST: remove from a foreign room", restCall{method: "DELETE", path: "/livekit/participant", token: tokA, body: `{"room_name":"bcat","participant_identity":"b"}`}, 404, "ROOM_NOT_FOUND", "bcat"),
		restProbe("REST: cross-origin request", restCall{method: "POST", path: "/livekit/token", token: tokA, body: tokenBody(``), origin: "https://evil.example"}, 403, "ORIGIN_NOT_ALLOWED", "evil.example"),
		restProbe("REST: cross-origin simple request", restCall{method: "POST", path: "/livekit/participant/mute", token: tokA, contentType: "text/plain", body: `{}`, origin: "https://evil.example"}, 403, "ORIGIN_NOT_ALLOWED", "evil.example"),
		restProbe("REST: cross-origin preflight", restCall{method: "OPTIONS", path: "/livekit/participant", origin: "https://evil.example", header: map[string]string{"Access-Control-Request-Method": "DELETE"}}, 403, "ORIGIN_NOT_ALLOWED", "evil.example"),
		restProbe("REST: null origin", restCall{method: "GET", path: "/livekit/rooms", token: tokA, origin: "null"}, 403, "ORIGIN_NOT_ALLOWED", "null"),
		restProbe("REST: unknown endpoint", restCall{method: "GET", path: "/livekit/nope", token: tokA}, 404, "NOT_FOUND", "no endpoint"),
		restProbe("REST: wrong method", restCall{method: "PUT", path: "/livekit/rooms", token: tokA}, 405, "METHOD_NOT_ALLOWED", "PUT"),
		restProbe("REST: non-canonical path", restCall{method: "GET", path: "/livekit//rooms", token: tokA}, 404, "NOT_FOUND", "canonical"),
	}
}

// signalCall sends one frame on a joined raw signal connection, then a ping. The
// answer is the RequestResponse that arrives before the pong, if any; status 101 says
// the connection is still up (the pong came).
func signalCall(frame func(t *testing.T) (int, []byte)) func(*testing.T, *catEnv) result {
	return func(t *testing.T, e *catEnv) result {
		c := e.signal
		c.t = t
		mt, data := frame(t)
		c.writeMu.Lock()
		err := c.ws.WriteMessage(mt, data)
		c.writeMu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		ts := time.Now().UnixNano()
		c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_PingReq{PingReq: &livekit.Ping{Timestamp: ts}}})
		var out result
		c.await(5*time.Second, "pong_resp", func(r *livekit.SignalResponse) bool {
			if rr := r.GetRequestResponse(); rr != nil {
				out.code, out.msg = rr.Reason.String(), rr.Message
			}
			return r.GetPongResp().GetLastPingTimestamp() == ts
		})
		out.status = http.StatusSwitchingProtocols
		return out
	}
}

func binaryFrame(req *livekit.SignalRequest) func(*testing.T) (int, []byte) {
	return func(*testing.T) (int, []byte) { return websocket.BinaryMessage, pbBody(req) }
}

func rawFrame(mt int, data []byte) func(*testing.T) (int, []byte) {
	return func(*testing.T) (int, []byte) { return mt, data }
}

func signalProbes(t *testing.T) []probe {
	sig := func(name string, req *livekit.SignalRequest, code, msg string) probe {
		return probe{name, signalCall(binaryFrame(req)), result{http.StatusSwitchingProtocols, code, msg}}
	}
	addTrack := func(r *livekit.AddTrackRequest) *livekit.SignalRequest {
		return &livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: r}}
	}
	features := make([]livekit.AudioTrackFeature, 20)
	codecs := make([]*livekit.SimulcastCodec, 5)
	for i := range codecs {
		codecs[i] = &livekit.SimulcastCodec{Codec: "video/VP8", Cid: fmt.Sprint("c", i)}
	}
	sids := make([]string, 5000)
	for i := range sids {
		sids[i] = fmt.Sprint("TR_", i)
	}
	attrs := map[string]string{}
	for i := range 2000 {
		attrs[fmt.Sprint("k", i)] = "v"
	}
	return []probe{
		sig("signal: add_track with 28000 layers", addTrack(&livekit.AddTrackRequest{Cid: "flood", Type: livekit.TrackType_VIDEO, Layers: floodLayers(28000)}),
			"LIMIT_EXCEEDED", "has 28000 elements; the limit is 4"),
		sig("signal: add_track with 5 simulcast codecs", addTrack(&livekit.AddTrackRequest{Cid: "codecs", Type: livekit.TrackType_VIDEO, SimulcastCodecs: codecs}),
			"LIMIT_EXCEEDED", "the limit is 4"),
		sig("signal: add_track with 20 audio features", addTrack(&livekit.AddTrackRequest{Cid: "feat", Type: livekit.TrackType_AUDIO, AudioFeatures: features}),
			"LIMIT_EXCEEDED", "the limit is 8"),
		sig("signal: add_track with a 300-byte cid", addTrack(&livekit.AddTrackRequest{Cid: strings.Repeat("c", 300), Type: livekit.TrackType_AUDIO}),
			"LIMIT_EXCEEDED", "the limit is 256"),
		sig("signal: add_track without a cid", addTrack(&livekit.AddTrackRequest{Type: livekit.TrackType_AUDIO}),
			"INVALID_REQUEST", "no cid"),
		sig("signal: add_track of a data track", addTrack(&livekit.AddTrackRequest{Cid: "d", Type: livekit.TrackType_DATA}),
			"INVALID_REQUEST", "not audio or video"),
		sig("signal: trickle of 100 KB", &livekit.SignalRequest{Message: &livekit.SignalRequest_Trickle{Trickle: &livekit.TrickleRequest{CandidateInit: strings.Repeat("c", 100000)}}},
			"LIMIT_EXCEEDED", "the limit is 2048"),
		sig("signal: update_metadata without the grant", &livekit.SignalRequest{Message: &livekit.SignalRequest_UpdateMetadata{UpdateMetadata: &livekit.UpdateParticipantMetadata{RequestId: 7, Metadata: "role=admin"}}},
			"NOT_ALLOWED", "can_update_metadata"),
		sig("signal: update_metadata with 2000 attributes", &livekit.SignalRequest{Message: &livekit.SignalRequest_UpdateMetadata{UpdateMetadata: &livekit.UpdateParticipantMetadata{RequestId: 8, Attributes: attrs}}},
			"LIMIT_EXCEEDED", "has 2000 entries; the limit is 1024"),
		sig("signal: subscription to 5000 tracks", &livekit.SignalRequest{Message: &livekit.SignalRequest_Subscription{Subscription: &livekit.UpdateSubscription{TrackSids: sids, Subscribe: true}}},
			"", ""),
		sig("signal: mute of an unknown track", &livekit.SignalRequest{Message: &livekit.SignalRequest_Mute{Mute: &livekit.MuteTrackRequest{Sid: "TR_nope", Muted: true}}},
			"", ""),
		sig("signal: an empty request", &livekit.SignalRequest{}, "", ""),
		sig("signal: an answer of 900 KB", &livekit.SignalRequest{Message: &livekit.SignalRequest_Answer{Answer: &livekit.SessionDescription{Type: "answer", Sdp: strings.Repeat("a=x\r\n", 180000)}}},
			"", ""),
		sig("signal: an offer that is not SDP", &livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{Type: "offer", Sdp: "not sdp"}}},
			"", ""),
		{"signal: a frame that is not a SignalRequest", signalCall(rawFrame(websocket.BinaryMessage, []byte{0xff, 0xff, 0xff})), result{http.StatusSwitchingProtocols, "", ""}},
		{"signal: a text frame that is not JSON", signalCall(rawFrame(websocket.TextMessage, []byte("{{{"))), result{http.StatusSwitchingProtocols, "", ""}},
		{"signal: JSON with an unknown request", signalCall(rawFrame(websocket.TextMessage, []byte(`{"teleport":{}}`))), result{http.StatusSwitchingProtocols, "", ""}},
	}
}

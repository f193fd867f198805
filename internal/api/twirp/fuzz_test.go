package twirpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/room"
)

const (
	fuzzKey    = "APIfuzz"
	fuzzSecret = "fuzz-secret-0123456789abcdef0123456789"
)

var fuzzMethods = []string{
	"CreateRoom", "ListRooms", "DeleteRoom", "ListParticipants", "GetParticipant", "RemoveParticipant",
	"MutePublishedTrack", "UpdateParticipant", "UpdateSubscriptions", "SendData", "UpdateRoomMetadata",
	"ForwardParticipant", "MoveParticipant", "PerformRpc",
}

// fuzzTarget is a Room service over a real room manager with two rooms: the caller is
// admin of "mine" only, and "theirs" must never change.
type fuzzTarget struct {
	mgr     *room.Manager
	handler http.Handler
	token   string
}

func newFuzzTarget(t testing.TB) *fuzzTarget {
	cfg := config.Default()
	mgr := room.NewManager(room.Options{Defaults: cfg.Room, Limits: cfg.Limit})
	t.Cleanup(mgr.Close)
	for _, name := range []string{"mine", "theirs"} {
		if _, _, err := mgr.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: name, Metadata: `{"topic":"` + name + `"}`}); err != nil {
			t.Fatal(err)
		}
		rm, _ := mgr.Room(name)
		for _, id := range []string{"alice", "bob"} {
			g := &lkauth.ClaimGrants{Identity: id, Video: &lkauth.VideoGrant{RoomJoin: true, Room: name}}
			p, err := rm.Reserve(room.JoinParams{Identity: id, Grants: g, Metadata: "m"})
			if err != nil {
				t.Fatal(err)
			}
			if err := rm.Activate(p, &livekit.JoinResponse{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tok, err := lkauth.NewAccessToken(fuzzKey, fuzzSecret).SetIdentity("admin").SetValidFor(time.Hour).
		SetVideoGrant(&lkauth.VideoGrant{RoomAdmin: true, Room: "mine", DestinationRoom: "mine"}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(NewRoomService(mgr), HandlerOptions{
		Verifier:    auth.NewVerifier(auth.StaticKeys{fuzzKey: fuzzSecret}),
		MaxBodySize: cfg.Limit.MaxRequestBodySize,
	})
	return &fuzzTarget{mgr: mgr, handler: h, token: tok}
}

// snapshot is everything a caller could change about a room.
func (f *fuzzTarget) snapshot(name string) []byte {
	rm, err := f.mgr.Room(name)
	if err != nil {
		return []byte("gone")
	}
	info := rm.Info()
	info.Sid = ""
	out, _ := proto.Marshal(info)
	for _, p := range rm.Participants() {
		b, _ := proto.Marshal(p)
		out = append(out, b...)
	}
	return out
}

func (f *fuzzTarget) call(method string, useJSON bool, token string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/twirp/livekit.RoomService/"+method, bytes.NewReader(body))
	if useJSON {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Header.Set("Content-Type", "application/protobuf")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, req)
	return w
}

// FuzzTwirp sends arbitrary bodies, JSON and protobuf, to every Room service method
// through the real handler with a token that is admin of one room. Properties: no
// internal error is reachable from input, every error is a well-formed Twirp error
// that never echoes the token, and the other room never changes.
func FuzzTwirp(f *testing.F) {
	for i, m := range fuzzMethods {
		f.Add(uint8(i), true, []byte(`{"room":"mine","identity":"alice"}`))
		f.Add(uint8(i), true, []byte(`{"room":"theirs","identity":"alice","destination_room":"mine"}`))
		f.Add(uint8(i), true, []byte(`{"room":"mine","identity":"alice","destination_room":"theirs","metadata":"x","name":"`+m+`"}`))
	}
	pb, _ := proto.Marshal(&livekit.UpdateParticipantRequest{Room: "theirs", Identity: "bob", Metadata: "pwned"})
	f.Add(uint8(7), false, pb)
	pb, _ = proto.Marshal(&livekit.MoveParticipantRequest{Room: "mine", Identity: "alice", DestinationRoom: "theirs"})
	f.Add(uint8(12), false, pb)
	f.Add(uint8(9), true, []byte(`{"room":"mine","data":"aGk=","kind":"RELIABLE","destination_identities":["alice"]}`))

	target := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, m uint8, useJSON bool, body []byte) {
		method := fuzzMethods[int(m)%len(fuzzMethods)]
		before := target.snapshot("theirs")
		w := target.call(method, useJSON, target.token, body)
		if after := target.snapshot("theirs"); !bytes.Equal(before, after) {
			t.Fatalf("%s with an admin token for another room changed room \"theirs\" (body %q)", method, body)
		}
		if strings.Contains(w.Body.String(), target.token) {
			t.Fatalf("the response echoes the token: %s", w.Body.String())
		}
		if w.Code == http.StatusOK {
			return
		}
		checkTwirpError(t, method, body, w)
	})
}

// checkTwirpError fails unless w is a well-formed Twirp error, not an internal one,
// whose status matches its code (or 413 for a body over the limit).
func checkTwirpError(t *testing.T, method string, body []byte, w *httptest.ResponseRecorder) {
	t.Helper()
	var e struct{ Code, Msg string }
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || !twirp.IsValidErrorCode(twirp.ErrorCode(e.Code)) || e.Msg == "" {
		t.Fatalf("%s: not a Twirp error: %d %q", method, w.Code, w.Body.String())
	}
	if e.Code == string(twirp.Internal) {
		t.Fatalf("%s: input reached an internal error: %q (body %q)", method, e.Msg, body)
	}
	if w.Code != twirp.ServerHTTPStatusFromErrorCode(twirp.ErrorCode(e.Code)) && w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("%s: status %d does not match code %s", method, w.Code, e.Code)
	}
}

// FuzzTwirpToken sends arbitrary tokens: no error message ever contains the token.
func FuzzTwirpToken(f *testing.F) {
	target := newFuzzTarget(f)
	f.Add(target.token)
	f.Add(target.token + "=")
	f.Add(strings.Replace(target.token, ".", "..", 1))
	f.Add("Bearer " + target.token)
	body, _ := protojson.Marshal(&livekit.ListParticipantsRequest{Room: "mine"})
	f.Fuzz(func(t *testing.T, token string) {
		if strings.ContainsAny(token, "\r\n\x00") {
			return // not representable in a header
		}
		w := target.call("ListParticipants", true, token, body)
		if w.Code == http.StatusOK {
			return
		}
		msg := w.Body.String()
		tok := strings.TrimSpace(token)
		if len(tok) >= 12 && strings.Contains(msg, tok) {
			t.Fatalf("the error echoes the token: %s", msg)
		}
		for _, part := range strings.Split(tok, ".") {
			if len(part) >= 16 && strings.Contains(msg, part) {
				t.Fatalf("the error echoes part of the token: %s", msg)
			}
		}
	})
}

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

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/room"
)

var moderationMethods = []string{"BanParticipant", "ListBans", "LiftBan"}

// moderationTarget is usher.Moderation over a real room manager and ban list with two
// rooms: the caller is admin of "mine" only.
type moderationTarget struct {
	mgr     *room.Manager
	bans    *auth.Bans
	handler http.Handler
	token   string
}

func newModerationTarget(t testing.TB) *moderationTarget {
	cfg := config.Default()
	bans, _ := auth.NewBans(nil)
	revoked, _ := auth.NewRevocations(nil, 0)
	mgr := room.NewManager(room.Options{Defaults: cfg.Room, Limits: cfg.Limit, Bans: bans, Revoker: revoked})
	t.Cleanup(mgr.Close)
	for _, name := range []string{"mine", "theirs"} {
		if _, _, err := mgr.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: name, Metadata: `{"auth_id":"` + name + `"}`}); err != nil {
			t.Fatal(err)
		}
		rm, _ := mgr.Room(name)
		for _, id := range []string{"alice", "bob"} {
			g := &lkauth.ClaimGrants{Identity: id, Video: &lkauth.VideoGrant{RoomJoin: true, Room: name}}
			p, err := rm.Reserve(room.JoinParams{Identity: id, Grants: g})
			if err != nil {
				t.Fatal(err)
			}
			if err := rm.Activate(p, &livekit.JoinResponse{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tok, err := lkauth.NewAccessToken(fuzzKey, fuzzSecret).SetIdentity("mod").SetValidFor(time.Hour).
		SetVideoGrant(&lkauth.VideoGrant{RoomAdmin: true, Room: "mine"}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	h := NewModerationHandler(NewModeration(mgr), HandlerOptions{
		Verifier:    auth.NewVerifier(auth.StaticKeys{fuzzKey: fuzzSecret}),
		MaxBodySize: cfg.Limit.MaxRequestBodySize,
	})
	return &moderationTarget{mgr: mgr, bans: bans, handler: h, token: tok}
}

func (m *moderationTarget) call(method string, body []byte) *httptest.ResponseRecorder {
	return postJSON(m.handler, ModerationServiceName, method, m.token, body)
}

// postJSON posts body to service/method of h with token, as a JSON Twirp call.
func postJSON(h http.Handler, service, method, token string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/twirp/"+service+"/"+method, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// FuzzModeration sends arbitrary JSON bodies to every usher.Moderation method through
// the real handler, with a token that is admin of one room. Properties: no internal
// error is reachable from input, every error is a well-formed Twirp error, the other
// room keeps its participants, and no ban ever covers anything but the caller's room.
func FuzzModeration(f *testing.F) {
	seeds := []string{
		`{"room":"mine","identity":"alice","reason":"spam","duration_seconds":60}`,
		`{"room":"mine","identity":"bob","tenant":"mine"}`,
		`{"room":"theirs","identity":"alice"}`,
		`{"tenant":"theirs","identity":"alice"}`,
		`{"identity":"alice"}`,
		`{"room":"mine","identity":"alice","duration_seconds":-1}`,
		`{"room":"mine","identity":"alice","duration_seconds":1e30}`,
		`{"room":"mine","identity":"alice","reason":"` + strings.Repeat("r", 600) + `"}`,
		`{"room":"mine","limit":5,"page_token":"WyIiLCJyIiwibWluZSIsImFsaWNlIl0"}`,
		`{"room":"mine","page_token":"%%%"}`,
		`{"room":"mine","identity":"alice","extra":1}`,
		`{"room":"mine","room":"theirs","identity":"alice"}`,
		`[]`,
		``,
	}
	for i := range moderationMethods {
		for _, s := range seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	target := newModerationTarget(f)
	f.Fuzz(func(t *testing.T, m uint8, body []byte) {
		method := moderationMethods[int(m)%len(moderationMethods)]
		w := target.call(method, body)
		theirs, _ := target.mgr.Room("theirs")
		if theirs == nil || len(theirs.Participants()) != 2 {
			t.Fatalf("%s with an admin token for another room changed room \"theirs\" (body %q)", method, body)
		}
		bans, _, _ := target.bans.List(auth.BanFilter{Limit: auth.MaxBanPage})
		for _, b := range bans {
			if b.Room != "mine" {
				t.Fatalf("%s with an admin token for room \"mine\" made a ban of %q/%q (body %q)", method, b.Room, b.Tenant, body)
			}
		}
		if w.Code == http.StatusOK {
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s: a success that is not JSON: %q", method, w.Body.String())
			}
			return
		}
		checkTwirpError(t, method, body, w)
	})
}

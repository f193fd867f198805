package twirpapi

import (
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

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/room"
)

var presetMethods = []string{"CreatePreset", "UpdatePreset", "DeletePreset", "GetPreset", "ListPresets"}

// presetsTarget is usher.Presets over a real room manager with a configuration preset
// "host", an API preset "stage", and a participant holding "stage".
type presetsTarget struct {
	mgr     *room.Manager
	handler http.Handler
	token   string
}

func newPresetsTarget(t testing.TB) *presetsTarget {
	cfg := config.Default()
	conf := map[string]config.PresetConfig{"host": {CanPublish: true, Host: config.HostControls{KickParticipant: true}}}
	revoked, _ := auth.NewRevocations(nil, 0)
	mgr := room.NewManager(room.Options{Defaults: cfg.Room, Limits: cfg.Limit, Revoker: revoked, Presets: conf})
	t.Cleanup(mgr.Close)
	if _, err := mgr.CreatePreset(context.Background(), "stage", config.PresetConfig{CanPublish: true, CanSubscribe: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mgr.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: "class"}); err != nil {
		t.Fatal(err)
	}
	rm, _ := mgr.Room("class")
	g := &lkauth.ClaimGrants{Identity: "alice", Video: &lkauth.VideoGrant{RoomJoin: true, Room: "class"}}
	p, err := rm.Reserve(room.JoinParams{Identity: "alice", Grants: g, Attributes: map[string]string{room.AttrPreset: "stage"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rm.Activate(p, &livekit.JoinResponse{}); err != nil {
		t.Fatal(err)
	}
	tok, err := lkauth.NewAccessToken(fuzzKey, fuzzSecret).SetIdentity("ops").SetValidFor(time.Hour).
		SetVideoGrant(&lkauth.VideoGrant{RoomCreate: true, RoomList: true}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	h := NewPresetsHandler(NewPresetsService(mgr), HandlerOptions{
		Verifier:    auth.NewVerifier(auth.StaticKeys{fuzzKey: fuzzSecret}),
		MaxBodySize: cfg.Limit.MaxRequestBodySize,
	})
	return &presetsTarget{mgr: mgr, handler: h, token: tok}
}

func (p *presetsTarget) call(method string, body []byte) *httptest.ResponseRecorder {
	return postJSON(p.handler, PresetsServiceName, method, p.token, body)
}

// FuzzPresetsRequest sends arbitrary JSON bodies to every usher.Presets method through
// the real handler. Properties: no internal error is reachable from input, every error
// is a well-formed Twirp error, the configuration preset never changes, every preset
// held is valid and there are never more than config.MaxPresets, and the participant
// holding "stage" holds its current definition (or none, once it is deleted).
func FuzzPresetsRequest(f *testing.F) {
	seeds := []string{
		`{"name":"stage","preset":{"can_publish":false,"can_subscribe":true,"host":{"pin_participant":true}}}`,
		`{"name":"guest","preset":{"can_publish":true,"can_publish_sources":["camera","microphone"]}}`,
		`{"name":"guest","preset":{"can_publish_sources":["camera","camera"]}}`,
		`{"name":"guest","preset":{"can_publish_sources":["laser"]}}`,
		`{"name":"host","preset":{}}`,
		`{"name":"stage"}`,
		`{"name":"bad name"}`,
		`{"name":"` + strings.Repeat("n", 65) + `"}`,
		`{"name":"x","preset":{"host":{"fly":true}}}`,
		`{"name":"x","extra":1}`,
		`{}`,
		`[]`,
		``,
	}
	for i := range presetMethods {
		for _, s := range seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	target := newPresetsTarget(f)
	f.Fuzz(func(t *testing.T, m uint8, body []byte) {
		method := presetMethods[int(m)%len(presetMethods)]
		w := target.call(method, body)
		list := target.mgr.Presets().List()
		if len(list) > config.MaxPresets {
			t.Fatalf("%d presets", len(list))
		}
		for _, p := range list {
			if problems := config.PresetProblems(p.Name, p.Config); len(problems) > 0 {
				t.Fatalf("%s stored an invalid preset %q: %v (body %q)", method, p.Name, problems, body)
			}
			if p.Name == "host" && (p.Source != room.PresetFromConfig || !p.Config.CanPublish || !p.Config.Host.KickParticipant) {
				t.Fatalf("%s changed the configuration preset: %+v (body %q)", method, p, body)
			}
		}
		info, err := target.mgr.GetParticipant("class", "alice")
		if err != nil {
			t.Fatal(err)
		}
		stage, ok := target.mgr.Presets().Get("stage")
		switch name := info.Attributes[room.AttrPreset]; {
		case name == "stage" && !ok:
			t.Fatalf("%s deleted stage, and alice still holds it", method)
		case name == "stage" && info.Permission.CanPublish != stage.CanPublish:
			t.Fatalf("%s changed stage, and alice's permission is %v", method, info.Permission)
		}
		if w.Code == http.StatusOK {
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s: a success that is not JSON: %q", method, w.Body.String())
			}
			return
		}
		var e struct{ Code, Msg string }
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || !twirp.IsValidErrorCode(twirp.ErrorCode(e.Code)) || e.Msg == "" {
			t.Fatalf("%s: not a Twirp error: %d %q", method, w.Code, w.Body.String())
		}
		if e.Code == string(twirp.Internal) {
			t.Fatalf("%s: input reached an internal error: %q (body %q)", method, e.Msg, body)
		}
	})
}

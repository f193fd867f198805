package twirpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/room"
)

var hostControlsMethods = []string{"DisableAll", "Enable", "Pin", "Unpin", "RemoveParticipants"}

// FuzzHostControlsService sends arbitrary JSON bodies to every usher.HostControls
// method through the real handler, with a token that is admin of one room ("mine").
// Properties: no internal error is reachable from input, every error is a well-formed
// Twirp error, and the other room keeps its participants, untouched.
func FuzzHostControlsService(f *testing.F) {
	seeds := []string{
		`{"room":"mine","kind":"audio","allow_unmute":false,"except_hosts":true}`,
		`{"room":"mine","kind":"video","presets":["student"],"except_presets":["host"]}`,
		`{"room":"mine","identity":"alice","kind":"audio"}`,
		`{"room":"mine","identity":"bob"}`,
		`{"room":"theirs","identity":"alice"}`,
		`{"room":"theirs","kind":"audio"}`,
		`{"room":"mine","kind":"noise"}`,
		`{"room":"mine","presets":[` + strings.Repeat(`"p",`, 80) + `"p"]}`,
		`{"room":"mine","identity":"nobody"}`,
		`{"room":"mine","extra":1}`,
		`[]`,
		``,
	}
	target, h := fuzzService(f, len(hostControlsMethods), seeds, func(mgr *room.Manager, opts HandlerOptions) http.Handler {
		return NewHostControlsHandler(NewHostControls(mgr), opts)
	})
	f.Fuzz(func(t *testing.T, m uint8, body []byte) {
		serveAgainstTheirs(t, h, target, HostControlsServiceName, hostControlsMethods[int(m)%len(hostControlsMethods)], body)
	})
}

// fuzzService seeds f with every seed for each of n methods and returns the target
// rooms and the service's handler over them (mk builds it), with the server's limits.
func fuzzService(f *testing.F, n int, seeds []string, mk func(*room.Manager, HandlerOptions) http.Handler) (*moderationTarget, http.Handler) {
	for i := range n {
		for _, s := range seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	target := newModerationTarget(f)
	h := mk(target.mgr, HandlerOptions{
		Verifier:    auth.NewVerifier(auth.StaticKeys{fuzzKey: fuzzSecret}),
		MaxBodySize: config.Default().Limit.MaxRequestBodySize,
	})
	return target, h
}

// serveAgainstTheirs posts body to service/method with the target's token (admin of
// room "mine") and checks that room "theirs" is untouched and the answer is JSON or a
// well-formed Twirp error.
func serveAgainstTheirs(t *testing.T, h http.Handler, target *moderationTarget, service, method string, body []byte) {
	w := postJSON(h, service, method, target.token, body)
	theirs, _ := target.mgr.Room("theirs")
	if theirs == nil || len(theirs.Participants()) != 2 {
		t.Fatalf("%s with an admin token for another room changed room \"theirs\" (body %q)", method, body)
	}
	for _, p := range theirs.Participants() {
		if len(p.Attributes) > 0 {
			t.Fatalf("%s changed %q in room \"theirs\": %v (body %q)", method, p.Identity, p.Attributes, body)
		}
	}
	if w.Code == http.StatusOK {
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s: a success that is not JSON: %q", method, w.Body.String())
		}
		return
	}
	checkTwirpError(t, method, body, w)
}

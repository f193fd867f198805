package twirpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/usher-rtc/usher/internal/room"
)

var waitingRoomMethods = []string{"ListWaiting", "Admit", "AdmitAll", "Deny", "GetSettings", "SetSettings"}

// FuzzWaitingRoomService sends arbitrary JSON bodies to every usher.WaitingRoom method
// through the real handler, with a token that is admin of one room ("mine").
// Properties: no internal error is reachable from input, every error is a well-formed
// Twirp error, and the other room keeps its participants and its settings.
func FuzzWaitingRoomService(f *testing.F) {
	seeds := []string{
		`{"room":"mine"}`,
		`{"room":"mine","identity":"alice"}`,
		`{"room":"mine","identity":"alice","reason":"not on the list"}`,
		`{"room":"mine","enabled":true,"mode":"host_opens","message":"The doctor will see you shortly"}`,
		`{"room":"mine","enabled":true,"mode":"lottery"}`,
		`{"room":"mine","message":"` + strings.Repeat("m", 2000) + `"}`,
		`{"room":"theirs","enabled":true}`,
		`{"room":"theirs","identity":"alice"}`,
		`{"room":"mine","opened":true}`,
		`{"room":"mine","extra":1}`,
		`[]`,
		``,
	}
	target, h := fuzzService(f, len(waitingRoomMethods), seeds, func(mgr *room.Manager, opts HandlerOptions) http.Handler {
		return NewWaitingRoomHandler(NewWaitingRoom(mgr), opts)
	})
	f.Fuzz(func(t *testing.T, m uint8, body []byte) {
		method := waitingRoomMethods[int(m)%len(waitingRoomMethods)]
		serveAgainstTheirs(t, h, target, WaitingRoomServiceName, method, body)
		if s, _, err := target.mgr.WaitingRoomSettings("theirs"); err != nil || s.Enabled || s.Message != "" {
			t.Fatalf("%s changed the waiting room of room \"theirs\": %+v %v (body %q)", method, s, err, body)
		}
	})
}

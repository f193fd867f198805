package host

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/usher-rtc/usher/internal/room"
)

// fake is a caller allowed everything, that records nothing.
type fake struct{ denied bool }

func (f fake) err() error {
	if f.denied {
		return room.ErrHostPermission
	}
	return nil
}
func (f fake) HostDisable(string, bool, bool) ([]string, error) { return []string{"TR_a"}, f.err() }
func (f fake) HostDisableAll(bool, bool) ([]string, error)      { return []string{"a", "b"}, f.err() }
func (f fake) HostEnable(string, bool) error                    { return f.err() }
func (f fake) HostPin(string) (string, error)                   { return "old", f.err() }
func (f fake) HostUnpin(string) error                           { return f.err() }
func (f fake) HostKick(string) error                            { return f.err() }
func (f fake) HostKickAll() error                               { return f.err() }
func (f fake) CanEndSession() error                             { return f.err() }
func (f fake) HostBan(string, string, time.Duration) error      { return f.err() }
func (f fake) HostAdmit(string) error                           { return f.err() }
func (f fake) HostAdmitAll() ([]string, error)                  { return []string{"w1", "w2"}, f.err() }
func (f fake) HostDeny(string, string) error                    { return f.err() }
func (f fake) HostWaitingMessage(string, string) ([]string, error) {
	return []string{"w1"}, f.err()
}
func (f fake) HostListWaiting() ([]room.WaitingInfo, error) {
	return []room.WaitingInfo{{Identity: "w1", Name: "W", SID: "PA_1", Since: time.UnixMilli(5)}}, f.err()
}

func TestHandleAnswersEveryMethodAndRefusesBadCalls(t *testing.T) {
	for _, tc := range []struct {
		method, payload string
		denied          bool
		code            uint32
		want            string
	}{
		{"disableAudio", `{"identity":"s"}`, false, 0, `{"allowUnmute":true,"identity":"s","tracks":["TR_a"]}`},
		{"disableVideo", `{"identity":"s","allowUnmute":false}`, false, 0, `{"allowUnmute":false,"identity":"s","tracks":["TR_a"]}`},
		{"disableAllAudio", `{"allowUnmute":false}`, false, 0, `{"allowUnmute":false,"identities":["a","b"]}`},
		{"disableAllVideo", `{}`, false, CodeInvalidPayload, ""},
		{"pin", `{"identity":"s"}`, false, 0, `{"pinned":"s","unpinned":"old"}`},
		{"unpin", `{"identity":"s"}`, false, 0, `{"unpinned":"s"}`},
		{"kick", `{"identity":"s"}`, false, 0, `{"kicked":"s"}`},
		{"kick", `{"identity":"s","allowUnmute":true}`, false, CodeInvalidPayload, ""},
		{"kickAll", `{}`, false, 0, `{"ended":true}`},
		{"kickAll", `{}`, true, CodePermissionDenied, ""},
		{"disableAudio", `{"identity":"s"}`, true, CodePermissionDenied, ""},
		{"disableAudio", `[1]`, false, CodeInvalidPayload, ""},
		{"disableAudio", `{"identity":""}`, false, CodeInvalidPayload, ""},
		{"disableAudio", `{"identity":"s"} {}`, false, CodeInvalidPayload, ""},
		{"ban", `{"identity":"s"}`, false, 0, `{"banned":"s","durationSeconds":0}`},
		{"ban", `{"identity":"s","reason":"spam","durationSeconds":600}`, false, 0, `{"banned":"s","durationSeconds":600}`},
		{"ban", `{"identity":"s"}`, true, CodePermissionDenied, ""},
		{"ban", `{"identity":"s","durationSeconds":-1}`, false, CodeInvalidPayload, ""},
		{"ban", `{"identity":"s","durationSeconds":1e12}`, false, CodeInvalidPayload, ""},
		{"ban", `{"reason":"x"}`, false, CodeInvalidPayload, ""},
		{"admit", `{"identity":"w1"}`, false, 0, `{"admitted":"w1"}`},
		{"admit", `{"identity":"w1","reason":"x"}`, false, CodeInvalidPayload, ""},
		{"admit", `{"identity":"w1"}`, true, CodePermissionDenied, ""},
		{"deny", `{"identity":"w1","reason":"not on the list"}`, false, 0, `{"denied":"w1"}`},
		{"deny", `{}`, false, CodeInvalidPayload, ""},
		{"admitAll", `{}`, false, 0, `{"admitted":["w1","w2"]}`},
		{"admitAll", `{"x":1}`, false, CodeInvalidPayload, ""},
		{"setWaitingMessage", `{"message":"The doctor will see you shortly"}`, false, 0, `{"identities":["w1"]}`},
		{"setWaitingMessage", `{}`, false, CodeInvalidPayload, ""},
		{"listWaiting", `{}`, false, 0, `{"waiting":[{"identity":"w1","name":"W","sid":"PA_1","since":5}]}`},
		{"listWaiting", `{}`, true, CodePermissionDenied, ""},
		{"selfDestruct", `{}`, false, CodeUnsupportedMethod, ""},
	} {
		res := Handle(fake{denied: tc.denied}, tc.method, tc.payload)
		switch {
		case tc.code != 0 && (res.Error == nil || res.Error.Code != tc.code):
			t.Errorf("%s %s: %+v; want code %d", tc.method, tc.payload, res, tc.code)
		case tc.code == 0 && (res.Error != nil || res.Payload != tc.want):
			t.Errorf("%s %s: %+v; want %s", tc.method, tc.payload, res, tc.want)
		}
	}
}

// FuzzHandle feeds RPC method names and payloads a client may send: every call gets
// exactly one answer, a JSON object or an RPC error, and nothing panics.
func FuzzHandle(f *testing.F) {
	f.Add("disableAudio", `{"identity":"s","allowUnmute":false}`)
	f.Add("disableAllVideo", `{"allowUnmute":true}`)
	f.Add("pin", `{"identity":"\u0000"}`)
	f.Add("kickAll", `{}`)
	f.Add("ban", `{"identity":"s","reason":"r","durationSeconds":60}`)
	f.Add("deny", `{"identity":"w","reason":"r"}`)
	f.Add("setWaitingMessage", `{"identity":"w","message":"soon"}`)
	f.Add("x", `{"identity":`)
	f.Fuzz(func(t *testing.T, method, payload string) {
		res := Handle(fake{}, method, payload)
		if (res.Error == nil) == (res.Payload == "") {
			t.Fatalf("%q %q: %+v is not exactly one of a payload and an error", method, payload, res)
		}
		if res.Error == nil && !json.Valid([]byte(res.Payload)) {
			t.Fatalf("%q %q: payload %q is not JSON", method, payload, res.Payload)
		}
	})
}

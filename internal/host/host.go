// Package host answers the host controls participants call with LiveKit's participant
// RPC, addressed to the server's identity "usher" (docs/host-controls.md): it decodes
// the method's JSON payload, has the room act with the caller as actor, and returns
// the JSON response or an RPC error with Usher's codes.
package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/room"
)

// RPC error codes of the host controls; LiveKit's built-in codes keep their meaning.
const (
	CodePermissionDenied    = 1201
	CodeParticipantNotFound = 1202
	CodeInvalidPayload      = 1203
	CodeInvalidTarget       = 1204
	CodeFailed              = 1205
	// CodeNotWaiting: admit or deny of a participant who is not waiting.
	CodeNotWaiting = 1206
	// CodeRoomFull: admitting would exceed the room's max_participants.
	CodeRoomFull = 1207
	// CodeUnsupportedMethod is LiveKit's UNSUPPORTED_METHOD.
	CodeUnsupportedMethod = 1400
)

// MaxPayload bounds a request payload: a few short fields.
const MaxPayload = 4096

// Caller is the participant calling a host control (a *room.Participant).
type Caller interface {
	HostDisable(identity string, video, allowUnmute bool) ([]string, error)
	HostDisableAll(video, allowUnmute bool) ([]string, error)
	HostEnable(identity string, video bool) error
	HostPin(identity string) (string, error)
	HostUnpin(identity string) error
	HostKick(identity string) error
	HostKickAll() error
	HostBan(identity, reason string, duration time.Duration) error
	HostAdmit(identity string) error
	HostAdmitAll() ([]string, error)
	HostDeny(identity, reason string) error
	HostWaitingMessage(identity, message string) ([]string, error)
	HostListWaiting() ([]room.WaitingInfo, error)
	CanEndSession() error
}

var _ Caller = (*room.Participant)(nil)

// Result is the answer to one call: Payload on success, else Error. After, when set,
// must run once the answer is on its way (ending the session would otherwise cut the
// caller off before it hears the answer).
type Result struct {
	Payload string
	Error   *livekit.RpcError
	After   func() error
}

type target struct {
	Identity    string `json:"identity"`
	AllowUnmute *bool  `json:"allowUnmute,omitempty"`
}

type banTarget struct {
	Identity        string `json:"identity"`
	Reason          string `json:"reason"`
	DurationSeconds int64  `json:"durationSeconds"`
}

type denyTarget struct {
	Identity string `json:"identity"`
	Reason   string `json:"reason"`
}

type waitingMessage struct {
	Identity string  `json:"identity"`
	Message  *string `json:"message"`
}

type waitingJSON struct {
	Identity string `json:"identity"`
	Name     string `json:"name"`
	SID      string `json:"sid"`
	Preset   string `json:"preset,omitempty"`
	// Since is when it arrived, in Unix milliseconds.
	Since int64 `json:"since"`
}

type all struct {
	AllowUnmute *bool `json:"allowUnmute"`
}

// Handle answers one call of method with payload from c.
func Handle(c Caller, method, payload string) Result {
	if len(payload) > MaxPayload {
		return fail(method, CodeInvalidPayload, fmt.Sprintf("the payload has %d bytes; the limit is %d", len(payload), MaxPayload))
	}
	switch method {
	case "disableAudio", "disableVideo":
		var t target
		if r, ok := decodeTarget(method, payload, &t); !ok {
			return r
		}
		allow := t.AllowUnmute == nil || *t.AllowUnmute
		tracks, err := c.HostDisable(t.Identity, method == "disableVideo", allow)
		if err != nil {
			return failErr(method, err)
		}
		return ok(map[string]any{"identity": t.Identity, "tracks": nonNil(tracks), "allowUnmute": allow})
	case "disableAllAudio", "disableAllVideo":
		var a all
		if err := decode(payload, &a); err != nil {
			return fail(method, CodeInvalidPayload, err.Error())
		}
		if a.AllowUnmute == nil {
			return fail(method, CodeInvalidPayload, `the payload needs "allowUnmute": true or false`)
		}
		ids, err := c.HostDisableAll(method == "disableAllVideo", *a.AllowUnmute)
		if err != nil {
			return failErr(method, err)
		}
		return ok(map[string]any{"identities": nonNil(ids), "allowUnmute": *a.AllowUnmute})
	case "enableAudio", "enableVideo", "pin", "unpin", "kick":
		var t target
		if r, ok := decodeTarget(method, payload, &t); !ok {
			return r
		}
		if t.AllowUnmute != nil {
			return fail(method, CodeInvalidPayload, fmt.Sprintf("%s takes only \"identity\"", method))
		}
		return identityMethod(c, method, t.Identity)
	case "ban":
		var b banTarget
		if err := decode(payload, &b); err != nil {
			return fail(method, CodeInvalidPayload, err.Error())
		}
		if r, ok := checkIdentity(method, b.Identity); !ok {
			return r
		}
		if len(b.Reason) > room.MaxBanReasonLength {
			return fail(method, CodeInvalidPayload, fmt.Sprintf("reason has %d bytes; the limit is %d", len(b.Reason), room.MaxBanReasonLength))
		}
		maxSeconds := int64(room.MaxBanDuration / time.Second)
		if b.DurationSeconds < 0 || b.DurationSeconds > maxSeconds {
			return fail(method, CodeInvalidPayload, fmt.Sprintf("durationSeconds must be between 0 (until lifted) and %d", maxSeconds))
		}
		if err := c.HostBan(b.Identity, b.Reason, time.Duration(b.DurationSeconds)*time.Second); err != nil {
			return failErr(method, err)
		}
		return ok(map[string]any{"banned": b.Identity, "durationSeconds": b.DurationSeconds})
	case "admit", "deny":
		var d denyTarget
		if err := decode(payload, &d); err != nil {
			return fail(method, CodeInvalidPayload, err.Error())
		}
		if r, ok := checkIdentity(method, d.Identity); !ok {
			return r
		}
		if method == "admit" {
			if d.Reason != "" {
				return fail(method, CodeInvalidPayload, `admit takes only "identity"`)
			}
			if err := c.HostAdmit(d.Identity); err != nil {
				return failErr(method, err)
			}
			return ok(map[string]any{"admitted": d.Identity})
		}
		if len(d.Reason) > room.MaxBanReasonLength {
			return fail(method, CodeInvalidPayload, fmt.Sprintf("reason has %d bytes; the limit is %d", len(d.Reason), room.MaxBanReasonLength))
		}
		if err := c.HostDeny(d.Identity, d.Reason); err != nil {
			return failErr(method, err)
		}
		return ok(map[string]any{"denied": d.Identity})
	case "admitAll":
		if err := decode(payload, &struct{}{}); err != nil {
			return fail(method, CodeInvalidPayload, err.Error())
		}
		ids, err := c.HostAdmitAll()
		if err != nil {
			return failErr(method, err)
		}
		return ok(map[string]any{"admitted": nonNil(ids)})
	case "setWaitingMessage":
		var m waitingMessage
		if err := decode(payload, &m); err != nil {
			return fail(method, CodeInvalidPayload, err.Error())
		}
		if m.Message == nil {
			return fail(method, CodeInvalidPayload, `the payload needs "message" ("" clears it)`)
		}
		if len(m.Identity) > room.MaxTrackField {
			return fail(method, CodeInvalidPayload, "identity is too long")
		}
		ids, err := c.HostWaitingMessage(m.Identity, *m.Message)
		if err != nil {
			return failErr(method, err)
		}
		return ok(map[string]any{"identities": nonNil(ids)})
	case "listWaiting":
		if err := decode(payload, &struct{}{}); err != nil {
			return fail(method, CodeInvalidPayload, err.Error())
		}
		list, err := c.HostListWaiting()
		if err != nil {
			return failErr(method, err)
		}
		out := make([]waitingJSON, 0, len(list))
		for _, w := range list {
			out = append(out, waitingJSON{Identity: w.Identity, Name: w.Name, SID: w.SID, Preset: w.Preset, Since: w.Since.UnixMilli()})
		}
		return ok(map[string]any{"waiting": out})
	case "kickAll":
		if err := decode(payload, &struct{}{}); err != nil {
			return fail(method, CodeInvalidPayload, err.Error())
		}
		if err := c.CanEndSession(); err != nil {
			return failErr(method, err)
		}
		return Result{Payload: `{"ended":true}`, After: c.HostKickAll}
	}
	return fail(method, CodeUnsupportedMethod, fmt.Sprintf("usher has no method %q (see docs/host-controls.md)", method))
}

func identityMethod(c Caller, method, identity string) Result {
	var err error
	res := map[string]any{}
	switch method {
	case "enableAudio", "enableVideo":
		err = c.HostEnable(identity, method == "enableVideo")
		res["identity"] = identity
	case "pin":
		var prev string
		prev, err = c.HostPin(identity)
		res["pinned"] = identity
		if prev != "" {
			res["unpinned"] = prev
		}
	case "unpin":
		err = c.HostUnpin(identity)
		res["unpinned"] = identity
	case "kick":
		err = c.HostKick(identity)
		res["kicked"] = identity
	}
	if err != nil {
		return failErr(method, err)
	}
	return ok(res)
}

// decode reads a JSON object strictly (unknown fields are errors).
func decode(payload string, v any) error {
	if payload == "" {
		payload = "{}"
	}
	d := json.NewDecoder(bytes.NewReader([]byte(payload)))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("the payload is not a JSON object of the method's fields: %w", err)
	}
	if d.More() {
		return errors.New("the payload has more than one JSON value")
	}
	return nil
}

func decodeTarget(method, payload string, t *target) (Result, bool) {
	if err := decode(payload, t); err != nil {
		return fail(method, CodeInvalidPayload, err.Error()), false
	}
	return checkIdentity(method, t.Identity)
}

func checkIdentity(method, identity string) (Result, bool) {
	if identity == "" {
		return fail(method, CodeInvalidPayload, `the payload needs "identity"`), false
	}
	if len(identity) > room.MaxTrackField {
		return fail(method, CodeInvalidPayload, "identity is too long"), false
	}
	return Result{}, true
}

func ok(v any) Result {
	b, _ := json.Marshal(v)
	return Result{Payload: string(b)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func fail(method string, code uint32, msg string) Result {
	return Result{Error: &livekit.RpcError{Code: code, Message: msg, Data: method}}
}

// failErr maps a room error to its RPC code.
func failErr(method string, err error) Result {
	switch {
	case errors.Is(err, room.ErrHostPermission):
		return fail(method, CodePermissionDenied, err.Error())
	case errors.Is(err, room.ErrParticipantNotFound):
		return fail(method, CodeParticipantNotFound, err.Error())
	case errors.Is(err, room.ErrInvalidTarget):
		return fail(method, CodeInvalidTarget, err.Error())
	case errors.Is(err, room.ErrInvalidArgument):
		return fail(method, CodeInvalidPayload, err.Error())
	case errors.Is(err, room.ErrNotWaiting):
		return fail(method, CodeNotWaiting, err.Error())
	case errors.Is(err, room.ErrRoomFull):
		return fail(method, CodeRoomFull, err.Error())
	}
	return fail(method, CodeFailed, err.Error())
}

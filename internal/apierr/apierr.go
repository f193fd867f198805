// Package apierr is Usher's one error catalogue: it turns any error from the server's
// packages into a Twirp code, an HTTP status and a REST machine code, in one place.
//
// Packages declare sentinel errors and wrap them with detail; nothing else builds a
// status code by hand.
package apierr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/twitchtv/twirp"

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/room"
)

// Errors raised by the API layer itself.
var (
	// ErrBodyTooLarge: the request body exceeds limit.max_request_body_size.
	ErrBodyTooLarge = errors.New("request body too large")
	// ErrUnimplemented: the method exists on the wire but is not implemented yet.
	ErrUnimplemented = errors.New("not implemented")
	// ErrBadRoute: no such endpoint, or the wrong HTTP method or content type.
	ErrBadRoute = errors.New("bad route")
	// ErrMalformed: the request body could not be decoded.
	ErrMalformed = errors.New("malformed request")
	// ErrUnauthorized: a REST request without a valid API token.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRoomAccessDenied: the room belongs to another tenant (REST token issuing and
	// room creation; elsewhere a foreign room is reported as not found).
	ErrRoomAccessDenied = errors.New("access to the room is denied")
	// ErrOperatorOnly: a REST request with a tenant's API token for something that acts
	// on the whole server (writing presets), which only an operator may do.
	ErrOperatorOnly = errors.New("operator only")
	// ErrMethodNotAllowed: the endpoint exists but not with this HTTP method.
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrUpstreamUnavailable: the upstream server could not be reached, or refused the
	// gateway.
	ErrUpstreamUnavailable = errors.New("upstream server unavailable")
	// ErrUpstreamTimeout: the upstream server did not answer in time.
	ErrUpstreamTimeout = errors.New("upstream server timed out")
	// ErrOriginNotAllowed: a browser request to the REST gateway from a web origin
	// that rest.cors_origins does not allow.
	ErrOriginNotAllowed = errors.New("origin not allowed")
	// ErrHostNotAllowed: a REST request without an API token addressed to a host name
	// that is not known as this server's (what a DNS rebinding attack sends).
	ErrHostNotAllowed = errors.New("host not allowed")
	// ErrTooManyConnections: a client address or an identity already holds as many
	// signal connections as signal.max_connections_per_ip or
	// signal.max_connections_per_identity allow.
	ErrTooManyConnections = errors.New("too many signal connections")
)

// Entry is how one kind of error appears on the wire.
type Entry struct {
	// Twirp is the Twirp error code.
	Twirp twirp.ErrorCode
	// Status is the HTTP status.
	Status int
	// Code is the stable machine code used by the REST gateway.
	Code string
}

type row struct {
	err   error
	entry Entry
}

// catalogue is checked in order with errors.Is; the first match wins.
var catalogue = []row{
	{auth.ErrMissingToken, Entry{twirp.Unauthenticated, http.StatusUnauthorized, "UNAUTHORIZED"}},
	{auth.ErrMalformedToken, Entry{twirp.Unauthenticated, http.StatusUnauthorized, "UNAUTHORIZED"}},
	{auth.ErrUnknownAPIKey, Entry{twirp.Unauthenticated, http.StatusUnauthorized, "UNAUTHORIZED"}},
	{auth.ErrBadSignature, Entry{twirp.Unauthenticated, http.StatusUnauthorized, "UNAUTHORIZED"}},
	{auth.ErrTokenExpired, Entry{twirp.Unauthenticated, http.StatusUnauthorized, "UNAUTHORIZED"}},
	{auth.ErrTokenNotYetValid, Entry{twirp.Unauthenticated, http.StatusUnauthorized, "UNAUTHORIZED"}},
	{auth.ErrTokenRevoked, Entry{twirp.Unauthenticated, http.StatusUnauthorized, "UNAUTHORIZED"}},
	{auth.ErrTokenLifetime, Entry{twirp.Unauthenticated, http.StatusUnauthorized, "UNAUTHORIZED"}},
	{auth.ErrBanned, Entry{twirp.PermissionDenied, http.StatusForbidden, "BANNED"}},
	{auth.ErrBanNotFound, Entry{twirp.NotFound, http.StatusNotFound, "BAN_NOT_FOUND"}},
	{auth.ErrTooManyBans, Entry{twirp.ResourceExhausted, http.StatusTooManyRequests, "TOO_MANY_BANS"}},
	{auth.ErrPermissionDenied, Entry{twirp.PermissionDenied, http.StatusForbidden, "FORBIDDEN"}},
	{ErrUnauthorized, Entry{twirp.Unauthenticated, http.StatusUnauthorized, "UNAUTHORIZED"}},
	{ErrRoomAccessDenied, Entry{twirp.PermissionDenied, http.StatusForbidden, "ROOM_ACCESS_DENIED"}},
	{ErrOperatorOnly, Entry{twirp.PermissionDenied, http.StatusForbidden, "OPERATOR_ONLY"}},
	{ErrOriginNotAllowed, Entry{twirp.PermissionDenied, http.StatusForbidden, "ORIGIN_NOT_ALLOWED"}},
	{ErrHostNotAllowed, Entry{twirp.PermissionDenied, http.StatusForbidden, "HOST_NOT_ALLOWED"}},
	{ErrMethodNotAllowed, Entry{twirp.BadRoute, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"}},
	{ErrUpstreamUnavailable, Entry{twirp.Unavailable, http.StatusBadGateway, "UPSTREAM_UNAVAILABLE"}},
	{ErrUpstreamTimeout, Entry{twirp.DeadlineExceeded, http.StatusGatewayTimeout, "UPSTREAM_TIMEOUT"}},

	{room.ErrRoomNotFound, Entry{twirp.NotFound, http.StatusNotFound, "ROOM_NOT_FOUND"}},
	{room.ErrTenantMismatch, Entry{twirp.PermissionDenied, http.StatusForbidden, "ROOM_ACCESS_DENIED"}},
	{room.ErrRoomClosed, Entry{twirp.NotFound, http.StatusNotFound, "ROOM_NOT_FOUND"}},
	{room.ErrInvalidArgument, Entry{twirp.InvalidArgument, http.StatusBadRequest, "INVALID_REQUEST"}},
	{room.ErrUnsupported, Entry{twirp.Unimplemented, http.StatusNotImplemented, "NOT_SUPPORTED"}},
	{room.ErrParticipantNotFound, Entry{twirp.NotFound, http.StatusNotFound, "PARTICIPANT_NOT_FOUND"}},
	{room.ErrTrackNotFound, Entry{twirp.NotFound, http.StatusNotFound, "TRACK_NOT_FOUND"}},
	{room.ErrRoomFull, Entry{twirp.ResourceExhausted, http.StatusTooManyRequests, "ROOM_FULL"}},
	{room.ErrDuplicateIdentity, Entry{twirp.AlreadyExists, http.StatusConflict, "DUPLICATE_IDENTITY"}},
	{room.ErrPermissionDenied, Entry{twirp.PermissionDenied, http.StatusForbidden, "FORBIDDEN"}},
	{room.ErrRemoteUnmuteDisabled, Entry{twirp.FailedPrecondition, http.StatusPreconditionFailed, "REMOTE_UNMUTE_DISABLED"}},
	{room.ErrDataBacklog, Entry{twirp.ResourceExhausted, http.StatusTooManyRequests, "DATA_BACKLOG"}},
	{room.ErrRevocation, Entry{twirp.Internal, http.StatusInternalServerError, "INTERNAL"}},
	{room.ErrInvalidTarget, Entry{twirp.InvalidArgument, http.StatusBadRequest, "INVALID_TARGET"}},
	{room.ErrHostPermission, Entry{twirp.PermissionDenied, http.StatusForbidden, "FORBIDDEN"}},
	{room.ErrHardMuted, Entry{twirp.FailedPrecondition, http.StatusPreconditionFailed, "HARD_MUTED"}},
	{room.ErrNotWaiting, Entry{twirp.FailedPrecondition, http.StatusPreconditionFailed, "NOT_WAITING"}},
	{room.ErrPresetNotFound, Entry{twirp.NotFound, http.StatusNotFound, "PRESET_NOT_FOUND"}},
	{room.ErrPresetExists, Entry{twirp.AlreadyExists, http.StatusConflict, "PRESET_EXISTS"}},
	{room.ErrPresetReadOnly, Entry{twirp.FailedPrecondition, http.StatusPreconditionFailed, "PRESET_READ_ONLY"}},
	{room.ErrTooManyPresets, Entry{twirp.ResourceExhausted, http.StatusTooManyRequests, "TOO_MANY_PRESETS"}},
	{room.ErrPresetStore, Entry{twirp.Internal, http.StatusInternalServerError, "INTERNAL"}},

	{ErrBodyTooLarge, Entry{twirp.ResourceExhausted, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE"}},
	{ErrTooManyConnections, Entry{twirp.ResourceExhausted, http.StatusTooManyRequests, "TOO_MANY_CONNECTIONS"}},
	{ErrMalformed, Entry{twirp.Malformed, http.StatusBadRequest, "INVALID_REQUEST"}},
	{ErrUnimplemented, Entry{twirp.Unimplemented, http.StatusNotImplemented, "NOT_IMPLEMENTED"}},
	{ErrBadRoute, Entry{twirp.BadRoute, http.StatusNotFound, "NOT_FOUND"}},

	{context.DeadlineExceeded, Entry{twirp.DeadlineExceeded, http.StatusRequestTimeout, "TIMEOUT"}},
	{context.Canceled, Entry{twirp.Canceled, http.StatusRequestTimeout, "CANCELED"}},
}

// internal is the entry of any error the catalogue does not know.
var internal = Entry{twirp.Internal, http.StatusInternalServerError, "INTERNAL"}

// Lookup returns the wire entry of err and whether the catalogue knows it. Unknown
// errors are internal errors whose message must not reach the client.
func Lookup(err error) (Entry, bool) {
	for _, r := range catalogue {
		if errors.Is(err, r.err) {
			return r.entry, true
		}
	}
	return internal, false
}

// Message returns the client-facing message of err: its text when the catalogue knows
// it (the server's own messages never contain tokens or secrets), or a generic text.
func Message(err error) string {
	if _, ok := Lookup(err); ok {
		return err.Error()
	}
	return "internal error"
}

// Twirp converts err to a Twirp error with the catalogue's code and message.
func Twirp(err error) twirp.Error {
	var te twirp.Error
	if errors.As(err, &te) {
		return te
	}
	e, _ := Lookup(err)
	return twirp.NewError(e.Twirp, Message(err))
}

// WriteTwirp writes err as a Twirp JSON error with the catalogue's HTTP status. It is
// for errors raised before a request reaches the generated Twirp server (auth, body
// size, routing).
func WriteTwirp(w http.ResponseWriter, err error) {
	e, _ := Lookup(err)
	code, msg := e.Twirp, Message(err)
	status := e.Status
	var te twirp.Error
	if errors.As(err, &te) {
		code, msg, status = te.Code(), te.Msg(), twirp.ServerHTTPStatusFromErrorCode(te.Code())
	}
	WriteJSON(w, status, struct {
		Code string `json:"code"`
		Msg  string `json:"msg"`
	}{string(code), msg})
}

// WriteREST writes err as the REST gateway's error body, {"error": "...", "code":
// "..."}, with the catalogue's HTTP status.
func WriteREST(w http.ResponseWriter, err error) {
	e, _ := Lookup(err)
	WriteJSON(w, e.Status, struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}{Message(err), e.Code})
}

// WriteJSON writes v as a JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Codes returns every REST code the catalogue can produce, for documentation and tests.
func Codes() []string {
	seen := map[string]bool{internal.Code: true}
	out := []string{internal.Code}
	for _, r := range catalogue {
		if !seen[r.entry.Code] {
			seen[r.entry.Code] = true
			out = append(out, r.entry.Code)
		}
	}
	return out
}

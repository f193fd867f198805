package apierr

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/twitchtv/twirp"

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/room"
)

func TestLookupFollowsWrapping(t *testing.T) {
	err := fmt.Errorf("%w: %q", room.ErrRoomNotFound, "r")
	e, ok := Lookup(fmt.Errorf("outer: %w", err))
	if !ok || e.Twirp != twirp.NotFound || e.Status != 404 || e.Code != "ROOM_NOT_FOUND" {
		t.Errorf("Lookup = %+v %v", e, ok)
	}
	if te := Twirp(err); te.Code() != twirp.NotFound || te.Msg() != `room not found: "r"` {
		t.Errorf("Twirp = %v", te)
	}
}

func TestUnknownErrorsAreInternalAndHidden(t *testing.T) {
	secretish := errors.New("dial tcp 10.0.0.1: password=hunter2")
	e, ok := Lookup(secretish)
	if ok || e.Twirp != twirp.Internal || e.Status != 500 {
		t.Errorf("Lookup = %+v %v", e, ok)
	}
	if m := Message(secretish); strings.Contains(m, "hunter2") {
		t.Errorf("internal detail leaked: %q", m)
	}
}

func TestEveryTwirpCodeMatchesItsStatus(t *testing.T) {
	for _, r := range catalogue {
		want := twirp.ServerHTTPStatusFromErrorCode(r.entry.Twirp)
		// Deliberate exceptions, all more precise than Twirp's mapping: 413 for a body
		// that is too large, 405 for a known endpoint with the wrong method, and the
		// gateway's upstream failures (502, 504), which never travel over Twirp.
		if slices.Contains([]error{ErrBodyTooLarge, ErrMethodNotAllowed, ErrUpstreamUnavailable, ErrUpstreamTimeout}, r.err) {
			continue
		}
		if r.entry.Status != want {
			t.Errorf("%v: status %d, Twirp code %s means %d", r.err, r.entry.Status, r.entry.Twirp, want)
		}
	}
}

func TestWriteTwirp(t *testing.T) {
	w := httptest.NewRecorder()
	WriteTwirp(w, fmt.Errorf("%w: ListRooms requires the roomList grant", auth.ErrPermissionDenied))
	if w.Code != http.StatusForbidden || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("status %d type %q", w.Code, w.Header().Get("Content-Type"))
	}
	if got := strings.TrimSpace(w.Body.String()); got != `{"code":"permission_denied","msg":"permission denied: ListRooms requires the roomList grant"}` {
		t.Errorf("body = %s", got)
	}
}

func TestBansAndLifetimes(t *testing.T) {
	banned := &auth.BannedError{Ban: auth.Ban{Room: "r", Identity: "x", Reason: "spam"}}
	e, ok := Lookup(fmt.Errorf("destination: %w", banned))
	if !ok || e.Twirp != twirp.PermissionDenied || e.Status != http.StatusForbidden || e.Code != "BANNED" {
		t.Errorf("a ban: %+v %v", e, ok)
	}
	if m := Message(banned); m != `banned from room "r" until lifted: spam` {
		t.Errorf("the ban's message: %q", m)
	}
	for err, want := range map[error]Entry{
		auth.ErrBanNotFound:   {twirp.NotFound, http.StatusNotFound, "BAN_NOT_FOUND"},
		auth.ErrTooManyBans:   {twirp.ResourceExhausted, http.StatusTooManyRequests, "TOO_MANY_BANS"},
		auth.ErrTokenLifetime: {twirp.Unauthenticated, http.StatusUnauthorized, "UNAUTHORIZED"},
	} {
		if e, ok := Lookup(err); !ok || e != want {
			t.Errorf("%v: %+v, want %+v", err, e, want)
		}
	}
}

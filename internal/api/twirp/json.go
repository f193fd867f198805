package twirpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/livekit/protocol/utils/guid"

	"github.com/usher-rtc/usher/internal/apierr"
	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/events"
)

// JSONMethod is one method of one of Usher's own services: it gets the verified caller
// in ctx (auth.FromContext, events.ActorFrom) and returns the response to encode.
type JSONMethod func(ctx context.Context, body []byte) (any, error)

// NewJSONHandler serves one of Usher's own services at /twirp/<service>/<Method>, on
// Twirp's JSON wire format (POST, application/json, Twirp error bodies), with the same
// token check, body limit and timeout as the Room service. Requests are decoded
// strictly: an unknown field is an error naming it.
func NewJSONHandler(service string, methods map[string]JSONMethod, opts HandlerOptions) http.Handler {
	prefix := "/twirp/" + service + "/"
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, prefix)
		m := methods[name]
		if !ok || m == nil {
			apierr.WriteTwirp(w, fmt.Errorf("%w: %s has no method %q", apierr.ErrBadRoute, service, name))
			return
		}
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
			apierr.WriteTwirp(w, fmt.Errorf("%w: %s takes Content-Type application/json", apierr.ErrBadRoute, service))
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			apierr.WriteTwirp(w, fmt.Errorf("%w: the body could not be read", apierr.ErrMalformed))
			return
		}
		resp, err := m(r.Context(), body)
		if err != nil {
			if _, known := apierr.Lookup(err); !known {
				log.Error("unexpected error", "service", service, "method", name, "error", err)
			}
			apierr.WriteTwirp(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
	return &handler{next: inner, opts: opts}
}

// DecodeJSON decodes a JSON request strictly into v: one object, no unknown fields.
func DecodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %s", apierr.ErrMalformed, err.Error())
	}
	if d.More() {
		return fmt.Errorf("%w: one JSON object expected", apierr.ErrMalformed)
	}
	return nil
}

// actorOf describes the caller of an API request for the events it causes.
func actorOf(c *auth.Claims, r *http.Request) events.Actor {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return events.Actor{Kind: events.ActorAdmin, APIKey: c.APIKey, Identity: c.Identity(), Address: host, RequestID: RequestID(r)}
}

// RequestID returns the caller's X-Request-Id (or, failing that, the
// X-Livekit-Request-Id LiveKit's server SDKs send) when it is a plain token (at most 64
// letters, digits, '-', '_', '.', ':'), else a new ID.
func RequestID(r *http.Request) string {
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		id = r.Header.Get("X-Livekit-Request-Id")
	}
	plain := func(c rune) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)
	}
	if id != "" && len(id) <= 64 && strings.IndexFunc(id, func(c rune) bool { return !plain(c) }) < 0 {
		return id
	}
	return guid.New("REQ_")
}

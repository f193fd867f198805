package audit

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/store"
)

// Bounds of a query.
const (
	// DefaultPageSize is the page size of a query that gives none.
	DefaultPageSize = 100
	// MaxPageSize is the largest page size a query may ask for.
	MaxPageSize = 1000
	// MaxFilterLength bounds each string filter, in bytes.
	MaxFilterLength = 1024
	// MaxKinds bounds the kinds one query names.
	MaxKinds = 32
	// maxScan bounds the records one query examines: a query whose filters match few
	// records returns a short page (possibly empty) and a page token.
	maxScan = 20000
	// maxPageToken bounds a page token, in bytes.
	maxPageToken = 64
	// maxPageBytes bounds the records of one page, as stored (about their JSON size):
	// records carry metadata before and after, up to 64000 bytes each.
	maxPageBytes = 4 << 20
)

// The orders of a listing.
const (
	NewestFirst = "newest_first"
	OldestFirst = "oldest_first"
)

// earliest and latest bound the times a query may name: the times an audit key holds.
var (
	earliest = time.Unix(0, 0).UTC()
	latest   = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ListRequest is a query as the API takes it: ListAuditEvents' JSON body, or the REST
// gateway's query parameters (ParseValues). Every field is optional.
type ListRequest struct {
	// Room selects the records of one room (by name).
	Room string `json:"room,omitempty"`
	// Identity selects the records whose target or actor has this identity.
	Identity string `json:"identity,omitempty"`
	// ActorIdentity and ActorAPIKey select the records of one actor.
	ActorIdentity string `json:"actor_identity,omitempty"`
	ActorAPIKey   string `json:"actor_api_key,omitempty"`
	// RequestID selects the records of one API request.
	RequestID string `json:"request_id,omitempty"`
	// Tenant selects the records of one tenant's rooms (auth_id).
	Tenant string `json:"tenant,omitempty"`
	// Kinds selects the records of these kinds.
	Kinds []string `json:"kinds,omitempty"`
	// Since (inclusive) and Until (exclusive) bound the records' time (RFC 3339).
	Since string `json:"since,omitempty"`
	Until string `json:"until,omitempty"`
	// Order is newest_first (the default) or oldest_first.
	Order string `json:"order,omitempty"`
	// PageSize is the most records per page: 1 to 1000, default 100.
	PageSize int `json:"page_size,omitempty"`
	// PageToken resumes a listing where the previous page ended (its next_page_token,
	// with the same filters and order).
	PageToken string `json:"page_token,omitempty"`
}

// Query is a validated ListRequest.
type Query struct {
	Room, Identity, ActorIdentity, ActorAPIKey, RequestID, Tenant string

	Kinds        []string
	Since, Until time.Time
	OldestFirst  bool
	PageSize     int
	// after is where the page token says to resume.
	after []byte
}

// Page is one page of records. An empty NextPageToken ends the listing; a page may be
// short, or empty, while it goes on (a query examines a bounded number of records).
type Page struct {
	Events        []Record `json:"events"`
	NextPageToken string   `json:"next_page_token,omitempty"`
}

// Query validates the request and returns its query. Every error wraps
// room.ErrInvalidArgument and names the field.
func (r *ListRequest) Query() (Query, error) {
	q := Query{
		Room: r.Room, Identity: r.Identity, ActorIdentity: r.ActorIdentity, ActorAPIKey: r.ActorAPIKey,
		RequestID: r.RequestID, Tenant: r.Tenant, PageSize: r.PageSize,
	}
	for _, f := range []struct{ name, v string }{
		{"room", r.Room}, {"identity", r.Identity}, {"actor_identity", r.ActorIdentity},
		{"actor_api_key", r.ActorAPIKey}, {"request_id", r.RequestID}, {"tenant", r.Tenant},
	} {
		if len(f.v) > MaxFilterLength {
			return Query{}, invalid("%s is %d bytes; the limit is %d", f.name, len(f.v), MaxFilterLength)
		}
		if !utf8.ValidString(f.v) {
			return Query{}, invalid("%s is not valid UTF-8", f.name)
		}
	}
	if len(r.Kinds) > MaxKinds {
		return Query{}, invalid("kinds names %d kinds; the limit is %d", len(r.Kinds), MaxKinds)
	}
	for _, k := range r.Kinds {
		if k == "" || len(k) > 64 || strings.IndexFunc(k, func(c rune) bool { return (c < 'a' || c > 'z') && c != '_' }) >= 0 {
			return Query{}, invalid("kinds: %q is not an event kind (such as participant_removed)", short(k))
		}
		q.Kinds = append(q.Kinds, k)
	}
	var err error
	if q.Since, err = parseTime("since", r.Since); err != nil {
		return Query{}, err
	}
	if q.Until, err = parseTime("until", r.Until); err != nil {
		return Query{}, err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return Query{}, invalid("until (%s) must be after since (%s)", r.Until, r.Since)
	}
	switch r.Order {
	case "", NewestFirst:
	case OldestFirst:
		q.OldestFirst = true
	default:
		return Query{}, invalid("order: %q is not %s or %s", short(r.Order), NewestFirst, OldestFirst)
	}
	switch {
	case q.PageSize == 0:
		q.PageSize = DefaultPageSize
	case q.PageSize < 0 || q.PageSize > MaxPageSize:
		return Query{}, invalid("page_size: %d is not between 1 and %d", q.PageSize, MaxPageSize)
	}
	if r.PageToken != "" {
		if q.after, err = decodeToken(r.PageToken, q.OldestFirst); err != nil {
			return Query{}, err
		}
	}
	return q, nil
}

func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if len(v) > 64 {
		return time.Time{}, invalid("%s is not an RFC 3339 time", field)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalid("%s: %q is not an RFC 3339 time such as 2025-01-31T09:00:00Z", field, v)
	}
	if t.Before(earliest) || !t.Before(latest) {
		return time.Time{}, invalid("%s: %s is not between 1970 and 2262", field, v)
	}
	return t, nil
}

// The page token: a version byte, the order, and the key of the last record examined,
// in unpadded base64url.
const tokenVersion = 1

func encodeToken(key []byte, oldestFirst bool) string {
	order := byte(0)
	if oldestFirst {
		order = 1
	}
	return base64.RawURLEncoding.EncodeToString(append([]byte{tokenVersion, order}, key...))
}

func decodeToken(tok string, oldestFirst bool) ([]byte, error) {
	if len(tok) > maxPageToken {
		return nil, invalid("page_token is not a token this server issued")
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 2+store.AuditKeySize || b[0] != tokenVersion || b[1] > 1 {
		return nil, invalid("page_token is not a token this server issued")
	}
	if (b[1] == 1) != oldestFirst {
		return nil, invalid("page_token continues a listing in the other order")
	}
	return b[2:], nil
}

// List returns one page of the records q selects.
func (l *Log) List(ctx context.Context, q Query) (Page, error) {
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	res, err := l.opts.Store.ListAudit(store.AuditFilter{
		Room: q.Room, Tenant: q.Tenant, Identity: q.Identity, ActorIdentity: q.ActorIdentity,
		ActorAPIKey: q.ActorAPIKey, RequestID: q.RequestID, Kinds: q.Kinds,
		Since: q.Since, Until: q.Until, Ascending: q.OldestFirst, After: q.after,
		Limit: q.PageSize, MaxScan: maxScan, MaxBytes: maxPageBytes,
	})
	if err != nil {
		return Page{}, fmt.Errorf("reading the audit log: %w", err)
	}
	p := Page{Events: res.Records}
	if p.Events == nil {
		p.Events = []Record{}
	}
	if res.Next != nil {
		p.NextPageToken = encodeToken(res.Next, q.OldestFirst)
	}
	return p, nil
}

// The query parameters ParseValues takes, besides the REST gateway's api_key.
var valueNames = map[string]bool{
	"room_name": true, "identity": true, "actor_identity": true, "actor_api_key": true, "request_id": true,
	"kind": true, "since": true, "until": true, "order": true, "page_size": true, "page_token": true,
}

// ParseValues reads a ListRequest from URL query parameters (the REST gateway's):
// room_name, identity, actor_identity, actor_api_key, request_id, kind (repeated, or
// comma-separated), since, until, order, page_size, page_token. An unknown parameter
// or a repeated one (but kind) is an error; ignore names parameters to pass over.
// The tenant is not a parameter: the gateway sets it from the caller.
func ParseValues(v url.Values, ignore ...string) (ListRequest, error) {
	var r ListRequest
	for name, vals := range v {
		if !valueNames[name] {
			skip := false
			for _, i := range ignore {
				skip = skip || name == i
			}
			if !skip {
				return r, invalid("unknown query parameter %q", short(name))
			}
			continue
		}
		if name == "kind" {
			for _, k := range vals {
				r.Kinds = append(r.Kinds, strings.Split(k, ",")...)
				if len(r.Kinds) > MaxKinds {
					return r, invalid("kind names more than %d kinds", MaxKinds)
				}
			}
			continue
		}
		if len(vals) > 1 {
			return r, invalid("query parameter %q is given %d times", name, len(vals))
		}
		val := vals[0]
		switch name {
		case "room_name":
			r.Room = val
		case "identity":
			r.Identity = val
		case "actor_identity":
			r.ActorIdentity = val
		case "actor_api_key":
			r.ActorAPIKey = val
		case "request_id":
			r.RequestID = val
		case "since":
			r.Since = val
		case "until":
			r.Until = val
		case "order":
			r.Order = val
		case "page_token":
			r.PageToken = val
		case "page_size":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > MaxPageSize {
				return r, invalid("page_size: %q is not a number between 1 and %d", short(val), MaxPageSize)
			}
			r.PageSize = n
		}
	}
	return r, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{room.ErrInvalidArgument}, args...)...)
}

// short bounds s for quoting in a message.
func short(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}

// ForTenant returns records as a tenant sees them: the API key and network address of
// an actor are kept only for the room's participants and for the tenant's own calls;
// an operator's (an admin's, the server's, another tenant's) are cleared. The records
// are copied, never changed.
func ForTenant(recs []Record, tenant string) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		a := r.Actor
		own := a.Kind == events.ActorParticipant || (a.Kind == events.ActorTenant && a.Tenant == tenant && tenant != "")
		if !own {
			r.Actor.APIKey, r.Actor.Address = "", ""
		}
		out[i] = r
	}
	return out
}

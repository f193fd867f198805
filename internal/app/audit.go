package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	lkauth "github.com/livekit/protocol/auth"

	"github.com/usher-rtc/usher/internal/audit"
)

// auditTimeout bounds each request `usher audit` makes.
const auditTimeout = 30 * time.Second

// maxAuditResponse bounds one page's response body.
const maxAuditResponse = 64 << 20

// auditCmd prints audit records of a running server: it asks the usher.Audit service
// (ListAuditEvents), page after page, with a token it signs like `lk` does.
func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlagSet("audit")
	serverURL := fs.String("url", "", "the server's `URL` (env LIVEKIT_URL; default http://localhost:7880)")
	apiKey := fs.String("api-key", "", "API `key` that signs the request (env LIVEKIT_API_KEY)")
	apiSecret := fs.String("api-secret", "", "API `secret` of the key (env LIVEKIT_API_SECRET)")
	var req audit.ListRequest
	fs.StringVar(&req.Room, "room", "", "only the records of this `room` (needs only roomAdmin for it; without, the key must be server-wide)")
	fs.StringVar(&req.Identity, "identity", "", "only the records whose participant or actor has this `identity`")
	fs.StringVar(&req.ActorIdentity, "actor-identity", "", "only the records of actions by this `identity`")
	fs.StringVar(&req.ActorAPIKey, "actor-api-key", "", "only the records of actions by holders of this API `key`")
	fs.StringVar(&req.RequestID, "request-id", "", "only the records of this API request (`id`)")
	fs.StringVar(&req.Tenant, "tenant", "", "only the records of this tenant's rooms (`auth_id`)")
	var kinds stringList
	fs.Var(&kinds, "kind", "only records of this `kind` (participant_removed…); repeat or separate with commas")
	since := fs.String("since", "", "only records from this `time` on: RFC 3339 (2025-01-31T09:00:00Z) or a duration ago (2h)")
	until := fs.String("until", "", "only records before this `time`: RFC 3339 or a duration ago")
	oldestFirst := fs.Bool("oldest-first", false, "list the oldest records first (default: the newest first)")
	limit := fs.Int("limit", 100, "print at most this many `records`; 0 prints every one")
	asJSON := fs.Bool("json", false, "print each record as one JSON object per line")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *limit < 0 {
		return errors.New("--limit must be 0 or more")
	}
	base, err := auditURL(firstNonEmpty(*serverURL, getenv("LIVEKIT_URL"), "http://localhost:7880"))
	if err != nil {
		return err
	}
	key, secret := firstNonEmpty(*apiKey, getenv("LIVEKIT_API_KEY")), firstNonEmpty(*apiSecret, getenv("LIVEKIT_API_SECRET"))
	if key == "" || secret == "" {
		return errors.New("usher audit needs --api-key and --api-secret (or LIVEKIT_API_KEY and LIVEKIT_API_SECRET)")
	}
	for _, k := range kinds {
		for _, part := range strings.Split(k, ",") {
			if part = strings.TrimSpace(part); part != "" {
				req.Kinds = append(req.Kinds, part)
			}
		}
	}
	now := time.Now()
	if req.Since, err = auditTime("--since", *since, now); err != nil {
		return err
	}
	if req.Until, err = auditTime("--until", *until, now); err != nil {
		return err
	}
	if *oldestFirst {
		req.Order = audit.OldestFirst
	}
	// Checked here as the server checks it, so a mistake is reported before a request.
	if _, err := req.Query(); err != nil {
		return err
	}
	grant := &lkauth.VideoGrant{RoomList: true, RoomCreate: true}
	if req.Room != "" {
		grant = &lkauth.VideoGrant{RoomAdmin: true, Room: req.Room}
	}
	tok, err := lkauth.NewAccessToken(key, secret).SetValidFor(10 * time.Minute).SetVideoGrant(grant).ToJWT()
	if err != nil {
		return fmt.Errorf("signing the token: %w", err)
	}
	client := &http.Client{Timeout: auditTimeout}
	printed := 0
	for {
		req.PageSize = audit.MaxPageSize
		if *limit > 0 {
			req.PageSize = min(*limit-printed, audit.MaxPageSize)
		}
		page, err := listAuditPage(ctx, client, base, tok, &req)
		if err != nil {
			return err
		}
		for _, r := range page.Events {
			if *asJSON {
				line, err := json.Marshal(r)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s\n", line)
			} else {
				fmt.Fprintln(stdout, FormatAuditRecord(r))
			}
			printed++
		}
		if page.NextPageToken == "" || (*limit > 0 && printed >= *limit) {
			if page.NextPageToken != "" && !*asJSON {
				fmt.Fprintf(stderr, "(%d records printed; more match: raise --limit, or 0 for all)\n", printed)
			}
			return nil
		}
		req.PageToken = page.NextPageToken
	}
}

// listAuditPage asks for one page.
func listAuditPage(ctx context.Context, client *http.Client, base, tok string, req *audit.ListRequest) (*audit.Page, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/twirp/usher.Audit/ListAuditEvents", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("asking %s: %w", base, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAuditResponse))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		var te struct {
			Code string `json:"code"`
			Msg  string `json:"msg"`
		}
		if json.Unmarshal(data, &te) == nil && te.Code != "" {
			return nil, fmt.Errorf("%s: %s", te.Code, te.Msg)
		}
		return nil, fmt.Errorf("%s answered %s", base, resp.Status)
	}
	var page audit.Page
	if err := json.Unmarshal(data, &page); err != nil {
		return nil, fmt.Errorf("the answer of %s is not an audit page: %w", base, err)
	}
	return &page, nil
}

// auditURL turns the server URL (http, https, ws or wss, as `lk` takes it) into the
// base of its HTTP API.
func auditURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--url %q is not a URL such as http://localhost:7880", raw)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("--url %q must start with http://, https://, ws:// or wss://", raw)
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// auditTime reads --since / --until: an RFC 3339 time, or a duration before now.
func auditTime(flagName, v string, now time.Time) (string, error) {
	if v == "" {
		return "", nil
	}
	if _, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return v, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return "", fmt.Errorf("%s %q is neither an RFC 3339 time (2025-01-31T09:00:00Z) nor a duration ago (2h)", flagName, v)
	}
	return now.Add(-d).UTC().Format(time.RFC3339Nano), nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// FormatAuditRecord is a record on one line, as `usher audit` prints it: the time,
// the kind, then key=value pairs (values quoted when they need it; long ones cut), and
// the changes as field: before → after.
func FormatAuditRecord(r audit.Record) string {
	var b strings.Builder
	b.WriteString(r.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteString(" ")
	b.WriteString(r.Kind)
	kv := func(k, v string) {
		if v != "" {
			b.WriteString(" " + k + "=" + logValue(v))
		}
	}
	kv("room", r.Room)
	kv("room_sid", r.RoomSID)
	kv("tenant", r.Tenant)
	kv("participant", r.ParticipantIdentity)
	kv("participant_sid", r.ParticipantSID)
	kv("track", r.TrackSID)
	if len(r.Tracks) > 0 {
		kv("tracks", strings.Join(r.Tracks, ","))
	}
	kv("destination", r.Destination)
	kv("topic", r.Topic)
	if len(r.DestinationIdentities) > 0 {
		kv("destination_identities", strings.Join(r.DestinationIdentities, ","))
	}
	if r.Until != nil {
		kv("until", r.Until.UTC().Format(time.RFC3339))
	}
	a := r.Actor
	kv("actor", string(a.Kind))
	kv("actor_identity", a.Identity)
	kv("actor_api_key", a.APIKey)
	kv("actor_tenant", a.Tenant)
	kv("actor_room", a.Room)
	kv("actor_address", a.Address)
	kv("request_id", a.RequestID)
	kv("reason", r.Reason)
	for _, c := range r.Changes {
		b.WriteString(" " + logValue(c.Field) + ": " + strconv.Quote(cut(c.Before)) + " → " + strconv.Quote(cut(c.After)))
	}
	return b.String()
}

// logValue quotes v when it is empty or holds a space, a quote, '=' or a character
// that is not printable, and cuts it when it is long.
func logValue(v string) string {
	v = cut(v)
	if v == "" || strings.IndexFunc(v, func(c rune) bool {
		return unicode.IsSpace(c) || c == '"' || c == '=' || !unicode.IsPrint(c)
	}) >= 0 {
		return strconv.Quote(v)
	}
	return v
}

// cut shortens v to about 120 characters.
func cut(v string) string {
	const n = 120
	if len(v) <= n {
		return v
	}
	i := n
	for i > 0 && !utf8.RuneStart(v[i]) {
		i--
	}
	return v[:i] + "…"
}

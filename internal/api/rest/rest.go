// Package rest is Usher's REST gateway: plain JSON endpoints under /livekit/ for
// product backends that want neither Twirp nor JWT minting, with one API token per
// tenant and tenant isolation by the rooms' metadata.auth_id.
//
// The gateway depends on livekit.RoomService, so it fronts this server or a remote
// LiveKit-compatible one alike; bans, host controls, the waiting room and presets go
// through Usher's own services (twirpapi.ModerationService, HostControlsService,
// WaitingRoomService, PresetsService), this server's or a remote Usher's.
package rest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"

	twirpapi "github.com/usher-rtc/usher/internal/api/twirp"
	"github.com/usher-rtc/usher/internal/apierr"
	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/room"
)

// Options configures the gateway.
type Options struct {
	// Service is the Room service the gateway acts through.
	Service livekit.RoomService
	// Moderation bans, lists and lifts bans (usher.Moderation, this server's or the
	// upstream's, called as Service is); nil answers the ban endpoints NOT_SUPPORTED.
	Moderation twirpapi.ModerationService
	// HostControls runs the backend's host controls (usher.HostControls, this server's
	// or the upstream's); nil answers the host-control endpoints NOT_SUPPORTED.
	HostControls twirpapi.HostControlsService
	// WaitingRoom lists, admits and denies waiting participants and reads and changes a
	// room's waiting-room settings (usher.WaitingRoom, this server's or the upstream's);
	// nil answers the waiting-room endpoints NOT_SUPPORTED.
	WaitingRoom twirpapi.WaitingRoomService
	// Presets reads and writes presets (usher.Presets, this server's or the
	// upstream's); nil answers the preset endpoints NOT_SUPPORTED.
	Presets twirpapi.PresetsService
	// Local says Service is this server's own: its calls then carry operator rights
	// (auth.OperatorContext), since the gateway enforces tenancy itself. A remote
	// service signs its calls with the upstream's key instead.
	Local bool
	// Tokens maps API tokens to auth ids (tenants).
	Tokens map[string]string
	// AuthRequired refuses requests without a token.
	AuthRequired bool
	// APIKey and APISecret sign the join tokens the gateway issues.
	APIKey, APISecret string
	// LiveKitURL is the URL returned with issued tokens (rest.livekit_url). When it is
	// empty, DefaultLiveKitURL gives it. The request's Host is never used: it is the
	// caller's to choose.
	LiveKitURL string
	// DefaultLiveKitURL returns this server's own URL, from its configuration.
	DefaultLiveKitURL func() string
	// CORSOrigins are the web origins allowed to call the gateway from a browser
	// (rest.cors_origins); "*" allows every origin, and only with AuthRequired. See
	// origin.go for the whole browser policy.
	CORSOrigins []string
	// Limits are the server's input limits: issued tokens carry nothing a join would
	// refuse. The zero value means the defaults.
	Limits config.LimitConfig
	// MaxTokenSize bounds an issued token, in bytes: the most the server that verifies
	// it accepts. 0 means auth.MaxTokenSize, this server's bound.
	MaxTokenSize int
	// DefaultTokenTTL and MaxTokenTTL bound issued tokens.
	DefaultTokenTTL, MaxTokenTTL time.Duration
	// MaxBodySize bounds request bodies.
	MaxBodySize int64
	// Timeout bounds each request's calls to the Room service.
	Timeout time.Duration
	// OpenAPI is the OpenAPI document served at /livekit/openapi.{yaml,json}.
	OpenAPIYAML, OpenAPIJSON []byte
	// PresetExists reports whether a preset is defined on this server (a local
	// gateway); nil leaves the check to the server the token joins.
	PresetExists func(name string) bool
	// Audit is this server's audit log, read by GET /livekit/audit; nil (a gateway
	// fronting an upstream) answers NOT_SUPPORTED.
	Audit  AuditLog
	Logger *slog.Logger
}

// Gateway serves /livekit/.
type Gateway struct {
	opts   Options
	log    *slog.Logger
	tokens []apiToken
	routes []route
	cors   corsPolicy
}

type apiToken struct {
	hash   [32]byte
	authID string
}

type route struct {
	method  string
	pattern string // "/livekit/rooms/{room_name}" style; one trailing {param} at most
	handler func(ctx context.Context, c caller, r *http.Request) (int, any, error)
}

// New returns a gateway.
func New(opts Options) *Gateway {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Limits == (config.LimitConfig{}) {
		opts.Limits = config.Default().Limit
	}
	if opts.MaxTokenSize == 0 {
		opts.MaxTokenSize = auth.MaxTokenSize
	}
	g := &Gateway{opts: opts, log: opts.Logger}
	var warnings []string
	g.cors, warnings = newCORSPolicy(opts.CORSOrigins, opts.LiveKitURL, opts.AuthRequired)
	for _, w := range warnings {
		g.log.Warn(w)
	}
	for tok, id := range opts.Tokens {
		g.tokens = append(g.tokens, apiToken{hash: sha256.Sum256([]byte(tok)), authID: id})
	}
	g.routes = []route{
		{http.MethodPost, "/livekit/token", g.issueToken},
		{http.MethodGet, "/livekit/rooms", g.listRooms},
		{http.MethodPost, "/livekit/rooms", g.createRoom},
		{http.MethodGet, "/livekit/rooms/{room_name}", g.getRoom},
		{http.MethodDelete, "/livekit/rooms/{room_name}", g.deleteRoom},
		{http.MethodDelete, "/livekit/participant", g.removeParticipant},
		{http.MethodPost, "/livekit/participant/mute", g.muteTrack},
		{http.MethodPost, "/livekit/participant/update", g.updateParticipant},
		{http.MethodPost, "/livekit/participant/move", g.moveParticipant},
		{http.MethodPost, "/livekit/participant/forward", g.forwardParticipant},
		{http.MethodPost, "/livekit/participant/enable", g.enableParticipant},
		{http.MethodPost, "/livekit/participant/pin", g.pinParticipant},
		{http.MethodPost, "/livekit/participant/unpin", g.unpinParticipant},
		{http.MethodPost, "/livekit/participants/disable", g.disableAll},
		{http.MethodPost, "/livekit/participants/remove", g.removeSelected},
		{http.MethodGet, "/livekit/waiting", g.listWaiting},
		{http.MethodPost, "/livekit/waiting/admit", g.admitWaiting},
		{http.MethodPost, "/livekit/waiting/admit_all", g.admitAllWaiting},
		{http.MethodPost, "/livekit/waiting/deny", g.denyWaiting},
		{http.MethodGet, "/livekit/waiting/settings", g.getWaitingSettings},
		{http.MethodPut, "/livekit/waiting/settings", g.setWaitingSettings},
		{http.MethodGet, "/livekit/presets", g.presetRoute(false, listPresets)},
		{http.MethodPost, "/livekit/presets", g.presetRoute(true, createPreset)},
		{http.MethodGet, "/livekit/presets/{name}", g.presetRoute(false, getPreset)},
		{http.MethodPut, "/livekit/presets/{name}", g.presetRoute(true, updatePreset)},
		{http.MethodDelete, "/livekit/presets/{name}", g.presetRoute(true, deletePreset)},
		{http.MethodGet, "/livekit/audit", g.listAudit},
		{http.MethodPost, "/livekit/bans", g.banParticipant},
		{http.MethodGet, "/livekit/bans", g.listBans},
		{http.MethodDelete, "/livekit/bans", g.liftBan},
	}
	return g
}

// caller is who a request acts as: the auth id of its API token, or none (open mode).
type caller struct {
	authID string
}

// actor describes the caller for the events its request causes: a tenant, or an
// operator of the whole server (a token without auth id, or no token when none is
// required).
func (c caller) actor(r *http.Request) events.Actor {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a := events.Actor{Kind: events.ActorTenant, Tenant: c.authID, Address: host, RequestID: twirpapi.RequestID(r)}
	if c.authID == "" {
		a.Kind = events.ActorAdmin
		a.Identity = "rest-gateway"
	}
	return a
}

// owns reports whether the caller may act on a room with this metadata: without an
// auth id everything is allowed; with one, the room's metadata must be a JSON object
// whose auth_id equals it.
func (c caller) owns(r *livekit.Room) bool {
	return c.authID == "" || authIDOf(r.GetMetadata()) == c.authID
}

func authIDOf(metadata string) string { return room.TenantOf(metadata) }

// authenticate finds the caller of r. Tokens are compared in constant time, against
// every configured token.
func (g *Gateway) authenticate(r *http.Request) (caller, error) {
	tok := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(rest) == "" {
			return caller{}, fmt.Errorf(`%w: the Authorization header must be "Bearer <token>"`, apierr.ErrUnauthorized)
		}
		tok = strings.TrimSpace(rest)
	} else {
		tok = r.URL.Query().Get("api_key")
	}
	if tok == "" {
		if g.opts.AuthRequired {
			return caller{}, fmt.Errorf(`%w: an API token is required: send "Authorization: Bearer <token>" or ?api_key=<token>`, apierr.ErrUnauthorized)
		}
		return caller{}, nil
	}
	h := sha256.Sum256([]byte(tok))
	found := ""
	for _, t := range g.tokens {
		if subtle.ConstantTimeCompare(h[:], t.hash[:]) == 1 {
			found = t.authID
		}
	}
	if found == "" {
		return caller{}, fmt.Errorf("%w: the API token is not valid", apierr.ErrUnauthorized)
	}
	return caller{authID: found}, nil
}

// ServeHTTP routes /livekit/ requests, after the browser policy (see origin.go).
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.applyOrigin(w, r) {
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	if r.Method == http.MethodGet && (path == "/livekit/openapi.yaml" || path == "/livekit/openapi.json") {
		g.serveOpenAPI(w, path)
		return
	}
	var allowed []string
	for _, rt := range g.routes {
		params, ok := match(rt.pattern, r.URL)
		if !ok {
			continue
		}
		if rt.method != r.Method {
			allowed = append(allowed, rt.method)
			continue
		}
		for k, v := range params {
			r.SetPathValue(k, v)
		}
		g.serve(w, r, rt)
		return
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		apierr.WriteREST(w, fmt.Errorf("%w: %s %s; use %s", apierr.ErrMethodNotAllowed, r.Method, path, strings.Join(allowed, " or ")))
		return
	}
	apierr.WriteREST(w, fmt.Errorf("%w: no endpoint %s", apierr.ErrBadRoute, path))
}

// match matches a pattern with at most one trailing {param} segment against the
// request path, unescaping the parameter.
func match(pattern string, u interface{ EscapedPath() string }) (map[string]string, bool) {
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	prefix, param, hasParam := strings.Cut(pattern, "{")
	if !hasParam {
		return nil, path == pattern
	}
	if !strings.HasPrefix(path, prefix) {
		return nil, false
	}
	raw := strings.TrimPrefix(path, prefix)
	if raw == "" || strings.Contains(raw, "/") {
		return nil, false
	}
	v, err := unescape(raw)
	if err != nil {
		return nil, false
	}
	return map[string]string{strings.TrimSuffix(param, "}"): v}, true
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, rt route) {
	c, err := g.authenticate(r)
	if err == nil && c.authID == "" {
		err = g.checkHost(r)
	}
	if err != nil {
		apierr.WriteREST(w, err)
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, g.opts.MaxBodySize)
	}
	ctx := r.Context()
	if g.opts.Local {
		ctx = auth.OperatorContext(ctx)
	}
	ctx = events.NewContext(ctx, c.actor(r))
	if g.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.opts.Timeout)
		defer cancel()
	}
	status, body, err := rt.handler(ctx, c, r)
	if err != nil {
		if _, known := apierr.Lookup(err); !known {
			g.log.Error("REST request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		}
		apierr.WriteREST(w, err)
		return
	}
	apierr.WriteJSON(w, status, body)
}

func (g *Gateway) serveOpenAPI(w http.ResponseWriter, path string) {
	if strings.HasSuffix(path, ".json") {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(g.opts.OpenAPIJSON)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(g.opts.OpenAPIYAML)
}

// room returns the room the caller may act on. A room of another tenant is reported
// exactly as a missing one, so a tenant cannot tell them apart.
func (g *Gateway) room(ctx context.Context, c caller, name string) (*livekit.Room, error) {
	res, err := g.opts.Service.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{name}})
	if err != nil {
		return nil, err
	}
	for _, r := range res.Rooms {
		if r.Name == name && c.owns(r) {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", room.ErrRoomNotFound, name)
}

// bind returns the metadata binding a new room to the caller: their metadata (a JSON
// object, or nothing) with auth_id set. Without an auth id, metadata is kept as given.
func (c caller) bind(metadata string) (string, error) {
	if c.authID == "" {
		return metadata, nil
	}
	m := map[string]any{}
	if metadata != "" {
		if err := json.Unmarshal([]byte(metadata), &m); err != nil || m == nil {
			return "", fmt.Errorf("%w: metadata must be a JSON object, so the room can carry your auth_id", room.ErrInvalidArgument)
		}
	}
	m["auth_id"] = c.authID
	b, err := json.Marshal(m)
	return string(b), err
}

// createOwned creates a room bound to the caller, or returns the existing one when the
// caller may use it. A room of another tenant is ROOM_ACCESS_DENIED (403): creating a
// name that is taken cannot be masked.
func (g *Gateway) createOwned(ctx context.Context, c caller, req *livekit.CreateRoomRequest) (*livekit.Room, error) {
	md, err := c.bind(req.Metadata)
	if err != nil {
		return nil, err
	}
	req.Metadata = md
	r, err := g.opts.Service.CreateRoom(ctx, req)
	if err != nil {
		return nil, err
	}
	if !c.owns(r) {
		return nil, fmt.Errorf("%w: room %q belongs to another tenant", apierr.ErrRoomAccessDenied, req.Name)
	}
	return r, nil
}

// Package signal serves LiveKit's /rtc WebSocket signal protocol: it admits
// participants (checking their token and the room's rules before the upgrade, so a
// refused join gets an HTTP error that says why), then runs one session per
// participant that carries signal messages and drives the participant's WebRTC
// transports.
package signal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/apierr"
	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/rtc"
)

// Options configures the signal handler.
type Options struct {
	Rooms    *room.Manager
	Verifier *auth.Verifier
	// Keys signs refreshed tokens with the key the participant's token used.
	Keys   auth.KeyProvider
	Engine *rtc.Engine
	// Revocations refuses revoked tokens; nil refuses none.
	Revocations *auth.Revocations
	// AutoCreate creates rooms on join.
	AutoCreate bool
	// PingInterval and PingTimeout are announced to clients; a connection silent for
	// PingTimeout is considered dead.
	PingInterval, PingTimeout time.Duration
	// ResumeWindow is how long a participant whose signal connection dropped stays in
	// the room waiting for the client to resume.
	ResumeWindow time.Duration
	// JoinTimeout is how long a participant may take to connect its primary transport.
	JoinTimeout time.Duration
	// RefreshInterval is how often a fresh token is pushed; TokenTTL is its validity.
	RefreshInterval, TokenTTL time.Duration
	// QueueSize bounds a connection's outbound queue, in messages.
	QueueSize int
	// QualityInterval is how often each connection is rated (0: QualityInterval).
	QualityInterval time.Duration
	// WriteTimeout bounds one frame write.
	WriteTimeout time.Duration
	// ServerInfo is sent in JoinResponse and ReconnectResponse.
	ServerInfo *livekit.ServerInfo
	// ICEServers (rtc.turn_servers) are announced in JoinResponse and ReconnectResponse.
	ICEServers []*livekit.ICEServer
	// MaxConnectionsPerIP and MaxConnectionsPerIdentity cap the signal WebSockets open at
	// once from one client address and for one identity in one room; a connection over
	// a cap is refused before the upgrade with HTTP 429. 0 means no cap.
	MaxConnectionsPerIP, MaxConnectionsPerIdentity int
	// Limits bounds what participants bring to a join and send on the signal
	// connection (metadata and attribute sizes, which also size update_metadata).
	Limits config.LimitConfig
	Logger *slog.Logger
}

// Handler serves /rtc, /rtc/v1 and their /validate endpoints.
type Handler struct {
	opts     Options
	log      *slog.Logger
	upgrader websocket.Upgrader
	caps     *connCaps
	bounds   *Bounds

	// dataDropped counts data packets dropped for being over their bounds.
	dataDropped atomic.Int64

	mu       sync.Mutex
	sessions map[string]*Session // by participant SID
	closed   bool
	wg       sync.WaitGroup
}

// NewHandler returns a signal handler.
func NewHandler(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Limits == (config.LimitConfig{}) {
		opts.Limits = config.Default().Limit
	}
	if opts.QualityInterval == 0 {
		opts.QualityInterval = QualityInterval
	}
	return &Handler{
		opts: opts,
		log:  opts.Logger,
		upgrader: websocket.Upgrader{
			ReadBufferSize:  4096,
			WriteBufferSize: 4096,
			// Tokens, not origins, authorize a connection; browsers connect from any app.
			CheckOrigin: func(*http.Request) bool { return true },
		},
		caps:     newConnCaps(opts.MaxConnectionsPerIP, opts.MaxConnectionsPerIdentity),
		bounds:   NewBounds(opts.Limits),
		sessions: make(map[string]*Session),
	}
}

// ServeHTTP routes the signal endpoints.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch path {
	case "/rtc", "/rtc/v1":
		h.serveJoin(w, r)
	case "/rtc/validate", "/rtc/v1/validate":
		h.serveValidate(w, r)
	default:
		http.NotFound(w, r)
	}
}

// httpError writes err as a plain-text HTTP error with the catalogue's status. The
// message never contains the token.
func httpError(w http.ResponseWriter, err error) {
	e, _ := apierr.Lookup(err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	// Plain text with nosniff: no browser renders it as HTML.
	_, _ = fmt.Fprintln(w, apierr.Message(err)) //nolint:gosec // G705: see above
}

// admission is a verified request to join.
type admission struct {
	claims   *auth.Claims
	params   *joinParams
	room     string
	tokenRef auth.TokenRef
}

// admit verifies the token and the parameters of a join or validate request. A banned
// identity is told so (403, with the ban's reason) before anything is said about its
// token's revocation, so that it learns why it is kept out.
func (h *Handler) admit(r *http.Request) (*admission, error) {
	raw, err := auth.FromRequest(r)
	if err != nil {
		return nil, err
	}
	claims, err := h.opts.Verifier.Verify(raw)
	if err != nil {
		return nil, err
	}
	v := claims.Video()
	if !v.RoomJoin || v.Room == "" {
		return nil, fmt.Errorf("%w: joining a room requires a token with the roomJoin grant and a room", auth.ErrPermissionDenied)
	}
	params, err := parseJoinParams(r.URL.Query(), h.bounds)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", room.ErrInvalidArgument, err)
	}
	if err := checkOwnFields(claims, params); err != nil {
		return nil, err
	}
	a := &admission{claims: claims, params: params, room: v.Room, tokenRef: auth.RefOf(raw, claims.ExpiresAt)}
	if err := h.opts.Rooms.CheckBanned(a.room, a.joinParams(nil)); err != nil {
		return nil, err
	}
	if err := h.opts.Revocations.Check(raw, claims); err != nil {
		return nil, err
	}
	return a, nil
}

// checkOwnFields applies the rule of update_metadata to a join: metadata or attributes
// from the query or the join_request that change what the token says need the
// token's canUpdateOwnMetadata grant. Values equal to the token's change nothing.
func checkOwnFields(claims *auth.Claims, p *joinParams) error {
	g := claims.Grants
	for k, v := range p.attributes {
		if tv, ok := g.Attributes[k]; room.IsReservedAttribute(k) && (!ok || tv != v) {
			return fmt.Errorf("%w: attribute %q is reserved: only the server (or the token, for %s) sets it",
				auth.ErrPermissionDenied, k, room.AttrPreset)
		}
	}
	if claims.Video().GetCanUpdateOwnMetadata() {
		return nil
	}
	var changed []string
	if p.metadata != "" && p.metadata != g.Metadata {
		changed = append(changed, "metadata")
	}
	for k, v := range p.attributes {
		if tv, ok := g.Attributes[k]; v != "" && (!ok || tv != v) {
			changed = append(changed, "attributes")
			break
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return fmt.Errorf("%w: the join sets participant %s other than the token's; that needs a token with the canUpdateOwnMetadata grant",
		auth.ErrPermissionDenied, strings.Join(changed, " and "))
}

// DataPacketsDropped returns how many data packets from clients were dropped for
// being over their bounds.
func (h *Handler) DataPacketsDropped() int64 { return h.dataDropped.Load() }

func (a *admission) joinParams(sink room.Sink) room.JoinParams {
	g := a.claims.Grants
	md := g.Metadata
	if a.params.metadata != "" {
		md = a.params.metadata
	}
	attrs := make(map[string]string, len(g.Attributes)+len(a.params.attributes))
	for k, v := range g.Attributes {
		attrs[k] = v
	}
	for k, v := range a.params.attributes {
		if v != "" {
			attrs[k] = v
		}
	}
	return room.JoinParams{
		Identity:       g.Identity,
		Name:           g.Name,
		Metadata:       md,
		Attributes:     attrs,
		Kind:           g.GetParticipantKind(),
		KindDetails:    g.GetKindDetails(),
		Grants:         g,
		Token:          a.claims,
		ClientProtocol: a.params.protocol,
		AutoSubscribe:  a.params.autoSubscribe,
		Sink:           sink,
	}
}

// serveValidate answers whether a join with these parameters would be admitted, and if
// not, why. It changes nothing.
func (h *Handler) serveValidate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a, err := h.admit(r)
	if err == nil {
		err = h.caps.check(clientIP(r), a.room, a.claims.Identity())
	}
	if err != nil {
		httpError(w, err)
		return
	}
	if a.params.reconnect && a.params.sid != "" {
		rm, err := h.opts.Rooms.Room(a.room)
		if err == nil {
			_, err = rm.Resume(a.params.sid, a.claims.Identity(), a.claims)
		}
		if err != nil {
			httpError(w, err)
			return
		}
	} else if err := h.opts.Rooms.CheckJoin(a.room, h.opts.AutoCreate, a.joinParams(nil)); err != nil {
		httpError(w, err)
		return
	}
	_, _ = w.Write([]byte("success"))
}

// serveJoin admits a participant, upgrades to WebSocket and runs their session.
func (h *Handler) serveJoin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "the signal endpoint takes a WebSocket upgrade (GET)", http.StatusMethodNotAllowed)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "the signal endpoint takes a WebSocket upgrade", http.StatusBadRequest)
		return
	}
	if h.isClosed() {
		httpError(w, fmt.Errorf("%w: the server is shutting down", room.ErrRoomClosed))
		return
	}
	a, err := h.admit(r)
	if err != nil {
		h.log.Debug("join refused", "error", apierr.Message(err))
		httpError(w, err)
		return
	}
	release, err := h.caps.acquire(clientIP(r), a.room, a.claims.Identity())
	if err != nil {
		h.log.Debug("signal connection refused", "room", a.room, "identity", a.claims.Identity(), "error", err)
		httpError(w, err)
		return
	}
	if a.params.reconnect && a.params.sid != "" {
		h.serveResume(w, r, a, release)
		return
	}

	ctx := events.NewContext(r.Context(), events.ParticipantActor(a.room, a.claims.Identity()))
	rm, err := h.opts.Rooms.JoinRoom(ctx, a.room, h.opts.AutoCreate, a.claims.Grants.GetRoomConfiguration())
	if err != nil {
		release()
		h.log.Debug("join refused", "room", a.room, "error", apierr.Message(err))
		httpError(w, err)
		return
	}
	s := newSession(h, rm, a)
	p, err := rm.Reserve(a.joinParams(s))
	if err != nil {
		release()
		h.log.Debug("join refused", "room", a.room, "identity", a.claims.Identity(), "error", apierr.Message(err))
		httpError(w, err)
		return
	}
	s.p = p
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		release()
		rm.Unreserve(p)
		return // the upgrader has answered
	}
	conn := newWSConn(ws, release)
	if !h.track(s) {
		rm.Unreserve(p)
		conn.close()
		return
	}
	defer h.wg.Done()
	s.run(conn)
}

// serveResume reattaches a client that lost its signal connection to its session.
// release gives back the connection's place under the caps.
func (h *Handler) serveResume(w http.ResponseWriter, r *http.Request, a *admission, release func()) {
	h.mu.Lock()
	s := h.sessions[a.params.sid]
	h.mu.Unlock()
	found := s != nil && s.p.Identity() == a.claims.Identity() && s.p.Room().Name() == a.room && !s.isClosing()
	if found {
		// Banned or removed since the session began: refused before the upgrade, as a
		// join would be. (A ban that lands after this check removes the participant,
		// which ends the session it resumes.)
		if err := s.p.Readmit(a.claims); err != nil && !errors.Is(err, room.ErrParticipantNotFound) {
			release()
			h.log.Debug("resume refused", "room", a.room, "identity", a.claims.Identity(), "error", apierr.Message(err))
			httpError(w, err)
			return
		}
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		release()
		return
	}
	conn := newWSConn(ws, release)
	if !found || s.isClosing() {
		// The session is gone: tell the client to join afresh.
		h.log.Debug("resume of an unknown session", "room", a.room, "sid", a.params.sid)
		_ = conn.write(&livekit.SignalResponse{Message: &livekit.SignalResponse_Leave{Leave: &livekit.LeaveRequest{
			Reason: livekit.DisconnectReason_STATE_MISMATCH,
			Action: livekit.LeaveRequest_RECONNECT,
		}}}, h.opts.WriteTimeout)
		conn.closeWith(websocket.CloseNormalClosure, "session not found")
		return
	}
	s.resume(conn, a.params)
}

func (h *Handler) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// track registers a new session and counts the caller's goroutine (its reader) in the
// handler's wait group; the caller calls h.wg.Done when it returns.
func (h *Handler) track(s *Session) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.sessions[s.p.SID()] = s
	h.wg.Add(1)
	return true
}

// forget removes an ended session.
func (h *Handler) forget(s *Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sessions[s.p.SID()] == s {
		delete(h.sessions, s.p.SID())
	}
}

// Close refuses new connections and waits until every session has ended. The room
// manager must have been closed first: that is what tells every session to leave.
func (h *Handler) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("signal sessions still running: %w", ctx.Err())
	}
}

// serverInfo returns the ServerInfo to announce.
func (h *Handler) serverInfo() *livekit.ServerInfo {
	if h.opts.ServerInfo != nil {
		return h.opts.ServerInfo
	}
	return &livekit.ServerInfo{}
}

// mintToken signs a token for grants with apiKey, valid for TokenTTL, and returns it
// with its expiry.
func (h *Handler) mintToken(apiKey string, g *lkauth.ClaimGrants) (string, time.Time, error) {
	secret, ok := h.opts.Keys.Secret(apiKey)
	if !ok {
		return "", time.Time{}, errors.New("the API key of the participant's token is no longer configured")
	}
	at := lkauth.NewAccessToken(apiKey, secret).
		SetIdentity(g.Identity).
		SetName(g.Name).
		SetMetadata(g.Metadata).
		SetAttributes(g.Attributes).
		SetKind(g.GetParticipantKind()).
		SetVideoGrant(g.Video).
		SetValidFor(h.opts.TokenTTL)
	if kd := g.GetKindDetails(); len(kd) > 0 {
		at.SetKindDetail(kd...)
	}
	if rc := g.GetRoomConfiguration(); rc != nil {
		at.SetRoomConfig(rc)
	}
	expires := time.Now().Add(h.opts.TokenTTL)
	tok, err := at.ToJWT()
	return tok, expires, err
}

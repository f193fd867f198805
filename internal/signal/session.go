package signal

import (
	"errors"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/apierr"
	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/rtc"
)

// Session is one participant's connection to the server: the signal WebSocket (which
// may be replaced when the client resumes), the outbound queue, and the WebRTC
// transports. It implements room.Sink.
type Session struct {
	h      *Handler
	joinTo *room.Room // the room joined; the participant's current room is p.Room()
	p      *room.Participant
	log    *slog.Logger
	apiKey string
	params *joinParams

	subscriberPrimary bool
	queue             *outQueue
	data              *dataQueue
	media             *mediaQueue

	pub *rtc.Transport // receives the client's offers; the only transport in single PC mode
	sub *rtc.Transport // server-offered; nil in single PC mode

	mu   sync.Mutex
	conn *wsConn // nil while the client is away
	// alloc is the congestion-control state (alloc.go).
	alloc allocState
	// qualityAt is when the connection was last rated (zero: not yet: the first
	// window starts at the first housekeeping).
	qualityAt     time.Time
	connGen       int
	closing       bool
	leave         *livekit.LeaveRequest
	reconnectHint bool
	// silent ends the session without sending the leave (a simulated node failure:
	// the client finds out when it tries to resume).
	silent         bool
	tokens         []auth.TokenRef // every token the client holds: join token, refreshes
	closeText      string          // the reason sent in the close frame, if any
	tokenWanted    bool
	disconnectedAt time.Time
	lastPing       time.Time
	startedAt      time.Time
	wake           chan struct{}
	done           chan struct{}
}

var _ room.Sink = (*Session)(nil)

func newSession(h *Handler, rm *room.Room, a *admission) *Session {
	return &Session{
		h:         h,
		joinTo:    rm,
		tokens:    []auth.TokenRef{a.tokenRef},
		log:       h.log.With("identity", a.claims.Identity()),
		apiKey:    a.claims.APIKey,
		params:    a.params,
		queue:     newOutQueue(h.opts.QueueSize),
		data:      newDataQueue(),
		media:     newMediaQueue(),
		startedAt: time.Now(),
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
}

// --- room.Sink -------------------------------------------------------------------

// SendUpdate implements room.Sink.
func (s *Session) SendUpdate(infos []*livekit.ParticipantInfo) { s.queue.pushUpdate(infos) }

// SendRoomUpdate implements room.Sink.
func (s *Session) SendRoomUpdate(r *livekit.Room) { s.queue.pushRoom(r) }

// Send implements room.Sink.
func (s *Session) Send(msg *livekit.SignalResponse) { s.queue.push(msg) }

// SendData implements room.Sink.
func (s *Session) SendData(kind livekit.DataPacket_Kind, data []byte) bool {
	return s.data.push(kind, data)
}

// IssuedTokens implements room.Sink.
func (s *Session) IssuedTokens() []auth.TokenRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	out := make([]auth.TokenRef, 0, len(s.tokens))
	for _, t := range s.tokens {
		if acceptable(t, now) {
			out = append(out, t)
		}
	}
	return out
}

// acceptable reports whether a token the client holds is still accepted at now: until
// its expiry plus the clock leeway.
func acceptable(t auth.TokenRef, now time.Time) bool {
	return t.Expires.Add(auth.Leeway).After(now)
}

// PushToken implements room.Sink: the writer mints and sends a fresh token.
func (s *Session) PushToken() {
	s.mu.Lock()
	s.tokenWanted = true
	s.mu.Unlock()
	s.poke()
}

// Moved implements room.Sink: the client is told it now belongs to another room, with
// a token for it.
func (s *Session) Moved(m room.Moved) {
	tok, err := s.issueToken(m.Grants)
	if err != nil {
		s.log.Warn("could not mint a token for the new room", "error", err)
	}
	s.queue.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_RoomMoved{RoomMoved: &livekit.RoomMovedResponse{
		Room:              m.Room,
		Token:             tok,
		Participant:       m.Participant,
		OtherParticipants: m.Others,
	}}})
}

// issueToken mints a token for grants and records it among the client's tokens.
func (s *Session) issueToken(g *lkauth.ClaimGrants) (string, error) {
	tok, exp, err := s.h.mintToken(s.apiKey, g)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	now := time.Now()
	kept := s.tokens[:0]
	for _, t := range s.tokens {
		if acceptable(t, now) {
			kept = append(kept, t)
		}
	}
	s.tokens = append(kept, auth.RefOf(tok, exp))
	s.mu.Unlock()
	return tok, nil
}

// Close implements room.Sink: the writer sends leave (when not nil) and ends the session.
func (s *Session) Close(leave *livekit.LeaveRequest) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	if leave != nil && !s.silent {
		l := proto.Clone(leave).(*livekit.LeaveRequest)
		if s.reconnectHint {
			l.Action = livekit.LeaveRequest_RECONNECT
			l.CanReconnect = true
		}
		s.leave = l
	}
	s.mu.Unlock()
	s.poke()
}

func (s *Session) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Session) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// leaveRoom removes the participant from the room, which closes the session.
func (s *Session) leaveRoom(reason livekit.DisconnectReason, reconnect bool) {
	s.mu.Lock()
	s.reconnectHint = reconnect
	s.mu.Unlock()
	s.p.Leave(reason)
}

// --- lifecycle ---------------------------------------------------------------------

// run drives a newly admitted participant's session on conn until the connection
// ends; the session itself may live on, waiting for the client to resume.
func (s *Session) run(conn *wsConn) {
	s.mu.Lock()
	s.conn = conn
	s.connGen++
	gen := s.connGen
	s.mu.Unlock()

	err := s.createTransports()
	s.h.wg.Add(3)
	go s.writeLoop()
	go s.dataLoop()
	go s.mediaLoop()
	if err == nil {
		err = s.setup()
	}
	if err != nil {
		reason := livekit.DisconnectReason_JOIN_FAILURE
		if errors.Is(err, auth.ErrBanned) || errors.Is(err, auth.ErrTokenRevoked) {
			// Banned or removed while the connection came up: the client is told why in
			// the close frame.
			s.log.Info("join refused at activation", "error", err)
			reason = livekit.DisconnectReason_PARTICIPANT_REMOVED
			s.mu.Lock()
			s.closeText = apierr.Message(err)
			s.mu.Unlock()
		} else {
			s.log.Warn("join failed", "error", err)
		}
		s.leaveRoom(reason, false)
		s.Close(&livekit.LeaveRequest{Reason: reason})
	}
	s.readLoop(conn, gen)
}

// createTransports makes the participant's peer connections: one in single peer
// connection mode, a publisher and a subscriber otherwise.
func (s *Session) createTransports() error {
	var err error
	s.pub, err = s.h.opts.Engine.NewTransport(rtc.Publisher, s.transportHandler(rtc.Publisher))
	if err != nil {
		return err
	}
	if !s.params.singlePC {
		s.sub, err = s.h.opts.Engine.NewTransport(rtc.Subscriber, s.transportHandler(rtc.Subscriber))
	}
	return err
}

// setup queues the JoinResponse and starts negotiation.
func (s *Session) setup() error {
	// A waiting participant's transports are set up as they will be once it is admitted.
	perm := s.p.EventualPermission()
	s.subscriberPrimary = !s.params.singlePC && perm.CanSubscribe

	resp := &livekit.JoinResponse{
		ServerVersion:        s.h.serverInfo().Version,
		ServerInfo:           s.h.serverInfo(),
		SubscriberPrimary:    s.subscriberPrimary,
		PingInterval:         int32(s.h.opts.PingInterval / time.Second),
		PingTimeout:          int32(s.h.opts.PingTimeout / time.Second),
		EnabledPublishCodecs: publishCodecs,
		IceServers:           s.h.opts.ICEServers,
	}
	if err := s.joinTo.Activate(s.p, resp); err != nil {
		return err
	}
	s.pushRefreshToken()

	if s.params.singlePC {
		for _, req := range s.params.addTracks {
			s.handleAddTrack(req)
		}
		if o := s.params.publisherOffer; o != nil {
			s.handleOffer(o)
		}
		return nil
	}
	return s.sub.Negotiate(false)
}

// publishCodecs are the codecs publishers may use, announced in JoinResponse.
var publishCodecs = room.EnabledCodecs

// pushRefreshToken sends the client a fresh token with its current grants. The token
// is minted under the room lock, so no concurrent permission change can leave it
// carrying the old grants unrevoked.
func (s *Session) pushRefreshToken() {
	var tok string
	err := s.p.WithGrants(func(g *lkauth.ClaimGrants) error {
		var err error
		tok, err = s.issueToken(g)
		return err
	})
	if err != nil {
		if !errors.Is(err, room.ErrParticipantNotFound) {
			s.log.Warn("could not mint a refresh token", "error", err)
		}
		return
	}
	s.queue.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_RefreshToken{RefreshToken: tok}})
}

// resume reattaches the client on a new connection, after its previous one dropped.
func (s *Session) resume(conn *wsConn, params *joinParams) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = conn.write(&livekit.SignalResponse{Message: &livekit.SignalResponse_Leave{Leave: &livekit.LeaveRequest{
			Reason: livekit.DisconnectReason_STATE_MISMATCH, Action: livekit.LeaveRequest_RECONNECT,
		}}}, s.h.opts.WriteTimeout)
		conn.closeWith(websocket.CloseNormalClosure, "session ended")
		return
	}
	old := s.conn
	s.conn = conn
	s.connGen++
	gen := s.connGen
	s.disconnectedAt = time.Time{}
	s.mu.Unlock()
	if old != nil {
		old.close()
	}
	s.log.Debug("signal resumed")

	roomInfo, infos := s.p.Snapshot()
	s.queue.pushFront(
		&livekit.SignalResponse{Message: &livekit.SignalResponse_Reconnect{Reconnect: &livekit.ReconnectResponse{
			ServerInfo: s.h.serverInfo(),
			IceServers: s.h.opts.ICEServers,
		}}},
		&livekit.SignalResponse{Message: &livekit.SignalResponse_Update{Update: &livekit.ParticipantUpdate{
			Participants: infos, FullSnapshot: true,
		}}},
		&livekit.SignalResponse{Message: &livekit.SignalResponse_RoomUpdate{RoomUpdate: &livekit.RoomUpdate{Room: roomInfo}}},
	)
	s.pushRefreshToken()
	if s.sub != nil && !s.sub.Connected() {
		if err := s.sub.Negotiate(true); err != nil {
			s.log.Debug("subscriber ICE restart failed", "error", err)
		}
	}
	s.poke()

	s.h.wg.Add(1)
	defer s.h.wg.Done()
	s.readLoop(conn, gen)
}

// readLoop handles requests from conn until it fails, then closes conn: a socket
// whose reader has ended is never left open (a client's close frame is answered and
// the TCP connection closed at once, and a dropped client's descriptor is freed).
func (s *Session) readLoop(conn *wsConn, gen int) {
	defer conn.close()
	for {
		req, err := conn.read()
		if err != nil {
			if errors.Is(err, errBadRequest) {
				s.log.Debug("skipping a malformed signal frame", "error", err)
				continue
			}
			break
		}
		s.dispatch(req)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connGen != gen || s.closing {
		return // replaced by a resumed connection, or ending anyway
	}
	s.conn = nil
	s.disconnectedAt = time.Now()
	s.log.Debug("signal connection lost; waiting for the client to resume", "window", s.h.opts.ResumeWindow)
	s.poke()
}

// writeLoop writes queued messages to the current connection, pings it, and runs the
// session's timers. It ends the session when Close was called.
func (s *Session) writeLoop() {
	defer s.h.wg.Done()
	tick := time.NewTicker(housekeepingInterval(s.h.opts.PingInterval))
	defer tick.Stop()
	refresh := time.NewTicker(s.h.opts.RefreshInterval)
	defer refresh.Stop()
	for {
		select {
		case <-s.queue.notify:
		case <-s.wake:
		case <-tick.C:
			s.housekeep()
		case <-refresh.C:
			s.pushRefreshToken()
		}
		s.mu.Lock()
		conn, closing, leave, tokenWanted, closeText := s.conn, s.closing, s.leave, s.tokenWanted, s.closeText
		s.tokenWanted = false
		s.mu.Unlock()
		if tokenWanted && !closing {
			s.pushRefreshToken()
		}
		if closing {
			s.finish(conn, leave, closeText)
			return
		}
		if s.queue.overflowed() {
			s.log.Warn("client cannot keep up with its signal messages; disconnecting it", "queue", s.h.opts.QueueSize)
			s.leaveRoom(livekit.DisconnectReason_CONNECTION_TIMEOUT, true)
			continue
		}
		if conn == nil {
			continue
		}
		msgs, _ := s.queue.take()
		for i, m := range msgs {
			if err := conn.write(m, s.h.opts.WriteTimeout); err != nil {
				s.log.Debug("signal write failed", "error", err)
				s.queue.requeue(msgs[i:])
				conn.close() // the reader notices and waits for a resume
				break
			}
		}
	}
}

// closeReason fits text into a WebSocket close frame (at most 123 bytes), cutting it
// at a character boundary.
func closeReason(text string) string {
	const maxReason = 123
	if len(text) <= maxReason {
		return text
	}
	cut := maxReason - len("…")
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut] + "…"
}

func housekeepingInterval(ping time.Duration) time.Duration {
	return max(min(ping/2, time.Second), 50*time.Millisecond)
}

// housekeep pings the connection, detects a silent one, and enforces the join timeout
// and the resume window.
func (s *Session) housekeep() {
	s.mu.Lock()
	conn, disconnectedAt := s.conn, s.disconnectedAt
	pingDue := time.Since(s.lastPing) >= s.h.opts.PingInterval
	if pingDue {
		s.lastPing = time.Now()
	}
	s.mu.Unlock()

	switch {
	case conn != nil && conn.idleFor() > s.h.opts.PingTimeout:
		s.log.Debug("signal connection silent for longer than the ping timeout; dropping it")
		conn.close()
	case conn != nil && pingDue:
		_ = conn.ping(s.h.opts.WriteTimeout)
	case conn == nil && !disconnectedAt.IsZero() && time.Since(disconnectedAt) > s.h.opts.ResumeWindow:
		s.log.Debug("client did not resume in time")
		s.leaveRoom(livekit.DisconnectReason_SIGNAL_CLOSE, false)
	}
	s.updateQuality(time.Now())
	s.allocate(time.Now())
	if time.Since(s.startedAt) > s.h.opts.JoinTimeout && !s.p.IsActive() {
		s.log.Info("participant did not connect its transport in time", "timeout", s.h.opts.JoinTimeout)
		s.leaveRoom(livekit.DisconnectReason_JOIN_FAILURE, false)
	}
}

// finish sends the leave, closes the connection (with text as the close frame's
// reason, when set) and the transports, and forgets the session.
func (s *Session) finish(conn *wsConn, leave *livekit.LeaveRequest, text string) {
	if conn != nil {
		if leave != nil {
			_ = conn.write(&livekit.SignalResponse{Message: &livekit.SignalResponse_Leave{Leave: leave}}, time.Second)
		}
		if text != "" {
			conn.closeWith(websocket.ClosePolicyViolation, closeReason(text))
		} else {
			conn.closeWith(websocket.CloseNormalClosure, "")
		}
	}
	close(s.done)
	s.data.close()
	if s.pub != nil {
		s.pub.Close()
	}
	if s.sub != nil {
		s.sub.Close()
	}
	s.h.forget(s)
	s.log.Debug("session ended")
}

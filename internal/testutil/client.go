package testutil

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
)

// Event is one SDK callback a test client saw.
type Event struct {
	// Kind is one of: participant_connected, participant_disconnected, track_published,
	// track_unpublished, track_muted, track_unmuted, metadata_changed,
	// attributes_changed, data, room_metadata, disconnected, reconnecting,
	// reconnected, room_moved, local_track_unpublished, track_subscribed,
	// track_unsubscribed, local_track_subscribed.
	Kind string
	// Identity is the participant the event is about (the sender, for data).
	Identity string
	// Detail holds event-specific text: a track SID, metadata, data payload, reason...
	Detail string
	// Topic is the data packet topic.
	Topic string
	At    time.Time
}

func (e Event) String() string {
	return fmt.Sprintf("%s(%s %q)", e.Kind, e.Identity, e.Detail)
}

// Client is an official-SDK participant whose callbacks are recorded.
type Client struct {
	Room     *lksdk.Room
	Identity string

	mu     sync.Mutex
	events []Event
	cond   chan struct{}
	tracks map[string]*webrtc.TrackRemote
}

// Track returns the remote track with SID sid once the SDK subscribed to it, or nil.
func (c *Client) Track(sid string) *webrtc.TrackRemote {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tracks[sid]
}

func (c *Client) record(e Event) {
	e.At = time.Now()
	c.mu.Lock()
	c.events = append(c.events, e)
	ch := c.cond
	c.cond = make(chan struct{})
	c.mu.Unlock()
	close(ch)
}

// Events returns what was recorded so far.
func (c *Client) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// WaitFor waits until an event matching kind and identity (empty matches any) was
// recorded and returns the first one.
func (c *Client) WaitFor(t testing.TB, timeout time.Duration, kind, identity string) Event {
	t.Helper()
	e, ok := c.Await(timeout, func(e Event) bool {
		return e.Kind == kind && (identity == "" || e.Identity == identity)
	})
	if !ok {
		t.Fatalf("%s did not see %s %s within %s; saw %v", c.Identity, kind, identity, timeout, c.Events())
	}
	return e
}

// WaitForDetail waits until an event of kind with that detail (a track SID, a reason…)
// was recorded and returns it.
func (c *Client) WaitForDetail(t testing.TB, timeout time.Duration, kind, detail string) Event {
	t.Helper()
	e, ok := c.Await(timeout, func(e Event) bool { return e.Kind == kind && e.Detail == detail })
	if !ok {
		t.Fatalf("%s did not see %s %s within %s; saw %v", c.Identity, kind, detail, timeout, c.Events())
	}
	return e
}

// Await waits until an event matches pred and returns it.
func (c *Client) Await(timeout time.Duration, pred func(Event) bool) (Event, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		c.mu.Lock()
		evs := c.events[seen:]
		ch := c.cond
		c.mu.Unlock()
		for _, e := range evs {
			if pred(e) {
				return e, true
			}
			seen++
		}
		select {
		case <-ch:
		case <-deadline.C:
			return Event{}, false
		}
	}
}

// Has reports whether an event of kind about identity was recorded.
func (c *Client) Has(kind, identity string) bool {
	for _, e := range c.Events() {
		if e.Kind == kind && (identity == "" || e.Identity == identity) {
			return true
		}
	}
	return false
}

// JoinOption changes how a test client joins.
type JoinOption func(*joinConfig)

type joinConfig struct {
	grant    *lkauth.VideoGrant
	name     string
	metadata string
	attrs    map[string]string
	kind     livekit.ParticipantInfo_Kind
	ttl      time.Duration
	sdkOpts  []lksdk.ConnectOption
	token    string
	url      string
}

// WithGrant replaces the join grant (its Room and RoomJoin are filled in when empty).
func WithGrant(g *lkauth.VideoGrant) JoinOption { return func(c *joinConfig) { c.grant = g } }

// WithName sets the participant name in the token.
func WithName(n string) JoinOption { return func(c *joinConfig) { c.name = n } }

// WithMetadata sets the participant metadata in the token.
func WithMetadata(m string) JoinOption { return func(c *joinConfig) { c.metadata = m } }

// WithAttributes sets the participant attributes in the token.
func WithAttributes(a map[string]string) JoinOption { return func(c *joinConfig) { c.attrs = a } }

// WithKind sets the participant kind in the token.
func WithKind(k livekit.ParticipantInfo_Kind) JoinOption { return func(c *joinConfig) { c.kind = k } }

// WithSDKOptions passes options to the SDK (e.g. lksdk.WithSinglePeerConnection()).
func WithSDKOptions(o ...lksdk.ConnectOption) JoinOption {
	return func(c *joinConfig) { c.sdkOpts = append(c.sdkOpts, o...) }
}

// WithURL joins through another URL than the server's (a SignalTap's).
func WithURL(u string) JoinOption { return func(c *joinConfig) { c.url = u } }

// WithToken joins with this exact token.
func WithToken(tok string) JoinOption { return func(c *joinConfig) { c.token = tok } }

// JoinToken signs a join token for identity in roomName.
func JoinToken(t testing.TB, roomName, identity string, opts ...JoinOption) string {
	t.Helper()
	cfg := &joinConfig{ttl: time.Hour}
	for _, o := range opts {
		o(cfg)
	}
	return cfg.mint(t, roomName, identity)
}

func (cfg *joinConfig) mint(t testing.TB, roomName, identity string) string {
	g := cfg.grant
	if g == nil {
		g = &lkauth.VideoGrant{}
	}
	if g.Room == "" {
		g.Room = roomName
	}
	g.RoomJoin = true
	at := lkauth.NewAccessToken(APIKey, APISecret).SetIdentity(identity).SetValidFor(cfg.ttl).
		SetVideoGrant(g).SetName(cfg.name).SetMetadata(cfg.metadata).SetKind(cfg.kind)
	if cfg.attrs != nil {
		at.SetAttributes(cfg.attrs)
	}
	tok, err := at.ToJWT()
	if err != nil {
		t.Fatalf("ToJWT: %v", err)
	}
	return tok
}

// Join connects an official-SDK client as identity, recording its events. The client
// disconnects when the test ends.
func (s *TestServer) Join(t testing.TB, roomName, identity string, opts ...JoinOption) *Client {
	t.Helper()
	c, err := s.TryJoin(t, roomName, identity, opts...)
	if err != nil {
		t.Fatalf("%s could not join %s: %v", identity, roomName, err)
	}
	return c
}

// TryJoin is Join returning the SDK's error instead of failing the test.
func (s *TestServer) TryJoin(t testing.TB, roomName, identity string, opts ...JoinOption) (*Client, error) {
	t.Helper()
	cfg := &joinConfig{ttl: time.Hour}
	for _, o := range opts {
		o(cfg)
	}
	tok := cfg.token
	if tok == "" {
		tok = cfg.mint(t, roomName, identity)
	}
	c := &Client{Identity: identity, cond: make(chan struct{})}
	cb := lksdk.NewRoomCallback()
	cb.OnParticipantConnected = func(rp *lksdk.RemoteParticipant) {
		c.record(Event{Kind: "participant_connected", Identity: rp.Identity()})
	}
	cb.OnParticipantDisconnected = func(rp *lksdk.RemoteParticipant) {
		c.record(Event{Kind: "participant_disconnected", Identity: rp.Identity(), Detail: rp.DisconnectReason().String()})
	}
	cb.OnTrackPublished = func(pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		c.record(Event{Kind: "track_published", Identity: rp.Identity(), Detail: pub.SID()})
	}
	cb.OnTrackUnpublished = func(pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		c.record(Event{Kind: "track_unpublished", Identity: rp.Identity(), Detail: pub.SID()})
	}
	cb.OnTrackMuted = func(pub lksdk.TrackPublication, p lksdk.Participant) {
		c.record(Event{Kind: "track_muted", Identity: p.Identity(), Detail: pub.SID()})
	}
	cb.OnTrackUnmuted = func(pub lksdk.TrackPublication, p lksdk.Participant) {
		c.record(Event{Kind: "track_unmuted", Identity: p.Identity(), Detail: pub.SID()})
	}
	cb.OnMetadataChanged = func(_ string, p lksdk.Participant) {
		c.record(Event{Kind: "metadata_changed", Identity: p.Identity(), Detail: p.Metadata()})
	}
	cb.OnAttributesChanged = func(changed map[string]string, p lksdk.Participant) {
		var kv []string
		for k, v := range changed {
			kv = append(kv, k+"="+v)
		}
		c.record(Event{Kind: "attributes_changed", Identity: p.Identity(), Detail: strings.Join(kv, ",")})
	}
	cb.OnDataPacket = func(d lksdk.DataPacket, params lksdk.DataReceiveParams) {
		if u, ok := d.(*lksdk.UserDataPacket); ok {
			c.record(Event{Kind: "data", Identity: params.SenderIdentity, Detail: string(u.Payload), Topic: u.Topic})
		}
	}
	cb.OnRoomMetadataChanged = func(md string) { c.record(Event{Kind: "room_metadata", Detail: md}) }
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		c.mu.Lock()
		if c.tracks == nil {
			c.tracks = map[string]*webrtc.TrackRemote{}
		}
		c.tracks[pub.SID()] = track
		c.mu.Unlock()
		c.record(Event{Kind: "track_subscribed", Identity: rp.Identity(), Detail: pub.SID()})
	}
	cb.OnTrackUnsubscribed = func(_ *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		c.record(Event{Kind: "track_unsubscribed", Identity: rp.Identity(), Detail: pub.SID()})
	}
	cb.OnLocalTrackSubscribed = func(pub *lksdk.LocalTrackPublication, _ *lksdk.LocalParticipant) {
		c.record(Event{Kind: "local_track_subscribed", Identity: identity, Detail: pub.SID()})
	}
	cb.OnActiveSpeakersChanged = func(ps []lksdk.Participant) {
		ids := make([]string, len(ps))
		for i, p := range ps {
			ids[i] = p.Identity()
		}
		c.record(Event{Kind: "active_speakers", Detail: strings.Join(ids, ",")})
	}
	cb.OnConnectionQualityChanged = func(u *livekit.ConnectionQualityInfo, p lksdk.Participant) {
		c.record(Event{Kind: "connection_quality", Identity: p.Identity(), Detail: u.Quality.String()})
	}
	cb.OnReconnecting = func() { c.record(Event{Kind: "reconnecting"}) }
	cb.OnReconnected = func() { c.record(Event{Kind: "reconnected"}) }
	cb.OnRoomMoved = func(name, _ string) { c.record(Event{Kind: "room_moved", Detail: name}) }
	cb.OnLocalTrackUnpublished = func(pub *lksdk.LocalTrackPublication, _ *lksdk.LocalParticipant) {
		c.record(Event{Kind: "local_track_unpublished", Identity: identity, Detail: pub.SID()})
	}
	cb.OnDisconnectedWithReason = func(lksdk.DisconnectionReason) {
		reason := ""
		if c.Room != nil {
			reason = c.Room.DisconnectReason().String()
		}
		c.record(Event{Kind: "disconnected", Identity: identity, Detail: reason})
	}
	opts2 := append([]lksdk.ConnectOption{lksdk.WithAutoSubscribe(true)}, cfg.sdkOpts...)
	room := lksdk.NewRoom(cb)
	c.Room = room
	url := s.WSURL
	if cfg.url != "" {
		url = cfg.url
	}
	if err := room.JoinWithToken(url, tok, opts2...); err != nil {
		return nil, err
	}
	t.Cleanup(room.Disconnect)
	return c, nil
}

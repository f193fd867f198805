package room

import (
	"maps"
	"sync/atomic"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/config"
)

// Sink is how the room reaches a participant's connection. Every method must return
// at once: the room calls them while holding its lock, which is what keeps events in
// the order the changes were applied.
type Sink interface {
	// SendUpdate queues participant infos; queued infos are coalesced per participant.
	SendUpdate(infos []*livekit.ParticipantInfo)
	// SendRoomUpdate queues the room's new state; only the latest pending one is sent.
	SendRoomUpdate(room *livekit.Room)
	// Send queues one signal message.
	Send(msg *livekit.SignalResponse)
	// SendData queues an encoded DataPacket for the data channel of kind. It reports
	// false when a reliable packet could not be queued (the client is too far behind).
	SendData(kind livekit.DataPacket_Kind, data []byte) bool
	// IssuedTokens returns the tokens the connection holds (its join token and every
	// refreshed token), for revocation.
	IssuedTokens() []auth.TokenRef
	// PushToken mints a fresh token with the participant's current grants and sends
	// it to the client.
	PushToken()
	// Moved tells the client it now belongs to another room.
	Moved(m Moved)
	// Subscribe starts sending another participant's track to the connection.
	Subscribe(s Subscription)
	// Unsubscribe stops sending the track with that SID.
	Unsubscribe(trackSID string)
	// Close ends the connection, sending leave first when it is not nil. It is
	// idempotent.
	Close(leave *livekit.LeaveRequest)
}

// Moved describes a participant's new room after MoveParticipant.
type Moved struct {
	Room        *livekit.Room
	Participant *livekit.ParticipantInfo
	Others      []*livekit.ParticipantInfo
	// Grants are the participant's claims for the new room, to mint its token.
	Grants *lkauth.ClaimGrants
}

// nopSink is the sink of a forwarded participant, which has no connection.
type nopSink struct{}

func (nopSink) SendUpdate([]*livekit.ParticipantInfo)         {}
func (nopSink) SendRoomUpdate(*livekit.Room)                  {}
func (nopSink) Send(*livekit.SignalResponse)                  {}
func (nopSink) SendData(livekit.DataPacket_Kind, []byte) bool { return true }
func (nopSink) IssuedTokens() []auth.TokenRef                 { return nil }
func (nopSink) PushToken()                                    {}
func (nopSink) Moved(Moved)                                   {}
func (nopSink) Subscribe(Subscription)                        {}
func (nopSink) Unsubscribe(string)                            {}
func (nopSink) Close(*livekit.LeaveRequest)                   {}

// JoinParams describe a participant about to join, from their verified token and
// their join request.
type JoinParams struct {
	Identity    string
	Name        string
	Metadata    string
	Attributes  map[string]string
	Kind        livekit.ParticipantInfo_Kind
	KindDetails []livekit.ParticipantInfo_KindDetail
	// Grants are the token's claims; the room keeps them current for token refreshes.
	Grants *lkauth.ClaimGrants
	// Token is the verified join token, checked again against revocations when the
	// participant becomes active; nil when unknown (the token then counts as issued
	// before any removal).
	Token *auth.Claims
	// ClientProtocol is the client's signal protocol version.
	ClientProtocol int32
	// AutoSubscribe subscribes the participant to every track it may receive.
	AutoSubscribe bool
	// Sink reaches the participant's connection.
	Sink Sink
}

// Participant is one participant. Its fields are guarded by its current room's lock.
type Participant struct {
	room     atomic.Pointer[Room]
	sid      string
	identity string
	sink     Sink

	name        string
	metadata    string
	attributes  map[string]string
	kind        livekit.ParticipantInfo_Kind
	kindDetails []livekit.ParticipantInfo_KindDetail
	permission  *livekit.ParticipantPermission
	grants      *lkauth.ClaimGrants
	// token is the verified join token (see JoinParams.Token).
	token *auth.Claims
	// tenant is the tenant the participant's token is bound to (see tenant.go).
	tenant         string
	state          livekit.ParticipantInfo_State
	joinedAt       time.Time
	version        uint32
	clientProtocol int32
	// activated is false while the participant is only reserved (connection upgrading).
	activated bool
	left      bool
	// preset names the participant's preset ("" for none); host holds its host
	// controls. audioLocked and videoLocked are hard mutes by a host.
	preset                   string
	host                     config.HostControls
	audioLocked, videoLocked bool
	// waiting is set while the participant is in the waiting room: its permission
	// allows nothing, and held is the one it gets when admitted. waitSeq is its place
	// in the queue; waitTimer ends the wait.
	waiting   bool
	held      *livekit.ParticipantPermission
	waitSeq   uint64
	waitTimer *time.Timer
	// speakLevel is the smoothed audio level (0: silent); speaking and sentLevel are
	// what clients were last told (speakers.go).
	speakLevel float64
	speaking   bool
	sentLevel  float32
	// quality and score are the connection's latest rating (quality.go).
	quality      livekit.ConnectionQuality
	score        float32
	qualityKnown bool
	// demand is the highest layer anyone wants of each of the participant's video
	// streams (dynacast.go).
	demand map[MediaSource]int
	// everActive is set once the media connection came up (participant_left rather
	// than participant_connection_aborted when they go).
	everActive bool
	reason     livekit.DisconnectReason
	// expelling is set while the participant is being removed for good: from then on
	// no token is minted for it, so the tokens to revoke are all known.
	expelling bool

	tracks  []*track
	pending map[string]*livekit.TrackInfo // by cid, announced but not yet negotiated

	// subscriptions holds the explicit subscribe (true) or unsubscribe (false) per
	// track SID, from an admin (UpdateSubscriptions) or the client (subscription).
	subscriptions map[string]bool
	// autoSubscribe subscribes the participant to every track it may receive, unless
	// an explicit choice says otherwise.
	autoSubscribe bool
	// subscribed are the tracks pushed to the participant's connection, by SID, as
	// they were when pushed (a changed track is pushed again).
	subscribed map[string]*track
	// priorities are the allocation priorities of subscribed tracks, when not normal.
	priorities map[string]int
	// media holds the media of the participant's tracks by client track id, from when
	// it starts arriving (which may precede the track's publication).
	media map[string]MediaSource
	// announced are the SIDs of this participant's tracks whose first subscriber it
	// was told of (track_subscribed).
	announced map[string]bool
	// backupCIDs maps the client ids of backup codec streams to their track's SID.
	backupCIDs map[string]string
	// codecsAsked are the (track SID, codec) this participant was asked to publish
	// for its subscribers.
	codecsAsked map[string]bool
	// allowed is who may subscribe to this participant's tracks
	// (subscription_permission); nil allows everyone.
	allowed *livekit.SubscriptionPermission
	// denied are the tracks of others (by SID) this participant wants but their
	// publishers do not allow it, as it was last told (subscription_permission_update).
	denied map[string]bool

	// forwards are this participant's stand-ins in other rooms (ForwardParticipant);
	// forwardOf is set on a stand-in and names the participant it mirrors.
	forwards  map[*Room]*Participant
	forwardOf *Participant
	// mirrored is the source version a stand-in last applied.
	mirrored uint32
}

// track is one published track. It is shared with stand-ins in other rooms, so it is
// never modified: a change replaces it.
type track struct {
	cid  string
	info *livekit.TrackInfo
	// source is the track's media (the SFU's receiver), nil until media arrives.
	source MediaSource
	// backups are the media of the track's backup codecs the publisher sends.
	backups []MediaSource
}

// with returns a copy of t carrying info.
func (t *track) with(info *livekit.TrackInfo) *track {
	c := *t
	c.info = info
	return &c
}

// sources returns the track's media: the primary codec's first, then the backups'.
func (t *track) sources() []MediaSource {
	if t.source == nil {
		return nil
	}
	return append([]MediaSource{t.source}, t.backups...)
}

// SID returns the participant's server-made session ID.
func (p *Participant) SID() string { return p.sid }

// Identity returns the participant's identity.
func (p *Participant) Identity() string { return p.identity }

// Room returns the participant's current room (it changes when the participant is
// moved).
func (p *Participant) Room() *Room { return p.room.Load() }

// lockRoom locks the participant's current room and returns it; the caller unlocks it
// with Room.unlock.
func (p *Participant) lockRoom() *Room {
	for {
		r := p.room.Load()
		r.mu.Lock()
		if p.room.Load() == r {
			return r
		}
		r.mu.Unlock()
	}
}

func newParticipant(r *Room, jp JoinParams) *Participant {
	grants := jp.Grants.Clone()
	if grants == nil {
		grants = &lkauth.ClaimGrants{}
	}
	if grants.Video == nil {
		grants.Video = &lkauth.VideoGrant{}
	}
	sink := jp.Sink
	if sink == nil {
		sink = nopSink{}
	}
	p := &Participant{
		sid:            guid.New(guid.ParticipantPrefix),
		identity:       jp.Identity,
		sink:           sink,
		name:           jp.Name,
		metadata:       jp.Metadata,
		attributes:     maps.Clone(jp.Attributes),
		kind:           jp.Kind,
		kindDetails:    append([]livekit.ParticipantInfo_KindDetail(nil), jp.KindDetails...),
		permission:     grants.Video.ToPermission(),
		grants:         grants,
		token:          jp.Token,
		tenant:         tenantOfGrants(grants),
		state:          livekit.ParticipantInfo_JOINING,
		joinedAt:       time.Now(),
		clientProtocol: jp.ClientProtocol,
		pending:        make(map[string]*livekit.TrackInfo),
		subscriptions:  make(map[string]bool),
		autoSubscribe:  jp.AutoSubscribe,
		subscribed:     make(map[string]*track),
		priorities:     make(map[string]int),
		media:          make(map[string]MediaSource),
		announced:      make(map[string]bool),
		denied:         make(map[string]bool),
		backupCIDs:     make(map[string]string),
		codecsAsked:    make(map[string]bool),
		forwards:       make(map[*Room]*Participant),
	}
	p.room.Store(r)
	return p
}

// hidden reports whether others must not see the participant.
func (p *Participant) hidden() bool { return p.permission.GetHidden() }

// keepsRoomOpen reports whether the participant's presence keeps the room open:
// agents and egress do not.
func (p *Participant) keepsRoomOpen() bool {
	return p.kind != livekit.ParticipantInfo_AGENT && p.kind != livekit.ParticipantInfo_EGRESS
}

// infoLocked builds a fresh snapshot. Snapshots are shared by every recipient's queue
// and must never be modified.
func (p *Participant) infoLocked() *livekit.ParticipantInfo {
	tracks := make([]*livekit.TrackInfo, len(p.tracks))
	for i, t := range p.tracks {
		tracks[i] = t.info
	}
	return &livekit.ParticipantInfo{
		Sid:              p.sid,
		Identity:         p.identity,
		State:            p.state,
		Tracks:           tracks,
		Metadata:         p.metadata,
		JoinedAt:         p.joinedAt.Unix(),
		JoinedAtMs:       p.joinedAt.UnixMilli(),
		Name:             p.name,
		Version:          p.version,
		Permission:       p.permission,
		IsPublisher:      len(p.tracks) > 0,
		Kind:             p.kind,
		Attributes:       p.attributes,
		DisconnectReason: p.reason,
		KindDetails:      p.kindDetails,
		ClientProtocol:   p.clientProtocol,
	}
}

// bumpLocked records a change: the version grows so clients drop stale snapshots.
func (p *Participant) bumpLocked() { p.version++ }

// grantsLocked returns the participant's current claims, with the permission, name,
// metadata and attributes as they are now, for the room it is in.
func (p *Participant) grantsLocked() *lkauth.ClaimGrants {
	g := p.grants.Clone()
	g.Identity = p.identity
	g.Name = p.name
	g.Metadata = p.metadata
	g.Attributes = maps.Clone(p.attributes)
	perm := p.permission
	if p.waiting {
		perm = p.held // a token refreshed while waiting carries what admission gives
	}
	g.Video.UpdateFromPermission(perm)
	g.Video.Room = p.room.Load().name
	g.Video.RoomJoin = true
	return g
}

// WithGrants calls f with the participant's current claims while holding the room
// lock, so a token minted in f can never carry grants older than a concurrent change
// that is about to revoke its predecessors. f must not block.
func (p *Participant) WithGrants(f func(g *lkauth.ClaimGrants) error) error {
	r := p.lockRoom()
	defer r.unlock()
	if p.left || p.expelling {
		return ErrParticipantNotFound
	}
	return f(p.grantsLocked())
}

// Info returns a snapshot of the participant.
func (p *Participant) Info() *livekit.ParticipantInfo {
	r := p.lockRoom()
	defer r.unlock()
	return p.infoLocked()
}

// Permission returns a copy of the participant's permission.
func (p *Participant) Permission() *livekit.ParticipantPermission {
	r := p.lockRoom()
	defer r.unlock()
	return proto.Clone(p.permission).(*livekit.ParticipantPermission)
}

// Subscriptions returns the explicit subscription choices an admin made for the
// participant (track SID → subscribed).
func (p *Participant) Subscriptions() map[string]bool {
	r := p.lockRoom()
	defer r.unlock()
	return maps.Clone(p.subscriptions)
}

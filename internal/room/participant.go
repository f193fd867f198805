package room

import (
	"maps"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"
	"google.golang.org/protobuf/proto"
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
	// SendData queues an encoded DataPacket for the data channel of kind.
	SendData(kind livekit.DataPacket_Kind, data []byte)
	// Close ends the connection, sending leave first when it is not nil. It is
	// idempotent.
	Close(leave *livekit.LeaveRequest)
}

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
	// ClientProtocol is the client's signal protocol version.
	ClientProtocol int32
	// Sink reaches the participant's connection.
	Sink Sink
}

// Participant is one connected participant. Its fields are guarded by its room's lock.
type Participant struct {
	room     *Room
	sid      string
	identity string
	sink     Sink

	name           string
	metadata       string
	attributes     map[string]string
	kind           livekit.ParticipantInfo_Kind
	kindDetails    []livekit.ParticipantInfo_KindDetail
	permission     *livekit.ParticipantPermission
	grants         *lkauth.ClaimGrants
	state          livekit.ParticipantInfo_State
	joinedAt       time.Time
	version        uint32
	clientProtocol int32
	// activated is false while the participant is only reserved (connection upgrading).
	activated bool
	left      bool
	reason    livekit.DisconnectReason

	tracks  []*track
	pending map[string]*livekit.TrackInfo // by cid, announced but not yet negotiated
}

type track struct {
	cid  string
	info *livekit.TrackInfo
}

// SID returns the participant's server-made session ID.
func (p *Participant) SID() string { return p.sid }

// Identity returns the participant's identity.
func (p *Participant) Identity() string { return p.identity }

// Room returns the participant's room.
func (p *Participant) Room() *Room { return p.room }

func newParticipant(r *Room, jp JoinParams) *Participant {
	grants := jp.Grants.Clone()
	if grants == nil {
		grants = &lkauth.ClaimGrants{}
	}
	if grants.Video == nil {
		grants.Video = &lkauth.VideoGrant{}
	}
	perm := grants.Video.ToPermission()
	return &Participant{
		room:           r,
		sid:            guid.New(guid.ParticipantPrefix),
		identity:       jp.Identity,
		sink:           jp.Sink,
		name:           jp.Name,
		metadata:       jp.Metadata,
		attributes:     maps.Clone(jp.Attributes),
		kind:           jp.Kind,
		kindDetails:    append([]livekit.ParticipantInfo_KindDetail(nil), jp.KindDetails...),
		permission:     perm,
		grants:         grants,
		state:          livekit.ParticipantInfo_JOINING,
		joinedAt:       time.Now(),
		clientProtocol: jp.ClientProtocol,
		pending:        make(map[string]*livekit.TrackInfo),
	}
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

// GrantsSnapshot returns the participant's current claims, with the permission as it
// is now, for minting a refreshed token.
func (p *Participant) GrantsSnapshot() *lkauth.ClaimGrants {
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	g := p.grants.Clone()
	g.Identity = p.identity
	g.Name = p.name
	g.Metadata = p.metadata
	g.Attributes = maps.Clone(p.attributes)
	g.Video.UpdateFromPermission(p.permission)
	return g
}

// Info returns a snapshot of the participant.
func (p *Participant) Info() *livekit.ParticipantInfo {
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	return p.infoLocked()
}

// Permission returns a copy of the participant's permission.
func (p *Participant) Permission() *livekit.ParticipantPermission {
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	return proto.Clone(p.permission).(*livekit.ParticipantPermission)
}

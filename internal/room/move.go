package room

import (
	"context"
	"fmt"
	"maps"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/events"
)

// lockTwo locks two different rooms in name order (the only place two room locks are
// held at once, so the order rules out deadlock) and returns the function that
// releases both and then runs the work they deferred.
func lockTwo(a, b *Room) func() {
	first, second := a, b
	if b.name < a.name {
		first, second = b, a
	}
	first.mu.Lock()
	second.mu.Lock()
	return func() {
		fs := append(first.deferred, second.deferred...)
		first.deferred, second.deferred = nil, nil
		second.mu.Unlock()
		first.mu.Unlock()
		for _, f := range fs {
			f()
		}
	}
}

// crossRoom is a participant about to act across two rooms, with both locked.
type crossRoom struct {
	src, dst *Room
	p        *Participant
	unlock   func()
}

// lockCrossRoom validates the destination (creating it when create is set), locks
// both rooms and finds the source participant, which must not be a forwarded
// stand-in. On success the caller must call unlock.
func (m *Manager) lockCrossRoom(ctx context.Context, roomName, identity, dstName string, create bool) (*crossRoom, error) {
	if dstName == "" {
		return nil, fmt.Errorf("%w: destination_room is empty", ErrInvalidArgument)
	}
	if err := m.ValidateRoomName(dstName); err != nil {
		return nil, fmt.Errorf("destination_room: %w", err)
	}
	if dstName == roomName {
		return nil, fmt.Errorf("%w: destination_room is the room the participant is already in", ErrInvalidArgument)
	}
	src, err := m.Room(roomName)
	if err != nil {
		return nil, err
	}
	var dst *Room
	if create {
		dst, err = m.JoinRoom(ctx, dstName, m.opts.Defaults.AutoCreate, nil)
	} else {
		dst, err = m.Room(dstName)
	}
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	unlock := lockTwo(src, dst)
	fail := func(err error) (*crossRoom, error) {
		unlock()
		return nil, err
	}
	switch {
	case src.closed:
		return fail(fmt.Errorf("%w: %q", ErrRoomNotFound, roomName))
	case dst.closed:
		return fail(fmt.Errorf("destination: %w: %q", ErrRoomNotFound, dstName))
	}
	p := src.participants[identity]
	if p == nil || !p.activated {
		return fail(fmt.Errorf("%w: %q is not in room %q", ErrParticipantNotFound, identity, roomName))
	}
	if p.forwardOf != nil {
		return fail(fmt.Errorf("%w: %q is a forwarded participant; act on it in its source room", ErrInvalidArgument, identity))
	}
	if p.expelling {
		return fail(fmt.Errorf("%w: %q is being removed from room %q", ErrParticipantNotFound, identity, roomName))
	}
	if p.waiting {
		return fail(fmt.Errorf("%w: %q is in the waiting room of %q; admit or deny it first", ErrInvalidArgument, identity, roomName))
	}
	if err := m.checkBan(dst.name, dst.tenant, identity); err != nil {
		return fail(fmt.Errorf("destination: %w", err))
	}
	return &crossRoom{src: src, dst: dst, p: p, unlock: unlock}, nil
}

// MoveParticipant moves a connected participant into another room without the user
// rejoining: their session (signal connection and transports) carries on, their client
// gets room_moved with a token for the new room, the source room sees them leave
// (MIGRATION) and the destination sees them join with their tracks.
func (m *Manager) MoveParticipant(ctx context.Context, roomName, identity, dstName string) error {
	x, err := m.lockCrossRoom(ctx, roomName, identity, dstName, false)
	if err != nil {
		return err
	}
	defer x.unlock()
	src, dst, p := x.src, x.dst, x.p
	if err := dst.checkJoinLocked(p); err != nil {
		return err
	}

	actor := actorOf(ctx)
	src.emitLocked(&events.Event{Kind: events.ParticipantMoved, Participant: p.infoLocked(), Actor: actor, Destination: dstName})
	src.emitLeftLocked(p, livekit.DisconnectReason_MIGRATION, actor)
	src.detachLocked(p, livekit.DisconnectReason_MIGRATION)
	if old := dst.participants[identity]; old != nil {
		dst.removeLocked(old, livekit.DisconnectReason_DUPLICATE_IDENTITY, actor)
	}
	clear(p.subscriptions)
	// An admin moved them: from now on their tokens are for the destination's tenant.
	p.rebindTenantLocked(dst.tenant)
	p.room.Store(dst)
	p.bumpLocked()
	dst.addLocked(p)
	if p.keepsRoomOpen() {
		dst.everOccupied = true
	}
	dst.reconcileLocked()
	info := p.infoLocked()
	p.sink.Moved(Moved{
		Room:        dst.infoLocked(),
		Participant: info,
		Others:      dst.visibleToLocked(p),
		Grants:      p.grantsLocked(),
	})
	dst.broadcastLocked(p, info, false)
	dst.roomChangedLocked()
	dst.updateLifecycleLocked()
	dst.emitParticipantLocked(events.ParticipantJoined, p, actor, "")
	for _, t := range p.tracks {
		dst.emitTrackLocked(events.TrackPublished, p, t.info, actor)
	}
	m.log.Info("participant moved", "identity", identity, "from", roomName, "to", dstName)
	return nil
}

// ForwardParticipant makes a participant's published tracks appear in another room,
// as a stand-in participant with the same identity and kind_detail FORWARDED that
// mirrors the source's tracks, name, metadata and attributes. It lasts until the source
// leaves its room or the stand-in is removed from the destination. The destination is
// created when missing (as LiveKit does) if room.auto_create is on.
func (m *Manager) ForwardParticipant(ctx context.Context, roomName, identity, dstName string) error {
	x, err := m.lockCrossRoom(ctx, roomName, identity, dstName, true)
	if err != nil {
		return err
	}
	defer x.unlock()
	dst, p := x.dst, x.p
	if proxy := p.forwards[dst]; proxy != nil && !proxy.left {
		return nil // already forwarded there
	}
	if dst.participants[identity] != nil {
		return fmt.Errorf("%w: %q is already in room %q", ErrDuplicateIdentity, identity, dstName)
	}
	proxy := &Participant{
		sid:            guid.New(guid.ParticipantPrefix),
		identity:       p.identity,
		sink:           nopSink{},
		kind:           p.kind,
		kindDetails:    append(append([]livekit.ParticipantInfo_KindDetail(nil), p.kindDetails...), livekit.ParticipantInfo_FORWARDED),
		grants:         p.grants,
		state:          livekit.ParticipantInfo_ACTIVE,
		clientProtocol: p.clientProtocol,
		activated:      true,
		forwardOf:      p,
		pending:        map[string]*livekit.TrackInfo{},
		subscriptions:  map[string]bool{},
		forwards:       map[*Room]*Participant{},
	}
	proxy.room.Store(dst)
	proxy.joinedAt = p.joinedAt
	mirror(proxy, snapshotOf(p))
	proxy.mirrored = p.version
	if err := dst.checkJoinLocked(proxy); err != nil {
		return err
	}
	dst.addLocked(proxy)
	p.forwards[dst] = proxy
	if proxy.keepsRoomOpen() {
		dst.everOccupied = true
	}
	dst.broadcastLocked(proxy, proxy.infoLocked(), false)
	dst.roomChangedLocked()
	dst.updateLifecycleLocked()
	dst.reconcileLocked()
	actor := actorOf(ctx)
	x.src.emitLocked(&events.Event{Kind: events.ParticipantForwarded, Participant: p.infoLocked(), Actor: actor, Destination: dstName})
	proxy.everActive = true
	dst.emitParticipantLocked(events.ParticipantJoined, proxy, actor, "")
	for _, t := range proxy.tracks {
		dst.emitTrackLocked(events.TrackPublished, proxy, t.info, actor)
	}
	m.log.Info("participant forwarded", "identity", identity, "from", roomName, "to", dstName)
	return nil
}

// forwardSnapshot is what a stand-in mirrors of its source.
type forwardSnapshot struct {
	version    uint32
	name       string
	metadata   string
	attributes map[string]string
	permission *livekit.ParticipantPermission
	tracks     []*track
}

func snapshotOf(p *Participant) forwardSnapshot {
	return forwardSnapshot{
		version:    p.version,
		name:       p.name,
		metadata:   p.metadata,
		attributes: maps.Clone(p.attributes),
		permission: proto.Clone(p.permission).(*livekit.ParticipantPermission),
		tracks:     append([]*track(nil), p.tracks...),
	}
}

func mirror(proxy *Participant, s forwardSnapshot) {
	proxy.name, proxy.metadata, proxy.attributes = s.name, s.metadata, s.attributes
	proxy.permission = s.permission
	proxy.tracks = s.tracks
}

// syncForwardsLocked mirrors p's current state to its stand-ins, once p's room lock is
// released (each stand-in lives in another room). A stand-in ignores a snapshot older
// than one it already applied.
func (r *Room) syncForwardsLocked(p *Participant) {
	if len(p.forwards) == 0 {
		return
	}
	snap := snapshotOf(p)
	for dst, proxy := range p.forwards {
		r.afterUnlockLocked(func() {
			dst.mu.Lock()
			defer dst.unlock()
			if dst.participants[proxy.identity] != proxy || proxy.left || snap.version < proxy.forwardVersion() {
				return
			}
			wasHidden := proxy.hidden()
			mirror(proxy, snap)
			proxy.mirrored = snap.version
			proxy.bumpLocked()
			info := proxy.infoLocked()
			switch {
			case proxy.hidden() && !wasHidden:
				dst.sendOthersLocked(proxy, []*livekit.ParticipantInfo{goneInfo(info, livekit.DisconnectReason_UNKNOWN_REASON)})
			case !proxy.hidden():
				dst.sendOthersLocked(proxy, []*livekit.ParticipantInfo{info})
			}
			dst.roomChangedLocked()
			dst.reconcileLocked()
		})
	}
}

func (p *Participant) forwardVersion() uint32 { return p.mirrored }

// unlinkForwardsLocked ends the forwarding links of x, which is leaving r: a stand-in
// is dropped from its source's list; a source's stand-ins leave their rooms with the
// same reason.
func (r *Room) unlinkForwardsLocked(x *Participant, reason livekit.DisconnectReason, actor events.Actor) {
	if src := x.forwardOf; src != nil {
		dst := r
		r.afterUnlockLocked(func() {
			sr := src.lockRoom()
			if src.forwards[dst] == x {
				delete(src.forwards, dst)
			}
			sr.unlock()
		})
		return
	}
	for dst, proxy := range x.forwards {
		r.afterUnlockLocked(func() {
			dst.mu.Lock()
			if dst.participants[proxy.identity] == proxy {
				dst.removeLocked(proxy, reason, actor)
			}
			dst.unlock()
		})
	}
	clear(x.forwards)
}

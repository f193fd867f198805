package room

import (
	"fmt"
	"maps"
	"sort"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
)

// Reserve validates a join and holds a seat for the participant, before the signal
// connection is upgraded. The participant is invisible to others until Activate. A
// reservation that is not activated must be released with Unreserve.
func (r *Room) Reserve(jp JoinParams) (*Participant, error) {
	if err := r.mgr.validateParticipant(jp); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.unlock()
	p := newParticipant(r, jp)
	if err := r.checkTenantLocked(p); err != nil {
		return nil, err
	}
	if err := r.applyPresetLocked(p); err != nil {
		return nil, err
	}
	if err := r.admitLocked(p.identity, p.token); err != nil {
		return nil, err
	}
	if r.mustWaitLocked(p) {
		r.holdLocked(p)
	}
	if err := r.checkJoinLocked(p); err != nil {
		return nil, err
	}
	r.reserved[p] = struct{}{}
	r.updateLifecycleLocked()
	return p, nil
}

// admitLocked keeps out an identity banned from the room, and a token (c; nil when
// unknown) revoked since it was verified. It runs when a seat is reserved, again when
// the participant becomes active and when it resumes, so a ban or a removal that lands
// in between is never missed.
func (r *Room) admitLocked(identity string, c *auth.Claims) error {
	if b := r.mgr.opts.Bans; b != nil {
		if err := b.Check(r.name, r.tenant, identity); err != nil {
			return err
		}
	}
	if rv := r.mgr.opts.Revoker; rv != nil {
		if err := rv.CheckParticipant(r.name, identity, c); err != nil {
			return err
		}
	}
	return nil
}

// checkJoinLocked applies the room's rules to a newcomer: the room is open, the
// identity policy, and max_participants. A forwarded stand-in never blocks a real
// participant: it is replaced.
func (r *Room) checkJoinLocked(p *Participant) error {
	if r.closed {
		return fmt.Errorf("%w: %q", ErrRoomClosed, r.name)
	}
	reject := r.mgr.opts.Defaults.DuplicateIdentity == config.DuplicateReject
	existing := r.participants[p.identity]
	if existing != nil && existing.forwardOf == nil && reject {
		return fmt.Errorf("%w: %q is already in room %q, and room.duplicate_identity is %q",
			ErrDuplicateIdentity, p.identity, r.name, config.DuplicateReject)
	}
	for o := range r.reserved {
		if o.identity == p.identity && reject {
			return fmt.Errorf("%w: %q is already joining room %q, and room.duplicate_identity is %q",
				ErrDuplicateIdentity, p.identity, r.name, config.DuplicateReject)
		}
	}
	if max := r.maxParticipants; max > 0 && r.takesSeatLocked(p) {
		taken := r.seatsTakenLocked()
		if existing != nil && r.takesSeatLocked(existing) {
			taken-- // the newcomer replaces them
		}
		if taken >= max {
			return fmt.Errorf("%w: room %q has reached its limit of %d participants", ErrRoomFull, r.name, max)
		}
	}
	return nil
}

// Unreserve releases a reservation whose connection never came up.
func (r *Room) Unreserve(p *Participant) {
	r.mu.Lock()
	defer r.unlock()
	if _, ok := r.reserved[p]; !ok {
		return
	}
	delete(r.reserved, p)
	p.left = true
	r.updateLifecycleLocked()
}

// Activate makes a reserved participant part of the room: it replaces a participant
// with the same identity (who leaves with DUPLICATE_IDENTITY), queues the JoinResponse
// (resp, completed with the room, the participant and the others they may see) as the
// participant's first message, and tells everyone who may see them.
func (r *Room) Activate(p *Participant, resp *livekit.JoinResponse) error {
	r.mu.Lock()
	defer r.unlock()
	if _, ok := r.reserved[p]; !ok || r.closed {
		return fmt.Errorf("%w: %q", ErrRoomClosed, r.name)
	}
	delete(r.reserved, p)
	if err := r.admitLocked(p.identity, p.token); err != nil {
		// Banned or removed while the connection was coming up.
		p.left = true
		r.updateLifecycleLocked()
		return err
	}
	if old := r.participants[p.identity]; old != nil {
		r.removeLocked(old, livekit.DisconnectReason_DUPLICATE_IDENTITY, events.Server)
	}
	p.activated = true
	if p.keepsRoomOpen() {
		r.everOccupied = true
	}
	p.state = livekit.ParticipantInfo_JOINED
	p.bumpLocked()
	r.addLocked(p)

	resp.Room = r.roomInfoForLocked(p)
	resp.Participant = p.infoLocked()
	resp.OtherParticipants = r.visibleToLocked(p)
	p.sink.Send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Join{Join: resp}})

	r.broadcastLocked(p, p.infoLocked(), false)
	r.roomChangedLocked()
	r.updateLifecycleLocked()
	r.reconcileSubLocked(p) // a newcomer publishes nothing yet: only its own subscriptions change
	if p.waiting {
		r.startWaitLocked(p)
	} else {
		r.sendSpeakersLocked(p)
		r.sendQualitiesLocked(p)
		r.emitParticipantLocked(events.ParticipantJoined, p, p.selfActor(r), "")
	}
	if p.canAdmit() {
		r.hostsChangedLocked(p.selfActor(r))
	}
	r.mgr.log.Debug("participant joined", "room", r.name, "identity", p.identity, "sid", p.sid)
	return nil
}

func (r *Room) addLocked(p *Participant) {
	r.participants[p.identity] = p
	r.bySID[p.sid] = p
}

// visibleToLocked returns every other participant p may see.
func (r *Room) visibleToLocked(p *Participant) []*livekit.ParticipantInfo {
	out := make([]*livekit.ParticipantInfo, 0, len(r.participants))
	for _, o := range r.participants {
		if o != p && o.activated && !o.hidden() && seesLocked(p, o) {
			out = append(out, o.infoLocked())
		}
	}
	return out
}

// broadcastLocked sends info about p to everyone allowed to see p, and to p itself
// when toSelf is set.
func (r *Room) broadcastLocked(p *Participant, info *livekit.ParticipantInfo, toSelf bool) {
	batch := []*livekit.ParticipantInfo{info}
	if toSelf {
		p.sink.SendUpdate(batch)
	}
	if p.hidden() {
		return
	}
	r.sendOthersLocked(p, batch)
}

// sendOthersLocked sends batch to every activated participant but p who may see p
// (a waiting participant sees nobody; only those who may admit see one).
func (r *Room) sendOthersLocked(p *Participant, batch []*livekit.ParticipantInfo) {
	for _, o := range r.participants {
		if o != p && o.activated && !o.left && seesLocked(o, p) {
			o.sink.SendUpdate(batch)
		}
	}
}

// goneInfo is what others are told about a participant they can no longer see: a
// snapshot in state DISCONNECTED.
func goneInfo(info *livekit.ParticipantInfo, reason livekit.DisconnectReason) *livekit.ParticipantInfo {
	g := proto.Clone(info).(*livekit.ParticipantInfo)
	g.State = livekit.ParticipantInfo_DISCONNECTED
	g.DisconnectReason = reason
	return g
}

// SetActive records that the participant's primary transport connected.
func (p *Participant) SetActive() {
	r := p.lockRoom()
	defer r.unlock()
	if !p.activated || p.left || p.state == livekit.ParticipantInfo_ACTIVE {
		return
	}
	p.state = livekit.ParticipantInfo_ACTIVE
	p.everActive = true
	p.bumpLocked()
	r.broadcastLocked(p, p.infoLocked(), true)
	r.syncForwardsLocked(p)
	r.emitParticipantLocked(events.ParticipantActive, p, p.selfActor(r), "")
}

// IsActive reports whether the participant's primary transport has connected.
func (p *Participant) IsActive() bool {
	r := p.lockRoom()
	defer r.unlock()
	return p.state == livekit.ParticipantInfo_ACTIVE
}

// Leave removes the participant with reason, tells everyone who could see them, and
// closes their connection (a no-op when the connection itself is ending).
func (p *Participant) Leave(reason livekit.DisconnectReason) {
	r := p.lockRoom()
	defer r.unlock()
	if _, ok := r.reserved[p]; ok {
		delete(r.reserved, p)
		p.left = true
		r.updateLifecycleLocked()
		return
	}
	if r.participants[p.identity] != p {
		return
	}
	r.removeLocked(p, reason, p.leaveActor(r, reason))
}

// removeLocked takes p out of the room, broadcasts their departure, closes their
// connection with a leave carrying reason, and ends their stand-ins elsewhere. actor
// caused it.
func (r *Room) removeLocked(p *Participant, reason livekit.DisconnectReason, actor events.Actor) {
	r.emitLeftLocked(p, reason, actor)
	p.stopWaitLocked()
	if p.waiting && reason != livekit.DisconnectReason_DUPLICATE_IDENTITY {
		delete(r.waitPlaces, p.identity) // gone from the queue (a reconnection keeps the place)
	}
	r.detachLocked(p, reason)
	p.left = true
	p.reason = reason
	p.state = livekit.ParticipantInfo_DISCONNECTED
	p.sink.Close(&livekit.LeaveRequest{Reason: reason, Action: livekit.LeaveRequest_DISCONNECT})
	r.unlinkForwardsLocked(p, reason, actor)
	r.mgr.log.Debug("participant left", "room", r.name, "identity", p.identity, "sid", p.sid, "reason", reason.String())
}

// detachLocked takes p out of this room's maps and tells those who could see p that
// they left with reason, without ending p itself (a move continues elsewhere).
func (r *Room) detachLocked(p *Participant, reason livekit.DisconnectReason) {
	if r.pinned == p.identity && r.participants[p.identity] == p {
		// The pin ends when the pinned participant leaves (or moves on).
		r.pinned = ""
		p.attributes = maps.Clone(p.attributes)
		delete(p.attributes, AttrPinned)
	}
	delete(r.participants, p.identity)
	delete(r.bySID, p.sid)
	r.dropSubscriptionsLocked(p)
	r.forgetTracksLocked(p)
	p.bumpLocked()
	if p.activated && !p.hidden() {
		r.sendOthersLocked(p, []*livekit.ParticipantInfo{goneInfo(p.infoLocked(), reason)})
	}
	if p.activated {
		r.roomChangedLocked()
		if p.canAdmit() {
			r.hostsChangedLocked(events.Server)
		}
	}
	r.updateLifecycleLocked()
}

// Resume finds the participant with sid and identity for a client resuming its session
// with the token c (nil when unknown): it must not be banned, nor c revoked.
func (r *Room) Resume(sid, identity string, c *auth.Claims) (*Participant, error) {
	r.mu.Lock()
	defer r.unlock()
	p := r.bySID[sid]
	if p == nil || p.identity != identity || p.left {
		return nil, fmt.Errorf("%w: no session %q for %q in room %q", ErrParticipantNotFound, sid, identity, r.name)
	}
	if err := r.admitLocked(identity, c); err != nil {
		return nil, err
	}
	return p, nil
}

// Readmit checks a participant resuming its session with the token c (nil when
// unknown) in its current room: it must still be there, not banned, and c not revoked.
func (p *Participant) Readmit(c *auth.Claims) error {
	r := p.lockRoom()
	defer r.unlock()
	if p.left || p.expelling {
		return fmt.Errorf("%w: %q left room %q", ErrParticipantNotFound, p.identity, r.name)
	}
	return r.admitLocked(p.identity, c)
}

// Snapshot returns the participant's room and every participant they may see,
// themselves included, for a full state resend after a resume.
func (p *Participant) Snapshot() (*livekit.Room, []*livekit.ParticipantInfo) {
	r := p.lockRoom()
	defer r.unlock()
	return r.roomInfoForLocked(p), append(r.visibleToLocked(p), p.infoLocked())
}

// Participant returns the participant with identity, or nil.
func (r *Room) Participant(identity string) *Participant {
	r.mu.Lock()
	defer r.unlock()
	return r.participants[identity]
}

// Participants returns a snapshot of everyone in the room, hidden participants and
// forwarded stand-ins included, in the order they joined.
func (r *Room) Participants() []*livekit.ParticipantInfo {
	r.mu.Lock()
	defer r.unlock()
	out := make([]*livekit.ParticipantInfo, 0, len(r.participants))
	for _, p := range r.participants {
		if p.activated {
			out = append(out, p.infoLocked())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].JoinedAtMs != out[j].JoinedAtMs {
			return out[i].JoinedAtMs < out[j].JoinedAtMs
		}
		return out[i].Identity < out[j].Identity
	})
	return out
}

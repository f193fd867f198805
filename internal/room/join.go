package room

import (
	"fmt"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/config"
)

// Reserve validates a join and holds a seat for the participant, before the signal
// connection is upgraded. The participant is invisible to others until Activate. A
// reservation that is not activated must be released with Unreserve.
func (r *Room) Reserve(jp JoinParams) (*Participant, error) {
	if err := r.mgr.validateParticipant(jp); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := newParticipant(r, jp)
	if err := r.checkJoinLocked(p); err != nil {
		return nil, err
	}
	r.reserved[p] = struct{}{}
	r.updateLifecycleLocked()
	return p, nil
}

// checkJoinLocked applies the room's rules to a newcomer: the room is open, the
// identity policy, and max_participants.
func (r *Room) checkJoinLocked(p *Participant) error {
	if r.closed {
		return fmt.Errorf("%w: %q", ErrRoomClosed, r.name)
	}
	reject := r.mgr.opts.Defaults.DuplicateIdentity == config.DuplicateReject
	existing := r.participants[p.identity]
	if existing != nil && reject {
		return fmt.Errorf("%w: %q is already in room %q, and room.duplicate_identity is %q",
			ErrDuplicateIdentity, p.identity, r.name, config.DuplicateReject)
	}
	for o := range r.reserved {
		if o.identity == p.identity && reject {
			return fmt.Errorf("%w: %q is already joining room %q, and room.duplicate_identity is %q",
				ErrDuplicateIdentity, p.identity, r.name, config.DuplicateReject)
		}
	}
	if max := r.maxParticipants; max > 0 && !p.hidden() {
		taken := r.seatsTakenLocked()
		if existing != nil && !existing.hidden() {
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
	defer r.mu.Unlock()
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
	defer r.mu.Unlock()
	if _, ok := r.reserved[p]; !ok || r.closed {
		return fmt.Errorf("%w: %q", ErrRoomClosed, r.name)
	}
	delete(r.reserved, p)
	if old := r.participants[p.identity]; old != nil {
		r.removeLocked(old, livekit.DisconnectReason_DUPLICATE_IDENTITY)
	}
	p.activated = true
	if p.keepsRoomOpen() {
		r.everOccupied = true
	}
	p.state = livekit.ParticipantInfo_JOINED
	p.bumpLocked()
	r.participants[p.identity] = p
	r.bySID[p.sid] = p

	resp.Room = r.infoLocked()
	resp.Participant = p.infoLocked()
	resp.OtherParticipants = resp.OtherParticipants[:0]
	for _, o := range r.participants {
		if o != p && o.activated && !o.hidden() {
			resp.OtherParticipants = append(resp.OtherParticipants, o.infoLocked())
		}
	}
	p.sink.Send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Join{Join: resp}})

	r.broadcastLocked(p, p.infoLocked(), false)
	r.roomChangedLocked()
	r.updateLifecycleLocked()
	r.mgr.log.Debug("participant joined", "room", r.name, "identity", p.identity, "sid", p.sid)
	return nil
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
	for _, o := range r.participants {
		if o != p && o.activated && !o.left {
			o.sink.SendUpdate(batch)
		}
	}
}

// SetActive records that the participant's primary transport connected.
func (r *Room) SetActive(p *Participant) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !p.activated || p.left || p.state == livekit.ParticipantInfo_ACTIVE {
		return
	}
	p.state = livekit.ParticipantInfo_ACTIVE
	p.bumpLocked()
	r.broadcastLocked(p, p.infoLocked(), true)
}

// IsActive reports whether the participant's primary transport has connected.
func (r *Room) IsActive(p *Participant) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return p.state == livekit.ParticipantInfo_ACTIVE
}

// Leave removes the participant with reason, tells everyone who could see them, and
// closes their connection (a no-op when the connection itself is ending).
func (r *Room) Leave(p *Participant, reason livekit.DisconnectReason) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.reserved[p]; ok {
		delete(r.reserved, p)
		p.left = true
		r.updateLifecycleLocked()
		return
	}
	if r.participants[p.identity] != p {
		return
	}
	r.removeLocked(p, reason)
}

// removeLocked takes p out of the room, broadcasts their departure, and closes their
// connection with a leave carrying reason.
func (r *Room) removeLocked(p *Participant, reason livekit.DisconnectReason) {
	delete(r.participants, p.identity)
	delete(r.bySID, p.sid)
	p.left = true
	p.reason = reason
	p.state = livekit.ParticipantInfo_DISCONNECTED
	p.bumpLocked()
	p.sink.Close(&livekit.LeaveRequest{Reason: reason, Action: livekit.LeaveRequest_DISCONNECT})
	if p.activated {
		r.broadcastLocked(p, p.infoLocked(), false)
		r.roomChangedLocked()
	}
	r.updateLifecycleLocked()
	r.mgr.log.Debug("participant left", "room", r.name, "identity", p.identity, "sid", p.sid, "reason", reason.String())
}

// Resume finds the participant with sid and identity for a client resuming its session.
func (r *Room) Resume(sid, identity string) (*Participant, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.bySID[sid]
	if p == nil || p.identity != identity || p.left {
		return nil, fmt.Errorf("%w: no session %q for %q in room %q", ErrParticipantNotFound, sid, identity, r.name)
	}
	return p, nil
}

// Snapshot returns every participant the given participant may see, themselves
// included, for a full state resend after a resume.
func (r *Room) Snapshot(p *Participant) (*livekit.Room, []*livekit.ParticipantInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*livekit.ParticipantInfo, 0, len(r.participants))
	for _, o := range r.participants {
		if o.activated && (o == p || !o.hidden()) {
			out = append(out, o.infoLocked())
		}
	}
	return r.infoLocked(), out
}

// Participant returns the participant with identity, or nil.
func (r *Room) Participant(identity string) *Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.participants[identity]
}

package room

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
)

// The waiting room (docs/waiting-room.md). A participant who must wait joins with a
// live signal connection but a permission that allows nothing; it sees nobody, and
// only participants whose preset has accept_waiting_requests see it, with the
// reserved attribute usher.waiting. Admitting it gives it the permission it would
// have had (held meanwhile), shows everyone to it and it to everyone; denying it
// removes it for good, as a removal does.

// Reserved attributes of a waiting participant.
const (
	AttrWaiting        = "usher.waiting"
	AttrWaitingStatus  = "usher.waiting_status"
	AttrWaitingMessage = "usher.waiting_message"
)

// Values of usher.waiting_status.
const (
	// WaitingHostPresent: someone who may admit is in the room.
	WaitingHostPresent = "host_present"
	// WaitingNoHost: nobody who may admit is in the room; the place in the queue is
	// kept until one comes (or the wait times out).
	WaitingNoHost = "no_host"
	// WaitingDenied and WaitingTimedOut are set just before the participant is let go.
	WaitingDenied   = "denied"
	WaitingTimedOut = "timed_out"
)

// Disconnect reasons of the waiting room, as the SDKs report them.
const (
	// DeniedReason is the leave reason of a denied participant.
	DeniedReason = livekit.DisconnectReason_USER_REJECTED
	// WaitTimeoutReason is the leave reason of a participant whose wait timed out.
	WaitTimeoutReason = livekit.DisconnectReason_USER_UNAVAILABLE
)

// ErrNotWaiting is an admit or deny of a participant who is not waiting.
var ErrNotWaiting = errors.New("not waiting")

// MaxWaitingList bounds the waiting participants one call lists or admits.
const MaxWaitingList = 1000

// waitSettings are a room's waiting-room settings (from room.waiting_room, changed by
// SetWaitingRoom).
type waitSettings struct {
	enabled bool
	mode    string
	message string
}

// WaitingSettings are a room's waiting-room settings as a backend sets them.
type WaitingSettings struct {
	// Enabled makes everyone without a host preset or an admin token wait.
	Enabled bool
	// Mode is config.WaitAdmit or config.WaitHostOpens ("" keeps the current one).
	Mode string
	// Message is shown to the waiting participants (usher.waiting_message).
	Message string
}

// WaitingInfo is one waiting participant, in the order of arrival.
type WaitingInfo struct {
	Identity string
	Name     string
	SID      string
	Since    time.Time
	Preset   string
}

// canAdmit reports whether p may see the waiting room's queue and admit or deny.
func (p *Participant) canAdmit() bool {
	return p.host.AcceptWaitingRequests && !p.waiting && p.forwardOf == nil
}

// seesLocked reports whether viewer is shown subject (hidden participants aside,
// which callers handle): a waiting participant sees nobody, and is seen only by those
// who may admit.
func seesLocked(viewer, subject *Participant) bool {
	if viewer == subject {
		return true
	}
	if viewer.waiting {
		return false
	}
	if subject.waiting {
		return viewer.canAdmit()
	}
	return true
}

// mustWaitLocked decides whether a newcomer waits: hosts who may admit, admins and
// agents never do; anyone else does when its preset or the room says so, unless the
// identity was admitted before in this room, or the room was opened by a host.
func (r *Room) mustWaitLocked(p *Participant) bool {
	if p.host.AcceptWaitingRequests || p.grants.Video.RoomAdmin ||
		p.kind == livekit.ParticipantInfo_AGENT || p.kind == livekit.ParticipantInfo_EGRESS {
		return false
	}
	if r.admitted[p.identity] {
		return false
	}
	byPreset := false
	if p.preset != "" {
		if pc, ok := r.mgr.presets.Get(p.preset); ok {
			byPreset = pc.WaitingRoom
		}
	}
	if !byPreset && !r.wait.enabled {
		return false
	}
	return r.wait.mode != config.WaitHostOpens || !r.opened
}

// holdLocked puts p, about to join, in the waiting room: its permission is held until
// it is admitted.
func (r *Room) holdLocked(p *Participant) {
	p.waiting = true
	p.held = p.permission
	p.permission = &livekit.ParticipantPermission{}
	if p.attributes == nil {
		p.attributes = map[string]string{}
	}
	p.attributes[AttrWaiting] = "true"
	p.attributes[AttrWaitingStatus] = r.waitingStatusLocked()
	if r.wait.message != "" {
		p.attributes[AttrWaitingMessage] = r.wait.message
	}
}

// waitingStatusLocked is the usher.waiting_status of the room's waiting participants.
func (r *Room) waitingStatusLocked() string {
	for _, o := range r.participants {
		if o.activated && !o.left && o.canAdmit() {
			return WaitingHostPresent
		}
	}
	return WaitingNoHost
}

// waitingRoomInfo is the room as a waiting participant sees it: its name and identity,
// nothing of what happens inside.
func (r *Room) waitingRoomInfoLocked() *livekit.Room {
	return &livekit.Room{
		Sid:            r.sid,
		Name:           r.name,
		CreationTime:   r.createdAt.Unix(),
		CreationTimeMs: r.createdAt.UnixMilli(),
		EnabledCodecs:  EnabledCodecs,
	}
}

// roomInfoForLocked is the room as p sees it.
func (r *Room) roomInfoForLocked(p *Participant) *livekit.Room {
	if p.waiting {
		return r.waitingRoomInfoLocked()
	}
	return r.infoLocked()
}

// startWaitLocked runs when a waiting participant has joined: the wait's timeout
// starts, and in a room a host opens, a host's presence lets it in at once.
func (r *Room) startWaitLocked(p *Participant) {
	r.waitSeq++
	p.waitSeq = r.waitSeq
	if old := r.waitPlaces[p.identity]; old != 0 {
		p.waitSeq = old // back after a reconnection: the place is kept
	}
	if r.waitPlaces == nil {
		r.waitPlaces = map[string]uint64{}
	}
	r.waitPlaces[p.identity] = p.waitSeq
	if d := r.mgr.opts.Defaults.WaitingRoom.Timeout; d > 0 {
		p.waitTimer = time.AfterFunc(d, func() { r.waitTimedOut(p) })
	}
	r.emitParticipantLocked(events.ParticipantWaiting, p, p.selfActor(r), "")
}

// waitTimedOut lets p go when it is still waiting.
func (r *Room) waitTimedOut(p *Participant) {
	r.mu.Lock()
	defer r.unlock()
	if !p.waiting || p.left || r.participants[p.identity] != p {
		return
	}
	r.setServerAttrLocked(p, AttrWaitingStatus, WaitingTimedOut, events.Server)
	delete(r.waitPlaces, p.identity)
	r.removeLocked(p, WaitTimeoutReason, events.Server)
}

// stopWaitLocked ends p's wait (admitted, denied or gone).
func (p *Participant) stopWaitLocked() {
	if p.waitTimer != nil {
		p.waitTimer.Stop()
		p.waitTimer = nil
	}
}

// waitingLocked returns the waiting participants in the order they arrived.
func (r *Room) waitingLocked() []*Participant {
	var out []*Participant
	for _, p := range r.participants {
		if p.waiting && p.activated && !p.left {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].waitSeq < out[j].waitSeq })
	return out
}

// admitLocked lets a waiting participant in: it gets its held permission, sees
// everyone, everyone sees it, and its subscriptions start.
func (r *Room) letInLocked(p *Participant, actor events.Actor) error {
	if !p.waiting || p.expelling {
		return fmt.Errorf("%w: %q is not waiting", ErrNotWaiting, p.identity)
	}
	if max := r.maxParticipants; max > 0 && !r.mgr.opts.Defaults.WaitingRoom.TakesSeat && !p.held.GetHidden() {
		if r.seatsTakenLocked() >= max {
			return fmt.Errorf("%w: room %q has reached its limit of %d participants; %q keeps waiting", ErrRoomFull, r.name, max, p.identity)
		}
	}
	before := p.infoLocked()
	p.stopWaitLocked()
	p.waiting = false
	p.permission, p.held = p.held, nil
	attrs := make(map[string]string, len(p.attributes))
	for k, v := range p.attributes {
		if k != AttrWaiting && k != AttrWaitingStatus && k != AttrWaitingMessage {
			attrs[k] = v
		}
	}
	p.attributes = attrs
	if r.admitted == nil {
		r.admitted = map[string]bool{}
	}
	r.admitted[p.identity] = true
	delete(r.waitPlaces, p.identity)
	p.bumpLocked()
	info := p.infoLocked()
	// The participant learns its permission and everyone it may now see at once, then
	// the room as it is.
	p.sink.SendUpdate(append(r.visibleToLocked(p), info))
	p.sink.SendRoomUpdate(r.infoLocked())
	r.sendSpeakersLocked(p)
	r.sendQualitiesLocked(p)
	if !p.hidden() {
		r.sendOthersLocked(p, []*livekit.ParticipantInfo{info})
	}
	r.roomChangedLocked()
	r.reconcileSubLocked(p) // it published nothing while it waited
	r.emitLocked(&events.Event{Kind: events.ParticipantAdmitted, Participant: info, Actor: actor, Changes: participantChanges(before, info)})
	r.emitParticipantLocked(events.ParticipantJoined, p, actor, "")
	return nil
}

// hostsChangedLocked runs when someone who may admit arrived or left (or gained or lost
// the right): waiting participants learn whether a host is present, and in a room a
// host opens, the first host lets everyone in.
func (r *Room) hostsChangedLocked(actor events.Actor) {
	waiting := r.waitingLocked()
	if len(waiting) == 0 && r.opened {
		return
	}
	status := r.waitingStatusLocked()
	if status == WaitingHostPresent && r.wait.mode == config.WaitHostOpens && !r.opened {
		r.opened = true
		for _, p := range waiting {
			if err := r.letInLocked(p, actor); err != nil {
				r.mgr.log.Debug("could not admit a waiting participant", "room", r.name, "identity", p.identity, "error", err)
			}
		}
		return
	}
	for _, p := range waiting {
		r.setServerAttrLocked(p, AttrWaitingStatus, status, events.Server)
	}
}

// showWaitingLocked tells o about every waiting participant when it may now admit
// (shown) or that they are gone from its view when it may no more.
func (r *Room) showWaitingLocked(o *Participant, shown bool) {
	var batch []*livekit.ParticipantInfo
	for _, p := range r.waitingLocked() {
		if shown {
			batch = append(batch, p.infoLocked())
		} else {
			batch = append(batch, goneInfo(p.infoLocked(), livekit.DisconnectReason_UNKNOWN_REASON))
		}
	}
	if len(batch) > 0 {
		o.sink.SendUpdate(batch)
	}
}

// waitingTargetLocked finds the waiting participant with identity.
func (r *Room) waitingTargetLocked(identity string) (*Participant, error) {
	t := r.participants[identity]
	if identity == "" || t == nil || !t.activated || t.left {
		return nil, fmt.Errorf("%w: nobody called %q is waiting in room %q", ErrParticipantNotFound, identity, r.name)
	}
	if !t.waiting || t.expelling {
		return nil, fmt.Errorf("%w: %q is not waiting in room %q", ErrNotWaiting, identity, r.name)
	}
	return t, nil
}

// denyLocked turns a waiting participant away for good: its tokens for the room are
// revoked, as by a removal, and it leaves with USER_REJECTED. It unlocks r.
func (m *Manager) denyLocked(r *Room, p *Participant, reason string, actor events.Actor) error {
	if !p.waiting {
		r.unlock()
		return fmt.Errorf("%w: %q is not waiting", ErrNotWaiting, p.identity)
	}
	if reason == "" {
		reason = "denied entry"
	}
	_, err := m.expelWithLocked(r, p, expulsion{
		reason: reason, event: events.ParticipantDenied, leave: DeniedReason,
		before: func(cur *Participant) {
			r.setServerAttrLocked(cur, AttrWaitingStatus, WaitingDenied, actor)
			delete(r.waitPlaces, cur.identity)
		},
	}, actor)
	return err
}

// hostCallerLocked checks that p may act on the waiting room.
func (p *Participant) requireAdmit() error {
	if p.waiting {
		return fmt.Errorf("%w: %q is waiting itself", ErrHostPermission, p.identity)
	}
	return p.requireHost(p.host.AcceptWaitingRequests, "accept_waiting_requests")
}

// HostAdmit admits the waiting participant with identity.
func (p *Participant) HostAdmit(identity string) error {
	r := p.lockRoom()
	defer r.unlock()
	if err := p.requireAdmit(); err != nil {
		return err
	}
	t, err := r.waitingTargetLocked(identity)
	if err != nil {
		return err
	}
	return r.letInLocked(t, p.hostActor(r))
}

// HostAdmitAll admits everyone waiting, in the order they arrived, and returns their
// identities. It stops at the first who cannot be admitted (the room is full).
func (p *Participant) HostAdmitAll() ([]string, error) {
	r := p.lockRoom()
	defer r.unlock()
	if err := p.requireAdmit(); err != nil {
		return nil, err
	}
	return r.admitAllLocked(p.hostActor(r))
}

func (r *Room) admitAllLocked(actor events.Actor) ([]string, error) {
	ids := []string{}
	for _, t := range r.waitingLocked() {
		if err := r.letInLocked(t, actor); err != nil {
			return ids, fmt.Errorf("%w (admitted before it: %q)", err, ids)
		}
		ids = append(ids, t.identity)
	}
	return ids, nil
}

// HostDeny turns the waiting participant with identity away.
func (p *Participant) HostDeny(identity, reason string) error {
	if err := validateText("reason", reason, MaxBanReasonLength); err != nil {
		return err
	}
	r := p.lockRoom()
	if err := p.requireAdmit(); err != nil {
		r.unlock()
		return err
	}
	t, err := r.waitingTargetLocked(identity)
	if err != nil {
		r.unlock()
		return err
	}
	return r.mgr.denyLocked(r, t, reason, p.hostActor(r))
}

// HostWaitingMessage sets the message the waiting participants see (all of them, or
// the one with identity).
func (p *Participant) HostWaitingMessage(identity, message string) ([]string, error) {
	if len(message) > config.MaxWaitingMessage {
		return nil, fmt.Errorf("%w: the message has %d bytes; the limit is %d", ErrInvalidArgument, len(message), config.MaxWaitingMessage)
	}
	if err := validateText("message", message, config.MaxWaitingMessage); err != nil {
		return nil, err
	}
	r := p.lockRoom()
	defer r.unlock()
	if err := p.requireAdmit(); err != nil {
		return nil, err
	}
	return r.setWaitingMessageLocked(identity, message, p.hostActor(r))
}

func (r *Room) setWaitingMessageLocked(identity, message string, actor events.Actor) ([]string, error) {
	targets := r.waitingLocked()
	if identity != "" {
		t, err := r.waitingTargetLocked(identity)
		if err != nil {
			return nil, err
		}
		targets = []*Participant{t}
	} else {
		r.wait.message = message
	}
	ids := []string{}
	for _, t := range targets {
		r.setServerAttrLocked(t, AttrWaitingMessage, message, actor)
		ids = append(ids, t.identity)
	}
	return ids, nil
}

// HostListWaiting lists the waiting participants in the order they arrived.
func (p *Participant) HostListWaiting() ([]WaitingInfo, error) {
	r := p.lockRoom()
	defer r.unlock()
	if err := p.requireAdmit(); err != nil {
		return nil, err
	}
	return r.waitingInfosLocked(), nil
}

func (r *Room) waitingInfosLocked() []WaitingInfo {
	out := []WaitingInfo{}
	for _, t := range r.waitingLocked() {
		if len(out) == MaxWaitingList {
			break
		}
		out = append(out, WaitingInfo{Identity: t.identity, Name: t.name, SID: t.sid, Since: t.joinedAt, Preset: t.preset})
	}
	return out
}

// Backends.

// ListWaiting lists the waiting participants of a room in the order they arrived.
func (m *Manager) ListWaiting(_ context.Context, roomName string) ([]WaitingInfo, error) {
	r, err := m.Room(roomName)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.unlock()
	return r.waitingInfosLocked(), nil
}

// Admit admits a waiting participant.
func (m *Manager) Admit(ctx context.Context, roomName, identity string) error {
	r, err := m.Room(roomName)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.unlock()
	t, err := r.waitingTargetLocked(identity)
	if err != nil {
		return err
	}
	return r.letInLocked(t, actorOf(ctx))
}

// AdmitAll admits everyone waiting in a room, in the order they arrived.
func (m *Manager) AdmitAll(ctx context.Context, roomName string) ([]string, error) {
	r, err := m.Room(roomName)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.unlock()
	return r.admitAllLocked(actorOf(ctx))
}

// Deny turns a waiting participant away for good.
func (m *Manager) Deny(ctx context.Context, roomName, identity, reason string) error {
	if err := validateText("reason", reason, MaxBanReasonLength); err != nil {
		return err
	}
	r, err := m.Room(roomName)
	if err != nil {
		return err
	}
	r.mu.Lock()
	t, err := r.waitingTargetLocked(identity)
	if err != nil {
		r.unlock()
		return err
	}
	return m.denyLocked(r, t, reason, actorOf(ctx))
}

// SetWaitingRoom changes a room's waiting-room settings. Turning it off does not admit
// anyone already waiting.
func (m *Manager) SetWaitingRoom(ctx context.Context, roomName string, s WaitingSettings) error {
	switch s.Mode {
	case "", config.WaitAdmit, config.WaitHostOpens:
	default:
		return fmt.Errorf("%w: mode %q is not one of %q, %q", ErrInvalidArgument, s.Mode, config.WaitAdmit, config.WaitHostOpens)
	}
	if len(s.Message) > config.MaxWaitingMessage {
		return fmt.Errorf("%w: the message has %d bytes; the limit is %d", ErrInvalidArgument, len(s.Message), config.MaxWaitingMessage)
	}
	if err := validateText("message", s.Message, config.MaxWaitingMessage); err != nil {
		return err
	}
	r, err := m.Room(roomName)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.unlock()
	r.wait.enabled = s.Enabled
	if s.Mode != "" {
		r.wait.mode = s.Mode
	}
	if s.Message != r.wait.message {
		if _, err := r.setWaitingMessageLocked("", s.Message, actorOf(ctx)); err != nil {
			return err
		}
	}
	r.hostsChangedLocked(actorOf(ctx))
	return nil
}

// WaitingRoomSettings returns a room's waiting-room settings.
func (m *Manager) WaitingRoomSettings(roomName string) (WaitingSettings, bool, error) {
	r, err := m.Room(roomName)
	if err != nil {
		return WaitingSettings{}, false, err
	}
	r.mu.Lock()
	defer r.unlock()
	return WaitingSettings{Enabled: r.wait.enabled, Mode: r.wait.mode, Message: r.wait.message}, r.opened, nil
}

// EventualPermission is the permission the participant has, or will have once
// admitted when it is waiting.
func (p *Participant) EventualPermission() *livekit.ParticipantPermission {
	r := p.lockRoom()
	defer r.unlock()
	if p.waiting {
		return proto.Clone(p.held).(*livekit.ParticipantPermission)
	}
	return proto.Clone(p.permission).(*livekit.ParticipantPermission)
}

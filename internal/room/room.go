// Package room owns the state of rooms: their settings, lifecycle timers and
// participants. Each Room has one mutex guarding all of its state and its participants'
// state; critical sections are short and never call out to the network. Events leave
// the room through the participants' Sinks, which only queue.
package room

import (
	"fmt"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"

	"github.com/usher-rtc/usher/internal/events"
)

// EnabledCodecs are the codecs the server accepts from publishers, as Room reports them
// (enabled_codecs) and JoinResponse announces them. The messages are shared: never
// modify them.
var EnabledCodecs = []*livekit.Codec{
	{Mime: "audio/opus"}, {Mime: "audio/red"},
	{Mime: "video/VP8"}, {Mime: "video/H264"}, {Mime: "video/VP9"}, {Mime: "video/AV1"},
}

// Room is one open room.
type Room struct {
	mgr *Manager

	// Immutable after creation.
	name      string
	sid       string
	createdAt time.Time
	// tenant owns the room (the auth_id of its metadata at creation), or "".
	tenant string

	mu               sync.Mutex
	emptyTimeout     uint32
	departureTimeout uint32
	maxParticipants  uint32
	minPlayoutDelay  uint32
	maxPlayoutDelay  uint32
	syncStreams      bool
	metadata         string
	closed           bool
	// everOccupied is set once a participant who keeps the room open has joined:
	// from then on departure_timeout applies instead of empty_timeout.
	everOccupied bool

	// participants by identity; a reserved participant may share an identity with an
	// active one it is about to replace, so reservations are kept apart.
	participants map[string]*Participant
	reserved     map[*Participant]struct{}
	bySID        map[string]*Participant

	// lastInfo is the last room state sent to participants, to send room_update only
	// when something they see changed.
	lastNum, lastPublishers uint32
	lastRecording           bool

	// closeTimer closes the room when it stays unoccupied; timerGen invalidates a
	// timer that fired after it was replaced.
	closeTimer *time.Timer
	timerGen   uint64

	// deferred holds work to run once the lock is released (it touches other rooms).
	deferred []func()
	// pinned is the identity of the participant pinned for the session, or "".
	pinned string
	// locks remembers hard mutes by identity, so that rejoining does not lift them.
	locks map[string]lockState
	// nonces remembers recent SendData nonces, to drop retried packets.
	nonces nonceRing

	// wait holds the waiting-room settings; waitSeq numbers arrivals; waitPlaces keeps
	// the place of a waiting identity across reconnections; admitted are the
	// identities let in, who do not wait again; opened is set once a host opened a
	// room of mode host_opens.
	wait       waitSettings
	waitSeq    uint64
	waitPlaces map[string]uint64
	admitted   map[string]bool
	opened     bool
}

// unlock releases the room's lock and then runs the work deferred while holding it.
// Every critical section ends with unlock, never with mu.Unlock directly.
func (r *Room) unlock() {
	fs := r.deferred
	r.deferred = nil
	r.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// afterUnlockLocked schedules f to run when the lock is released.
func (r *Room) afterUnlockLocked(f func()) { r.deferred = append(r.deferred, f) }

func newRoom(m *Manager, req *livekit.CreateRoomRequest) *Room {
	d := m.opts.Defaults
	return &Room{
		mgr:              m,
		name:             req.Name,
		tenant:           TenantOf(req.Metadata),
		sid:              guid.New(guid.RoomPrefix),
		createdAt:        time.Now(),
		emptyTimeout:     orDefault(req.EmptyTimeout, d.EmptyTimeout),
		departureTimeout: orDefault(req.DepartureTimeout, d.DepartureTimeout),
		maxParticipants:  orDefault(req.MaxParticipants, d.MaxParticipants),
		minPlayoutDelay:  req.MinPlayoutDelay,
		maxPlayoutDelay:  req.MaxPlayoutDelay,
		syncStreams:      req.SyncStreams,
		metadata:         req.Metadata,
		participants:     make(map[string]*Participant),
		reserved:         make(map[*Participant]struct{}),
		bySID:            make(map[string]*Participant),
		wait:             waitSettings{enabled: d.WaitingRoom.Enabled, mode: d.WaitingRoom.Mode, message: d.WaitingRoom.Message},
	}
}

func orDefault(v, def uint32) uint32 {
	if v == 0 {
		return def
	}
	return v
}

// Name returns the room's name.
func (r *Room) Name() string { return r.name }

// SID returns the room's server-made session ID.
func (r *Room) SID() string { return r.sid }

// Info returns a snapshot of the room as the wire type.
func (r *Room) Info() *livekit.Room {
	r.mu.Lock()
	defer r.unlock()
	return r.infoLocked()
}

func (r *Room) infoLocked() *livekit.Room {
	num, publishers, recording := r.countsLocked()
	return r.infoWithCounts(num, publishers, recording)
}

func (r *Room) infoWithCounts(num, publishers uint32, recording bool) *livekit.Room {
	return &livekit.Room{
		Sid:              r.sid,
		Name:             r.name,
		EmptyTimeout:     r.emptyTimeout,
		DepartureTimeout: r.departureTimeout,
		MaxParticipants:  r.maxParticipants,
		CreationTime:     r.createdAt.Unix(),
		CreationTimeMs:   r.createdAt.UnixMilli(),
		Metadata:         r.metadata,
		NumParticipants:  num,
		NumPublishers:    publishers,
		ActiveRecording:  recording,
		EnabledCodecs:    EnabledCodecs,
	}
}

// countsLocked counts visible participants (hidden ones excluded, as the Room service
// documents), publishers among them, and whether a recorder is present.
func (r *Room) countsLocked() (num, publishers uint32, recording bool) {
	for _, p := range r.participants {
		if !p.activated || p.left {
			continue
		}
		if p.permission.GetRecorder() || p.kind == livekit.ParticipantInfo_EGRESS {
			recording = true
		}
		if p.hidden() || p.waiting {
			continue
		}
		num++
		if len(p.tracks) > 0 {
			publishers++
		}
	}
	return num, publishers, recording
}

// seatsTakenLocked counts participants that occupy a seat under max_participants:
// everyone present or joining except hidden participants, and except waiting ones
// unless room.waiting_room.takes_seat.
func (r *Room) seatsTakenLocked() uint32 {
	var n uint32
	for _, p := range r.participants {
		if r.takesSeatLocked(p) && !p.left {
			n++
		}
	}
	for p := range r.reserved {
		if r.takesSeatLocked(p) {
			n++
		}
	}
	return n
}

// takesSeatLocked reports whether p counts against max_participants.
func (r *Room) takesSeatLocked(p *Participant) bool {
	if p.hidden() || p.waiting && p.held.GetHidden() {
		return false
	}
	return !p.waiting || r.mgr.opts.Defaults.WaitingRoom.TakesSeat
}

// occupiedLocked reports whether anyone keeps the room open.
func (r *Room) occupiedLocked() bool {
	for _, p := range r.participants {
		if p.keepsRoomOpen() {
			return true
		}
	}
	for p := range r.reserved {
		if p.keepsRoomOpen() {
			return true
		}
	}
	return false
}

// armCloseTimerLocked (re)starts the timer that closes the room after d unless
// something cancels it first.
func (r *Room) armCloseTimerLocked(d time.Duration) {
	r.stopCloseTimerLocked()
	gen := r.timerGen
	r.closeTimer = time.AfterFunc(d, func() { r.mgr.expire(r, gen) })
}

func (r *Room) stopCloseTimerLocked() {
	r.timerGen++
	if r.closeTimer != nil {
		r.closeTimer.Stop()
		r.closeTimer = nil
	}
}

// updateLifecycleLocked arms or stops the close timer after occupancy changed.
func (r *Room) updateLifecycleLocked() {
	if r.closed {
		return
	}
	if r.occupiedLocked() {
		r.stopCloseTimerLocked()
		return
	}
	if r.closeTimer != nil {
		return // already counting down
	}
	if r.everOccupied {
		r.armCloseTimerLocked(time.Duration(r.departureTimeout) * time.Second)
	} else {
		r.armCloseTimerLocked(time.Duration(r.emptyTimeout) * time.Second)
	}
}

// setMetadata replaces the room metadata, tells everyone, and returns the new snapshot.
func (r *Room) setMetadata(md string, actor events.Actor) (*livekit.Room, error) {
	r.mu.Lock()
	defer r.unlock()
	if r.closed {
		return nil, ErrRoomClosed
	}
	if t := TenantOf(md); t != r.tenant {
		if r.tenant == "" {
			return nil, fmt.Errorf("%w: room %q belongs to no tenant, and its metadata cannot give it one (auth_id %q)", ErrInvalidArgument, r.name, t)
		}
		return nil, fmt.Errorf("%w: room %q belongs to tenant %q for its whole life; its metadata must keep that auth_id", ErrInvalidArgument, r.name, r.tenant)
	}
	before := r.metadata
	r.metadata = md
	info := r.infoLocked()
	r.sendRoomLocked(info)
	if before != md {
		r.emitLocked(&events.Event{Kind: events.RoomMetadataChanged, Room: info, Actor: actor,
			Changes: []events.Change{{Field: "metadata", Before: before, After: md}}})
	}
	return info, nil
}

// roomChangedLocked sends room_update to everyone when a count they see changed.
func (r *Room) roomChangedLocked() {
	num, publishers, recording := r.countsLocked()
	if num == r.lastNum && publishers == r.lastPublishers && recording == r.lastRecording {
		return
	}
	r.lastNum, r.lastPublishers, r.lastRecording = num, publishers, recording
	r.sendRoomLocked(r.infoWithCounts(num, publishers, recording))
}

// sendRoomLocked queues a room update for everyone in the room.
func (r *Room) sendRoomLocked(info *livekit.Room) {
	for _, p := range r.participants {
		if p.activated && !p.left && !p.waiting {
			p.sink.SendRoomUpdate(info)
		}
	}
}

// closeLocked marks the room closed, stops its timer, and ends every participant's
// connection with reason. The caller removes the room from the manager.
// (Deferred work it schedules runs when the caller releases the lock with unlock.)
func (r *Room) closeLocked(reason livekit.DisconnectReason, actor events.Actor) {
	for _, p := range r.participants {
		r.emitLeftLocked(p, reason, actor)
	}
	r.closed = true
	r.stopCloseTimerLocked()
	leave := &livekit.LeaveRequest{Reason: reason, Action: livekit.LeaveRequest_DISCONNECT}
	if reason == livekit.DisconnectReason_SERVER_SHUTDOWN {
		// Clients retry, and find the server again after a restart.
		leave.Action = livekit.LeaveRequest_RECONNECT
		leave.CanReconnect = true
	}
	for _, p := range r.participants {
		p.stopWaitLocked()
		p.left, p.reason, p.state = true, reason, livekit.ParticipantInfo_DISCONNECTED
		p.sink.Close(leave)
		r.unlinkForwardsLocked(p, reason, actor)
	}
	for p := range r.reserved {
		p.left = true
		p.sink.Close(leave)
	}
	clear(r.participants)
	clear(r.reserved)
	clear(r.bySID)
	r.emitLocked(&events.Event{Kind: events.RoomFinished, Actor: actor, Reason: reason.String()})
}

// Package room owns the state of rooms: their settings, lifecycle timers and
// participants. Each Room has one mutex guarding all of its state; critical sections
// are short and never call out to the network.
package room

import (
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"
)

// Room is one open room.
type Room struct {
	mgr *Manager

	// Immutable after creation.
	name      string
	sid       string
	createdAt time.Time

	mu               sync.Mutex
	emptyTimeout     uint32
	departureTimeout uint32
	maxParticipants  uint32
	minPlayoutDelay  uint32
	maxPlayoutDelay  uint32
	syncStreams      bool
	metadata         string
	closed           bool

	// closeTimer closes the room when it stays unoccupied; timerGen invalidates a
	// timer that fired after it was replaced.
	closeTimer *time.Timer
	timerGen   uint64
}

func newRoom(m *Manager, req *livekit.CreateRoomRequest) *Room {
	d := m.opts.Defaults
	r := &Room{
		mgr:              m,
		name:             req.Name,
		sid:              guid.New(guid.RoomPrefix),
		createdAt:        time.Now(),
		emptyTimeout:     orDefault(req.EmptyTimeout, d.EmptyTimeout),
		departureTimeout: orDefault(req.DepartureTimeout, d.DepartureTimeout),
		maxParticipants:  orDefault(req.MaxParticipants, d.MaxParticipants),
		minPlayoutDelay:  req.MinPlayoutDelay,
		maxPlayoutDelay:  req.MaxPlayoutDelay,
		syncStreams:      req.SyncStreams,
		metadata:         req.Metadata,
	}
	return r
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
	defer r.mu.Unlock()
	return r.infoLocked()
}

func (r *Room) infoLocked() *livekit.Room {
	return &livekit.Room{
		Sid:              r.sid,
		Name:             r.name,
		EmptyTimeout:     r.emptyTimeout,
		DepartureTimeout: r.departureTimeout,
		MaxParticipants:  r.maxParticipants,
		CreationTime:     r.createdAt.Unix(),
		CreationTimeMs:   r.createdAt.UnixMilli(),
		Metadata:         r.metadata,
		NumParticipants:  0,
		NumPublishers:    0,
	}
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

// occupiedLocked reports whether anyone keeps the room open.
func (r *Room) occupiedLocked() bool {
	return false
}

// setMetadata replaces the room metadata and returns the new snapshot.
func (r *Room) setMetadata(md string) (*livekit.Room, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrRoomClosed
	}
	r.metadata = md
	return r.infoLocked(), nil
}

// closeLocked marks the room closed and stops its timer. The caller removes it from
// the manager.
func (r *Room) closeLocked() {
	r.closed = true
	r.stopCloseTimerLocked()
}

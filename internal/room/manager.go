package room

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
)

// Options configures a Manager.
type Options struct {
	// Defaults are the room defaults from the server config.
	Defaults config.RoomConfig
	// SpeakerInterval is how often active speakers are updated (0: SpeakerInterval).
	SpeakerInterval time.Duration
	// Limits bound names and metadata.
	Limits config.LimitConfig
	// Logger receives lifecycle logs; nil discards them.
	Logger *slog.Logger
	// Revoker stores token revocations (RemoveParticipant, permission changes) and
	// checks them again when a participant becomes active or resumes; nil keeps none.
	Revoker Revoker
	// Bans keeps banned identities out and stores new bans; nil bans nobody.
	Bans BanList
	// Presets are the named permission sets participants may hold: the
	// configuration's, the initial set of the registry when PresetRegistry is nil.
	Presets map[string]config.PresetConfig
	// PresetRegistry is the live preset registry (configuration and API presets);
	// nil makes one of Presets that stores nothing.
	PresetRegistry *Presets
	// Events receives every change of every room, with its actor; nil publishes
	// nothing.
	Events *events.Bus
}

// Manager owns every open room of this server.
//
// Lock order: Manager.mu before Room.mu, never the other way round.
type Manager struct {
	opts    Options
	log     *slog.Logger
	presets *Presets

	mu     sync.RWMutex
	rooms  map[string]*Room
	closed bool
	// stop ends the speaker loop.
	stop     chan struct{}
	stopOnce sync.Once
}

// NewManager returns an empty Manager.
func NewManager(opts Options) *Manager {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	presets := opts.PresetRegistry
	if presets == nil {
		presets, _, _ = NewPresets(opts.Presets, nil) // without a store it cannot fail
	}
	m := &Manager{opts: opts, log: log, presets: presets, rooms: make(map[string]*Room), stop: make(chan struct{})}
	interval := opts.SpeakerInterval
	if interval == 0 {
		interval = SpeakerInterval
	}
	go m.runSpeakers(interval, m.stop)
	return m
}

// Limits returns the input limits the manager enforces.
func (m *Manager) Limits() config.LimitConfig { return m.opts.Limits }

// ValidateRoomName checks a room name against the limits.
func (m *Manager) ValidateRoomName(name string) error {
	return ValidateRoomName(m.opts.Limits, name)
}

// JoinRoom returns the room a participant joins: the open room called name, or, when
// autoCreate is set, a new one configured by cfg (the token's roomConfig, may be nil).
func (m *Manager) JoinRoom(ctx context.Context, name string, autoCreate bool, cfg *livekit.RoomConfiguration) (*Room, error) {
	if err := m.ValidateRoomName(name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrRoomClosed
	}
	if r, ok := m.rooms[name]; ok {
		return r, nil
	}
	if !autoCreate {
		return nil, fmt.Errorf("%w: %q (room.auto_create is off: create it with CreateRoom first)", ErrRoomNotFound, name)
	}
	req := &livekit.CreateRoomRequest{Name: name}
	if cfg != nil {
		req.EmptyTimeout = cfg.EmptyTimeout
		req.DepartureTimeout = cfg.DepartureTimeout
		req.MaxParticipants = cfg.MaxParticipants
		req.Metadata = cfg.Metadata
		req.MinPlayoutDelay = cfg.MinPlayoutDelay
		req.MaxPlayoutDelay = cfg.MaxPlayoutDelay
		req.SyncStreams = cfg.SyncStreams
		if err := m.validateMetadata("room metadata", req.Metadata); err != nil {
			return nil, err
		}
	}
	r := newRoom(m, req)
	r.mu.Lock()
	r.armCloseTimerLocked(time.Duration(r.emptyTimeout) * time.Second)
	r.emitLocked(&events.Event{Kind: events.RoomStarted, Actor: actorOf(ctx)})
	r.unlock()
	m.rooms[name] = r
	m.log.Info("room created by a join", "room", r.name, "sid", r.sid)
	return r, nil
}

// CheckJoin reports whether a participant could join room name now, without changing
// anything (the signal validate endpoint).
func (m *Manager) CheckJoin(name string, autoCreate bool, jp JoinParams) error {
	if err := m.ValidateRoomName(name); err != nil {
		return err
	}
	if err := m.validateParticipant(jp); err != nil {
		return err
	}
	m.mu.RLock()
	r, ok := m.rooms[name]
	closed := m.closed
	m.mu.RUnlock()
	switch {
	case closed:
		return ErrRoomClosed
	case !ok && !autoCreate:
		return fmt.Errorf("%w: %q (room.auto_create is off: create it with CreateRoom first)", ErrRoomNotFound, name)
	case !ok:
		// The join would create the room, for the tenant of the token.
		return m.CheckBanned(name, jp)
	}
	r.mu.Lock()
	defer r.unlock()
	p := newParticipant(r, jp)
	if err := r.checkTenantLocked(p); err != nil {
		return err
	}
	if err := r.applyPresetLocked(p); err != nil {
		return err
	}
	if err := r.admitLocked(p.identity, p.token); err != nil {
		return err
	}
	return r.checkJoinLocked(p)
}

// CheckBanned returns a *auth.BannedError when the participant jp describes is banned
// from room name: the open room of that name, or the room its join would create. It
// lets a banned join be refused before it creates a room.
func (m *Manager) CheckBanned(name string, jp JoinParams) error {
	m.mu.RLock()
	r, ok := m.rooms[name]
	m.mu.RUnlock()
	tenant := tenantOfGrants(jp.Grants)
	if ok {
		tenant = r.tenant
	}
	return m.checkBan(name, tenant, jp.Identity)
}

// validateParticipant checks what a joining participant brings against the limits.
func (m *Manager) validateParticipant(jp JoinParams) error {
	if jp.Identity == ServerIdentity {
		return fmt.Errorf("%w: identity %q is reserved for the server's host controls", ErrInvalidArgument, ServerIdentity)
	}
	if name, ok := jp.Attributes[AttrPreset]; ok {
		if _, known := m.presets.Get(name); !known {
			return fmt.Errorf("%w: preset %q is not defined on this server", ErrPermissionDenied, name)
		}
	}
	return ValidateParticipantFields(m.opts.Limits, jp.Identity, jp.Name, jp.Metadata, jp.Attributes)
}

func (m *Manager) validateMetadata(what, md string) error {
	return ValidateMetadata(m.opts.Limits, what, md)
}

// CreateRoom creates a room, or returns the existing room of that name unchanged
// (CreateRoom is idempotent). created tells which.
func (m *Manager) CreateRoom(ctx context.Context, req *livekit.CreateRoomRequest) (info *livekit.Room, created bool, err error) {
	if err := m.validateCreate(req); err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, false, ErrRoomClosed
	}
	if r, ok := m.rooms[req.Name]; ok {
		return r.Info(), false, nil
	}
	r := newRoom(m, req)
	r.mu.Lock()
	r.armCloseTimerLocked(time.Duration(r.emptyTimeout) * time.Second)
	info = r.infoLocked()
	r.emitLocked(&events.Event{Kind: events.RoomStarted, Room: info, Actor: actorOf(ctx)})
	r.unlock()
	m.rooms[req.Name] = r
	m.log.Info("room created", "room", r.name, "sid", r.sid)
	return info, true, nil
}

func (m *Manager) validateCreate(req *livekit.CreateRoomRequest) error {
	if err := m.ValidateRoomName(req.Name); err != nil {
		return err
	}
	if err := m.validateMetadata("room metadata", req.Metadata); err != nil {
		return err
	}
	if req.MaxPlayoutDelay != 0 && req.MinPlayoutDelay > req.MaxPlayoutDelay {
		return fmt.Errorf("%w: min_playout_delay (%d ms) is greater than max_playout_delay (%d ms)",
			ErrInvalidArgument, req.MinPlayoutDelay, req.MaxPlayoutDelay)
	}
	switch {
	case req.Egress != nil:
		return fmt.Errorf("%w: egress (auto recording) needs an egress service, which Usher does not run", ErrUnsupported)
	case len(req.Agents) > 0:
		return fmt.Errorf("%w: agents (agent dispatch) needs an agent dispatch service, which Usher does not run", ErrUnsupported)
	case req.RoomPreset != "":
		return fmt.Errorf("%w: room_preset is a LiveKit Cloud feature", ErrUnsupported)
	case req.ReplayEnabled:
		return fmt.Errorf("%w: replay_enabled is a LiveKit Cloud feature", ErrUnsupported)
	}
	return nil
}

// Room returns the open room called name.
func (m *Manager) Room(name string) (*Room, error) {
	m.mu.RLock()
	r, ok := m.rooms[name]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrRoomNotFound, name)
	}
	return r, nil
}

// ListRoomsNamed is ListRooms for a list an admin sent: at most MaxListItems names.
func (m *Manager) ListRoomsNamed(names []string) ([]*livekit.Room, error) {
	if err := checkList("names", len(names)); err != nil {
		return nil, err
	}
	return m.ListRooms(names), nil
}

// ListRooms returns the open rooms sorted by name; with names, only those rooms.
func (m *Manager) ListRooms(names []string) []*livekit.Room {
	m.mu.RLock()
	rooms := make([]*Room, 0, len(m.rooms))
	if len(names) > 0 {
		for _, n := range names {
			if r, ok := m.rooms[n]; ok {
				rooms = append(rooms, r)
			}
		}
	} else {
		for _, r := range m.rooms {
			rooms = append(rooms, r)
		}
	}
	m.mu.RUnlock()

	sort.Slice(rooms, func(i, j int) bool { return rooms[i].name < rooms[j].name })
	out := make([]*livekit.Room, 0, len(rooms))
	var last *Room
	for _, r := range rooms {
		if r == last { // names listed twice
			continue
		}
		last = r
		out = append(out, r.Info())
	}
	return out
}

// DeleteRoom closes the room called name.
func (m *Manager) DeleteRoom(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rooms[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrRoomNotFound, name)
	}
	r.mu.Lock()
	r.closeLocked(livekit.DisconnectReason_ROOM_DELETED, actorOf(ctx))
	r.unlock()
	delete(m.rooms, name)
	m.log.Info("room deleted", "room", name, "sid", r.sid)
	return nil
}

// UpdateRoomMetadata replaces the metadata of the room called name.
func (m *Manager) UpdateRoomMetadata(ctx context.Context, name, metadata string) (*livekit.Room, error) {
	if err := m.validateMetadata("room metadata", metadata); err != nil {
		return nil, err
	}
	r, err := m.Room(name)
	if err != nil {
		return nil, err
	}
	info, err := r.setMetadata(metadata, actorOf(ctx))
	if errors.Is(err, ErrRoomClosed) {
		return nil, fmt.Errorf("%w: %q", ErrRoomNotFound, name)
	}
	return info, err
}

// expire closes r when its close timer of generation gen fires and the room is
// still unoccupied.
func (m *Manager) expire(r *Room, gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.mu.Lock()
	defer r.unlock()
	if r.closed || r.timerGen != gen || r.occupiedLocked() {
		return
	}
	r.closeLocked(livekit.DisconnectReason_ROOM_CLOSED, events.Server)
	if m.rooms[r.name] == r {
		delete(m.rooms, r.name)
	}
	m.log.Info("room closed after timeout", "room", r.name, "sid", r.sid)
}

// endRoom closes r as DeleteRoom does, for actor (a host ending the session).
func (m *Manager) endRoom(r *Room, actor events.Actor) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.mu.Lock()
	defer r.unlock()
	if r.closed {
		return fmt.Errorf("%w: %q", ErrRoomClosed, r.name)
	}
	r.closeLocked(livekit.DisconnectReason_ROOM_DELETED, actor)
	if m.rooms[r.name] == r {
		delete(m.rooms, r.name)
	}
	m.log.Info("session ended by a host", "room", r.name, "sid", r.sid, "host", actor.Identity)
	return nil
}

// Close closes every room; the manager accepts no new rooms afterwards.
func (m *Manager) Close() {
	m.stopOnce.Do(func() { close(m.stop) })
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	for name, r := range m.rooms {
		r.mu.Lock()
		r.closeLocked(livekit.DisconnectReason_SERVER_SHUTDOWN, events.Server)
		r.unlock()
		delete(m.rooms, name)
	}
}

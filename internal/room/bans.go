package room

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/events"
)

// BanList keeps banned identities out and stores bans (auth.Bans).
type BanList interface {
	// Check returns a *auth.BannedError when identity is banned from room, which
	// belongs to roomTenant ("" for none).
	Check(room, roomTenant, identity string) error
	// Put stores a ban; it returns once the ban is durable and in force.
	Put(ban auth.Ban) error
	// Lift ends a ban and returns it, or fails with auth.ErrBanNotFound.
	Lift(room, tenant, identity string) (auth.Ban, error)
	// List returns one page of the bans in force that match the filter.
	List(f auth.BanFilter) ([]auth.Ban, string, error)
}

// Bounds of what a ban carries besides its room and identity (which have the limits
// of room names and identities).
const (
	// MaxBanReasonLength bounds a ban's reason, in bytes.
	MaxBanReasonLength = 512
	// MaxTenantLength bounds a tenant (auth id) a ban names, in bytes.
	MaxTenantLength = 256
	// MaxBanDuration is the longest ban with an end; longer ones last until lifted.
	MaxBanDuration = 10 * 365 * 24 * time.Hour
)

// BanRemoval is a participant a ban removed.
type BanRemoval struct {
	Room, Identity, SID string
}

// BanResult is what Ban did: the ban as stored, and the participants it removed (each
// as RemoveParticipant does). It is what an event about the ban needs.
type BanResult struct {
	Ban     auth.Ban
	Removed []BanRemoval
}

// checkBan returns the identity's ban from room of roomTenant, if any.
func (m *Manager) checkBan(room, roomTenant, identity string) error {
	if m.opts.Bans == nil {
		return nil
	}
	return m.opts.Bans.Check(room, roomTenant, identity)
}

// ValidateBanScope checks the room (may be empty), tenant (may be empty, not both) and
// identity a ban names.
func (m *Manager) ValidateBanScope(room, tenant, identity string) error {
	if err := ValidateIdentity(m.opts.Limits, identity); err != nil {
		return err
	}
	if room == "" && tenant == "" {
		return fmt.Errorf("%w: name a room, or a tenant to ban from every room of it", ErrInvalidArgument)
	}
	if room != "" {
		if err := m.ValidateRoomName(room); err != nil {
			return err
		}
	}
	return validateText("tenant", tenant, MaxTenantLength)
}

// Ban keeps ban.Identity out of ban.Room, or out of every room of ban.Tenant, until
// ban.Expires (the zero time: until lifted). The ban is durable and in force before
// anything else happens; then the identity, when present in a room the ban covers, is
// removed as RemoveParticipant removes (PARTICIPANT_REMOVED, its tokens revoked).
func (m *Manager) Ban(ctx context.Context, ban auth.Ban) (BanResult, error) {
	if err := m.ValidateBanScope(ban.Room, ban.Tenant, ban.Identity); err != nil {
		return BanResult{}, err
	}
	if err := validateText("reason", ban.Reason, MaxBanReasonLength); err != nil {
		return BanResult{}, err
	}
	if ban.Created.IsZero() {
		ban.Created = time.Now()
	}
	if !ban.Expires.IsZero() && !ban.Expires.After(ban.Created) {
		return BanResult{}, fmt.Errorf("%w: the ban would end before it starts", ErrInvalidArgument)
	}
	if m.opts.Bans == nil {
		return BanResult{}, fmt.Errorf("%w: this server keeps no bans", ErrUnsupported)
	}
	if err := m.opts.Bans.Put(ban); err != nil {
		return BanResult{}, err
	}
	res := BanResult{Ban: ban}
	actor := actorOf(ctx)
	m.emitBan(events.ParticipantBanned, ban, actor)
	var errs []error
	for _, r := range m.roomsCoveredBy(ban) {
		r.mu.Lock()
		p := r.participants[ban.Identity]
		if r.closed || p == nil || !p.activated {
			r.unlock()
			continue
		}
		sid, err := m.expelLocked(r, p, "banned", actor)
		if err != nil {
			// The ban keeps them out all the same: take them out now.
			errs = append(errs, err)
			r.mu.Lock()
			if cur := r.participants[ban.Identity]; cur != nil {
				sid = cur.sid
				r.removeLocked(cur, livekit.DisconnectReason_PARTICIPANT_REMOVED, actor)
			}
			r.unlock()
		}
		if sid != "" {
			res.Removed = append(res.Removed, BanRemoval{Room: r.name, Identity: ban.Identity, SID: sid})
		}
	}
	return res, errors.Join(errs...)
}

// roomsCoveredBy returns the open rooms a ban applies to, by name.
func (m *Manager) roomsCoveredBy(ban auth.Ban) []*Room {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []*Room
	for name, r := range m.rooms {
		switch {
		case ban.Room != "" && name != ban.Room:
		case ban.Tenant != "" && r.tenant != ban.Tenant:
		default:
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// LiftBan ends the ban of identity from room (or from every room of tenant, with room
// empty), scoped to tenant, and returns it.
func (m *Manager) LiftBan(ctx context.Context, room, tenant, identity string) (auth.Ban, error) {
	if err := m.ValidateBanScope(room, tenant, identity); err != nil {
		return auth.Ban{}, err
	}
	if m.opts.Bans == nil {
		return auth.Ban{}, fmt.Errorf("%w: %q is not banned", auth.ErrBanNotFound, identity)
	}
	ban, err := m.opts.Bans.Lift(room, tenant, identity)
	if err == nil {
		m.emitBan(events.ParticipantUnbanned, ban, actorOf(ctx))
	}
	return ban, err
}

// emitBan publishes a ban placed or lifted: in its room, under the room's lock, when
// the room is open (so it comes before the removal it causes there), else on its own
// (a tenant-wide ban, or a room not open now).
func (m *Manager) emitBan(kind events.Kind, ban auth.Ban, actor events.Actor) {
	e := &events.Event{Kind: kind, Actor: actor, Reason: ban.Reason, Until: ban.Expires, Tenant: ban.Tenant,
		Participant: &livekit.ParticipantInfo{Identity: ban.Identity}}
	if ban.Room != "" {
		if r, err := m.Room(ban.Room); err == nil {
			r.mu.Lock()
			defer r.unlock()
			if p := r.participants[ban.Identity]; p != nil {
				e.Participant = p.infoLocked()
			}
			if !r.closed {
				r.emitLocked(e)
				return
			}
		}
	}
	e.Room = &livekit.Room{Name: ban.Room}
	m.opts.Events.Publish(e)
}

// ListBans returns one page of the bans in force that match f, and the token of the
// next page ("" after the last).
func (m *Manager) ListBans(f auth.BanFilter) ([]auth.Ban, string, error) {
	if f.Room != "" {
		if err := m.ValidateRoomName(f.Room); err != nil {
			return nil, "", err
		}
	}
	if err := validateText("tenant", f.Tenant, MaxTenantLength); err != nil {
		return nil, "", err
	}
	if f.Limit < 0 || f.Limit > auth.MaxBanPage {
		return nil, "", fmt.Errorf("%w: limit must be between 0 (the default, %d) and %d", ErrInvalidArgument, auth.DefaultBanPage, auth.MaxBanPage)
	}
	if len(f.PageToken) > 4096 {
		return nil, "", fmt.Errorf("%w: page_token is not one this server issued", ErrInvalidArgument)
	}
	if m.opts.Bans == nil {
		return []auth.Ban{}, "", nil
	}
	bans, next, err := m.opts.Bans.List(f)
	if errors.Is(err, auth.ErrMalformedPageToken) {
		return nil, "", fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return bans, next, err
}

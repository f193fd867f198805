package auth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/usher-rtc/usher/internal/store"
)

// Ban errors.
var (
	// ErrBanned: the identity is banned from the room (see BannedError for the text).
	ErrBanned = errors.New("banned")
	// ErrBanNotFound: no ban matches what should be lifted.
	ErrBanNotFound = errors.New("ban not found")
	// ErrTooManyBans: the tenant (or, for API-key callers, the server) holds
	// MaxBansPerTenant bans already.
	ErrTooManyBans = errors.New("too many bans")
	// ErrMalformedPageToken: a page token that this server did not issue.
	ErrMalformedPageToken = errors.New("malformed page token")
)

// MaxBansPerTenant bounds the bans one tenant holds (API-key callers share one count),
// so that no caller can grow the durable store without end or use up another's room.
const MaxBansPerTenant = 10000

// Ban is one ban (the durable record): see store.Ban.
type Ban = store.Ban

// BannedError is the refusal of a banned identity. Its text is what the client is
// told: "banned from room "X" until T: reason".
type BannedError struct {
	Ban Ban
}

func (e *BannedError) Error() string {
	var b strings.Builder
	if e.Ban.Room != "" {
		fmt.Fprintf(&b, "banned from room %q", printable(e.Ban.Room))
	} else {
		fmt.Fprintf(&b, "banned from every room of tenant %q", printable(e.Ban.Tenant))
	}
	if e.Ban.Expires.IsZero() {
		b.WriteString(" until lifted")
	} else {
		fmt.Fprintf(&b, " until %s", e.Ban.Expires.UTC().Format(time.RFC3339))
	}
	if e.Ban.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Ban.Reason)
	}
	return b.String()
}

// Is makes a BannedError match ErrBanned.
func (e *BannedError) Is(target error) bool { return target == ErrBanned }

// BanStore is where bans are kept across restarts (the embedded store).
type BanStore interface {
	PutBan(store.Ban) error
	DeleteBan(store.Ban) (bool, error)
	Bans(now time.Time) ([]store.Ban, error)
	DeleteExpiredBans(now time.Time) (int, error)
}

// Bans is the list of bans, in memory for the join path's lookups and in a BanStore
// so that they survive restarts. A ban is durable before it is in force, and in force
// from the moment Put returns.
type Bans struct {
	durable BanStore
	// writeMu orders changes (the durable write, then memory), so that changes of one
	// ban land in memory in the order they were stored. The join path's lookups take
	// only mu, never waiting for a disk write.
	writeMu sync.Mutex

	mu       sync.RWMutex
	byKey    map[string]Ban
	byTenant map[string]int // bans held per tenant, for MaxBansPerTenant
}

// NewBans loads the bans kept in durable (which may be nil: memory only).
func NewBans(durable BanStore) (*Bans, error) {
	b := &Bans{durable: durable, byKey: make(map[string]Ban), byTenant: make(map[string]int)}
	if durable == nil {
		return b, nil
	}
	list, err := durable.Bans(time.Now())
	if err != nil {
		return nil, fmt.Errorf("loading bans: %w", err)
	}
	for _, ban := range list {
		b.addLocked(ban)
	}
	return b, nil
}

func (b *Bans) addLocked(ban Ban) {
	k := ban.Key()
	if _, ok := b.byKey[k]; !ok {
		b.byTenant[ban.Tenant]++
	}
	b.byKey[k] = ban
}

func (b *Bans) deleteLocked(k string) {
	ban, ok := b.byKey[k]
	if !ok {
		return
	}
	delete(b.byKey, k)
	if b.byTenant[ban.Tenant]--; b.byTenant[ban.Tenant] <= 0 {
		delete(b.byTenant, ban.Tenant)
	}
}

// Put bans ban.Identity (replacing a ban with the same room, tenant and identity). It
// returns once the ban is durable and in force.
func (b *Bans) Put(ban Ban) error {
	if ban.Identity == "" || (ban.Room == "" && ban.Tenant == "") {
		return errors.New("a ban needs an identity, and a room or a tenant")
	}
	k := ban.Key()
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	b.mu.RLock()
	_, exists := b.byKey[k]
	full := b.byTenant[ban.Tenant] >= MaxBansPerTenant
	b.mu.RUnlock()
	if !exists && full {
		return fmt.Errorf("%w: %d bans are held already; lift some first", ErrTooManyBans, MaxBansPerTenant)
	}
	if b.durable != nil {
		if err := b.durable.PutBan(ban); err != nil {
			return fmt.Errorf("storing the ban: %w", err)
		}
	}
	b.mu.Lock()
	b.addLocked(ban)
	b.mu.Unlock()
	return nil
}

// Lift ends the ban of identity from room (or, with room empty, from every room of
// tenant) scoped to tenant, and returns it. It returns ErrBanNotFound when there is
// no such ban in force.
func (b *Bans) Lift(room, tenant, identity string) (Ban, error) {
	key := Ban{Room: room, Tenant: tenant, Identity: identity}
	k := key.Key()
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	b.mu.RLock()
	ban, ok := b.byKey[k]
	b.mu.RUnlock()
	if !ok || !ban.Active(time.Now()) {
		return Ban{}, fmt.Errorf("%w: %s", ErrBanNotFound, describeBan(key))
	}
	if b.durable != nil {
		if _, err := b.durable.DeleteBan(ban); err != nil {
			return Ban{}, fmt.Errorf("deleting the ban: %w", err)
		}
	}
	b.mu.Lock()
	b.deleteLocked(k)
	b.mu.Unlock()
	return ban, nil
}

// describeBan names what a ban applies to, for messages.
func describeBan(ban Ban) string {
	switch {
	case ban.Room == "":
		return fmt.Sprintf("%q is not banned from every room of tenant %q", printable(ban.Identity), printable(ban.Tenant))
	case ban.Tenant != "":
		return fmt.Sprintf("%q is not banned from room %q of tenant %q", printable(ban.Identity), printable(ban.Room), printable(ban.Tenant))
	}
	return fmt.Sprintf("%q is not banned from room %q", printable(ban.Identity), printable(ban.Room))
}

// Check returns a *BannedError when identity is banned from room, which belongs to
// roomTenant ("" for none): by a ban of the room, a ban of the room scoped to its
// tenant, or a ban from every room of its tenant.
func (b *Bans) Check(room, roomTenant, identity string) error {
	if b == nil {
		return nil
	}
	keys := []Ban{{Room: room, Identity: identity}}
	if roomTenant != "" {
		keys = append(keys, Ban{Room: room, Tenant: roomTenant, Identity: identity}, Ban{Tenant: roomTenant, Identity: identity})
	}
	now := time.Now()
	b.mu.RLock()
	defer b.mu.RUnlock()
	if len(b.byKey) == 0 {
		return nil
	}
	for _, k := range keys {
		if ban, ok := b.byKey[k.Key()]; ok && ban.Active(now) {
			return &BannedError{Ban: ban}
		}
	}
	return nil
}

// BanFilter selects bans to list.
type BanFilter struct {
	// Room, when set, keeps the bans of that room only (bans from every room of a
	// tenant have no room).
	Room string
	// Tenant, when set, keeps that tenant's bans only.
	Tenant string
	// Limit bounds the page (at most MaxBanPage; 0 means DefaultBanPage).
	Limit int
	// PageToken continues a listing where the previous page ended.
	PageToken string
}

// Page sizes of List.
const (
	DefaultBanPage = 100
	MaxBanPage     = 1000
)

// List returns the bans in force that match f, in a stable order (by tenant, then
// room, then identity), one page at a time; next is the token of the following page,
// or "" after the last.
func (b *Bans) List(f BanFilter) (bans []Ban, next string, err error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultBanPage
	}
	limit = min(limit, MaxBanPage)
	after := ""
	if f.PageToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(f.PageToken)
		if err != nil {
			return nil, "", fmt.Errorf("%w: page_token is not one this server issued", ErrMalformedPageToken)
		}
		after = string(raw)
	}
	now := time.Now()
	b.mu.RLock()
	keys := make([]string, 0, len(b.byKey))
	for k, ban := range b.byKey {
		if k > after && ban.Active(now) && (f.Room == "" || ban.Room == f.Room) && (f.Tenant == "" || ban.Tenant == f.Tenant) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > limit {
		keys = keys[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(keys[limit-1]))
	}
	bans = make([]Ban, 0, len(keys))
	for _, k := range keys {
		bans = append(bans, b.byKey[k])
	}
	b.mu.RUnlock()
	return bans, next, nil
}

// Sweep forgets bans that ended, in memory and in the durable store.
func (b *Bans) Sweep(now time.Time) error {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	b.mu.Lock()
	for k, ban := range b.byKey {
		if !ban.Active(now) {
			b.deleteLocked(k)
		}
	}
	b.mu.Unlock()
	if b.durable != nil {
		_, err := b.durable.DeleteExpiredBans(now)
		return err
	}
	return nil
}

// Len returns how many bans are held (for tests and metrics).
func (b *Bans) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.byKey)
}

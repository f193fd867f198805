package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/usher-rtc/usher/internal/store"
)

// TokenRef names one issued token without keeping it: the SHA-256 of its decoded
// signature, and its expiry.
type TokenRef struct {
	Hash    [32]byte
	Expires time.Time
}

// RefOf returns the reference of a raw token.
func RefOf(raw string, expires time.Time) TokenRef {
	return TokenRef{Hash: SignatureHash(raw), Expires: expires}
}

// Durable is where revocations are kept across restarts (the embedded store).
type Durable interface {
	PutRevocations([]store.Revocation) error
	Revocations(now time.Time) ([]store.Revocation, error)
	DeleteExpired(now time.Time) (int, error)
}

type identityKey struct{ room, identity string }

type identityRevocation struct {
	Room     string    `json:"room"`
	Identity string    `json:"identity"`
	Before   time.Time `json:"before"`
	Reason   string    `json:"reason"`
}

// Revocations is the list of revoked tokens: single tokens by hash, and every token of
// an identity in a room issued before a moment (a removal). A token revocation lasts
// until the token's expiry plus the clock leeway; an identity revocation lasts as long
// as any token issued before it can live (the maximum token lifetime, plus the
// leeway), so no older token of that identity gets back in. With a Durable store
// they survive restarts.
type Revocations struct {
	durable     Durable
	maxLifetime time.Duration

	mu sync.RWMutex
	// tokens holds revoked tokens by the hash of their decoded signature.
	tokens map[[32]byte]time.Time
	// legacy holds revocations stored by earlier versions, keyed by the hash of the
	// token's text. Tokens are now accepted only in their canonical spelling, so that
	// key is unique too; these expire with their tokens.
	legacy   map[[32]byte]time.Time
	identity map[identityKey]identityEntry
}

// Durable key prefixes: "s/" + hex signature hash, "i/" + room NUL identity, and the
// legacy "t/" + hex hash of the token text.
const (
	prefixSignature = "s/"
	prefixIdentity  = "i/"
	prefixLegacy    = "t/"
)

type identityEntry struct {
	before, expires time.Time
}

// NewRevocations loads the revocations kept in durable (which may be nil: memory only).
// maxLifetime is the longest lifetime of an accepted token (auth.max_token_lifetime;
// 0 means DefaultMaxTokenLifetime): identity revocations last that long. Identity
// revocations stored with a shorter life (by an earlier version, or under a smaller
// maximum) are extended to it.
func NewRevocations(durable Durable, maxLifetime time.Duration) (*Revocations, error) {
	if maxLifetime <= 0 {
		maxLifetime = DefaultMaxTokenLifetime
	}
	r := &Revocations{
		durable:     durable,
		maxLifetime: maxLifetime,
		tokens:      make(map[[32]byte]time.Time),
		legacy:      make(map[[32]byte]time.Time),
		identity:    make(map[identityKey]identityEntry),
	}
	if durable == nil {
		return r, nil
	}
	recs, err := durable.Revocations(time.Now())
	if err != nil {
		return nil, fmt.Errorf("loading revocations: %w", err)
	}
	var extended []store.Revocation
	for _, rec := range recs {
		if len(rec.Key) < 2 {
			continue
		}
		switch rec.Key[:2] {
		case prefixSignature, prefixLegacy:
			var h [32]byte
			if b, err := hex.DecodeString(rec.Key[2:]); err == nil && len(b) == 32 {
				copy(h[:], b)
				if rec.Key[:2] == prefixSignature {
					r.tokens[h] = rec.Expires
				} else {
					r.legacy[h] = rec.Expires
				}
			}
		case prefixIdentity:
			var ir identityRevocation
			if json.Unmarshal(rec.Data, &ir) != nil {
				continue
			}
			if until := r.identityExpiry(ir.Before); until.After(rec.Expires) {
				rec.Expires = until
				extended = append(extended, rec)
			}
			r.identity[identityKey{ir.Room, ir.Identity}] = identityEntry{ir.Before, rec.Expires}
		}
	}
	if err := durable.PutRevocations(extended); err != nil {
		return nil, fmt.Errorf("extending revocations: %w", err)
	}
	return r, nil
}

// identityExpiry is when an identity revocation made at before may end: when every
// token issued before it has expired, leeway included.
func (r *Revocations) identityExpiry(before time.Time) time.Time {
	return before.Add(r.maxLifetime + Leeway)
}

// RevokeTokens revokes the referenced tokens, and, when identity is set, every token of
// identity in room issued before now (covering tokens the client may hold besides the
// ones the server knows). It returns once the revocation is durable, and in force.
func (r *Revocations) RevokeTokens(refs []TokenRef, room, identity, reason string) error {
	now := time.Now()
	var recs []store.Revocation
	var revoked []TokenRef
	for _, ref := range refs {
		// A token is accepted until its expiry plus the leeway.
		if until := ref.Expires.Add(Leeway); until.After(now) {
			revoked = append(revoked, TokenRef{Hash: ref.Hash, Expires: until})
			recs = append(recs, store.Revocation{Key: prefixSignature + hex.EncodeToString(ref.Hash[:]), Expires: until, Data: json.RawMessage(`{}`)})
		}
	}
	var ir *identityRevocation
	if identity != "" {
		// Issue times have one-second resolution: a token issued in the second of the
		// removal counts as issued before it (one minted to readmit the identity must
		// be minted in a later second).
		ir = &identityRevocation{Room: room, Identity: identity, Before: now, Reason: reason}
		data, _ := json.Marshal(ir)
		recs = append(recs, store.Revocation{Key: prefixIdentity + room + "\x00" + identity, Expires: r.identityExpiry(now), Data: data})
	}
	if r.durable != nil {
		if err := r.durable.PutRevocations(recs); err != nil {
			return fmt.Errorf("storing revocations: %w", err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ref := range revoked {
		r.tokens[ref.Hash] = ref.Expires
	}
	if ir != nil {
		r.identity[identityKey{room, identity}] = identityEntry{ir.Before, r.identityExpiry(now)}
	}
	return nil
}

// Check returns ErrTokenRevoked (wrapped with the reason) when the raw token, verified
// as c, has been revoked.
func (r *Revocations) Check(raw string, c *Claims) error {
	if r == nil {
		return nil
	}
	sig := c.SignatureHash
	if sig == ([32]byte{}) {
		sig = SignatureHash(raw)
	}
	var legacy [32]byte
	if raw != "" {
		legacy = sha256.Sum256([]byte(raw))
	}
	return r.check(sig, legacy, c.Video().Room, c.Identity(), c.Issued())
}

// CheckParticipant returns ErrTokenRevoked when the token a participant joined room
// with (c, nil when unknown) has been revoked, or every token of identity issued
// before a removal that c predates. Without c, the token counts as issued before any
// removal.
func (r *Revocations) CheckParticipant(room, identity string, c *Claims) error {
	if r == nil {
		return nil
	}
	var sig [32]byte
	if c != nil {
		sig = c.SignatureHash
	}
	return r.check(sig, [32]byte{}, room, identity, c.Issued())
}

// check looks up a token by its signature hash (and, when not zero, its legacy text
// hash) and the identity revocation of room and identity against the issue time.
func (r *Revocations) check(sig, legacy [32]byte, room, identity string, issued time.Time) error {
	now := time.Now()
	r.mu.RLock()
	exp, byHash := r.tokens[sig]
	if !byHash && len(r.legacy) > 0 && legacy != ([32]byte{}) {
		exp, byHash = r.legacy[legacy]
	}
	ie, byIdentity := r.identity[identityKey{room, identity}]
	r.mu.RUnlock()
	if byHash && exp.After(now) {
		return fmt.Errorf("%w: ask for a new token", ErrTokenRevoked)
	}
	if byIdentity && ie.expires.After(now) && (issued.IsZero() || issued.Before(ie.before)) {
		return fmt.Errorf("%w: %q was removed from room %q; a token issued after the removal is needed", ErrTokenRevoked, printable(identity), printable(room))
	}
	return nil
}

// Sweep forgets expired revocations, in memory and in the durable store.
func (r *Revocations) Sweep(now time.Time) error {
	r.mu.Lock()
	for _, m := range []map[[32]byte]time.Time{r.tokens, r.legacy} {
		for h, exp := range m {
			if !exp.After(now) {
				delete(m, h)
			}
		}
	}
	for k, e := range r.identity {
		if !e.expires.After(now) {
			delete(r.identity, k)
		}
	}
	r.mu.Unlock()
	if r.durable != nil {
		_, err := r.durable.DeleteExpired(now)
		return err
	}
	return nil
}

// Len returns how many revocations are held (for tests and metrics).
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.tokens) + len(r.legacy) + len(r.identity)
}

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
// an identity in a room issued before a moment (a removal). Entries expire with the
// tokens they cover. With a Durable store they survive restarts.
type Revocations struct {
	durable Durable

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
func NewRevocations(durable Durable) (*Revocations, error) {
	r := &Revocations{
		durable:  durable,
		tokens:   make(map[[32]byte]time.Time),
		legacy:   make(map[[32]byte]time.Time),
		identity: make(map[identityKey]identityEntry),
	}
	if durable == nil {
		return r, nil
	}
	recs, err := durable.Revocations(time.Now())
	if err != nil {
		return nil, fmt.Errorf("loading revocations: %w", err)
	}
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
			if json.Unmarshal(rec.Data, &ir) == nil {
				r.identity[identityKey{ir.Room, ir.Identity}] = identityEntry{ir.Before, rec.Expires}
			}
		}
	}
	return r, nil
}

// RevokeTokens revokes the referenced tokens, and, when identity is set, every token of
// identity in room issued before now (covering tokens the client may hold besides the
// ones the server knows). It returns once the revocation is durable.
func (r *Revocations) RevokeTokens(refs []TokenRef, room, identity, reason string) error {
	now := time.Now()
	var recs []store.Revocation
	latest := now
	for _, ref := range refs {
		if !ref.Expires.After(now) {
			continue
		}
		if ref.Expires.After(latest) {
			latest = ref.Expires
		}
		recs = append(recs, store.Revocation{Key: prefixSignature + hex.EncodeToString(ref.Hash[:]), Expires: ref.Expires, Data: json.RawMessage(`{}`)})
	}
	var ir *identityRevocation
	if identity != "" {
		// Tokens issued up to the second before this one (JWT times have second
		// resolution, and a token minted right after the removal must work).
		ir = &identityRevocation{Room: room, Identity: identity, Before: now.Truncate(time.Second), Reason: reason}
		data, _ := json.Marshal(ir)
		recs = append(recs, store.Revocation{Key: prefixIdentity + room + "\x00" + identity, Expires: latest, Data: data})
	}
	if r.durable != nil {
		if err := r.durable.PutRevocations(recs); err != nil {
			return fmt.Errorf("storing revocations: %w", err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ref := range refs {
		if ref.Expires.After(now) {
			r.tokens[ref.Hash] = ref.Expires
		}
	}
	if ir != nil {
		r.identity[identityKey{room, identity}] = identityEntry{ir.Before, latest}
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
	now := time.Now()
	r.mu.RLock()
	exp, byHash := r.tokens[sig]
	if len(r.legacy) > 0 && !byHash {
		exp, byHash = r.legacy[sha256.Sum256([]byte(raw))]
	}
	ie, byIdentity := r.identity[identityKey{c.Video().Room, c.Identity()}]
	r.mu.RUnlock()
	if byHash && exp.After(now) {
		return fmt.Errorf("%w: ask for a new token", ErrTokenRevoked)
	}
	if byIdentity && ie.expires.After(now) && (c.IssuedAt.IsZero() || c.IssuedAt.Before(ie.before)) {
		return fmt.Errorf("%w: %q was removed from room %q; a token issued after the removal is needed", ErrTokenRevoked, printable(c.Identity()), printable(c.Video().Room))
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

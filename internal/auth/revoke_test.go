package auth

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"

	"github.com/usher-rtc/usher/internal/store"
)

func claimsFor(room, identity string, iat time.Time) *Claims {
	return &Claims{IssuedAt: iat, Grants: &lkauth.ClaimGrants{Identity: identity, Video: &lkauth.VideoGrant{RoomJoin: true, Room: room}}}
}

func TestRevocationsByHashAndIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRevocations(st, 0)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	ref := RefOf("the-token", time.Now().Add(time.Hour))
	if err := r.RevokeTokens([]TokenRef{ref}, "room", "bob", "removed"); err != nil {
		t.Fatal(err)
	}
	check := func(r *Revocations) {
		t.Helper()
		if err := r.Check("the-token", claimsFor("other", "x", time.Now())); !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("revoked token by hash: %v", err)
		}
		if err := r.Check("another-token", claimsFor("room", "bob", old)); !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("an older token of the removed identity: %v", err)
		}
		if err := r.Check("another-token", claimsFor("room", "bob", time.Time{})); !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("a token without iat of the removed identity: %v", err)
		}
		if err := r.Check("fresh", claimsFor("room", "bob", time.Now().Add(2*time.Second))); err != nil {
			t.Errorf("a token issued after the removal: %v", err)
		}
		if err := r.Check("x", claimsFor("room", "alice", old)); err != nil {
			t.Errorf("someone else: %v", err)
		}
		if err := r.Check("x", claimsFor("elsewhere", "bob", old)); err != nil {
			t.Errorf("bob in another room: %v", err)
		}
	}
	check(r)

	// After a restart the store holds the same answers.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	r2, err := NewRevocations(st2, 0)
	if err != nil {
		t.Fatal(err)
	}
	check(r2)

	// The token revocation ends with the token (and the leeway); the identity's lasts
	// as long as a token issued before it may live.
	if err := r2.Sweep(time.Now().Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r2.Len() != 1 {
		t.Errorf("%d revocations two hours later, want the identity's only", r2.Len())
	}
	if err := r2.Sweep(time.Now().Add(DefaultMaxTokenLifetime + Leeway + time.Second)); err != nil {
		t.Fatal(err)
	}
	if r2.Len() != 0 {
		t.Errorf("%d revocations survive their expiry", r2.Len())
	}
	left, err := st2.Revocations(time.Now())
	if err != nil || len(left) != 0 {
		t.Errorf("store after sweep: %v %v", left, err)
	}
}

func TestExpiredRefsAreNotStored(t *testing.T) {
	r, _ := NewRevocations(nil, 0)
	_ = r.RevokeTokens([]TokenRef{RefOf("t", time.Now().Add(-time.Minute))}, "", "", "")
	if r.Len() != 0 {
		t.Errorf("an expired token was revoked")
	}
	if err := (*Revocations)(nil).Check("x", claimsFor("r", "i", time.Now())); err != nil {
		t.Errorf("nil list: %v", err)
	}
}

func TestDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := store.Open(dir); !errors.Is(err, store.ErrInUse) {
		t.Errorf("second open: %v", err)
	}
}

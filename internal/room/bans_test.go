package room

import (
	"context"
	"errors"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/config"
)

func newBanManager(t *testing.T) (*Manager, *auth.Bans) {
	t.Helper()
	c := config.Default()
	bans, _ := auth.NewBans(nil)
	revoked, _ := auth.NewRevocations(nil, 0)
	m := NewManager(Options{Defaults: c.Room, Limits: c.Limit, Bans: bans, Revoker: revoked})
	t.Cleanup(m.Close)
	return m, bans
}

func join(t *testing.T, r *Room, identity string, activate bool) *Participant {
	t.Helper()
	g := &lkauth.ClaimGrants{Identity: identity, Video: &lkauth.VideoGrant{RoomJoin: true, Room: r.Name()}}
	p, err := r.Reserve(JoinParams{Identity: identity, Grants: g, Token: &auth.Claims{Grants: g, IssuedAt: time.Now().Add(-time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	if activate {
		if err := r.Activate(p, &livekit.JoinResponse{}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// A ban that is in force but has not yet removed a participant (the moment between a
// ban's storing and its removal) already refuses that participant's activation and
// resume.
func TestBanInForceRefusesActivationAndResume(t *testing.T) {
	m, bans := newBanManager(t)
	if _, _, err := m.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: "r", Metadata: `{"auth_id":"acme"}`}); err != nil {
		t.Fatal(err)
	}
	r, _ := m.Room("r")
	present := join(t, r, "present", true)
	reserved := join(t, r, "reserved", false)
	for _, id := range []string{"present", "reserved"} {
		if err := bans.Put(auth.Ban{Tenant: "acme", Identity: id, Reason: "r"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Activate(reserved, &livekit.JoinResponse{}); !errors.Is(err, auth.ErrBanned) {
		t.Errorf("activation: %v", err)
	}
	if err := present.Readmit(nil); !errors.Is(err, auth.ErrBanned) {
		t.Errorf("resume: %v", err)
	}
	if _, err := r.Resume(present.SID(), "present", nil); !errors.Is(err, auth.ErrBanned) {
		t.Errorf("validate of a resume: %v", err)
	}
	if err := m.CheckJoin("r", true, JoinParams{Identity: "present"}); !errors.Is(err, auth.ErrBanned) {
		t.Errorf("validate of a join: %v", err)
	}
	// A room the join would create for the tenant.
	g := &lkauth.ClaimGrants{Identity: "present", RoomConfig: (*lkauth.RoomConfiguration)(TenantClaim("acme"))}
	if err := m.CheckJoin("new", true, JoinParams{Identity: "present", Grants: g}); !errors.Is(err, auth.ErrBanned) {
		t.Errorf("validate of a join that creates a room: %v", err)
	}
}

// Ban removes the identity from every room it covers, and nowhere else.
func TestBanRemovesFromTheRoomsItCovers(t *testing.T) {
	m, _ := newBanManager(t)
	for _, rc := range []struct{ name, md string }{{"a1", `{"auth_id":"acme"}`}, {"a2", `{"auth_id":"acme"}`}, {"g1", `{"auth_id":"globex"}`}, {"plain", ""}} {
		if _, _, err := m.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: rc.name, Metadata: rc.md}); err != nil {
			t.Fatal(err)
		}
		r, _ := m.Room(rc.name)
		join(t, r, "eve", true)
	}
	res, err := m.Ban(context.Background(), auth.Ban{Tenant: "acme", Identity: "eve"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 2 || res.Removed[0].Room != "a1" || res.Removed[1].Room != "a2" {
		t.Errorf("removed %+v", res.Removed)
	}
	for name, want := range map[string]bool{"a1": false, "a2": false, "g1": true, "plain": true} {
		r, _ := m.Room(name)
		if got := r.Participant("eve") != nil; got != want {
			t.Errorf("eve in %s: %v, want %v", name, got, want)
		}
	}
	if _, err := m.Ban(context.Background(), auth.Ban{Room: "g1", Tenant: "acme", Identity: "eve"}); err != nil {
		t.Fatal(err)
	}
	if g1, _ := m.Room("g1"); g1.Participant("eve") == nil {
		t.Error("a ban of g1 scoped to acme removed eve from globex's g1")
	}
	if _, err := m.Ban(context.Background(), auth.Ban{Room: "plain", Identity: "eve", Expires: time.Now().Add(-time.Second)}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("a ban that ended already: %v", err)
	}
}

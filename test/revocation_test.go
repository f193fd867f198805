package test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/testutil"
)

// joinTokenFor signs a join token for identity in roomName valid for ttl.
func joinTokenFor(t *testing.T, roomName, identity string, ttl time.Duration) string {
	t.Helper()
	tok, err := lkauth.NewAccessToken(testutil.APIKey, testutil.APISecret).SetIdentity(identity).SetValidFor(ttl).
		SetVideoGrant(&lkauth.VideoGrant{RoomJoin: true, Room: roomName}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// removeParticipant removes identity from roomName through the official SDK.
func removeParticipant(t *testing.T, srv *testutil.TestServer, roomName, identity string) error {
	t.Helper()
	_, err := srv.RoomClient().RemoveParticipant(ctx10(t), &livekit.RoomParticipantIdentity{Room: roomName, Identity: identity})
	return err
}

// wantRevoked fails unless /rtc/validate refuses tok as revoked.
func wantRevoked(t *testing.T, srv *testutil.TestServer, what, tok string) {
	t.Helper()
	if status, body := rawValidate(t, srv, tok, ""); status != http.StatusUnauthorized || !strings.Contains(body, "revoked") {
		t.Errorf("%s: /rtc/validate answered %d %q, want 401 revoked", what, status, body)
	}
}

// Hole 1: the revocation of a removal used to expire with the latest token the server
// knew of the session, so an older token of the same identity with a longer lifetime
// worked again afterwards. Now it lasts as long as any token issued before the
// removal can live (auth.max_token_lifetime).
func TestRemovalKeepsOutOlderTokensWithLongerLifetimes(t *testing.T) {
	const ttl = 2 * time.Second
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
		c.Signal.RefreshInterval = time.Second
		c.Signal.TokenTTL = ttl
	}))
	// The backend gave the user a long-lived token earlier; the user joins with a
	// short one, and the server refreshes it with tokens of signal.token_ttl.
	long := joinTokenFor(t, "r", "troll", time.Hour)
	troll := dialRaw(t, srv, joinTokenFor(t, "r", "troll", time.Second), "")
	refresh, _ := troll.await(5*time.Second, "refresh_token", func(r *livekit.SignalResponse) bool { return r.GetRefreshToken() != "" })
	removedAt := time.Now()
	if err := removeParticipant(t, srv, "r", "troll"); err != nil {
		t.Fatal(err)
	}
	wantRevoked(t, srv, "the older long-lived token right after the removal", long)

	// Once every token of the session has expired (the refresh tokens are still
	// accepted for the minute of clock leeway)...
	testutil.Eventually(t, 10*time.Second, func() bool { return time.Since(removedAt) > ttl+time.Second },
		"the clock did not pass the session's last expiry")
	// ...the older token is still refused, and so is the session's refresh token.
	wantRevoked(t, srv, "the older long-lived token after the session's tokens expired", long)
	wantRevoked(t, srv, "the session's refresh token within the clock leeway", refresh.GetRefreshToken())
}

// Hole 2: the removal used to be visible (the participant gone, everyone told) before
// its revocation was stored, so a rejoin in between was admitted. Now the revocation
// is durable and in force before the participant leaves.
func TestRemovalIsDurableBeforeItIsVisible(t *testing.T) {
	srv := testutil.StartServer(t)
	watcher := srv.Join(t, "r", "watcher")
	tok := joinTokenFor(t, "r", "troll", time.Hour)
	srv.Join(t, "r", "troll", testutil.WithToken(tok))
	waitActive(t, srv, "r", "troll")
	rm, err := srv.Rooms().Room("r")
	if err != nil {
		t.Fatal(err)
	}

	blocked, release := srv.Store().HoldWrites()
	defer release()
	done := make(chan error, 1)
	go func() { done <- removeParticipant(t, srv, "r", "troll") }()
	select {
	case <-blocked:
	case err := <-done:
		t.Fatalf("RemoveParticipant returned (%v) without storing a revocation", err)
	case <-time.After(10 * time.Second):
		t.Fatal("RemoveParticipant stored nothing")
	}
	// The revocation is being written: the participant must still be there.
	if rm.Participant("troll") == nil {
		status, _ := rawValidate(t, srv, tok, "")
		t.Errorf("troll was removed, and everyone told, before its revocation was stored; meanwhile its token validates with %d", status)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wantRevoked(t, srv, "the removed participant's token", tok)
	if e := watcher.WaitFor(t, 5*time.Second, "participant_disconnected", "troll"); e.Detail != "PARTICIPANT_REMOVED" {
		t.Errorf("watcher saw reason %s", e.Detail)
	}
}

// Hole 3: revocations used to be checked only when the socket was admitted. A second
// connection of the removed identity admitted before the removal, activating after
// it, is refused.
func TestActivationAfterARemovalIsRefused(t *testing.T) {
	srv := testutil.StartServer(t)
	srv.Join(t, "r", "troll", testutil.WithToken(joinTokenFor(t, "r", "troll", time.Hour)))
	waitActive(t, srv, "r", "troll")
	rm, err := srv.Rooms().Room("r")
	if err != nil {
		t.Fatal(err)
	}
	// Admitted (seat reserved, socket upgrading) before the removal...
	second, err := rm.Reserve(room.JoinParams{Identity: "troll",
		Grants: &lkauth.ClaimGrants{Identity: "troll", Video: &lkauth.VideoGrant{RoomJoin: true, Room: "r"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := removeParticipant(t, srv, "r", "troll"); err != nil {
		t.Fatal(err)
	}
	// ...and becoming part of the room after it.
	err = rm.Activate(second, &livekit.JoinResponse{})
	if !errors.Is(err, auth.ErrTokenRevoked) {
		t.Errorf("activation after the removal: %v, want a revoked token", err)
	}
	if rm.Participant("troll") != nil {
		t.Errorf("the removed identity is in the room again")
	}
}

// Defect: UpdateParticipant with the permission the participant already has used to
// revoke its tokens (and push a new one) all the same.
func TestUnchangedPermissionKeepsTheTokens(t *testing.T) {
	srv := testutil.StartServer(t)
	joinTok := testutil.JoinToken(t, "r", "raw")
	c := dialRaw(t, srv, joinTok, "")
	first, _ := c.await(5*time.Second, "refresh_token", func(r *livekit.SignalResponse) bool { return r.GetRefreshToken() != "" })
	info, err := srv.RoomClient().GetParticipant(ctx10(t), &livekit.RoomParticipantIdentity{Room: "r", Identity: "raw"})
	if err != nil {
		t.Fatal(err)
	}
	same := proto.Clone(info.Permission).(*livekit.ParticipantPermission)
	after, err := srv.RoomClient().UpdateParticipant(ctx10(t), &livekit.UpdateParticipantRequest{Room: "r", Identity: "raw", Permission: same})
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != info.Version {
		t.Errorf("an unchanged permission bumped the version %d → %d", info.Version, after.Version)
	}
	for name, tok := range map[string]string{"join token": joinTok, "refresh token": first.GetRefreshToken()} {
		if status, body := rawValidate(t, srv, tok, ""); status != http.StatusOK {
			t.Errorf("%s after an unchanged permission: %d %q", name, status, body)
		}
	}
}

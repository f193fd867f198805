package test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/testutil"
)

// flipSignatureBits returns tok with the last character of its signature changed so a
// lenient base64url decoder reads the same signature (HS256: 43 characters, the last
// carrying two unused bits).
func flipSignatureBits(t *testing.T, tok string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, tok[len(tok)-1])
	if i < 0 || len(tok[strings.LastIndexByte(tok, '.')+1:]) != 43 {
		t.Fatalf("not an HS256 token: %q", tok)
	}
	return tok[:len(tok)-1] + string(alphabet[i^1])
}

// A demoted participant must not get its old permissions back by re-spelling its old
// token: revocations key on the decoded signature, and only the canonical spelling of
// a token is accepted anywhere.
func TestRevokedTokenCannotBeRespelled(t *testing.T) {
	srv := testutil.StartServer(t)
	tok := testutil.JoinToken(t, "class", "student")
	srv.Join(t, "class", "student", testutil.WithToken(tok))
	if status, body := rawValidate(t, srv, flipSignatureBits(t, tok), ""); status != http.StatusUnauthorized || !strings.Contains(body, "canonical") {
		t.Fatalf("a re-spelled valid token: %d %q, want 401 naming the canonical encoding", status, body)
	}

	// Demote: the session's tokens are revoked.
	_, err := srv.RoomClient().UpdateParticipant(ctx10(t), &livekit.UpdateParticipantRequest{
		Room: "class", Identity: "student", Permission: &livekit.ParticipantPermission{CanSubscribe: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if status, body := rawValidate(t, srv, tok, ""); status != http.StatusUnauthorized || !strings.Contains(body, "revoked") {
		t.Fatalf("the revoked token: %d %q", status, body)
	}
	for i := 0; i < 2; i++ {
		variant := flipSignatureBits(t, tok)
		if i == 1 {
			variant = tok + "="
		}
		if status, body := rawValidate(t, srv, variant, ""); status != http.StatusUnauthorized {
			t.Errorf("variant %d of the revoked token: %d %q, want 401", i, status, body)
		}
		if status, _ := rawDial(t, srv, variant, ""); status != http.StatusUnauthorized {
			t.Errorf("variant %d of the revoked token joins: %d", i, status)
		}
	}

	// The same for an admin token on Twirp.
	admin := testutil.Token(t, "admin", adminGrant("class"))
	if r := post(t, srv.URL, "ListParticipants", "application/json", flipSignatureBits(t, admin), []byte(`{"room":"class"}`)); r.status != http.StatusUnauthorized {
		t.Errorf("Twirp with a re-spelled token: %d %s", r.status, r.body)
	}
	if r := post(t, srv.URL, "ListParticipants", "application/json", admin, []byte(`{"room":"class"}`)); r.status != http.StatusOK {
		t.Errorf("Twirp with the canonical token: %d %s", r.status, r.body)
	}
}

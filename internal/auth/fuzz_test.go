package auth

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
)

// FuzzVerify checks token verification on arbitrary strings. Properties: it never
// panics; an accepted token is in its one canonical spelling and unexpired; no error
// message contains the token or a sizeable piece of it.
func FuzzVerify(f *testing.F) {
	valid, err := lkauth.NewAccessToken(key, secret).SetIdentity("alice").SetValidFor(time.Hour).
		SetVideoGrant(&lkauth.VideoGrant{RoomJoin: true, Room: "r"}).ToJWT()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid + "=")
	f.Add(signRaw(`{"iss":"` + key + `","sub":"a","exp":1e300}`))
	f.Add(signRaw(`{"iss":"` + key + `","sub":"a","exp":9999999999,"video":{"canPublish":"yes"}}`))
	f.Add("a.b.c")
	v := NewVerifier(StaticKeys{key: secret})
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(raw)
		if err != nil {
			msg := err.Error()
			if len(raw) >= 12 && strings.Contains(msg, raw) {
				t.Fatalf("the error echoes the token: %q", msg)
			}
			for _, part := range strings.Split(raw, ".") {
				if len(part) >= 16 && strings.Contains(msg, part) {
					t.Fatalf("the error echoes a part of the token: %q", msg)
				}
			}
			return
		}
		for _, part := range strings.Split(raw, ".") {
			b, err := base64.RawURLEncoding.DecodeString(part)
			if err != nil || base64.RawURLEncoding.EncodeToString(b) != part {
				t.Fatalf("accepted a non-canonical token %q", raw)
			}
		}
		if c.ExpiresAt.IsZero() || c.ExpiresAt.Before(time.Now().Add(-2*time.Minute)) {
			t.Fatalf("accepted a token without a valid expiry: %v", c.ExpiresAt)
		}
	})
}

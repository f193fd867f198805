package auth

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
)

const (
	key    = "APIunit"
	secret = "unit-test-secret-0123456789abcdef"
)

func mint(t testing.TB, at *lkauth.AccessToken) string {
	t.Helper()
	tok, err := at.ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifyReadsLiveKitClaims(t *testing.T) {
	v := NewVerifier(StaticKeys{key: secret})
	at := lkauth.NewAccessToken(key, secret).
		SetIdentity("alice").SetName("Alice").SetMetadata("md").
		SetAttributes(map[string]string{"role": "teacher"}).
		SetKind(livekit.ParticipantInfo_AGENT).
		SetValidFor(time.Hour).
		SetRoomConfig(&livekit.RoomConfiguration{EmptyTimeout: 9}).
		SetVideoGrant(&lkauth.VideoGrant{RoomJoin: true, Room: "r1", Hidden: true, CanPublishSources: []string{"camera"}})
	c, err := v.Verify(mint(t, at))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.APIKey != key || c.Identity() != "alice" || c.Grants.Name != "Alice" || c.Grants.Metadata != "md" {
		t.Errorf("claims = %+v", c)
	}
	if c.Grants.Attributes["role"] != "teacher" || c.Grants.GetParticipantKind() != livekit.ParticipantInfo_AGENT {
		t.Errorf("attributes/kind = %v %v", c.Grants.Attributes, c.Grants.Kind)
	}
	if c.Grants.GetRoomConfiguration().GetEmptyTimeout() != 9 {
		t.Errorf("roomConfig lost: %+v", c.Grants.RoomConfig)
	}
	vg := c.Video()
	if !vg.RoomJoin || vg.Room != "r1" || !vg.Hidden || vg.GetCanPublish() != true || vg.GetCanSubscribe() != true {
		t.Errorf("video grant = %+v", vg)
	}
	if c.ExpiresAt.Before(time.Now().Add(59 * time.Minute)) {
		t.Errorf("exp = %v", c.ExpiresAt)
	}
}

func TestVerifyFailures(t *testing.T) {
	v := NewVerifier(StaticKeys{key: secret})
	expired, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": key, "sub": "a", "exp": time.Now().Add(-2 * time.Minute).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tok  string
		want error
	}{
		{"empty", "", ErrMissingToken},
		{"junk", "abc", ErrMalformedToken},
		{"huge", strings.Repeat("a", MaxTokenSize+1), ErrMalformedToken},
		{"expired", expired, ErrTokenExpired},
		{"unknown key", mint(t, lkauth.NewAccessToken("APIother", secret).SetIdentity("a")), ErrUnknownAPIKey},
		{"wrong secret", mint(t, lkauth.NewAccessToken(key, "not-the-secret").SetIdentity("a")), ErrBadSignature},
	}
	for _, tc := range cases {
		_, err := v.Verify(tc.tok)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if tc.tok != "" && err != nil && len(tc.tok) > 10 && strings.Contains(err.Error(), tc.tok[:10]) {
			t.Errorf("%s: message echoes the token: %v", tc.name, err)
		}
	}
}

func TestFromRequest(t *testing.T) {
	r := httptest.NewRequest("POST", "/x?access_token=q", nil)
	if tok, err := FromRequest(r); err != nil || tok != "q" {
		t.Errorf("query: %q %v", tok, err)
	}
	r.Header.Set("Authorization", "bearer  h ")
	if tok, err := FromRequest(r); err != nil || tok != "h" {
		t.Errorf("header wins: %q %v", tok, err)
	}
	r.Header.Set("Authorization", "Token h")
	if _, err := FromRequest(r); !errors.Is(err, ErrMalformedToken) {
		t.Errorf("non-bearer: %v", err)
	}
	r = httptest.NewRequest("POST", "/x", nil)
	if _, err := FromRequest(r); !errors.Is(err, ErrMissingToken) {
		t.Errorf("none: %v", err)
	}
}

func TestGrantChecks(t *testing.T) {
	c := &Claims{Grants: &lkauth.ClaimGrants{Video: &lkauth.VideoGrant{RoomAdmin: true, Room: "a", DestinationRoom: "b"}}}
	if err := c.RequireRoomAdmin("M", "a"); err != nil {
		t.Errorf("admin of a: %v", err)
	}
	if err := c.RequireRoomAdmin("M", "b"); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("admin of b: %v", err)
	}
	if err := c.RequireDestinationRoom("M", "b"); err != nil {
		t.Errorf("destination b: %v", err)
	}
	if err := c.RequireRoomCreate("M"); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("create: %v", err)
	}
	var none *Claims
	if err := none.RequireRoomList("M"); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("nil claims: %v", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	v := NewVerifier(StaticKeys{key: secret})
	tok := mint(b, lkauth.NewAccessToken(key, secret).SetIdentity("bench").SetValidFor(time.Hour).
		SetVideoGrant(&lkauth.VideoGrant{RoomAdmin: true, Room: "bench-room"}))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVerifyBoundsTheTokenLifetime(t *testing.T) {
	v := NewVerifier(StaticKeys{key: secret}).WithMaxTokenLifetime(2 * time.Hour)
	now := time.Now()
	sign := func(claims jwt.MapClaims) string {
		claims["iss"], claims["sub"] = key, "a"
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	cases := []struct {
		name   string
		claims jwt.MapClaims
		want   string // "" accepts
	}{
		{"iat and exp within the limit", jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(2 * time.Hour).Unix()}, ""},
		{"nbf only, within the limit", jwt.MapClaims{"nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}, ""},
		{"iat over the limit", jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(3 * time.Hour).Unix()}, "valid for 3h0m0s, longer than auth.max_token_lifetime (2h0m0s)"},
		{"iat wins over a later nbf", jwt.MapClaims{"iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}, "longer than auth.max_token_lifetime"},
		{"nbf of 0", jwt.MapClaims{"nbf": 0, "exp": now.Add(time.Hour).Unix()}, "longer than auth.max_token_lifetime"},
		{"neither iat nor nbf", jwt.MapClaims{"exp": now.Add(time.Minute).Unix()}, "neither an issue time (iat) nor a not-before time (nbf)"},
	}
	for _, tc := range cases {
		_, err := v.Verify(sign(tc.claims))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (!errors.Is(err, ErrTokenLifetime) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// The default is a week: the LiveKit SDKs' default token (6 h) passes.
	at := lkauth.NewAccessToken(key, secret).SetIdentity("a").SetValidFor(6 * time.Hour)
	if _, err := NewVerifier(StaticKeys{key: secret}).Verify(mint(t, at)); err != nil {
		t.Errorf("a 6 h token: %v", err)
	}
}

package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lkauth "github.com/livekit/protocol/auth"
)

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// malleated returns tok with the last character of its signature changed so that a
// lenient base64url decoder yields the same bytes: an HS256 signature is 32 bytes, 43
// characters, whose last character carries two bits nobody reads.
func malleated(t *testing.T, tok string) string {
	t.Helper()
	i := strings.IndexByte(b64url, tok[len(tok)-1])
	if i < 0 || len(tok[strings.LastIndexByte(tok, '.')+1:])%4 != 3 {
		t.Fatalf("unexpected signature encoding in %q", tok)
	}
	v := tok[:len(tok)-1] + string(b64url[i^1])
	lenient, _ := base64.RawURLEncoding.DecodeString(v[strings.LastIndexByte(v, '.')+1:])
	orig, _ := base64.RawURLEncoding.DecodeString(tok[strings.LastIndexByte(tok, '.')+1:])
	if string(lenient) != string(orig) || v == tok {
		t.Fatal("the variant does not decode to the same signature; the test is broken")
	}
	return v
}

func TestNonCanonicalTokensAreRefused(t *testing.T) {
	v := NewVerifier(StaticKeys{key: secret})
	tok := mint(t, lkauth.NewAccessToken(key, secret).SetIdentity("a").SetValidFor(time.Hour).
		SetVideoGrant(&lkauth.VideoGrant{RoomJoin: true, Room: "r"}))
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("the canonical token: %v", err)
	}
	for name, variant := range map[string]string{
		"flipped unused signature bits": malleated(t, tok),
		"padded signature":              tok + "=",
		"padded payload":                strings.Replace(tok, ".", "=.", 2),
		"standard alphabet":             strings.NewReplacer("-", "+", "_", "/").Replace(tok),
		"four parts":                    tok + ".x",
	} {
		if variant == tok {
			continue // the replacement had nothing to replace
		}
		_, err := v.Verify(variant)
		if !errors.Is(err, ErrMalformedToken) {
			t.Errorf("%s: Verify = %v, want ErrMalformedToken", name, err)
		}
		if err != nil && strings.Contains(err.Error(), tok[:20]) {
			t.Errorf("%s: the error echoes the token: %v", name, err)
		}
	}
}

func TestRevocationKeysOnTheDecodedSignature(t *testing.T) {
	tok := mint(t, lkauth.NewAccessToken(key, secret).SetIdentity("a").SetValidFor(time.Hour).
		SetVideoGrant(&lkauth.VideoGrant{RoomJoin: true, Room: "r"}))
	if RefOf(tok, time.Time{}).Hash != RefOf(malleated(t, tok), time.Time{}).Hash {
		t.Fatal("two spellings of one signature have different revocation keys")
	}
	r, err := NewRevocations(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RevokeTokens([]TokenRef{RefOf(tok, time.Now().Add(time.Hour))}, "", "", "demoted"); err != nil {
		t.Fatal(err)
	}
	c, err := NewVerifier(StaticKeys{key: secret}).Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(malleated(t, tok), c); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("a variant of a revoked token: %v", err)
	}
}

// signRaw signs a hand-written payload, for claims no minting library would write.
func signRaw(payload string) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(head))
	return head + "." + enc.EncodeToString(mac.Sum(nil))
}

func TestClaimsWithWrongTypesSayWhich(t *testing.T) {
	v := NewVerifier(StaticKeys{key: secret})
	exp := time.Now().Add(time.Hour).Unix()
	ok := func(extra string) string {
		return signRaw(`{"iss":"` + key + `","sub":"a","iat":` + itoa(time.Now().Unix()) + `,"exp":` + itoa(exp) + extra + `}`)
	}
	if _, err := v.Verify(ok(`,"video":{"roomJoin":true,"room":"r"}`)); err != nil {
		t.Fatalf("a hand-signed valid token: %v", err)
	}
	cases := []struct{ name, tok, want string }{
		{"video not an object", ok(`,"video":"yes"`), `claim "video" must be a JSON object`},
		{"exp as a string", signRaw(`{"iss":"` + key + `","sub":"a","exp":"tomorrow"}`), `claim "exp" must be a time`},
		{"exp beyond year 9999", signRaw(`{"iss":"` + key + `","sub":"a","exp":1e300}`), `claim "exp" must be a time`},
		{"negative nbf", ok(`,"nbf":-5`), `claim "nbf" must be a time`},
		{"sub as a number", signRaw(`{"iss":"` + key + `","sub":7,"exp":` + itoa(exp) + `}`), `claim "sub" must be a string`},
		{"nested grant of the wrong type", ok(`,"video":{"canPublish":"yes"}`), `claim "video.canPublish" has the wrong type`},
		{"attributes with a number", ok(`,"attributes":{"role":3}`), `claim "attributes" has the wrong type`},
		{"duplicate claim", ok(`,"sub":"b"`), `appears twice`},
		{"claims not an object", signRaw(`[1,2]`), `claims are not a JSON object`},
	}
	for _, tc := range cases {
		_, err := v.Verify(tc.tok)
		if !errors.Is(err, ErrMalformedToken) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Verify = %v, want ErrMalformedToken containing %q", tc.name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "not a JWT") || errors.Is(err, ErrTokenExpired)) {
			t.Errorf("%s: misreported as %v", tc.name, err)
		}
	}
}

func TestHeaderMustSayHS256(t *testing.T) {
	v := NewVerifier(StaticKeys{key: secret})
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": key, "sub": "a", "exp": time.Now().Add(time.Hour).Unix()}).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(none + "AAAA"); !errors.Is(err, ErrMalformedToken) || !strings.Contains(err.Error(), "HS256") {
		t.Errorf("alg none: %v", err)
	}
}

func itoa(n int64) string {
	b := []byte{}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestTopLevelKeys(t *testing.T) {
	for doc, want := range map[string]int{
		`{}`:                           0,
		`{"a":1}`:                      1,
		`{"a":1,"b":{"c":2,"d":[3]}}`:  2,
		`{"a\":b":"x:y","b" : "\\"}`:   2,
		`{"a":"}{\"c\":","a":1}`:       2,
		` { "k" :[{"x":1},{"y":2}] } `: 1,
	} {
		if got := topLevelKeys([]byte(doc)); got != want {
			t.Errorf("topLevelKeys(%s) = %d, want %d", doc, got, want)
		}
	}
}

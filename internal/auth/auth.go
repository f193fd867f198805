// Package auth verifies LiveKit access tokens (HS256 JWTs with video grants) and
// checks grants for each operation.
//
// Error messages of this package never contain a token or a secret.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	lkauth "github.com/livekit/protocol/auth"
)

// MaxTokenSize bounds an access token; anything longer is refused unparsed.
const MaxTokenSize = 16 << 10

// Sentinel errors. Callers wrap them with detail; apierr maps them to wire codes.
var (
	ErrMissingToken     = errors.New(`no access token: send it as "Authorization: Bearer <token>" or as the access_token query parameter`)
	ErrMalformedToken   = errors.New("access token is malformed")
	ErrUnknownAPIKey    = errors.New("access token is signed with an unknown API key")
	ErrBadSignature     = errors.New("access token signature is invalid")
	ErrTokenExpired     = errors.New("access token has expired")
	ErrTokenNotYetValid = errors.New("access token is not valid yet")
	ErrTokenRevoked     = errors.New("access token has been revoked")
	ErrPermissionDenied = errors.New("permission denied")
	// ErrTokenLifetime: the token lives longer than auth.max_token_lifetime allows, or
	// says nothing of when it was issued (neither iat nor nbf).
	ErrTokenLifetime = errors.New("access token lifetime is not acceptable")
)

// Claims is a verified token: who holds it and what it grants.
type Claims struct {
	// Operator marks a caller inside the server (the REST gateway) that enforces its
	// own access rules and may call every Room service method.
	Operator bool
	// APIKey is the key the token was signed with (the iss claim).
	APIKey string
	// ID is the token's jti claim, if any.
	ID string
	// IssuedAt, NotBefore and ExpiresAt are the token's time claims (zero when absent).
	IssuedAt, NotBefore, ExpiresAt time.Time
	// Grants holds identity, name, metadata, attributes, kind and the video grant.
	Grants *lkauth.ClaimGrants
	// SignatureHash is the SHA-256 of the token's decoded signature, which names the
	// token for revocation (see SignatureHash).
	SignatureHash [32]byte
}

// Video returns the video grant, never nil.
func (c *Claims) Video() *lkauth.VideoGrant {
	if c.Grants == nil || c.Grants.Video == nil {
		return &lkauth.VideoGrant{}
	}
	return c.Grants.Video
}

// Issued returns when the token was issued: its iat, or its nbf when it has no iat, or
// the zero time when it has neither (such a token counts as issued before anything).
func (c *Claims) Issued() time.Time {
	if c == nil {
		return time.Time{}
	}
	if !c.IssuedAt.IsZero() {
		return c.IssuedAt
	}
	return c.NotBefore
}

// Identity returns the participant identity (sub, or jti when sub is empty).
func (c *Claims) Identity() string {
	if c.Grants == nil {
		return ""
	}
	return c.Grants.Identity
}

// KeyProvider looks up the secret of an API key.
type KeyProvider interface {
	// Secret returns the secret for key and whether the key is known.
	Secret(key string) (string, bool)
}

// StaticKeys is a KeyProvider over a fixed map.
type StaticKeys map[string]string

// Secret implements KeyProvider.
func (k StaticKeys) Secret(key string) (string, bool) {
	s, ok := k[key]
	return s, ok && s != ""
}

// Leeway is the clock skew tolerated on exp and nbf, as LiveKit allows: a token is
// accepted until a minute after its expiry. Revocations last that much longer too.
const Leeway = time.Minute

// DefaultMaxTokenLifetime is the default of auth.max_token_lifetime.
const DefaultMaxTokenLifetime = 168 * time.Hour

// tokenClaims is a LiveKit access token's claims: the registered ones and the grants.
type tokenClaims struct {
	jwt.RegisteredClaims
	lkauth.ClaimGrants
}

// Verifier checks access tokens against a set of API keys.
type Verifier struct {
	keys        KeyProvider
	maxLifetime time.Duration
}

// NewVerifier returns a Verifier for keys that accepts tokens living at most
// DefaultMaxTokenLifetime.
func NewVerifier(keys KeyProvider) *Verifier {
	return &Verifier{keys: keys, maxLifetime: DefaultMaxTokenLifetime}
}

// WithMaxTokenLifetime sets the longest token lifetime v accepts (auth.max_token_lifetime)
// and returns v. It must be called before v is used.
func (v *Verifier) WithMaxTokenLifetime(d time.Duration) *Verifier {
	if d > 0 {
		v.maxLifetime = d
	}
	return v
}

// Verify parses raw, checks its signature, issuer, expiry and not-before, and returns its claims.
func (v *Verifier) Verify(raw string) (*Claims, error) {
	if raw == "" {
		return nil, ErrMissingToken
	}
	if len(raw) > MaxTokenSize {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedToken, MaxTokenSize)
	}
	header, payload, sig, err := segments(raw)
	if err != nil {
		return nil, err
	}
	if err := checkHeader(header); err != nil {
		return nil, err
	}
	if len(sig) == 0 {
		return nil, fmt.Errorf("%w: its signature is empty", ErrMalformedToken)
	}
	key, err := checkClaims(payload)
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, fmt.Errorf("%w: no issuer (iss) naming the API key", ErrMalformedToken)
	}
	secret, ok := v.keys.Secret(key)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownAPIKey, printable(key))
	}
	// The checks LiveKit's verifier (livekit/protocol/auth) makes, in one parse.
	tc := &tokenClaims{}
	_, err = jwt.ParseWithClaims(raw, tc, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(key),
		jwt.WithLeeway(Leeway),
		jwt.WithExpirationRequired(),
	)
	if err != nil {
		return nil, classify(err)
	}
	reg, grants := &tc.RegisteredClaims, &tc.ClaimGrants
	grants.Identity = reg.Subject
	if grants.Identity == "" {
		grants.Identity = reg.ID
	}
	c := &Claims{APIKey: key, ID: reg.ID, Grants: grants, SignatureHash: SignatureHash(raw)}
	if reg.IssuedAt != nil {
		c.IssuedAt = reg.IssuedAt.Time
	}
	if reg.NotBefore != nil {
		c.NotBefore = reg.NotBefore.Time
	}
	if reg.ExpiresAt != nil {
		c.ExpiresAt = reg.ExpiresAt.Time
	}
	if err := v.checkLifetime(c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkLifetime refuses a token that lives longer than the maximum lifetime, or whose
// lifetime cannot be known: a removal keeps older tokens out for exactly that long, so
// a token outliving it would get back in.
func (v *Verifier) checkLifetime(c *Claims) error {
	issued := c.Issued()
	if issued.IsZero() {
		return fmt.Errorf("%w: it has neither an issue time (iat) nor a not-before time (nbf), so its lifetime cannot be bounded by auth.max_token_lifetime (%s); every LiveKit SDK sets them",
			ErrTokenLifetime, v.maxLifetime)
	}
	if life := c.ExpiresAt.Sub(issued); life > v.maxLifetime {
		return fmt.Errorf("%w: it is valid for %s, longer than auth.max_token_lifetime (%s) allows; mint tokens with a shorter lifetime",
			ErrTokenLifetime, life.Round(time.Second), v.maxLifetime)
	}
	return nil
}

// classify turns a JWT library error into one of this package's errors, without
// echoing anything of the token.
func classify(err error) error {
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typ) && typ.Field != "":
		field := strings.TrimPrefix(strings.TrimPrefix(typ.Field, "ClaimGrants."), "RegisteredClaims.")
		return fmt.Errorf("%w: claim %q has the wrong type (%s expected)", ErrMalformedToken, field, typ.Type.Kind())
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return ErrTokenNotYetValid
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return fmt.Errorf("%w: it has no expiry (exp)", ErrMalformedToken)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if strings.Contains(err.Error(), "signing method") {
			return fmt.Errorf("%w: it must be signed with HS256", ErrMalformedToken)
		}
		return ErrBadSignature
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return ErrBadSignature
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return fmt.Errorf("%w: it must be signed with HS256", ErrMalformedToken)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: not a JWT", ErrMalformedToken)
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return fmt.Errorf("%w: its claims are not valid", ErrMalformedToken)
	default:
		return ErrMalformedToken
	}
}

// printable shortens s and drops non-printable characters so it can go into a message.
func printable(s string) string {
	const max = 64
	if !utf8.ValidString(s) {
		return "(not UTF-8)"
	}
	b := strings.Builder{}
	for _, r := range s {
		if b.Len() >= max {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// FromRequest returns the raw token of r: the "Authorization: Bearer" header, or the
// access_token query parameter. It returns ErrMissingToken when there is none.
func FromRequest(r *http.Request) (string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", fmt.Errorf(`%w: the Authorization header must be "Bearer <token>"`, ErrMalformedToken)
		}
		return strings.TrimSpace(tok), nil
	}
	if tok := r.URL.Query().Get("access_token"); tok != "" {
		return tok, nil
	}
	return "", ErrMissingToken
}

type claimsKey struct{}

// NewContext returns ctx carrying c.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// FromContext returns the claims in ctx, or nil.
func FromContext(ctx context.Context) *Claims {
	c, _ := ctx.Value(claimsKey{}).(*Claims)
	return c
}

// OperatorContext returns ctx carrying operator claims: every grant check passes.
func OperatorContext(ctx context.Context) context.Context {
	return NewContext(ctx, &Claims{Operator: true, Grants: &lkauth.ClaimGrants{Video: &lkauth.VideoGrant{}}})
}

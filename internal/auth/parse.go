package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// strictB64 decodes JWT segments: unpadded base64url whose unused trailing bits are
// zero. Anything else has more than one spelling for the same bytes, and a token must
// have exactly one.
var strictB64 = base64.RawURLEncoding.Strict()

// maxTime is the latest time claim accepted: the end of the year 9999, as a Unix time.
const maxTime = 253402300799

// segments splits a compact JWS into its three segments and checks that each is in its
// one canonical encoding: base64url without padding, with no bits set beyond the data.
// It returns the decoded header, payload and signature.
func segments(raw string) (header, payload, sig []byte, err error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, nil, nil, fmt.Errorf("%w: not a JWT (it must have three dot-separated parts)", ErrMalformedToken)
	}
	names := [3]string{"header", "payload", "signature"}
	var out [3][]byte
	for i, p := range parts {
		if p == "" && i < 2 {
			return nil, nil, nil, fmt.Errorf("%w: its %s is empty", ErrMalformedToken, names[i])
		}
		b, err := strictB64.DecodeString(p)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%w: its %s is not canonical unpadded base64url", ErrMalformedToken, names[i])
		}
		out[i] = b
	}
	return out[0], out[1], out[2], nil
}

// SignatureHash returns the SHA-256 of a token's decoded signature: what names the token
// for revocation. The signature is the one part nobody can vary without the secret,
// and a canonical token has one spelling of it. A string that is not a JWT is hashed
// whole.
func SignatureHash(raw string) [32]byte {
	parts := strings.Split(raw, ".")
	if len(parts) == 3 {
		// Decoded leniently on purpose: every spelling of one signature gets one key,
		// even though Verify accepts only the canonical one.
		if sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "=")); err == nil && len(sig) > 0 {
			return sha256.Sum256(sig)
		}
	}
	return sha256.Sum256([]byte(raw))
}

// checkHeader accepts only {"alg":"HS256"} with an optional "typ": "JWT".
func checkHeader(header []byte) error {
	var h map[string]json.RawMessage
	if err := decodeObject(header, &h); err != nil {
		return fmt.Errorf("%w: its header is not a JSON object: %w", ErrMalformedToken, err)
	}
	var alg string
	if json.Unmarshal(h["alg"], &alg) != nil || alg != "HS256" {
		return fmt.Errorf("%w: it must be signed with HS256", ErrMalformedToken)
	}
	return nil
}

// Claim types: what each claim LiveKit defines must hold.
const (
	claimString = iota
	claimTime
	claimObject
	claimStrings
	claimAudience
)

var claimTypes = map[string]int{
	"iss": claimString, "sub": claimString, "jti": claimString, "aud": claimAudience,
	"exp": claimTime, "nbf": claimTime, "iat": claimTime,
	"name": claimString, "metadata": claimString, "kind": claimString, "sha256": claimString,
	"roomPreset": claimString, "identity": claimString,
	"video": claimObject, "sip": claimObject, "agent": claimObject, "inference": claimObject,
	"observability": claimObject, "agentEndpoint": claimObject, "agentThread": claimObject,
	"roomConfig": claimObject, "attributes": claimObject,
	"kindDetails": claimStrings,
}

var claimTypeNames = map[int]string{
	claimString: "a string", claimTime: "a time in seconds since 1970", claimObject: "a JSON object",
	claimStrings: "a list of strings", claimAudience: "a string or a list of strings",
}

// checkClaims checks that the payload is a JSON object without duplicate keys and that
// every top-level claim LiveKit defines has the right type. Its errors name the claim,
// never its value.
func checkClaims(payload []byte) error {
	var claims map[string]json.RawMessage
	if err := decodeObject(payload, &claims); err != nil {
		return fmt.Errorf("%w: its claims are not a JSON object: %w", ErrMalformedToken, err)
	}
	for name, raw := range claims {
		want, known := claimTypes[name]
		if !known {
			continue
		}
		if !claimHasType(raw, want) {
			return fmt.Errorf("%w: claim %q must be %s", ErrMalformedToken, name, claimTypeNames[want])
		}
	}
	// The grants inside are decoded once, by the verification that follows; a type
	// error there is described by classify.
	return nil
}

func claimHasType(raw json.RawMessage, want int) bool {
	switch want {
	case claimString:
		var s string
		return json.Unmarshal(raw, &s) == nil && raw[0] == '"'
	case claimTime:
		var f float64
		if json.Unmarshal(raw, &f) != nil || raw[0] == '"' {
			return false
		}
		return !math.IsNaN(f) && f >= 0 && f <= maxTime
	case claimObject:
		return raw[0] == '{' || bytes.Equal(raw, []byte("null"))
	case claimStrings:
		var s []string
		return json.Unmarshal(raw, &s) == nil
	case claimAudience:
		var s string
		if json.Unmarshal(raw, &s) == nil && raw[0] == '"' {
			return true
		}
		var l []string
		return json.Unmarshal(raw, &l) == nil
	}
	return false
}

// decodeObject decodes a JSON object into v, refusing duplicate keys at its top level
// (two values for one claim would let two readers see two different tokens) and
// trailing data.
func decodeObject(data []byte, v *map[string]json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return errors.New("malformed JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not an object")
	}
	out := make(map[string]json.RawMessage)
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return errors.New("malformed JSON")
		}
		k, _ := kt.(string)
		if _, dup := out[k]; dup {
			return fmt.Errorf("the key %q appears twice", printable(k))
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return errors.New("malformed JSON")
		}
		out[k] = val
	}
	if _, err := dec.Token(); err != nil {
		return errors.New("malformed JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON object")
	}
	*v = out
	return nil
}

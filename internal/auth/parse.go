package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
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
// every top-level claim LiveKit defines has the right type, and returns the issuer (the
// API key). Its errors name the claim, never its value.
func checkClaims(payload []byte) (issuer string, err error) {
	var claims map[string]json.RawMessage
	if err := decodeObject(payload, &claims); err != nil {
		return "", fmt.Errorf("%w: its claims are not a JSON object: %w", ErrMalformedToken, err)
	}
	for name, raw := range claims {
		want, known := claimTypes[name]
		if !known {
			continue
		}
		if !claimHasType(raw, want) {
			return "", fmt.Errorf("%w: claim %q must be %s", ErrMalformedToken, name, claimTypeNames[want])
		}
	}
	if iss, ok := claims["iss"]; ok {
		if err := json.Unmarshal(iss, &issuer); err != nil {
			return "", fmt.Errorf("%w: claim \"iss\" must be a string", ErrMalformedToken)
		}
	}
	// The grants inside are decoded once, by the verification that follows; a type
	// error there is described by classify.
	return issuer, nil
}

func claimHasType(raw json.RawMessage, want int) bool {
	// raw is one valid JSON value: decodeObject checked the whole object.
	switch want {
	case claimString:
		return raw[0] == '"'
	case claimTime:
		f, err := strconv.ParseFloat(string(raw), 64)
		return err == nil && !math.IsNaN(f) && f >= 0 && f <= maxTime
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
// (two values for one claim would let two readers see two different tokens).
func decodeObject(data []byte, v *map[string]json.RawMessage) error {
	var out map[string]json.RawMessage
	if err := json.Unmarshal(data, &out); err != nil {
		return errors.New("malformed JSON, or not an object")
	}
	if out == nil {
		return errors.New("not an object")
	}
	if n := topLevelKeys(data); n != len(out) {
		return errors.New("a key appears twice")
	}
	*v = out
	return nil
}

// topLevelKeys counts the keys of the JSON object in data (which json.Unmarshal has
// accepted), without allocating: every string at depth one that is followed by a colon.
func topLevelKeys(data []byte) int {
	depth, n := 0, 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			j := i + 1
			for ; j < len(data) && data[j] != '"'; j++ {
				if data[j] == '\\' {
					j++
				}
			}
			if depth == 1 {
				k := j + 1
				for k < len(data) && (data[k] == ' ' || data[k] == '\t' || data[k] == '\n' || data[k] == '\r') {
					k++
				}
				if k < len(data) && data[k] == ':' {
					n++
				}
			}
			i = j
		}
	}
	return n
}

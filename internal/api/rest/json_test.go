package rest

import (
	"errors"
	"strings"
	"testing"

	"github.com/usher-rtc/usher/internal/room"
)

func TestDecodeJSONRefusesDuplicateAndCaseVariantKeys(t *testing.T) {
	cases := []struct {
		name, body string
		want       string // "" means accepted
	}{
		{"plain", `{"room_name":"r","participant_name":"n","participant_identity":"i"}`, ""},
		{"every field", `{"room_name":"r","participant_name":"n","participant_identity":"i","metadata":"m","attributes":{"a":"1","A":"2"},` +
			`"ttl":60,"permission":{"can_publish":true,"can_subscribe":false,"can_publish_data":true,"can_update_metadata":false,"hidden":false,"can_publish_sources":["camera"]}}`, ""},
		{"null permission and attributes", `{"room_name":"r","participant_name":"n","participant_identity":"i","permission":null,"attributes":null}`, ""},
		{"an escaped key is its unescaped name", `{"room\u005fname":"r","participant_name":"n","participant_identity":"i"}`, ""},

		{"duplicate top-level key", `{"room_name":"r","room_name":"s","participant_name":"n","participant_identity":"i"}`, `duplicate key "room_name"`},
		{"duplicate through an escape", `{"room_name":"r","room\u005fname":"s"}`, `duplicate key "room_name"`},
		{"duplicate with the same value", `{"ttl":1,"ttl":1}`, `duplicate key "ttl"`},
		{"upper case", `{"ROOM_NAME":"r"}`, `unknown field "ROOM_NAME" (keys are case-sensitive: did you mean "room_name"?)`},
		{"mixed case", `{"Participant_Identity":"i"}`, `unknown field "Participant_Identity"`},
		// encoding/json folds the long s (U+017F) to "s" when it matches keys.
		{"Unicode case variant", `{"attribute\u017f":{}}`, "unknown field \"attribute\u017f\""},
		{"Unicode case variant in permission", `{"permission":{"can_publi\u017fh":true}}`, "unknown field \"permission.can_publi\u017fh\""},
		{"unknown", `{"admin":true}`, `unknown field "admin"`},
		{"duplicate in permission", `{"permission":{"hidden":false,"hidden":true}}`, `duplicate key "permission.hidden"`},
		{"case variant in permission", `{"permission":{"HIDDEN":true}}`, `unknown field "permission.HIDDEN"`},
		{"unknown in permission", `{"permission":{"can_admin":true}}`, `unknown field "permission.can_admin"`},
		{"duplicate attribute", `{"attributes":{"seat":"1","x":"y","seat":"2"}}`, `duplicate key "attributes.seat"`},

		{"not an object", `[{"room_name":"r"}]`, "must be a JSON object"},
		{"null", `null`, "must be a JSON object"},
		{"string", `"x"`, "must be a JSON object"},
		{"malformed", `{"room_name":}`, "malformed JSON at byte"},
		{"truncated", `{"room_name":"r"`, "the body ends early"},
		{"truncated in a key", `{"room_na`, "the body ends early"},
		{"wrong type is the decoder's to report", `{"room_name":{"a":1,"a":2}}`, `field "room_name" must be a string`},
		{"deep wrong-typed value", `{"metadata":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`, `field "metadata" must be a string`},
		{"trailing data", `{"room_name":"r"} {"room_name":"s"}`, "after its JSON object"},
		{"a stray closing brace", `{"room_name":"r"}}`, "after its JSON object"},
		{"a stray closing bracket", `{"room_name":"r"} ]`, "after its JSON object"},
		{"trailing whitespace", "{\"room_name\":\"r\"} \t\r\n", ""},
		{"a trailing vertical tab, not JSON's whitespace", "{\"room_name\":\"r\"}\v", "after its JSON object"},
		{"a trailing no-break space", "{\"room_name\":\"r\"}\u00a0", "after its JSON object"},
		{"empty", "  ", "must be a JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var req tokenRequest
			err := decodeJSON([]byte(tc.body), &req)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Errorf("accepted, want %s", tc.want)
			case err != nil && (!errors.Is(err, room.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %q, want INVALID_REQUEST mentioning %s", err, tc.want)
			}
		})
	}
}

func TestDecodeJSONCaseVariantsInEveryRequestType(t *testing.T) {
	for _, rt := range requestTypes {
		for tag := range jsonFields(typeOf(rt.new())) {
			v := rt.new()
			body := `{"` + strings.ToUpper(tag) + `":null}`
			if err := decodeJSON([]byte(body), v); err == nil || !strings.Contains(err.Error(), "unknown field") {
				t.Errorf("%s: %s: %v", rt.name, body, err)
			}
			body = `{"` + tag + `":null,"` + tag + `":null}`
			if err := decodeJSON([]byte(body), rt.new()); err == nil || !strings.Contains(err.Error(), "duplicate key") {
				t.Errorf("%s: %s: %v", rt.name, body, err)
			}
		}
	}
}

// A wrong type inside an embedded struct is named by its key, without the Go type's
// name encoding/json puts in its path.
func TestDecodeJSONNamesKeysOfEmbeddedStructs(t *testing.T) {
	for _, tc := range []struct {
		v          any
		body, want string
	}{
		{new(removeSelectedRequest), `{"room_name":"r","presets":"student"}`, `field "presets" must be an array, not string`},
		{new(disableRequest), `{"room_name":"r","except_hosts":"yes"}`, `field "except_hosts" must be true or false, not string`},
		{new(createPresetRequest), `{"name":"p","host":{"pin_participant":1}}`, `field "host.pin_participant" must be true or false, not number`},
		{new(createPresetRequest), `{"name":"p","host":[]}`, `field "host" must be an object, not array`},
	} {
		err := decodeJSON([]byte(tc.body), tc.v)
		if err == nil || !errors.Is(err, room.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want INVALID_REQUEST mentioning %s", tc.body, err, tc.want)
		}
	}
}

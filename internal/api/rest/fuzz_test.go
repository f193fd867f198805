package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/room"
)

// shape is a hand-written description of a request body, independent of the Go types
// and of the decoder: an object with exactly these keys, an object with any keys, a
// list, or a scalar.
type shape struct {
	fields map[string]*shape
	mapOf  *shape
	listOf *shape
}

var scalar = &shape{}

func object(kv ...any) *shape {
	s := &shape{fields: map[string]*shape{}}
	for i := 0; i < len(kv); i += 2 {
		s.fields[kv[i].(string)] = kv[i+1].(*shape)
	}
	return s
}

// requestTypes are the gateway's request bodies, each with its shape as the OpenAPI
// document describes it.
var requestTypes = func() []struct {
	name  string
	new   func() any
	shape *shape
} {
	strMap := &shape{mapOf: scalar}
	sources := &shape{listOf: scalar}
	perm := object("can_publish", scalar, "can_subscribe", scalar, "can_publish_data", scalar,
		"can_update_metadata", scalar, "can_publish_sources", sources, "hidden", scalar)
	names := &shape{listOf: scalar}
	presetDef := []any{"can_publish", scalar, "can_publish_sources", sources, "can_subscribe", scalar, "can_publish_data", scalar,
		"can_update_metadata", scalar, "hidden", scalar, "waiting_room", scalar, "host", object("disable_participant_audio", scalar,
			"disable_participant_video", scalar, "pin_participant", scalar, "kick_participant", scalar, "end_session", scalar,
			"accept_waiting_requests", scalar, "ban_participant", scalar)}
	return []struct {
		name  string
		new   func() any
		shape *shape
	}{
		{"token", func() any { return new(tokenRequest) }, object("room_name", scalar, "participant_name", scalar,
			"participant_identity", scalar, "metadata", scalar, "attributes", strMap, "ttl", scalar, "permission", perm, "preset", scalar)},
		{"createRoom", func() any { return new(createRoomRequest) }, object("room_name", scalar, "empty_timeout", scalar,
			"departure_timeout", scalar, "max_participants", scalar, "metadata", scalar)},
		{"participant", func() any { return new(participantRequest) }, object("room_name", scalar, "participant_identity", scalar)},
		{"mute", func() any { return new(muteRequest) }, object("room_name", scalar, "participant_identity", scalar,
			"track_sid", scalar, "muted", scalar)},
		{"update", func() any { return new(updateRequest) }, object("room_name", scalar, "participant_identity", scalar,
			"name", scalar, "metadata", scalar, "attributes", strMap, "permission", perm)},
		{"relocate", func() any { return new(relocateRequest) }, object("room_name", scalar, "participant_identity", scalar,
			"destination_room", scalar)},
		{"ban", func() any { return new(banRequest) }, object("room_name", scalar, "participant_identity", scalar,
			"duration_seconds", scalar, "reason", scalar)},
		{"lift", func() any { return new(liftRequest) }, object("room_name", scalar, "participant_identity", scalar)},
		{"disable", func() any { return new(disableRequest) }, object("room_name", scalar, "kind", scalar, "allow_unmute", scalar,
			"presets", names, "except_presets", names, "except_hosts", scalar)},
		{"enable", func() any { return new(enableRequest) }, object("room_name", scalar, "participant_identity", scalar, "kind", scalar)},
		{"removeSelected", func() any { return new(removeSelectedRequest) }, object("room_name", scalar,
			"presets", names, "except_presets", names, "except_hosts", scalar)},
		{"createPreset", func() any { return new(createPresetRequest) }, object(append([]any{"name", scalar}, presetDef...)...)},
		{"presetDefinition", func() any { return new(config.PresetConfig) }, object(presetDef...)},
		{"roomName", func() any { return new(roomNameRequest) }, object("room_name", scalar)},
		{"deny", func() any { return new(denyRequest) }, object("room_name", scalar, "participant_identity", scalar, "reason", scalar)},
		{"waitingSettings", func() any { return new(waitingSettingsRequest) }, object("room_name", scalar, "enabled", scalar,
			"mode", scalar, "message", scalar)},
	}
}()

func typeOf(v any) reflect.Type { return reflect.TypeOf(v).Elem() }

// conforms walks one JSON value with the decoder's tokenizer only, checking it against
// s: every object's keys distinct, a fixed-key object's keys exactly its own.
func conforms(dec *json.Decoder, s *shape, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch {
	case d == '{' && (s.fields != nil || s.mapOf != nil):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key := kt.(string)
			if seen[key] {
				return fmt.Errorf("%s: key %q twice", path, key)
			}
			seen[key] = true
			next := s.mapOf
			if s.fields != nil {
				if next = s.fields[key]; next == nil {
					return fmt.Errorf("%s: key %q is not in the shape", path, key)
				}
			}
			if err := conforms(dec, next, path+"."+key); err != nil {
				return err
			}
		}
	case d == '[' && s.listOf != nil:
		for dec.More() {
			if err := conforms(dec, s.listOf, path+"[]"); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%s: a %c where the shape has none", path, d)
	}
	_, err = dec.Token()
	return err
}

func FuzzRESTDecode(f *testing.F) {
	seeds := []struct {
		kind uint8
		body string
	}{
		{0, `{"room_name":"conversation-room-123","participant_name":"Alice","participant_identity":"user-alice-456"}`},
		{0, `{"room_name":"webinar","participant_name":"V","participant_identity":"v1","ttl":600,"metadata":"{\"a\":1}",` +
			`"attributes":{"seat":"4"},"permission":{"can_publish":false,"can_publish_sources":["microphone","camera"],"hidden":true}}`},
		{0, `{"room_name":"r","room_name":"s","participant_name":"n","participant_identity":"i"}`},
		{0, `{"ROOM_NAME":"r","participant_name":"n","participant_identity":"i"}`},
		{0, `{"permission":{"can_publish":true,"can_publish":false},"attributes":{"a":"1","a":"2"}}`},
		{1, `{"room_name":"stage","max_participants":10,"empty_timeout":60,"metadata":"{\"topic\":\"math\"}"}`},
		{1, `{"room_name":"stage","Room_Name":"x"}`},
		{2, `{"room_name":"conversation-room-123","participant_identity":"user-alice-456"}`},
		{2, `{"room_name":"stage","participant_identity":"ann","participant_identity":"victim"}`},
		{3, `{"room_name":"stage","participant_identity":"speaker","track_sid":"TR_abc","muted":true}`},
		{4, `{"room_name":"stage","participant_identity":"viewer","metadata":"{\"hand\":true}","attributes":{"Seat":"1","seat":"2"},` +
			`"permission":{"can_subscribe":true,"can_publish":false,"can_publish_sources":[]}}`},
		{5, `{"room_name":"stage","participant_identity":"viewer","destination_room":"breakout"}`},
		{5, `{"room_name":"stage","participant_identity":"viewer","destination_room":"breakout"} {}`},
		{4, `{"metadata":[[[[{"a":1,"a":2}]]]]}`},
		{6, `{"room_name":"stage","participant_identity":"troll","duration_seconds":3600,"reason":"spam"}`},
		{6, `{"participant_identity":"troll","duration_seconds":1e3,"reason":"x","reason":"y"}`},
		{6, `{"participant_identity":"troll","duration_seconds":"60"}`},
		{7, `{"room_name":"stage","participant_identity":"troll"}`},
		{7, `{"participant_identity":"troll","Participant_Identity":"other"}`},
		{8, `{"room_name":"class","kind":"audio","allow_unmute":false,"presets":["student"],"except_presets":["host"],"except_hosts":true}`},
		{8, `{"room_name":"class","kind":"video","allow_unmute":"no","presets":"student"}`},
		{8, `{"room_name":"class","presets":["a"],"Presets":["b"],"except_hosts":true,"except_hosts":false}`},
		{9, `{"room_name":"class","participant_identity":"s1","kind":"audio"}`},
		{9, `{"room_name":"class","participant_identity":"s1","kind":["audio"]}`},
		{10, `{"room_name":"class","presets":[],"except_presets":[["host"]],"except_hosts":true}`},
		{10, `{"room_name":"class","SelectorJSON":{"presets":["x"]}}`},
		{11, `{"name":"moderator","can_publish":true,"can_publish_sources":["microphone"],"can_subscribe":true,"host":{"kick_participant":true}}`},
		{11, `{"name":"m","host":{"pin_participant":true,"pin_participant":false},"PresetConfig":{}}`},
		{12, `{"can_subscribe":true,"host":{"pin_participant":true,"end_session":1}}`},
		{12, `{"name":"x","can_publish_sources":"camera","HOST":{}}`},
		{13, `{"room_name":"visit-42"}`},
		{13, `{"room_name":"visit-42","participant_identity":"p"}`},
		{14, `{"room_name":"visit-42","participant_identity":"patient","reason":"not on the list"}`},
		{14, `{"room_name":"v","participantRequest":{"room_name":"w"},"reason":["x"]}`},
		{14, `{"room_name":"v","participant_identity":"p","Reason":"x","reason":"y"}`},
		{15, `{"room_name":"visit-42","enabled":true,"mode":"host_opens","message":"The doctor will see you shortly"}`},
		{15, `{"room_name":"v","enabled":"true","mode":null,"opened":true}`},
		{15, `{"room_name":"v","enabled":false,"enabled":true}`},
	}
	for _, s := range seeds {
		f.Add(s.kind, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		rt := requestTypes[int(kind)%len(requestTypes)]
		v := rt.new()
		err := decodeJSON(body, v)
		if err != nil {
			if !errors.Is(err, room.ErrInvalidArgument) {
				t.Fatalf("%s: refused with %v, not INVALID_REQUEST", rt.name, err)
			}
			return
		}
		// Accepted: the body conforms to the hand-written shape.
		if err := conforms(json.NewDecoder(bytes.NewReader(body)), rt.shape, rt.name); err != nil {
			t.Fatalf("%s: accepted %q, which does not conform: %v", rt.name, body, err)
		}
		// encoding/json alone reads the same value (the checker only refuses).
		plain := rt.new()
		if err := json.Unmarshal(body, plain); err != nil {
			t.Fatalf("%s: accepted %q, which encoding/json refuses: %v", rt.name, body, err)
		}
		b1, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := json.Marshal(plain); !bytes.Equal(b, b1) {
			t.Fatalf("%s: %q decodes to %s, encoding/json reads %s", rt.name, body, b1, b)
		}
		// And the value round-trips through the strict decoder.
		again := rt.new()
		if err := decodeJSON(b1, again); err != nil {
			t.Fatalf("%s: re-encoded %s is refused: %v", rt.name, b1, err)
		}
		if b2, _ := json.Marshal(again); !bytes.Equal(b1, b2) {
			t.Fatalf("%s: round trip %s became %s", rt.name, b1, b2)
		}
	})
}

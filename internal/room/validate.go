package room

import (
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/config"
)

// The validators below are the one definition of what a participant may carry. Every
// surface that accepts these fields (a join, UpdateParticipant, a client's own
// update_metadata, the REST gateway's token issuing) applies them, so a value accepted
// in one place is never refused in another.

// validateName checks a name that identifies something (a room, an identity): not
// empty, at most max bytes of UTF-8 without control characters.
func validateName(what, s string, max int) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalidArgument, what)
	}
	return validateText(what, s, max)
}

// validateText checks free text shown to people (a display name, an attribute key): at
// most max bytes of UTF-8 without control characters (NUL, ANSI escapes, newlines).
func validateText(what, s string, max int) error {
	if problem := TextProblem(s, max); problem != "" {
		return fmt.Errorf("%w: %s %s", ErrInvalidArgument, what, problem)
	}
	return nil
}

// TextProblem says what is wrong with s as text shown to people, at most max bytes of
// UTF-8 without control characters ("is 300 bytes; the limit is 256", "is not valid
// UTF-8", "contains a control character (U+001B)"), or "" when nothing is.
func TextProblem(s string, max int) string {
	switch {
	case len(s) > max:
		return fmt.Sprintf("is %d bytes; the limit is %d", len(s), max)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("contains a control character (%U)", r)
		}
	}
	return ""
}

// MaxListItems bounds every list an admin request names: rooms (ListRooms), tracks
// (UpdateSubscriptions), destinations (SendData).
const MaxListItems = 1024

// checkList refuses a list longer than MaxListItems.
func checkList(what string, n int) error {
	if n > MaxListItems {
		return fmt.Errorf("%w: %s has %d entries; the limit is %d", ErrInvalidArgument, what, n, MaxListItems)
	}
	return nil
}

// ValidateRoomName checks a room name against the limits.
func ValidateRoomName(l config.LimitConfig, name string) error {
	return validateName("room name", name, l.MaxRoomNameLength)
}

// ValidateIdentity checks a participant identity against the limits.
func ValidateIdentity(l config.LimitConfig, identity string) error {
	return validateName("participant identity", identity, l.MaxParticipantIdentityLength)
}

// ValidateParticipantName checks a participant's display name (which may be empty).
func ValidateParticipantName(l config.LimitConfig, name string) error {
	return validateText("participant name", name, l.MaxParticipantNameLength)
}

// ValidateMetadata checks room or participant metadata: at most the limit, valid UTF-8
// (protobuf strings must be, or every message carrying it would fail to encode).
func ValidateMetadata(l config.LimitConfig, what, md string) error {
	switch {
	case len(md) > l.MaxMetadataSize:
		return fmt.Errorf("%w: %s is %d bytes; the limit is %d", ErrInvalidArgument, what, len(md), l.MaxMetadataSize)
	case !utf8.ValidString(md):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidArgument, what)
	}
	return nil
}

// ValidateAttributes checks a participant's whole attribute set: keys are non-empty text
// without control characters, values valid UTF-8, and keys plus values fit the limit.
func ValidateAttributes(l config.LimitConfig, attrs map[string]string) error {
	n := 0
	for k, v := range attrs {
		n += len(k) + len(v)
		if n > l.MaxAttributesSize {
			break
		}
		if err := validateName("an attribute key", k, l.MaxAttributesSize); err != nil {
			return err
		}
		if !utf8.ValidString(v) {
			return fmt.Errorf("%w: the value of attribute %q is not valid UTF-8", ErrInvalidArgument, k)
		}
	}
	if n > l.MaxAttributesSize {
		n = 0
		for k, v := range attrs {
			n += len(k) + len(v)
		}
		return fmt.Errorf("%w: participant attributes are %d bytes; the limit is %d", ErrInvalidArgument, n, l.MaxAttributesSize)
	}
	return nil
}

// ValidateParticipantFields checks what a participant brings to a join (from its token
// and its join request), or what a token about to be issued would carry.
func ValidateParticipantFields(l config.LimitConfig, identity, name, metadata string, attrs map[string]string) error {
	if err := ValidateIdentity(l, identity); err != nil {
		return err
	}
	if err := ValidateParticipantName(l, name); err != nil {
		return err
	}
	if err := ValidateMetadata(l, "participant metadata", metadata); err != nil {
		return err
	}
	return ValidateAttributes(l, attrs)
}

// publishableSources are the track sources a permission may name.
var publishableSources = []livekit.TrackSource{
	livekit.TrackSource_CAMERA, livekit.TrackSource_MICROPHONE,
	livekit.TrackSource_SCREEN_SHARE, livekit.TrackSource_SCREEN_SHARE_AUDIO,
}

// ValidatePermission checks a permission set by an admin: can_publish_sources names
// each of camera, microphone, screen_share and screen_share_audio at most once.
func ValidatePermission(p *livekit.ParticipantPermission) error {
	seen := make(map[livekit.TrackSource]bool, len(publishableSources))
	for _, s := range p.GetCanPublishSources() {
		if !slices.Contains(publishableSources, s) {
			return fmt.Errorf("%w: can_publish_sources: %s is not one of CAMERA, MICROPHONE, SCREEN_SHARE, SCREEN_SHARE_AUDIO", ErrInvalidArgument, s)
		}
		if seen[s] {
			return fmt.Errorf("%w: can_publish_sources names %s twice", ErrInvalidArgument, s)
		}
		seen[s] = true
	}
	return nil
}

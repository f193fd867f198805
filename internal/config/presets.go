package config

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
)

// PresetConfig is a named set of permissions a participant gets from its token's
// usher.preset attribute (docs/host-controls.md). Its media permissions replace the
// token's; a key left out is false (for sources: every source).
type PresetConfig struct {
	CanPublish        bool     `yaml:"can_publish" json:"can_publish"`
	CanPublishSources []string `yaml:"can_publish_sources" json:"can_publish_sources"`
	CanSubscribe      bool     `yaml:"can_subscribe" json:"can_subscribe"`
	CanPublishData    bool     `yaml:"can_publish_data" json:"can_publish_data"`
	CanUpdateMetadata bool     `yaml:"can_update_metadata" json:"can_update_metadata"`
	Hidden            bool     `yaml:"hidden" json:"hidden"`
	// WaitingRoom holds the preset's participants in the room's waiting room until a
	// participant allowed to accept waiting requests (or a backend) admits them.
	WaitingRoom bool `yaml:"waiting_room" json:"waiting_room"`
	// Host holds the host controls the preset allows.
	Host HostControls `yaml:"host" json:"host"`
}

// HostControls are the in-session actions a preset allows its holders to take on
// others (RealtimeKit's host controls, and Usher's own).
type HostControls struct {
	DisableParticipantAudio bool `yaml:"disable_participant_audio" json:"disable_participant_audio"`
	DisableParticipantVideo bool `yaml:"disable_participant_video" json:"disable_participant_video"`
	PinParticipant          bool `yaml:"pin_participant" json:"pin_participant"`
	KickParticipant         bool `yaml:"kick_participant" json:"kick_participant"`
	EndSession              bool `yaml:"end_session" json:"end_session"`
	// AcceptWaitingRequests sees the waiting room's queue and admits or denies.
	AcceptWaitingRequests bool `yaml:"accept_waiting_requests" json:"accept_waiting_requests"`
	// BanParticipant bans a participant from the room (kick, and its identity kept out).
	BanParticipant bool `yaml:"ban_participant" json:"ban_participant"`
}

// PresetSources are the track sources a preset may name in can_publish_sources.
var PresetSources = []string{"camera", "microphone", "screen_share", "screen_share_audio"}

// presetName is what a preset may be called: it travels in an attribute.
var presetName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// MaxPresets bounds the presets of a configuration.
const MaxPresets = 256

// validatePresets adds a problem for each invalid preset.
func validatePresets(presets map[string]PresetConfig, add func(string, ...any)) {
	if len(presets) > MaxPresets {
		add("presets: %d presets; at most %d", len(presets), MaxPresets)
	}
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, problem := range PresetProblems(n, presets[n]) {
			add("presets: %s", problem)
		}
	}
}

// PresetProblems lists what is wrong with a preset called name (nothing when it is
// valid): the rules of the configuration file, which the Presets API applies too.
func PresetProblems(name string, pc PresetConfig) []string {
	var out []string
	if !presetName.MatchString(name) {
		out = append(out, fmt.Sprintf("%q is not a preset name (1-64 letters, digits, '_', '.', '-')", name))
	}
	if len(pc.CanPublishSources) > len(PresetSources) {
		out = append(out, fmt.Sprintf("%s.can_publish_sources: at most %d sources", name, len(PresetSources)))
		return out
	}
	for i, s := range pc.CanPublishSources {
		if !slices.Contains(PresetSources, s) {
			out = append(out, fmt.Sprintf("%s.can_publish_sources: %q is not one of %v", name, s, PresetSources))
		} else if slices.Contains(pc.CanPublishSources[:i], s) {
			out = append(out, fmt.Sprintf("%s.can_publish_sources: %q is named twice", name, s))
		}
	}
	return out
}

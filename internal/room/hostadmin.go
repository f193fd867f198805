package room

import (
	"context"
	"fmt"
	"github.com/usher-rtc/usher/internal/config"
	"slices"
	"sort"

	"github.com/usher-rtc/usher/internal/events"
)

// Selector chooses participants of a room for a bulk action from a backend: those
// holding one of Presets (all when empty), except those holding one of ExceptPresets,
// and except hosts (participants whose preset has any host control) with ExceptHosts.
type Selector struct {
	Presets       []string
	ExceptPresets []string
	ExceptHosts   bool
}

// maxSelectorPresets bounds the preset lists of a Selector.
const maxSelectorPresets = 64

func (s Selector) validate() error {
	if len(s.Presets) > maxSelectorPresets || len(s.ExceptPresets) > maxSelectorPresets {
		return fmt.Errorf("%w: at most %d presets in presets and except_presets", ErrInvalidArgument, maxSelectorPresets)
	}
	return nil
}

func (s Selector) matches(p *Participant) bool {
	if !p.activated || p.left || p.forwardOf != nil || p.waiting {
		return false // waiting participants are not in the session: admit or deny them
	}
	if len(s.Presets) > 0 && !slices.Contains(s.Presets, p.preset) {
		return false
	}
	if slices.Contains(s.ExceptPresets, p.preset) {
		return false
	}
	return !s.ExceptHosts || !p.isHost()
}

// selectedLocked returns the participants of r sel chooses, by identity.
func (r *Room) selectedLocked(sel Selector) []*Participant {
	var out []*Participant
	for _, p := range r.participants {
		if sel.matches(p) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].identity < out[j].identity })
	return out
}

// DisableAll mutes the audio (video) of the participants sel chooses in room, for
// good when allowUnmute is false, as a host's disableAllAudio does. It returns their
// identities.
func (m *Manager) DisableAll(ctx context.Context, roomName string, video, allowUnmute bool, sel Selector) ([]string, error) {
	if err := sel.validate(); err != nil {
		return nil, err
	}
	r, err := m.Room(roomName)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.unlock()
	ids := []string{}
	for _, p := range r.selectedLocked(sel) {
		r.disableLocked(p, video, !allowUnmute, actorOf(ctx))
		ids = append(ids, p.identity)
	}
	return ids, nil
}

// EnableParticipant lifts the hard mute of a participant's audio (video).
func (m *Manager) EnableParticipant(ctx context.Context, roomName, identity string, video bool) error {
	r, err := m.Room(roomName)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.unlock()
	t, err := r.targetLocked(identity)
	if err != nil {
		return err
	}
	r.setLockLocked(t, video, false, actorOf(ctx))
	return nil
}

// Pin pins a participant for the whole session (unpinning the one before, whose
// identity it returns), or, with pin false, unpins it.
func (m *Manager) Pin(ctx context.Context, roomName, identity string, pin bool) (string, error) {
	r, err := m.Room(roomName)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.unlock()
	t, err := r.targetLocked(identity)
	if err != nil {
		return "", err
	}
	if !pin {
		r.unpinLocked(t, actorOf(ctx))
		return "", nil
	}
	return r.pinLocked(t, actorOf(ctx))
}

// RemoveSelected removes the participants sel chooses from room for good, as
// RemoveParticipant does, and returns their identities.
func (m *Manager) RemoveSelected(ctx context.Context, roomName string, sel Selector) ([]string, error) {
	if err := sel.validate(); err != nil {
		return nil, err
	}
	r, err := m.Room(roomName)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	var ids []string
	for _, p := range r.selectedLocked(sel) {
		ids = append(ids, p.identity)
	}
	r.unlock()
	removed := []string{}
	for _, id := range ids {
		r.mu.Lock()
		p := r.participants[id]
		if p == nil || !sel.matches(p) {
			r.unlock()
			continue
		}
		if _, err := m.expelLocked(r, p, "removed by a backend", actorOf(ctx)); err != nil {
			return removed, err
		}
		removed = append(removed, id)
	}
	return removed, nil
}

// pinLocked pins t, unpinning the participant pinned before (returned).
func (r *Room) pinLocked(t *Participant, actor events.Actor) (string, error) {
	if t.hidden() {
		return "", fmt.Errorf("%w: %q is hidden; nobody would see the pin", ErrInvalidTarget, t.identity)
	}
	prev := ""
	if old := r.participants[r.pinned]; old != nil && old != t {
		prev = old.identity
		r.setServerAttrLocked(old, AttrPinned, "", actor)
	}
	r.pinned = t.identity
	r.setServerAttrLocked(t, AttrPinned, "true", actor)
	r.reconcileLocked() // the pinned participant's tracks go first when bandwidth is short
	return prev, nil
}

// unpinLocked unpins t.
func (r *Room) unpinLocked(t *Participant, actor events.Actor) {
	if r.pinned == t.identity {
		r.pinned = ""
	}
	r.setServerAttrLocked(t, AttrPinned, "", actor)
	r.reconcileLocked()
}

// isHost reports whether p's preset has any host control.
func (p *Participant) isHost() bool {
	return p.host != config.HostControls{}
}

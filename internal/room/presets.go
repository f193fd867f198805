package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/config"
)

// Errors of the preset registry.
var (
	// ErrPresetNotFound: no preset has that name.
	ErrPresetNotFound = errors.New("preset not found")
	// ErrPresetExists: a preset of that name exists already.
	ErrPresetExists = errors.New("preset already exists")
	// ErrPresetReadOnly: the preset comes from the configuration file; only an edit
	// of the file changes it.
	ErrPresetReadOnly = errors.New("preset is read-only")
	// ErrTooManyPresets: the server holds config.MaxPresets presets.
	ErrTooManyPresets = errors.New("too many presets")
	// ErrPresetStore: the preset could not be stored durably.
	ErrPresetStore = errors.New("could not store the preset")
)

// Where a preset comes from.
const (
	PresetFromConfig = "config"
	PresetFromAPI    = "api"
)

// PresetStore keeps the presets made through the API durably (internal/store).
type PresetStore interface {
	PutPreset(name string, data []byte) error
	DeletePreset(name string) (bool, error)
	Presets() (map[string][]byte, error)
}

// Preset is a named preset and where it comes from (PresetFromConfig or
// PresetFromAPI).
type Preset struct {
	Name   string
	Source string
	Config config.PresetConfig
}

// Presets is the live preset registry: the configuration file's presets, read-only,
// and those made through the API, stored durably. A configuration preset hides a
// stored one of the same name. Safe for concurrent use.
type Presets struct {
	// write serialises changes, from the durable write to their application.
	write sync.Mutex

	mu    sync.RWMutex
	conf  map[string]config.PresetConfig
	api   map[string]config.PresetConfig
	store PresetStore
}

// NewPresets returns the registry of the configuration's presets and of those st
// holds (nil: none, and nothing is stored). Stored presets that are unreadable,
// invalid or shadowed by a configuration preset are skipped and reported in skipped.
func NewPresets(conf map[string]config.PresetConfig, st PresetStore) (reg *Presets, skipped []string, err error) {
	reg = &Presets{conf: maps.Clone(conf), api: map[string]config.PresetConfig{}, store: st}
	if reg.conf == nil {
		reg.conf = map[string]config.PresetConfig{}
	}
	if st == nil {
		return reg, nil, nil
	}
	stored, err := st.Presets()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the stored presets: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(stored)) {
		var pc config.PresetConfig
		switch {
		case json.Unmarshal(stored[name], &pc) != nil || len(config.PresetProblems(name, pc)) > 0:
			skipped = append(skipped, fmt.Sprintf("stored preset %q is unreadable or invalid", name))
		case hasKey(reg.conf, name):
			skipped = append(skipped, fmt.Sprintf("stored preset %q is hidden by the configuration's preset of that name", name))
		case len(reg.conf)+len(reg.api) >= config.MaxPresets:
			skipped = append(skipped, fmt.Sprintf("stored preset %q is beyond the %d presets a server holds", name, config.MaxPresets))
		default:
			reg.api[name] = pc
		}
	}
	return reg, skipped, nil
}

func hasKey(m map[string]config.PresetConfig, k string) bool { _, ok := m[k]; return ok }

// Get returns the preset called name.
func (ps *Presets) Get(name string) (config.PresetConfig, bool) {
	p, ok := ps.Lookup(name)
	return p.Config, ok
}

// Lookup returns the preset called name with its source.
func (ps *Presets) Lookup(name string) (Preset, bool) {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	if pc, ok := ps.conf[name]; ok {
		return Preset{Name: name, Source: PresetFromConfig, Config: pc}, true
	}
	if pc, ok := ps.api[name]; ok {
		return Preset{Name: name, Source: PresetFromAPI, Config: pc}, true
	}
	return Preset{}, false
}

// List returns every preset, by name.
func (ps *Presets) List() []Preset {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	out := make([]Preset, 0, len(ps.conf)+len(ps.api))
	for n, pc := range ps.conf {
		out = append(out, Preset{Name: n, Source: PresetFromConfig, Config: pc})
	}
	for n, pc := range ps.api {
		out = append(out, Preset{Name: n, Source: PresetFromAPI, Config: pc})
	}
	slices.SortFunc(out, func(a, b Preset) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// validate checks a preset the API makes.
func validatePreset(name string, pc config.PresetConfig) error {
	if problems := config.PresetProblems(name, pc); len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidArgument, strings.Join(problems, "; "))
	}
	return nil
}

// put stores pc as name (create: a new preset; otherwise an existing API preset).
func (ps *Presets) put(name string, pc config.PresetConfig, create bool) error {
	if err := validatePreset(name, pc); err != nil {
		return err
	}
	ps.mu.RLock()
	_, inConf := ps.conf[name]
	_, inAPI := ps.api[name]
	n := len(ps.conf) + len(ps.api)
	ps.mu.RUnlock()
	switch {
	case inConf && create:
		return fmt.Errorf("%w: %q is defined in the configuration file", ErrPresetExists, name)
	case inConf:
		return fmt.Errorf("%w: %q is defined in the configuration file; change it there", ErrPresetReadOnly, name)
	case create && inAPI:
		return fmt.Errorf("%w: %q (update it with UpdatePreset)", ErrPresetExists, name)
	case !create && !inAPI:
		return fmt.Errorf("%w: %q", ErrPresetNotFound, name)
	case create && n >= config.MaxPresets:
		return fmt.Errorf("%w: this server holds %d presets, the most it keeps", ErrTooManyPresets, config.MaxPresets)
	}
	if ps.store != nil {
		data, err := json.Marshal(pc)
		if err != nil {
			return err
		}
		if err := ps.store.PutPreset(name, data); err != nil {
			return fmt.Errorf("%w: %w", ErrPresetStore, err)
		}
	}
	ps.mu.Lock()
	ps.api[name] = pc
	ps.mu.Unlock()
	return nil
}

// remove deletes the API preset called name.
func (ps *Presets) remove(name string) error {
	ps.mu.RLock()
	_, inConf := ps.conf[name]
	_, inAPI := ps.api[name]
	ps.mu.RUnlock()
	switch {
	case inConf:
		return fmt.Errorf("%w: %q is defined in the configuration file; remove it there", ErrPresetReadOnly, name)
	case !inAPI:
		return fmt.Errorf("%w: %q", ErrPresetNotFound, name)
	}
	if ps.store != nil {
		if _, err := ps.store.DeletePreset(name); err != nil {
			return fmt.Errorf("%w: %w", ErrPresetStore, err)
		}
	}
	ps.mu.Lock()
	delete(ps.api, name)
	ps.mu.Unlock()
	return nil
}

// Presets returns the manager's preset registry.
func (m *Manager) Presets() *Presets { return m.presets }

// CreatePreset adds a preset through the API. It is stored durably before it is used.
func (m *Manager) CreatePreset(_ context.Context, name string, pc config.PresetConfig) (Preset, error) {
	m.presets.write.Lock()
	defer m.presets.write.Unlock()
	if err := m.presets.put(name, pc, true); err != nil {
		return Preset{}, err
	}
	return Preset{Name: name, Source: PresetFromAPI, Config: pc}, nil
}

// UpdatePreset replaces a preset made through the API, and applies it at once to
// every participant holding it, in every room: its media permissions as a permission
// change by the caller (tracks no longer allowed are unpublished, the participant's
// tokens revoked and a fresh one pushed), its host controls and usher.permissions.
// It returns the participants it changed.
func (m *Manager) UpdatePreset(ctx context.Context, name string, pc config.PresetConfig) (Preset, int, error) {
	m.presets.write.Lock()
	defer m.presets.write.Unlock()
	if err := m.presets.put(name, pc, false); err != nil {
		return Preset{}, 0, err
	}
	n, err := m.reapplyPreset(ctx, name)
	return Preset{Name: name, Source: PresetFromAPI, Config: pc}, n, err
}

// DeletePreset removes a preset made through the API. Its holders lose it at once:
// no preset, no host controls (usher.preset and usher.permissions are removed), and
// they keep their current media permissions. A token that still names the preset
// can no longer join. It returns the preset removed (Name empty when none was) and the
// participants it changed.
func (m *Manager) DeletePreset(ctx context.Context, name string) (Preset, int, error) {
	m.presets.write.Lock()
	defer m.presets.write.Unlock()
	old, _ := m.presets.Lookup(name)
	if err := m.presets.remove(name); err != nil {
		return Preset{}, 0, err
	}
	n, err := m.reapplyPreset(ctx, name)
	return old, n, err
}

// reapplyPreset gives every holder of the preset called name its current definition
// (none: the preset is gone), with the caller in ctx as the actor.
func (m *Manager) reapplyPreset(ctx context.Context, name string) (int, error) {
	m.mu.RLock()
	rooms := slices.Collect(maps.Values(m.rooms))
	m.mu.RUnlock()
	pc, exists := m.presets.Get(name)
	actor := actorOf(ctx)
	changed := 0
	var errs []error
	for _, r := range rooms {
		type pushed struct {
			p    *Participant
			refs []auth.TokenRef
		}
		var push []pushed
		r.mu.Lock()
		for p := range r.reserved {
			if p.preset == name {
				r.presetFieldsLocked(p, pc, exists)
			}
		}
		for _, p := range r.participants {
			if p.preset != name || p.left || p.forwardOf != nil {
				continue
			}
			if !p.activated {
				r.presetFieldsLocked(p, pc, exists)
				continue
			}
			_, refs, err := r.applyUpdateLocked(p, Update{refresh: true}, actor)
			if err != nil {
				errs = append(errs, fmt.Errorf("room %q, participant %q: %w", r.name, p.identity, err))
				continue
			}
			changed++
			// Every holder gets a fresh token with its new attributes (one still naming
			// a deleted preset could not reconnect); a permission change also revokes
			// the old ones.
			push = append(push, pushed{p, refs})
		}
		r.unlock()
		for _, x := range push {
			if err := m.revoke(x.refs, "", "", "preset "+name+" changed"); err != nil {
				errs = append(errs, err)
				continue
			}
			x.p.sink.PushToken()
		}
	}
	return changed, errors.Join(errs...)
}

// presetFieldsLocked gives p, not yet active, the preset's current definition.
func (r *Room) presetFieldsLocked(p *Participant, pc config.PresetConfig, exists bool) {
	p.attributes = maps.Clone(p.attributes)
	if p.attributes == nil {
		p.attributes = map[string]string{}
	}
	if !exists {
		p.preset, p.host = "", config.HostControls{}
		delete(p.attributes, AttrPreset)
		delete(p.attributes, AttrPermissions)
		return
	}
	p.host = pc.Host
	if p.waiting {
		p.held = presetPermission(pc, p.held)
	} else {
		p.permission = presetPermission(pc, p.permission)
	}
	p.attributes[AttrPermissions] = hostControlsText(pc.Host)
}

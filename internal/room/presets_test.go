package room

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/usher-rtc/usher/internal/config"
)

type memPresets map[string][]byte

func (m memPresets) PutPreset(name string, data []byte) error { m[name] = data; return nil }
func (m memPresets) DeletePreset(name string) (bool, error) {
	_, ok := m[name]
	delete(m, name)
	return ok, nil
}
func (m memPresets) Presets() (map[string][]byte, error) { return m, nil }

func TestPresetRegistry(t *testing.T) {
	st := memPresets{"host": []byte(`{}`), "guest": []byte(`{"can_subscribe":true}`), "bad name": []byte(`{}`), "junk": []byte(`{`)}
	conf := map[string]config.PresetConfig{"host": {CanPublish: true}}
	reg, skipped, err := NewPresets(conf, st)
	if err != nil || len(skipped) != 3 {
		t.Fatalf("NewPresets: skipped %q, %v", skipped, err)
	}
	if p, ok := reg.Lookup("host"); !ok || p.Source != PresetFromConfig || !p.Config.CanPublish {
		t.Fatalf("host = %+v", p)
	}
	if p, ok := reg.Lookup("guest"); !ok || p.Source != PresetFromAPI || !p.Config.CanSubscribe {
		t.Fatalf("guest = %+v", p)
	}
	m := NewManager(Options{Limits: config.Default().Limit, PresetRegistry: reg})
	defer m.Close()
	ctx := context.Background()
	if _, _, err := m.UpdatePreset(ctx, "host", config.PresetConfig{}); !errors.Is(err, ErrPresetReadOnly) {
		t.Fatalf("updating a configuration preset: %v", err)
	}
	if _, _, err := m.DeletePreset(ctx, "host"); !errors.Is(err, ErrPresetReadOnly) {
		t.Fatalf("deleting a configuration preset: %v", err)
	}
	if _, err := m.CreatePreset(ctx, "guest", config.PresetConfig{}); !errors.Is(err, ErrPresetExists) {
		t.Fatalf("creating a taken name: %v", err)
	}
	for i := len(reg.List()); i < config.MaxPresets; i++ {
		if _, err := m.CreatePreset(ctx, fmt.Sprintf("p%d", i), config.PresetConfig{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.CreatePreset(ctx, "one-more", config.PresetConfig{}); !errors.Is(err, ErrTooManyPresets) {
		t.Fatalf("preset %d: %v", config.MaxPresets+1, err)
	}
	if _, _, err := m.DeletePreset(ctx, "guest"); err != nil {
		t.Fatal(err)
	}
	if _, ok := st["guest"]; ok {
		t.Fatal("the deleted preset is still stored")
	}
	if len(st) != config.MaxPresets-2+3 { // p2..p255, plus the three skipped records left as they were
		t.Fatalf("%d stored", len(st))
	}
}

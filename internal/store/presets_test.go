package store

import "testing"

func TestPresetsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutPreset("host", []byte(`{"can_publish":true}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPreset("guest", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if found, err := s.DeletePreset("guest"); !found || err != nil {
		t.Fatalf("DeletePreset = %v %v", found, err)
	}
	if found, err := s.DeletePreset("guest"); found || err != nil {
		t.Fatalf("DeletePreset twice = %v %v", found, err)
	}
	_ = s.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Presets()
	if err != nil || len(got) != 1 || string(got["host"]) != `{"can_publish":true}` {
		t.Fatalf("Presets = %q %v", got, err)
	}
}

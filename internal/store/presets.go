package store

import (
	bolt "go.etcd.io/bbolt"
)

// PutPreset stores the preset called name durably (synced before it returns),
// replacing one of that name. data is the preset as its owner encodes it.
func (s *Store) PutPreset(name string, data []byte) error {
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPresets).Put([]byte(name), data)
	})
}

// DeletePreset removes the preset called name and reports whether there was one.
func (s *Store) DeletePreset(name string) (bool, error) {
	found := false
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPresets)
		if b.Get([]byte(name)) == nil {
			return nil
		}
		found = true
		return b.Delete([]byte(name))
	})
	return found, err
}

// Presets returns every stored preset by name.
func (s *Store) Presets() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPresets).ForEach(func(k, v []byte) error {
			out[string(k)] = append([]byte(nil), v...)
			return nil
		})
	})
	return out, err
}

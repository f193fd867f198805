// Package store keeps Usher's durable state in an embedded database (bbolt) under the
// data directory: token revocations and bans that make a removal stick across
// restarts, the webhook outbox, the audit log and the presets made through the API.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrInUse is returned when another process holds the data directory.
var ErrInUse = errors.New("data directory is in use by another process")

// The store's buckets. Each kind of state keeps its code in its own file of this
// package (revocations here; bans, the webhook outbox and the audit log beside it).
var (
	bucketRevocations = []byte("revocations")
	bucketBans        = []byte("bans")
	bucketOutbox      = []byte("webhook_outbox")
	bucketAudit       = []byte("audit")
	bucketPresets     = []byte("presets")
	allBuckets        = [][]byte{bucketRevocations, bucketBans, bucketOutbox, bucketAudit, bucketPresets}
)

// Revocation is one durable revocation record. Key identifies it (a token hash, or a
// room and identity); the rest is opaque to the store.
type Revocation struct {
	Key     string          `json:"key"`
	Expires time.Time       `json:"expires"`
	Data    json.RawMessage `json:"data"`
}

// Store is the embedded database.
type Store struct {
	db *bolt.DB

	holdMu sync.Mutex
	hold   *writeHold
}

// writeHold holds back every write until released (see HoldWrites).
type writeHold struct {
	blocked, release chan struct{}
	once             sync.Once
}

// Open opens (creating if needed) the database in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, "usher.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s (is another usher running with the same data_dir?)", ErrInUse, path)
		}
		return nil, fmt.Errorf("data_dir: opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("data_dir: initialising %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// HoldWrites makes every write wait until release is called; blocked is closed when
// the first write starts waiting. It lets a test observe what a caller has (and has
// not yet) done at the moment its durable write is under way. release is idempotent.
func (s *Store) HoldWrites() (blocked <-chan struct{}, release func()) {
	h := &writeHold{blocked: make(chan struct{}), release: make(chan struct{})}
	s.holdMu.Lock()
	s.hold = h
	s.holdMu.Unlock()
	var once sync.Once
	return h.blocked, func() {
		once.Do(func() {
			s.holdMu.Lock()
			if s.hold == h {
				s.hold = nil
			}
			s.holdMu.Unlock()
			close(h.release)
		})
	}
}

// update runs fn in a write transaction, synced to disk before it returns.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	s.holdMu.Lock()
	h := s.hold
	s.holdMu.Unlock()
	if h != nil {
		h.once.Do(func() { close(h.blocked) })
		<-h.release
	}
	return s.db.Update(fn)
}

// PutRevocations writes records durably (the write is synced before it returns). A
// record replaces one with the same key.
func (s *Store) PutRevocations(recs []Revocation) error {
	if len(recs) == 0 {
		return nil
	}
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRevocations)
		for _, r := range recs {
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(r.Key), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Revocations returns every record that has not expired at now.
func (s *Store) Revocations(now time.Time) ([]Revocation, error) {
	var out []Revocation
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRevocations).ForEach(func(_, v []byte) error {
			var r Revocation
			if err := json.Unmarshal(v, &r); err != nil {
				return nil // an unreadable record is skipped, not fatal
			}
			if r.Expires.After(now) {
				out = append(out, r)
			}
			return nil
		})
	})
	return out, err
}

// DeleteExpired removes records expired at now and returns how many.
func (s *Store) DeleteExpired(now time.Time) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRevocations)
		var dead [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var r Revocation
			if err := json.Unmarshal(v, &r); err != nil || !r.Expires.After(now) {
				dead = append(dead, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(dead)
		return nil
	})
	return n, err
}

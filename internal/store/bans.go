package store

import (
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Ban is one durable ban: Identity is kept out of Room, or, with Room empty, out of
// every room of Tenant.
type Ban struct {
	// Room is the room the ban applies to; empty for a ban from every room of Tenant.
	Room string `json:"room,omitempty"`
	// Tenant scopes the ban: with Room empty, every room of the tenant; with Room set,
	// that room only while it belongs to the tenant. Empty with Room set: the room of
	// that name, whoever owns it.
	Tenant   string `json:"tenant,omitempty"`
	Identity string `json:"identity"`
	// Reason is told to the banned participant when a join is refused.
	Reason string `json:"reason,omitempty"`
	// CreatedBy says who banned (an API key and identity, or a REST tenant).
	CreatedBy string    `json:"created_by,omitempty"`
	Created   time.Time `json:"created"`
	// Expires is when the ban ends by itself; the zero time keeps it until it is lifted.
	Expires time.Time `json:"expires"`
}

// Key is the ban's unique key: a JSON array of its kind, tenant, room and identity,
// which no choice of names can make ambiguous. Keys of one tenant sort together.
func (b Ban) Key() string {
	kind := "r"
	if b.Room == "" {
		kind = "t"
	}
	k, _ := json.Marshal([]string{b.Tenant, kind, b.Room, b.Identity})
	return string(k)
}

// Active reports whether the ban is in force at now.
func (b Ban) Active(now time.Time) bool {
	return b.Expires.IsZero() || b.Expires.After(now)
}

// PutBan writes b durably (synced before it returns), replacing a ban with the same
// key.
func (s *Store) PutBan(b Ban) error {
	v, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBans).Put([]byte(b.Key()), v)
	})
}

// DeleteBan removes the ban with b's key and reports whether there was one.
func (s *Store) DeleteBan(b Ban) (bool, error) {
	found := false
	err := s.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketBans)
		key := []byte(b.Key())
		if bk.Get(key) == nil {
			return nil
		}
		found = true
		return bk.Delete(key)
	})
	return found, err
}

// Bans returns every ban in force at now, in key order.
func (s *Store) Bans(now time.Time) ([]Ban, error) {
	var out []Ban
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBans).ForEach(func(_, v []byte) error {
			var b Ban
			if json.Unmarshal(v, &b) != nil {
				return nil // an unreadable record is skipped, not fatal
			}
			if b.Active(now) {
				out = append(out, b)
			}
			return nil
		})
	})
	return out, err
}

// DeleteExpiredBans removes the bans that ended before now (and unreadable records)
// and returns how many.
func (s *Store) DeleteExpiredBans(now time.Time) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketBans)
		var dead [][]byte
		err := bk.ForEach(func(k, v []byte) error {
			var b Ban
			if json.Unmarshal(v, &b) != nil || !b.Active(now) {
				dead = append(dead, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
		n = len(dead)
		return nil
	})
	return n, err
}

package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/usher-rtc/usher/internal/events"
)

// The audit log. Records live in the "audit" bucket, in nested buckets:
//
//	log          key (16 bytes) → record (JSON)
//	by_room      len(room) room key → nothing
//	by_identity  len(identity) identity key → nothing (the target's and the actor's identity)
//	by_tenant    len(tenant) tenant key → nothing
//
// A key is the record's time (big-endian unix nanoseconds) and a sequence number of
// the bucket, so keys sort by time and a time range is a cursor seek, in the log or
// under one value of an index. The "count" key of the audit bucket holds how many
// records the log holds, so a cap on their number needs no scan.
var (
	auditLog        = []byte("log")
	auditByRoom     = []byte("by_room")
	auditByIdentity = []byte("by_identity")
	auditByTenant   = []byte("by_tenant")
	auditCount      = []byte("count")
	auditIndexes    = [][]byte{auditByRoom, auditByIdentity, auditByTenant}
)

// AuditKeySize is the size of an audit record's key.
const AuditKeySize = 16

// maxIndexValue bounds an index value kept as it is; a longer one is indexed by its
// hash, so no key exceeds bbolt's limit whatever the server's name limits are.
const maxIndexValue = 512

// AuditRecord is one entry of the audit log: one event of a room, as it was when it
// happened. Its JSON form is the record format of the audit API (docs/audit.md).
type AuditRecord struct {
	// ID is the event's ID (unique; a redelivered event keeps it).
	ID string `json:"id"`
	// Time is when the change was applied.
	Time time.Time `json:"time"`
	// Kind is the event kind (participant_removed, participant_updated …).
	Kind string `json:"kind"`
	// Room and RoomSID name the room the event happened in.
	Room    string `json:"room,omitempty"`
	RoomSID string `json:"room_sid,omitempty"`
	// Tenant is the auth_id of the room's tenant when the event happened, or "".
	Tenant string `json:"tenant,omitempty"`
	// ParticipantIdentity, ParticipantSID and ParticipantName name the participant the
	// event is about (the target of a moderation action).
	ParticipantIdentity string `json:"participant_identity,omitempty"`
	ParticipantSID      string `json:"participant_sid,omitempty"`
	ParticipantName     string `json:"participant_name,omitempty"`
	// TrackSID names the track the event is about.
	TrackSID string `json:"track_sid,omitempty"`
	// Actor is who caused the event, and from where.
	Actor events.Actor `json:"actor"`
	// Reason is the disconnect, removal or ban reason.
	Reason string `json:"reason,omitempty"`
	// Changes lists what changed, before → after.
	Changes []events.Change `json:"changes,omitempty"`
	// Destination is the room a participant was moved or forwarded to.
	Destination string `json:"destination,omitempty"`
	// Until is when a ban ends (absent: until lifted).
	Until *time.Time `json:"until,omitempty"`
	// Tracks lists the track SIDs of a subscription change.
	Tracks []string `json:"tracks,omitempty"`
	// Topic and DestinationIdentities are the topic and the destinations (none:
	// everyone) of data the server sent.
	Topic                 string   `json:"topic,omitempty"`
	DestinationIdentities []string `json:"destination_identities,omitempty"`
}

// identities returns the distinct identities a record is indexed under.
func (r *AuditRecord) identities() []string {
	var out []string
	if r.ParticipantIdentity != "" {
		out = append(out, r.ParticipantIdentity)
	}
	if a := r.Actor.Identity; a != "" && a != r.ParticipantIdentity {
		out = append(out, a)
	}
	return out
}

// AuditFilter selects audit records. Every set field must match; a zero field matches
// everything.
type AuditFilter struct {
	Room   string
	Tenant string
	// Identity matches the target's or the actor's identity.
	Identity      string
	ActorIdentity string
	ActorAPIKey   string
	RequestID     string
	// Kinds, when not empty, lists the kinds that match.
	Kinds []string
	// Since (inclusive) and Until (exclusive) bound the records' time.
	Since, Until time.Time
	// Ascending lists the oldest first; otherwise the newest come first.
	Ascending bool
	// After resumes a listing after this key (the Next of the previous page).
	After []byte
	// Limit is the most records returned (at least 1).
	Limit int
	// MaxScan bounds the records examined; a listing that reaches it returns early with
	// Next set, so one request never scans the whole log. 0 means no bound.
	MaxScan int
	// MaxBytes bounds the stored size of the records returned: a page stops before the
	// record that would exceed it (it always holds at least one). 0 means no bound.
	MaxBytes int
}

func (f *AuditFilter) match(r *AuditRecord) bool {
	return (f.Room == "" || r.Room == f.Room) &&
		(f.Tenant == "" || r.Tenant == f.Tenant) &&
		(f.Identity == "" || r.ParticipantIdentity == f.Identity || r.Actor.Identity == f.Identity) &&
		(f.ActorIdentity == "" || r.Actor.Identity == f.ActorIdentity) &&
		(f.ActorAPIKey == "" || r.Actor.APIKey == f.ActorAPIKey) &&
		(f.RequestID == "" || r.Actor.RequestID == f.RequestID) &&
		(len(f.Kinds) == 0 || slices.Contains(f.Kinds, r.Kind))
}

// AuditPage is one page of a listing.
type AuditPage struct {
	Records []AuditRecord
	// Next is the key to resume after, or nil when the listing is complete.
	Next []byte
}

// AppendAudit appends records to the audit log in one transaction, synced before it
// returns. Each gets a new key from its time; a record is never replaced.
func (s *Store) AppendAudit(recs []AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketAudit)
		log, err := top.CreateBucketIfNotExists(auditLog)
		if err != nil {
			return err
		}
		idx := make([]*bolt.Bucket, len(auditIndexes))
		for i, name := range auditIndexes {
			if idx[i], err = top.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		var kbuf [AuditKeySize]byte
		for i := range recs {
			r := &recs[i]
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			seq, err := log.NextSequence()
			if err != nil {
				return err
			}
			key := auditKey(kbuf[:0], r.Time, seq)
			if err := log.Put(key, v); err != nil {
				return err
			}
			if err := putIndex(idx[0], r.Room, key); err != nil {
				return err
			}
			for _, id := range r.identities() {
				if err := putIndex(idx[1], id, key); err != nil {
					return err
				}
			}
			if err := putIndex(idx[2], r.Tenant, key); err != nil {
				return err
			}
		}
		return addCount(top, int64(len(recs)))
	})
}

// AuditCount returns how many records the audit log holds.
func (s *Store) AuditCount() (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		n = readCount(tx.Bucket(bucketAudit))
		return nil
	})
	return n, err
}

// ListAudit returns the records f selects, newest first unless f.Ascending, at most
// f.Limit of them, and where to resume. A page may hold fewer records than the limit
// (even none) while Next is set, when MaxScan was reached: resume with Next until it
// is nil.
func (s *Store) ListAudit(f AuditFilter) (AuditPage, error) {
	var page AuditPage
	limit := max(f.Limit, 1)
	err := s.db.View(func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketAudit)
		log := top.Bucket(auditLog)
		if log == nil {
			return nil
		}
		b, prefix := log, []byte(nil)
		switch {
		case f.Room != "":
			b, prefix = top.Bucket(auditByRoom), indexPrefix(f.Room)
		case f.Identity != "":
			b, prefix = top.Bucket(auditByIdentity), indexPrefix(f.Identity)
		case f.ActorIdentity != "":
			b, prefix = top.Bucket(auditByIdentity), indexPrefix(f.ActorIdentity)
		case f.Tenant != "":
			b, prefix = top.Bucket(auditByTenant), indexPrefix(f.Tenant)
		}
		if b == nil {
			return nil
		}
		it := newAuditIter(b.Cursor(), prefix, f)
		scanned, size := 0, 0
		var prev []byte // the log key last examined
		for key := it.first(); key != nil; key = it.next() {
			// Another key in range: the listing goes on after the last one examined.
			if len(page.Records) == limit || (f.MaxScan > 0 && scanned >= f.MaxScan) {
				page.Next = prev
				return nil
			}
			scanned++
			v := log.Get(key)
			var r AuditRecord
			if v == nil || json.Unmarshal(v, &r) != nil || !f.match(&r) {
				prev = append(prev[:0], key...)
				continue
			}
			if size += len(v); f.MaxBytes > 0 && size > f.MaxBytes && len(page.Records) > 0 {
				page.Next = prev // this record starts the next page
				return nil
			}
			prev = append(prev[:0], key...)
			page.Records = append(page.Records, r)
		}
		return nil
	})
	return page, err
}

// DeleteAuditBefore deletes at most limit of the oldest records whose time is before
// cutoff, and returns how many it deleted (fewer than limit: none are left).
func (s *Store) DeleteAuditBefore(cutoff time.Time, limit int) (int, error) {
	end := auditKey(nil, cutoff, 0)
	return s.deleteOldest(limit, func(k []byte, _ int64) bool { return bytes.Compare(k, end) < 0 })
}

// TrimAudit deletes the oldest records beyond the newest maxRecords, at most limit of
// them, and returns how many it deleted.
func (s *Store) TrimAudit(maxRecords int64, limit int) (int, error) {
	return s.deleteOldest(limit, func(_ []byte, count int64) bool { return count > maxRecords })
}

// deleteOldest deletes records from the oldest on, at most limit, while more says so
// (given the record's key and how many records are left).
func (s *Store) deleteOldest(limit int, more func(key []byte, count int64) bool) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketAudit)
		log := top.Bucket(auditLog)
		if log == nil {
			return nil
		}
		count := readCount(top)
		type dead struct{ k, v []byte }
		var doomed []dead
		c := log.Cursor()
		for k, v := c.First(); k != nil && len(doomed) < limit && more(k, count-int64(len(doomed))); k, v = c.Next() {
			doomed = append(doomed, dead{bytes.Clone(k), bytes.Clone(v)})
		}
		for _, d := range doomed {
			if err := log.Delete(d.k); err != nil {
				return err
			}
			var r AuditRecord
			if json.Unmarshal(d.v, &r) != nil {
				continue // unreadable: its index entries are skipped by listings
			}
			if err := deleteIndex(top.Bucket(auditByRoom), r.Room, d.k); err != nil {
				return err
			}
			for _, id := range r.identities() {
				if err := deleteIndex(top.Bucket(auditByIdentity), id, d.k); err != nil {
					return err
				}
			}
			if err := deleteIndex(top.Bucket(auditByTenant), r.Tenant, d.k); err != nil {
				return err
			}
		}
		n = len(doomed)
		return addCount(top, -int64(n))
	})
	return n, err
}

// auditKey appends the key of a record at t with sequence seq to dst. Times before
// 1970 (and after 2262) are clamped, so every time has a key.
func auditKey(dst []byte, t time.Time, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(dst, timeBits(t)), seq)
}

func timeBits(t time.Time) uint64 {
	switch {
	case t.IsZero() || t.Before(time.Unix(0, 0)):
		return 0
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return uint64(t.UnixNano()) //nolint:gosec // G115: t is within [0, MaxInt64] nanoseconds
}

// indexPrefix is the prefix of an index value's keys: the value's length (uvarint)
// and the value, or its SHA-256 when it is long. Listings compare the records' actual
// values, so a hash shared by two values costs a scan, never a wrong answer.
func indexPrefix(v string) []byte {
	if len(v) > maxIndexValue {
		h := sha256.Sum256([]byte(v))
		return append([]byte{0}, h[:]...) // length 0 is never a real value's
	}
	return append(binary.AppendUvarint(nil, uint64(len(v))), v...)
}

func putIndex(b *bolt.Bucket, v string, key []byte) error {
	if v == "" {
		return nil
	}
	return b.Put(append(indexPrefix(v), key...), nil)
}

func deleteIndex(b *bolt.Bucket, v string, key []byte) error {
	if v == "" || b == nil {
		return nil
	}
	return b.Delete(append(indexPrefix(v), key...))
}

func readCount(top *bolt.Bucket) int64 {
	v := top.Get(auditCount)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v)) //nolint:gosec // G115: written by addCount, never negative
}

func addCount(top *bolt.Bucket, d int64) error {
	n := max(readCount(top)+d, 0)
	return top.Put(auditCount, binary.BigEndian.AppendUint64(nil, uint64(n))) //nolint:gosec // G115: n >= 0
}

// auditIter walks the keys of one index value (or of the log, with no prefix) in the
// filter's time range and order, from after the filter's resume key. It yields the
// log key of each entry.
type auditIter struct {
	c      *bolt.Cursor
	prefix []byte
	lo, hi []byte // the range of full keys: lo <= k < hi
	asc    bool
	last   []byte // the log key of the entry last yielded
}

func newAuditIter(c *bolt.Cursor, prefix []byte, f AuditFilter) *auditIter {
	it := &auditIter{c: c, prefix: prefix, asc: f.Ascending}
	lo := auditKey(nil, f.Since, 0)
	hi := auditKey(nil, time.Unix(0, math.MaxInt64), math.MaxUint64)
	if !f.Until.IsZero() {
		hi = auditKey(nil, f.Until, 0)
	}
	if len(f.After) == AuditKeySize {
		if f.Ascending {
			// After the resume key: its successor.
			after := bytes.Clone(f.After)
			for i := len(after) - 1; i >= 0; i-- {
				after[i]++
				if after[i] != 0 {
					break
				}
			}
			if bytes.Compare(after, lo) > 0 {
				lo = after
			}
		} else if bytes.Compare(f.After, hi) < 0 {
			hi = bytes.Clone(f.After)
		}
	}
	it.lo = append(bytes.Clone(prefix), lo...)
	it.hi = append(bytes.Clone(prefix), hi...)
	return it
}

func (it *auditIter) first() []byte {
	if it.asc {
		k, _ := it.c.Seek(it.lo)
		return it.yield(k)
	}
	k, _ := it.c.Seek(it.hi)
	if k == nil {
		k, _ = it.c.Last()
	} else {
		k, _ = it.c.Prev()
	}
	return it.yield(k)
}

func (it *auditIter) next() []byte {
	var k []byte
	if it.asc {
		k, _ = it.c.Next()
	} else {
		k, _ = it.c.Prev()
	}
	return it.yield(k)
}

// yield returns the log key of k when k is in range, else nil (the walk is over).
func (it *auditIter) yield(k []byte) []byte {
	if k == nil || !bytes.HasPrefix(k, it.prefix) || len(k) != len(it.prefix)+AuditKeySize ||
		bytes.Compare(k, it.lo) < 0 || bytes.Compare(k, it.hi) >= 0 {
		return nil
	}
	it.last = append(it.last[:0], k[len(it.prefix):]...)
	return it.last
}

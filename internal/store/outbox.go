package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The webhook outbox keeps every webhook body, per destination stream, from the moment
// the event happened until the receiver took it. Keys are the stream name, a NUL, and a
// big-endian sequence number from the bucket's own counter, so one stream's entries
// sort in the order they were appended, across restarts too. Values are
// outboxVersion, the creation time (Unix nanoseconds, 8 bytes big-endian), the event
// ID and kind (each a length byte and its bytes), then the body.

const outboxVersion = 1

// MaxOutboxLabel bounds an outbox entry's ID and Kind, in bytes.
const MaxOutboxLabel = 255

// ErrBadOutboxEntry is returned for an outbox entry that cannot be stored or read back.
var ErrBadOutboxEntry = errors.New("bad webhook outbox entry")

// OutboxEntry is one webhook body waiting for one destination.
type OutboxEntry struct {
	// Stream names the destination (no NUL byte). Entries of a stream are read back in
	// the order they were appended.
	Stream string
	// Seq is assigned by AppendOutbox; it orders the stream.
	Seq uint64
	// Created is when the event happened (retries are bounded from it).
	Created time.Time
	// ID and Kind are the event's, kept for logs (at most MaxOutboxLabel bytes each).
	ID   string
	Kind string
	// Body is the encoded webhook body.
	Body []byte
}

func outboxPrefix(stream string) []byte {
	return append([]byte(stream), 0)
}

func outboxKey(stream string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(outboxPrefix(stream), seq)
}

func encodeOutbox(e *OutboxEntry) ([]byte, error) {
	if len(e.ID) > MaxOutboxLabel || len(e.Kind) > MaxOutboxLabel {
		return nil, fmt.Errorf("%w: ID or kind longer than %d bytes", ErrBadOutboxEntry, MaxOutboxLabel)
	}
	v := make([]byte, 0, 1+8+2+len(e.ID)+len(e.Kind)+len(e.Body))
	v = append(v, outboxVersion)
	v = binary.BigEndian.AppendUint64(v, uint64(e.Created.UnixNano()))
	v = append(v, byte(len(e.ID)))
	v = append(v, e.ID...)
	v = append(v, byte(len(e.Kind)))
	v = append(v, e.Kind...)
	return append(v, e.Body...), nil
}

// decodeOutbox reads a stored value into e (Stream and Seq are the caller's). The body
// is copied: bbolt's memory is valid only inside the transaction.
func decodeOutbox(v []byte, e *OutboxEntry) error {
	if len(v) < 1+8+1 || v[0] != outboxVersion {
		return ErrBadOutboxEntry
	}
	e.Created = time.Unix(0, int64(binary.BigEndian.Uint64(v[1:9])))
	rest := v[9:]
	label := func() (string, bool) {
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return "", false
		}
		n := int(rest[0])
		s := string(rest[1 : 1+n])
		rest = rest[1+n:]
		return s, true
	}
	var ok bool
	if e.ID, ok = label(); !ok {
		return ErrBadOutboxEntry
	}
	if e.Kind, ok = label(); !ok {
		return ErrBadOutboxEntry
	}
	e.Body = bytes.Clone(rest)
	return nil
}

// AppendOutbox writes entries durably in one transaction (synced before it returns)
// and sets their Seq.
func (s *Store) AppendOutbox(entries []OutboxEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		for i := range entries {
			e := &entries[i]
			if e.Stream == "" || bytes.IndexByte([]byte(e.Stream), 0) >= 0 {
				return fmt.Errorf("%w: stream name %q", ErrBadOutboxEntry, e.Stream)
			}
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			v, err := encodeOutbox(e)
			if err != nil {
				return err
			}
			if err := b.Put(outboxKey(e.Stream, seq), v); err != nil {
				return err
			}
			e.Seq = seq
		}
		return nil
	})
}

// OutboxAfter returns at most limit entries of stream whose Seq is greater than
// after, in order. An entry that cannot be read comes back with a nil Body, for the
// caller to delete.
func (s *Store) OutboxAfter(stream string, after uint64, limit int) ([]OutboxEntry, error) {
	var out []OutboxEntry
	prefix := outboxPrefix(stream)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.Seek(outboxKey(stream, after+1)); k != nil && len(out) < limit; k, v = c.Next() {
			if !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
				break
			}
			e := OutboxEntry{Stream: stream, Seq: binary.BigEndian.Uint64(k[len(prefix):])}
			if decodeOutbox(v, &e) != nil {
				e.Body = nil
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// DeleteOutbox removes entries of stream by Seq, in one transaction.
func (s *Store) DeleteOutbox(stream string, seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		for _, seq := range seqs {
			if err := b.Delete(outboxKey(stream, seq)); err != nil {
				return err
			}
		}
		return nil
	})
}

// OutboxCounts returns how many entries each stream holds.
func (s *Store) OutboxCounts() (map[string]int, error) {
	out := map[string]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEach(func(k, _ []byte) error {
			if i := bytes.IndexByte(k, 0); i > 0 {
				out[string(k[:i])]++
			}
			return nil
		})
	})
	return out, err
}

// DeleteOutboxStreams removes every entry of the streams keep does not accept, and
// returns how many entries each removed stream held.
func (s *Store) DeleteOutboxStreams(keep func(stream string) bool) (map[string]int, error) {
	removed := map[string]int{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		var dead [][]byte
		err := b.ForEach(func(k, _ []byte) error {
			i := bytes.IndexByte(k, 0)
			if i <= 0 || !keep(string(k[:i])) {
				dead = append(dead, bytes.Clone(k))
				if i > 0 {
					removed[string(k[:i])]++
				} else {
					removed[""]++
				}
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
		return nil
	})
	return removed, err
}

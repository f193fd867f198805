package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOutboxOrderAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Unix(1_700_000_000, 123)
	var batch []OutboxEntry
	for i := 0; i < 5; i++ {
		for _, stream := range []string{"u/a", "u/b"} {
			batch = append(batch, OutboxEntry{Stream: stream, Created: created, ID: "EV_" + string(rune('0'+i)), Kind: "room_started", Body: []byte(stream + "-" + string(rune('0'+i)))})
		}
	}
	if err := s.AppendOutbox(batch); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A second batch after the reopen sorts after the first.
	if err := s.AppendOutbox([]OutboxEntry{{Stream: "u/a", Created: created, ID: "EV_5", Kind: "k", Body: []byte("u/a-5")}}); err != nil {
		t.Fatal(err)
	}
	counts, err := s.OutboxCounts()
	if err != nil || counts["u/a"] != 6 || counts["u/b"] != 5 || len(counts) != 2 {
		t.Fatalf("counts %v %v", counts, err)
	}
	var got []string
	var after uint64
	for {
		es, err := s.OutboxAfter("u/a", after, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		if len(es) > 4 {
			t.Fatalf("limit 4, got %d", len(es))
		}
		for _, e := range es {
			if e.Seq <= after || !e.Created.Equal(created) || e.Stream != "u/a" || !strings.HasPrefix(e.ID, "EV_") {
				t.Errorf("entry %+v after %d", e, after)
			}
			after = e.Seq
			got = append(got, string(e.Body))
		}
	}
	if want := "u/a-0 u/a-1 u/a-2 u/a-3 u/a-4 u/a-5"; strings.Join(got, " ") != want {
		t.Errorf("stream u/a: %v", got)
	}
	// Deleting some leaves the rest, in order.
	es, _ := s.OutboxAfter("u/b", 0, 10)
	if err := s.DeleteOutbox("u/b", []uint64{es[0].Seq, es[1].Seq}); err != nil {
		t.Fatal(err)
	}
	es2, _ := s.OutboxAfter("u/b", 0, 10)
	if len(es2) != 3 || !bytes.Equal(es2[0].Body, es[2].Body) {
		t.Errorf("after deleting two: %d entries", len(es2))
	}
	removed, err := s.DeleteOutboxStreams(func(stream string) bool { return stream == "u/b" })
	if err != nil || removed["u/a"] != 6 || len(removed) != 1 {
		t.Errorf("removed %v %v", removed, err)
	}
	if counts, _ := s.OutboxCounts(); counts["u/a"] != 0 || counts["u/b"] != 3 {
		t.Errorf("counts after removing u/a: %v", counts)
	}
}

func TestOutboxRefusesBadEntries(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, e := range []OutboxEntry{
		{Stream: "", Body: []byte("x")},
		{Stream: "a\x00b", Body: []byte("x")},
		{Stream: "a", ID: strings.Repeat("x", MaxOutboxLabel+1)},
	} {
		if err := s.AppendOutbox([]OutboxEntry{{Stream: "ok", Body: []byte("first")}, e}); !errors.Is(err, ErrBadOutboxEntry) {
			t.Errorf("%q: %v", e.Stream, err)
		}
	}
	// A refused batch writes nothing.
	if counts, _ := s.OutboxCounts(); len(counts) != 0 {
		t.Errorf("a refused batch left %v", counts)
	}
}

func TestOutboxUnreadableEntry(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AppendOutbox([]OutboxEntry{{Stream: "u", Body: []byte("good")}}); err != nil {
		t.Fatal(err)
	}
	for i, v := range [][]byte{nil, {9}, {outboxVersion, 0, 0, 0, 0, 0, 0, 0, 0, 200}, {outboxVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 'a'}} {
		err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketOutbox).Put(outboxKey("u", uint64(100+i)), v) })
		if err != nil {
			t.Fatal(err)
		}
	}
	es, err := s.OutboxAfter("u", 0, 10)
	if err != nil || len(es) != 5 || string(es[0].Body) != "good" {
		t.Fatalf("%d entries, %v", len(es), err)
	}
	for _, e := range es[1:] {
		if e.Body != nil {
			t.Errorf("unreadable entry %d has body %q", e.Seq, e.Body)
		}
	}
}

package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/usher-rtc/usher/internal/events"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// rec is record i: a second apart, in room r<i%3>, target p<i%5>, actor a<i%2>.
func rec(i int) AuditRecord {
	return AuditRecord{
		ID:                  fmt.Sprintf("EV_%03d", i),
		Time:                t0.Add(time.Duration(i) * time.Second),
		Kind:                []string{"participant_joined", "participant_removed"}[i%2],
		Room:                fmt.Sprintf("r%d", i%3),
		Tenant:              fmt.Sprintf("t%d", i%3%2),
		ParticipantIdentity: fmt.Sprintf("p%d", i%5),
		Actor:               events.Actor{Kind: events.ActorAdmin, Identity: fmt.Sprintf("a%d", i%2), APIKey: "K", RequestID: fmt.Sprintf("REQ_%d", i)},
	}
}

func appendN(t *testing.T, s *Store, n int) []AuditRecord {
	t.Helper()
	var all []AuditRecord
	for i := range n {
		all = append(all, rec(i))
	}
	// In two transactions, the second's records interleaving nothing: keys are by time.
	if err := s.AppendAudit(all[:n/2]); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(all[n/2:]); err != nil {
		t.Fatal(err)
	}
	return all
}

func ids(recs []AuditRecord) string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = strings.TrimPrefix(r.ID, "EV_")
	}
	return strings.Join(out, " ")
}

// listAll pages through f with the given page size and returns every record, checking
// that pages never exceed it.
func listAll(t *testing.T, s *Store, f AuditFilter) []AuditRecord {
	t.Helper()
	var out []AuditRecord
	for range 1000 {
		p, err := s.ListAudit(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) > max(f.Limit, 1) {
			t.Fatalf("a page of %d records for a limit of %d", len(p.Records), f.Limit)
		}
		out = append(out, p.Records...)
		if p.Next == nil {
			return out
		}
		f.After = p.Next
	}
	t.Fatal("the listing does not end")
	return nil
}

func TestAuditListOrderAndPaging(t *testing.T) {
	s := openTest(t)
	appendN(t, s, 10)
	if n, err := s.AuditCount(); err != nil || n != 10 {
		t.Fatalf("count %d %v", n, err)
	}
	p, err := s.ListAudit(AuditFilter{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p.Records); got != "009 008 007" || p.Next == nil {
		t.Fatalf("newest first: %s next=%x", got, p.Next)
	}
	for _, limit := range []int{1, 3, 4, 10, 11} {
		if got := ids(listAll(t, s, AuditFilter{Limit: limit})); got != "009 008 007 006 005 004 003 002 001 000" {
			t.Errorf("limit %d, newest first: %s", limit, got)
		}
		if got := ids(listAll(t, s, AuditFilter{Limit: limit, Ascending: true})); got != "000 001 002 003 004 005 006 007 008 009" {
			t.Errorf("limit %d, oldest first: %s", limit, got)
		}
	}
	// A page that holds the last record says the listing is over.
	p, _ = s.ListAudit(AuditFilter{Limit: 10})
	if p.Next != nil {
		t.Errorf("a complete listing has a next key")
	}
	// An empty log.
	p, err = openTest(t).ListAudit(AuditFilter{Limit: 10, Room: "r0"})
	if err != nil || len(p.Records) != 0 || p.Next != nil {
		t.Errorf("empty log: %+v %v", p, err)
	}
}

func TestAuditFilters(t *testing.T) {
	s := openTest(t)
	appendN(t, s, 15)
	cases := []struct {
		name string
		f    AuditFilter
		want string
	}{
		{"room", AuditFilter{Room: "r1"}, "013 010 007 004 001"},
		{"room and kind", AuditFilter{Room: "r1", Kinds: []string{"participant_removed"}}, "013 007 001"},
		{"target identity", AuditFilter{Identity: "p2"}, "012 007 002"},
		{"actor identity via identity", AuditFilter{Identity: "a1", Since: t0.Add(9 * time.Second)}, "013 011 009"},
		{"actor identity", AuditFilter{ActorIdentity: "a0", Until: t0.Add(5 * time.Second)}, "004 002 000"},
		{"actor key", AuditFilter{ActorAPIKey: "K", Since: t0.Add(13 * time.Second)}, "014 013"},
		{"other key", AuditFilter{ActorAPIKey: "other"}, ""},
		{"request", AuditFilter{RequestID: "REQ_4"}, "004"},
		{"tenant", AuditFilter{Tenant: "t1", Since: t0.Add(8 * time.Second)}, "013 010"},
		{"tenant and room", AuditFilter{Tenant: "t0", Room: "r1"}, ""},
		{"kinds", AuditFilter{Kinds: []string{"participant_joined", "x"}, Until: t0.Add(4 * time.Second)}, "002 000"},
		{"time range", AuditFilter{Since: t0.Add(3 * time.Second), Until: t0.Add(6 * time.Second)}, "005 004 003"},
		{"unknown room", AuditFilter{Room: "r"}, ""},
	}
	for _, c := range cases {
		for _, limit := range []int{1, 2, 100} {
			f := c.f
			f.Limit = limit
			if got := ids(listAll(t, s, f)); got != c.want {
				t.Errorf("%s (limit %d): %q, want %q", c.name, limit, got, c.want)
			}
			f.Ascending = true
			want := strings.Fields(c.want)
			for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
				want[i], want[j] = want[j], want[i]
			}
			if got := ids(listAll(t, s, f)); got != strings.Join(want, " ") {
				t.Errorf("%s (limit %d, oldest first): %q", c.name, limit, got)
			}
		}
	}
}

func TestAuditMaxScanReturnsShortPages(t *testing.T) {
	s := openTest(t)
	appendN(t, s, 30)
	// A filter the index cannot serve: every record is examined, 4 per page.
	f := AuditFilter{RequestID: "REQ_3", Limit: 10, MaxScan: 4}
	p, err := s.ListAudit(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 0 || p.Next == nil {
		t.Fatalf("first page: %s next=%x", ids(p.Records), p.Next)
	}
	if got := ids(listAll(t, s, f)); got != "003" {
		t.Errorf("paged through: %q", got)
	}
	f.Ascending = true
	if got := ids(listAll(t, s, f)); got != "003" {
		t.Errorf("paged through, oldest first: %q", got)
	}
}

func TestAuditSameTimeKeepsEveryRecord(t *testing.T) {
	s := openTest(t)
	var recs []AuditRecord
	for i := range 5 {
		r := rec(i)
		r.Time = t0
		recs = append(recs, r)
	}
	if err := s.AppendAudit(recs); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(recs[:1]); err != nil { // the same record again is a new entry
		t.Fatal(err)
	}
	if got := ids(listAll(t, s, AuditFilter{Limit: 2, Ascending: true})); got != "000 001 002 003 004 000" {
		t.Errorf("same time: %s", got)
	}
}

func TestAuditLongIndexValues(t *testing.T) {
	s := openTest(t)
	long := strings.Repeat("x", 40000) // longer than bbolt's key limit
	r := rec(1)
	r.Room, r.ParticipantIdentity, r.Tenant = long, long+"y", long
	if err := s.AppendAudit([]AuditRecord{r, rec(2)}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []AuditFilter{{Room: long}, {Identity: long + "y"}, {Tenant: long}} {
		if got := ids(listAll(t, s, f)); got != "001" {
			t.Errorf("long filter: %q", got)
		}
	}
	if got := ids(listAll(t, s, AuditFilter{Room: long + "z"})); got != "" {
		t.Errorf("another long value: %q", got)
	}
}

func TestAuditRetention(t *testing.T) {
	s := openTest(t)
	appendN(t, s, 20)
	n, err := s.DeleteAuditBefore(t0.Add(5*time.Second), 3)
	if err != nil || n != 3 {
		t.Fatalf("first batch: %d %v", n, err)
	}
	n, err = s.DeleteAuditBefore(t0.Add(5*time.Second), 100)
	if err != nil || n != 2 {
		t.Fatalf("second batch: %d %v", n, err)
	}
	if got := ids(listAll(t, s, AuditFilter{Limit: 100, Ascending: true, Until: t0.Add(8 * time.Second)})); got != "005 006 007" {
		t.Errorf("after deleting before 5s: %s", got)
	}
	if c, _ := s.AuditCount(); c != 15 {
		t.Errorf("count %d", c)
	}
	n, err = s.TrimAudit(4, 100)
	if err != nil || n != 11 {
		t.Fatalf("trim: %d %v", n, err)
	}
	if got := ids(listAll(t, s, AuditFilter{Limit: 100})); got != "019 018 017 016" {
		t.Errorf("after trimming to 4: %s", got)
	}
	if c, _ := s.AuditCount(); c != 4 {
		t.Errorf("count after trim %d", c)
	}
	// The index entries went with the records.
	for _, f := range []AuditFilter{{Room: "r0"}, {Identity: "p0"}, {Identity: "a1"}, {Tenant: "t0"}} {
		for _, r := range listAll(t, s, f) {
			if r.Time.Before(t0.Add(16 * time.Second)) {
				t.Errorf("%+v still finds %s", f, r.ID)
			}
		}
	}
	checkIndexSizes(t, s, 4)
}

// checkIndexSizes checks that no index entry outlives its record: each of the
// records has a room, a tenant, and a target and an actor identity that differ.
func checkIndexSizes(t *testing.T, s *Store, records int) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketAudit)
		for name, want := range map[string]int{"log": records, "by_room": records, "by_tenant": records, "by_identity": 2 * records} {
			if n := top.Bucket([]byte(name)).Stats().KeyN; n != want {
				t.Errorf("bucket %s holds %d keys, want %d", name, n, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuditMaxBytesCutsPages(t *testing.T) {
	s := openTest(t)
	var recs []AuditRecord
	for i := range 6 {
		r := rec(i)
		r.Changes = []events.Change{{Field: "metadata", Before: strings.Repeat("b", 1000), After: strings.Repeat("a", 1000)}}
		recs = append(recs, r)
	}
	if err := s.AppendAudit(recs); err != nil {
		t.Fatal(err)
	}
	p, err := s.ListAudit(AuditFilter{Limit: 100, MaxBytes: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p.Records); got != "005 004" || p.Next == nil {
		t.Fatalf("first page: %s", got)
	}
	// A record larger than the bound still comes, alone.
	if got := ids(listAll(t, s, AuditFilter{Limit: 100, MaxBytes: 10})); got != "005 004 003 002 001 000" {
		t.Errorf("one per page: %s", got)
	}
	if got := ids(listAll(t, s, AuditFilter{Limit: 100, MaxBytes: 5000, Ascending: true, Room: "r0"})); got != "000 003" {
		t.Errorf("by room: %s", got)
	}
}

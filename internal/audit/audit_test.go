package audit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/store"
)

func openStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func list(t *testing.T, l *Log, req ListRequest) Page {
	t.Helper()
	q, err := req.Query()
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.List(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var admin = events.Actor{Kind: events.ActorAdmin, APIKey: "APIkey", Identity: "boss", Address: "10.0.0.1", RequestID: "REQ_1"}

func TestRecordsEveryFieldAndDrainsOnClose(t *testing.T) {
	st := openStore(t)
	bus := events.NewBus()
	l := New(Options{Store: st, Bus: bus, Record: true})
	l.Start()
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	rm := &livekit.Room{Name: "class", Sid: "RM_1", Metadata: `{"auth_id":"school"}`}
	bus.Publish(&events.Event{
		Kind: events.ParticipantBanned, Room: rm,
		Participant: &livekit.ParticipantInfo{Identity: "troll", Sid: "PA_1", Name: "T"},
		Track:       &livekit.TrackInfo{Sid: "TR_1"},
		Actor:       admin, Reason: "spam", Until: until, Destination: "elsewhere",
		Changes: []events.Change{{Field: "permission.can_publish", Before: "true", After: "false"}},
		Tracks:  []string{"TR_1", "TR_2"}, Topic: "chat", Identities: []string{"a", "b"},
	})
	// Many more, queued while the writer works: Close writes every one.
	for i := range 500 {
		bus.Publish(&events.Event{Kind: events.ParticipantJoined, Room: rm, Participant: &livekit.ParticipantInfo{Identity: fmt.Sprint(i)}, Actor: events.Server})
	}
	l.Close()
	l.Close() // twice is fine
	if l.Written() != 501 || l.Dropped() != 0 || l.Failed() != 0 {
		t.Fatalf("written %d dropped %d failed %d", l.Written(), l.Dropped(), l.Failed())
	}
	// A new log over the same store (as after a restart) reads them.
	l2 := New(Options{Store: st})
	p := list(t, l2, ListRequest{Kinds: []string{"participant_banned"}})
	if len(p.Events) != 1 {
		t.Fatalf("banned: %+v", p)
	}
	r := p.Events[0]
	if !strings.HasPrefix(r.ID, "EV_") || r.Time.IsZero() || r.Time.Location() != time.UTC || r.Kind != "participant_banned" ||
		r.Room != "class" || r.RoomSID != "RM_1" || r.Tenant != "school" ||
		r.ParticipantIdentity != "troll" || r.ParticipantSID != "PA_1" || r.ParticipantName != "T" || r.TrackSID != "TR_1" ||
		r.Actor != admin || r.Reason != "spam" || r.Destination != "elsewhere" || r.Until == nil || !r.Until.Equal(until) ||
		len(r.Changes) != 1 || r.Changes[0] != (events.Change{Field: "permission.can_publish", Before: "true", After: "false"}) ||
		strings.Join(r.Tracks, ",") != "TR_1,TR_2" || r.Topic != "chat" || strings.Join(r.DestinationIdentities, ",") != "a,b" {
		t.Errorf("record: %+v", r)
	}
	if got := list(t, l2, ListRequest{PageSize: 1000}); len(got.Events) != 501 || got.NextPageToken != "" {
		t.Errorf("all: %d records, token %q", len(got.Events), got.NextPageToken)
	}
}

func TestCloseWithoutStartWritesTheQueue(t *testing.T) {
	st := openStore(t)
	bus := events.NewBus()
	l := New(Options{Store: st, Bus: bus, Record: true})
	bus.Publish(&events.Event{Kind: events.RoomStarted, Room: &livekit.Room{Name: "r"}})
	l.Close()
	if n, _ := st.AuditCount(); n != 1 {
		t.Errorf("%d records", n)
	}
	// After Close, the log no longer listens.
	bus.Publish(&events.Event{Kind: events.RoomFinished, Room: &livekit.Room{Name: "r"}})
	if n, _ := st.AuditCount(); n != 1 {
		t.Errorf("%d records after close", n)
	}
}

func TestNotRecordingLeavesTheBus(t *testing.T) {
	st := openStore(t)
	bus := events.NewBus()
	l := New(Options{Store: st, Bus: bus})
	l.Start()
	bus.Publish(&events.Event{Kind: events.RoomStarted, Room: &livekit.Room{Name: "r"}})
	l.Close()
	if n, _ := st.AuditCount(); n != 0 {
		t.Errorf("recorded %d with recording off", n)
	}
}

func TestDroppedEventsLeaveAGapRecord(t *testing.T) {
	st := openStore(t)
	bus := events.NewBus()
	l := New(Options{Store: st, Bus: bus, Record: true, QueueSize: 16})
	for range 40 { // not started: 16 fit, 24 are dropped
		bus.Publish(&events.Event{Kind: events.ParticipantJoined, Room: &livekit.Room{Name: "r"}})
	}
	l.Close()
	p := list(t, New(Options{Store: st}), ListRequest{Kinds: []string{KindEventsDropped}})
	if len(p.Events) != 1 || !strings.Contains(p.Events[0].Reason, "24 events") || p.Events[0].Actor.Kind != events.ActorServer {
		t.Fatalf("gap record: %+v", p.Events)
	}
	if n, _ := st.AuditCount(); n != 17 {
		t.Errorf("%d records", n)
	}
}

func TestRetention(t *testing.T) {
	st := openStore(t)
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var recs []Record
	for i := range 10 {
		recs = append(recs, Record{ID: fmt.Sprint(i), Kind: "k", Time: now.Add(-time.Duration(10-i) * 24 * time.Hour)})
	}
	if err := st.AppendAudit(recs); err != nil {
		t.Fatal(err)
	}
	l := New(Options{Store: st, Retention: 5 * 24 * time.Hour, Now: func() time.Time { return now }})
	if err := l.Sweep(); err != nil {
		t.Fatal(err)
	}
	p := list(t, l, ListRequest{Order: OldestFirst})
	if len(p.Events) != 5 || p.Events[0].ID != "5" {
		t.Errorf("after 5 days' retention: %+v", p.Events)
	}
	l = New(Options{Store: st, MaxRecords: 2})
	if err := l.Sweep(); err != nil {
		t.Fatal(err)
	}
	if p := list(t, l, ListRequest{}); len(p.Events) != 2 || p.Events[0].ID != "9" || p.Events[1].ID != "8" {
		t.Errorf("after a cap of 2: %+v", p.Events)
	}
	// The sweeper runs at start.
	l = New(Options{Store: st, Retention: time.Hour, Now: func() time.Time { return now }, SweepInterval: time.Hour})
	l.Start()
	defer l.Close()
	deadline := time.Now().Add(5 * time.Second)
	for n, _ := st.AuditCount(); n != 0; n, _ = st.AuditCount() {
		if time.Now().After(deadline) {
			t.Fatalf("%d records left by the sweeper", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPagingWithTokens(t *testing.T) {
	st := openStore(t)
	var recs []Record
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 25 {
		recs = append(recs, Record{ID: fmt.Sprintf("%02d", i), Kind: "participant_left", Room: "r", Time: base.Add(time.Duration(i) * time.Minute)})
	}
	if err := st.AppendAudit(recs); err != nil {
		t.Fatal(err)
	}
	l := New(Options{Store: st})
	for _, order := range []string{"", NewestFirst, OldestFirst} {
		var got []string
		req := ListRequest{Room: "r", PageSize: 7, Order: order, Since: "2025-01-01T00:02:00Z", Until: "2025-01-01T00:22:00Z"}
		for pages := 0; ; pages++ {
			p := list(t, l, req)
			for _, r := range p.Events {
				got = append(got, r.ID)
			}
			if p.NextPageToken == "" {
				break
			}
			if pages > 10 || len(p.NextPageToken) > maxPageToken {
				t.Fatalf("token %q", p.NextPageToken)
			}
			req.PageToken = p.NextPageToken
		}
		want := "02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21"
		if order != OldestFirst {
			want = "21 20 19 18 17 16 15 14 13 12 11 10 09 08 07 06 05 04 03 02"
		}
		if strings.Join(got, " ") != want {
			t.Errorf("order %q: %v", order, got)
		}
	}
	// A token of one order does not continue the other.
	p := list(t, l, ListRequest{PageSize: 1})
	_, err := (&ListRequest{PageToken: p.NextPageToken, Order: OldestFirst}).Query()
	if !errors.Is(err, room.ErrInvalidArgument) || !strings.Contains(err.Error(), "other order") {
		t.Errorf("token of the other order: %v", err)
	}
}

func TestQueryValidation(t *testing.T) {
	long := strings.Repeat("a", MaxFilterLength+1)
	bad := []struct {
		req  ListRequest
		want string
	}{
		{ListRequest{Room: long}, "room is 1025 bytes"},
		{ListRequest{Identity: long}, "identity is"},
		{ListRequest{ActorIdentity: "\xff"}, "actor_identity is not valid UTF-8"},
		{ListRequest{ActorAPIKey: long}, "actor_api_key"},
		{ListRequest{RequestID: long}, "request_id"},
		{ListRequest{Tenant: long}, "tenant"},
		{ListRequest{Kinds: make([]string, MaxKinds+1)}, "kinds names 33"},
		{ListRequest{Kinds: []string{"Participant_Joined"}}, "is not an event kind"},
		{ListRequest{Kinds: []string{""}}, "is not an event kind"},
		{ListRequest{Since: "yesterday"}, "since: \"yesterday\" is not an RFC 3339 time"},
		{ListRequest{Until: "1969-12-31T23:59:59Z"}, "not between 1970 and 2262"},
		{ListRequest{Until: "2262-01-01T00:00:00Z"}, "not between 1970 and 2262"},
		{ListRequest{Since: strings.Repeat("1", 100)}, "since is not an RFC 3339 time"},
		{ListRequest{Since: "2025-01-02T00:00:00Z", Until: "2025-01-01T00:00:00Z"}, "must be after since"},
		{ListRequest{Since: "2025-01-01T00:00:00Z", Until: "2025-01-01T00:00:00Z"}, "must be after since"},
		{ListRequest{Order: "random"}, "order: \"random\""},
		{ListRequest{PageSize: MaxPageSize + 1}, "page_size: 1001"},
		{ListRequest{PageSize: -1}, "page_size: -1"},
		{ListRequest{PageToken: "nope"}, "page_token is not a token"},
		{ListRequest{PageToken: strings.Repeat("A", 200)}, "page_token is not a token"},
		{ListRequest{PageToken: encodeToken(make([]byte, 15), false)}, "page_token is not a token"},
	}
	for _, c := range bad {
		_, err := c.req.Query()
		if !errors.Is(err, room.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.req, err, c.want)
		}
	}
	q, err := (&ListRequest{}).Query()
	if err != nil || q.PageSize != DefaultPageSize || q.OldestFirst {
		t.Errorf("defaults: %+v %v", q, err)
	}
}

func TestParseValues(t *testing.T) {
	v, _ := url.ParseQuery("room_name=r&identity=i&actor_identity=a&actor_api_key=k&request_id=REQ&kind=a_b,c&kind=d" +
		"&since=2025-01-01T00:00:00Z&until=2025-01-02T00:00:00Z&order=oldest_first&page_size=5&page_token=x&api_key=secret")
	r, err := ParseValues(v, "api_key")
	if err != nil {
		t.Fatal(err)
	}
	want := ListRequest{Room: "r", Identity: "i", ActorIdentity: "a", ActorAPIKey: "k", RequestID: "REQ", Kinds: []string{"a_b", "c", "d"},
		Since: "2025-01-01T00:00:00Z", Until: "2025-01-02T00:00:00Z", Order: "oldest_first", PageSize: 5, PageToken: "x"}
	if fmt.Sprint(r) != fmt.Sprint(want) {
		t.Errorf("parsed %+v", r)
	}
	for q, msg := range map[string]string{
		"api_key=x":                        "unknown query parameter \"api_key\"",
		"tenant=t":                         "unknown query parameter \"tenant\"",
		"room_name=a&room_name=b":          "given 2 times",
		"page_size=0":                      "page_size",
		"page_size=ten":                    "page_size",
		"kind=" + strings.Repeat("a,", 40): "more than 32",
	} {
		v, _ := url.ParseQuery(q)
		if _, err := ParseValues(v); !errors.Is(err, room.ErrInvalidArgument) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v", q, err)
		}
	}
}

func TestForTenant(t *testing.T) {
	recs := []Record{
		{Actor: admin},
		{Actor: events.Server},
		{Actor: events.Actor{Kind: events.ActorTenant, Tenant: "school", APIKey: "K", Address: "1.1.1.1", RequestID: "R"}},
		{Actor: events.Actor{Kind: events.ActorTenant, Tenant: "other", Address: "2.2.2.2"}},
		{Actor: events.Actor{Kind: events.ActorParticipant, Identity: "p", Address: "3.3.3.3"}},
	}
	out := ForTenant(recs, "school")
	if a := out[0].Actor; a.APIKey != "" || a.Address != "" || a.Identity != "boss" || a.RequestID != "REQ_1" {
		t.Errorf("admin as a tenant sees it: %+v", a)
	}
	if out[2].Actor.Address != "1.1.1.1" || out[3].Actor.Address != "" || out[4].Actor.Address != "3.3.3.3" {
		t.Errorf("tenant view: %+v", out)
	}
	if recs[0].Actor.APIKey != "APIkey" {
		t.Error("ForTenant changed its input")
	}
}

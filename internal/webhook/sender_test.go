package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lkwebhook "github.com/livekit/protocol/webhook"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/store"
	"github.com/usher-rtc/usher/internal/testutil"
	"github.com/usher-rtc/usher/internal/webhook"
)

const wait = 10 * time.Second

func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// startSender starts a sender signing with the test key, retrying fast.
func startSender(t testing.TB, st *store.Store, bus *events.Bus, eps []webhook.Endpoint, mod ...func(*webhook.Options)) *webhook.Sender {
	t.Helper()
	opts := webhook.Options{
		Endpoints:        eps,
		APIKey:           testutil.APIKey,
		APISecret:        testutil.APISecret,
		RetryMinInterval: 5 * time.Millisecond,
		RetryMaxInterval: 40 * time.Millisecond,
		RequestTimeout:   5 * time.Second,
		Outbox:           st,
		Bus:              bus,
	}
	for _, m := range mod {
		m(&opts)
	}
	s, err := webhook.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

var admin = events.Actor{Kind: events.ActorAdmin, APIKey: "APIadmin", Identity: "ops", Address: "10.0.0.1", RequestID: "req-1"}

// script is one room's life with every LiveKit event and the moderation ones.
func script(room string) []*events.Event {
	rm := &livekit.Room{Sid: "RM_" + room, Name: room}
	alice := &livekit.ParticipantInfo{Sid: "PA_a", Identity: "alice", State: livekit.ParticipantInfo_ACTIVE}
	bob := &livekit.ParticipantInfo{Sid: "PA_b", Identity: "bob"}
	track := &livekit.TrackInfo{Sid: "TR_a", Type: livekit.TrackType_AUDIO, Name: "mic"}
	muted := proto.Clone(track).(*livekit.TrackInfo)
	muted.Muted = true
	self := events.ParticipantActor(room, "alice")
	return []*events.Event{
		{Kind: events.RoomStarted, Room: rm, Actor: events.Server},
		{Kind: events.ParticipantJoined, Room: rm, Participant: alice, Actor: self},
		{Kind: events.TrackPublished, Room: rm, Participant: alice, Track: track, Actor: self},
		{Kind: events.TrackMuted, Room: rm, Participant: alice, Track: muted, Actor: admin,
			Changes: []events.Change{{Field: "muted", Before: "false", After: "true"}}},
		{Kind: events.ParticipantUpdated, Room: rm, Participant: alice, Actor: admin,
			Changes: []events.Change{{Field: "metadata", Before: "", After: `{"role":"host"}`}}},
		{Kind: events.ParticipantConnectionAborted, Room: rm, Participant: bob, Actor: events.Server, Reason: "JOIN_FAILURE"},
		{Kind: events.ParticipantMoved, Room: rm, Participant: alice, Actor: admin, Destination: "other"},
		{Kind: events.TrackUnpublished, Room: rm, Participant: alice, Track: track, Actor: self},
		{Kind: events.ParticipantRemoved, Room: rm, Participant: alice, Actor: admin, Reason: "spam"},
		{Kind: events.ParticipantBanned, Room: rm, Participant: alice, Actor: admin, Reason: "spam", Until: time.Unix(1_900_000_000, 0)},
		{Kind: events.ParticipantLeft, Room: rm, Participant: alice, Actor: admin, Reason: "PARTICIPANT_REMOVED"},
		{Kind: events.RoomFinished, Room: rm, Actor: events.Server},
	}
}

func TestEveryEventInOrderWithTheActorOnlyWhereAsked(t *testing.T) {
	plain := testutil.NewWebhookReceiver(t)
	mod := testutil.NewWebhookReceiver(t)
	bus := events.NewBus()
	s := startSender(t, openStore(t, t.TempDir()), bus, []webhook.Endpoint{{URL: plain.URL}, {URL: mod.URL, Moderation: true}})

	evs := script("r1")
	for _, e := range evs {
		bus.Publish(e)
	}
	testutil.CheckWebhooks(t, "LiveKit URL", plain.WaitAccepted(wait, len(testutil.LiveKitEvents(evs))), testutil.LiveKitEvents(evs), false)
	testutil.CheckWebhooks(t, "moderation URL", mod.WaitAccepted(wait, len(evs)), evs, true)
	for _, r := range []*testutil.WebhookReceiver{plain, mod} {
		if bad := r.Invalid(); len(bad) > 0 {
			t.Errorf("requests the SDK refused: %v", bad)
		}
	}
	// The receiver records a request before the sender reads the answer.
	testutil.Eventually(t, wait, func() bool {
		st := s.Status()
		return st.URLs[0].Delivered == uint64(len(testutil.LiveKitEvents(evs))) && st.URLs[1].Delivered == uint64(len(evs))
	}, "deliveries counted")
	st := s.Status()
	if len(st.URLs) != 2 || st.URLs[0].Delivered != uint64(len(testutil.LiveKitEvents(evs))) || st.URLs[1].Delivered != uint64(len(evs)) ||
		st.URLs[0].Moderation || !st.URLs[1].Moderation || st.URLs[0].LastSuccessAt == nil || st.URLs[0].Dropped != 0 {
		t.Errorf("status %+v", st)
	}
	testutil.Eventually(t, wait, func() bool { return s.Status().URLs[0].Pending == 0 && s.Status().URLs[1].Pending == 0 }, "outbox emptied")
}

func TestFilterParams(t *testing.T) {
	rcv := testutil.NewWebhookReceiver(t)
	bus := events.NewBus()
	startSender(t, openStore(t, t.TempDir()), bus, []webhook.Endpoint{{URL: rcv.URL, Moderation: true}}, func(o *webhook.Options) {
		o.Filter = lkwebhook.FilterParams{ExcludeEvents: []string{"track_published", "participant_updated"}}
	})
	evs := script("r")
	var want []*events.Event
	for _, e := range evs {
		bus.Publish(e)
		if e.Kind != events.TrackPublished && e.Kind != events.ParticipantUpdated {
			want = append(want, e)
		}
	}
	testutil.CheckWebhooks(t, "filtered URL", rcv.WaitAccepted(wait, len(want)), want, true)
}

// A receiver that answers 503, then stops listening while the server restarts, then
// comes back, gets every event, in order of first delivery, duplicates keeping their ID.
func TestOutageAndRestartLoseNothing(t *testing.T) {
	rcv := testutil.NewWebhookReceiver(t)
	rcv.SetStatus(http.StatusServiceUnavailable)
	dir := t.TempDir()
	st := openStore(t, dir)
	bus := events.NewBus()
	eps := []webhook.Endpoint{{URL: rcv.URL, Moderation: true}}
	s := startSender(t, st, bus, eps)

	var published []*events.Event
	for _, e := range script("before") {
		bus.Publish(e)
		published = append(published, e)
	}
	rcv.WaitFor(wait, "a failed attempt", func(r *testutil.WebhookReceiver) bool { return len(r.All()) >= 2 })
	testutil.Eventually(t, wait, func() bool { return s.Written() == uint64(len(published)) }, "events written")
	if st := s.Status().URLs[0]; st.Pending != int64(len(published)) || !strings.Contains(st.LastError, "503") || st.LastErrorAt == nil || st.Attempts == 0 {
		t.Errorf("status during the outage: %+v", st)
	}

	// Restart: the sender stops, the store closes, the receiver goes away entirely.
	s.Stop(context.Background())
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	rcv.Down()
	st2 := openStore(t, dir)
	bus2 := events.NewBus()
	s2 := startSender(t, st2, bus2, eps)
	if p := s2.Status().URLs[0].Pending; p != int64(len(published)) {
		t.Errorf("after the restart %d events pending, want %d", p, len(published))
	}
	for _, e := range script("after") {
		bus2.Publish(e)
		published = append(published, e)
	}
	testutil.Eventually(t, wait, func() bool { return s2.Written() == uint64(len(published)/2) }, "events written")
	testutil.Eventually(t, wait, func() bool { return strings.Contains(s2.Status().URLs[0].LastError, "refused") }, "a refused connection")

	rcv.SetStatus(http.StatusOK)
	rcv.Up()
	got := rcv.WaitAccepted(wait, len(published))
	testutil.CheckWebhooks(t, "receiver after the outage", got, published, true)

	// Every request of the outage carried an ID of a published event, and the failed
	// attempts of one event all carry the same ID.
	ids := map[string]bool{}
	for _, e := range published {
		ids[e.ID] = true
	}
	for _, r := range rcv.All() {
		if !ids[r.Event.GetId()] {
			t.Errorf("unknown event ID %q", r.Event.GetId())
		}
	}
	testutil.Eventually(t, wait, func() bool { return s2.Status().URLs[0].Pending == 0 }, "outbox emptied")
	if st := s2.Status().URLs[0]; st.Dropped != 0 || st.Attempts != 0 || st.NextAttemptAt != nil {
		t.Errorf("status after the outage: %+v", st)
	}
}

func TestRejectedEventIsDroppedAndTheNextGoesOn(t *testing.T) {
	rcv := testutil.NewWebhookReceiver(t)
	rcv.SetStatus(http.StatusBadRequest)
	bus := events.NewBus()
	s := startSender(t, openStore(t, t.TempDir()), bus, []webhook.Endpoint{{URL: rcv.URL}})
	evs := testutil.LiveKitEvents(script("r"))
	bus.Publish(evs[0])
	rcv.WaitFor(wait, "the refused request", func(r *testutil.WebhookReceiver) bool { return len(r.All()) == 1 })
	testutil.Eventually(t, wait, func() bool { return s.Status().URLs[0].DroppedRejected == 1 }, "a rejected drop")
	rcv.SetStatus(http.StatusOK)
	bus.Publish(evs[1])
	got := rcv.WaitAccepted(wait, 1)
	testutil.CheckWebhooks(t, "after the refusal", got, evs[1:2], false)
	if n := len(rcv.All()); n != 2 {
		t.Errorf("%d requests: the refused event was retried", n)
	}
	if st := s.Status().URLs[0]; st.Dropped != 1 || !strings.Contains(st.LastError, "400") {
		t.Errorf("status %+v", st)
	}
}

func TestRetriedUntilRetryForThenDropped(t *testing.T) {
	rcv := testutil.NewWebhookReceiver(t)
	rcv.SetStatus(http.StatusInternalServerError)
	bus := events.NewBus()
	s := startSender(t, openStore(t, t.TempDir()), bus, []webhook.Endpoint{{URL: rcv.URL}}, func(o *webhook.Options) {
		o.RetryFor = 300 * time.Millisecond
	})
	evs := testutil.LiveKitEvents(script("r"))
	bus.Publish(evs[0])
	testutil.Eventually(t, wait, func() bool { return s.Status().URLs[0].DroppedExpired == 1 }, "an expired drop")
	if n := len(rcv.All()); n < 3 {
		t.Errorf("only %d attempts within retry_for", n)
	}
	rcv.SetStatus(http.StatusOK)
	bus.Publish(evs[1])
	testutil.CheckWebhooks(t, "after the expiry", rcv.WaitAccepted(wait, 1), evs[1:2], false)
}

// A receiver that holds every request delays neither the other URL nor Publish, and
// its backlog is bounded by max_pending.
func TestStuckReceiverDelaysOnlyItself(t *testing.T) {
	stuck := testutil.NewWebhookReceiver(t)
	stuck.Hold()
	fine := testutil.NewWebhookReceiver(t)
	bus := events.NewBus()
	s := startSender(t, openStore(t, t.TempDir()), bus, []webhook.Endpoint{{URL: stuck.URL}, {URL: fine.URL}}, func(o *webhook.Options) {
		o.MaxPending = 5
	})
	var evs []*events.Event
	for i := 0; i < 5; i++ {
		evs = append(evs, testutil.LiveKitEvents(script(fmt.Sprintf("r%d", i)))...)
	}
	// One at a time, each delivered to the healthy URL before the next (max_pending
	// bounds each URL's backlog, the healthy one's too).
	for i, e := range evs {
		bus.Publish(e)
		fine.WaitAccepted(wait, i+1)
	}
	testutil.CheckWebhooks(t, "the healthy URL", fine.Accepted(), evs, false)
	if n := stuck.Held(); n != 1 {
		t.Errorf("the stuck receiver holds %d requests, want 1 (one at a time, in order)", n)
	}
	testutil.Eventually(t, wait, func() bool { return s.Written() == uint64(len(evs)) }, "events written")
	st := s.Status().URLs[0]
	if st.Pending != 5 || st.DroppedOverflow != uint64(len(evs)-5) {
		t.Errorf("stuck URL: %+v", st)
	}
	stuck.Release()
	testutil.CheckWebhooks(t, "the stuck URL once released", stuck.WaitAccepted(wait, 5), evs[:5], false)
}

// Stop returns within its context even while a receiver holds a request, and the
// event is delivered by the next sender.
func TestStopDoesNotWaitForAStuckReceiver(t *testing.T) {
	rcv := testutil.NewWebhookReceiver(t)
	rcv.Hold()
	dir := t.TempDir()
	st := openStore(t, dir)
	bus := events.NewBus()
	eps := []webhook.Endpoint{{URL: rcv.URL}}
	s := startSender(t, st, bus, eps)
	e := testutil.LiveKitEvents(script("r"))[0]
	bus.Publish(e)
	rcv.WaitFor(wait, "a held request", func(r *testutil.WebhookReceiver) bool { return r.Held() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	stopped := make(chan struct{})
	go func() { s.Stop(ctx); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(wait):
		t.Fatal("Stop waits for a stuck receiver")
	}
	rcv.Release()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2 := openStore(t, dir)
	startSender(t, st2, events.NewBus(), eps)
	// The held request may still have been accepted, after the sender gave up on it:
	// then the event came twice, with the same ID.
	testutil.CheckWebhooks(t, "after the restart", testutil.Distinct(rcv.WaitAccepted(wait, 1)), []*events.Event{e}, false)
}

// Every published event is either written to the outbox or counted as a queue drop.
func TestQueueAccounting(t *testing.T) {
	rcv := testutil.NewWebhookReceiver(t)
	bus := events.NewBus()
	s := startSender(t, openStore(t, t.TempDir()), bus, []webhook.Endpoint{{URL: rcv.URL}}, func(o *webhook.Options) {
		o.QueueSize = 16
	})
	const n = 3000
	for i := 0; i < n; i++ {
		bus.Publish(&events.Event{Kind: events.RoomStarted, Room: &livekit.Room{Name: "r"}})
	}
	testutil.Eventually(t, wait, func() bool { return s.Written()+s.Status().QueueDropped == n }, "every event written or dropped")
	written := s.Written()
	rcv.WaitAccepted(wait, int(written))
	t.Logf("%d written, %d dropped by the 16-event queue", written, s.Status().QueueDropped)
}

func TestEntriesOfAnUnconfiguredURLAreDropped(t *testing.T) {
	old := testutil.NewWebhookReceiver(t)
	old.SetStatus(http.StatusServiceUnavailable)
	dir := t.TempDir()
	st := openStore(t, dir)
	bus := events.NewBus()
	s := startSender(t, st, bus, []webhook.Endpoint{{URL: old.URL}})
	bus.Publish(testutil.LiveKitEvents(script("r"))[0])
	testutil.Eventually(t, wait, func() bool { return s.Written() == 1 }, "event written")
	s.Stop(context.Background())

	now := testutil.NewWebhookReceiver(t)
	startSender(t, st, events.NewBus(), []webhook.Endpoint{{URL: now.URL}})
	counts, err := st.OutboxCounts()
	if err != nil || len(counts) != 0 {
		t.Errorf("outbox after the URL changed: %v %v", counts, err)
	}
}

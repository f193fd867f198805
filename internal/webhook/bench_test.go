package webhook_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/webhook"
)

// benchEvent is a typical event: a participant update with room and participant
// snapshots and its actor.
func benchEvent() events.Event {
	return events.Event{
		Kind:        events.ParticipantUpdated,
		Room:        &livekit.Room{Sid: "RM_bench", Name: "bench", NumParticipants: 12, CreationTime: 1_700_000_000},
		Participant: &livekit.ParticipantInfo{Sid: "PA_bench", Identity: "student-12", Name: "Student", Metadata: `{"seat":12}`, State: livekit.ParticipantInfo_ACTIVE},
		Actor:       admin,
		Changes:     []events.Change{{Field: "metadata", Before: `{"seat":11}`, After: `{"seat":12}`}},
	}
}

// BenchmarkWebhookOutbox measures events per second from Publish on the bus into the
// durable outbox (synced bbolt transactions), with webhooks on: a LiveKit URL (which
// skips this moderation event) and a moderation URL, both answered by a live
// receiver while the benchmark runs. "outbox-events/s" is the rate at which events
// are durably written; "delivered-events/s" the rate at which the moderation URL's
// receiver got them all (one request at a time, in order).
func BenchmarkWebhookOutbox(b *testing.B) {
	var got atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("m") != "" {
			got.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	bus := events.NewBus()
	s := startSender(b, openStore(b, b.TempDir()), bus, []webhook.Endpoint{{URL: rcv.URL}, {URL: rcv.URL + "?m=1", Moderation: true}},
		func(o *webhook.Options) { o.MaxPending = b.N + 1 })
	const queue = webhook.DefaultQueueSize
	tmpl := benchEvent()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		// Keep within the bus queue, as rooms publishing at this rate would need.
		for uint64(i)-s.Written() >= queue-1 {
			time.Sleep(20 * time.Microsecond)
		}
		e := tmpl
		bus.Publish(&e)
	}
	for s.Written() < uint64(b.N) {
		time.Sleep(20 * time.Microsecond)
	}
	written := time.Since(start)
	for got.Load() < int64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	delivered := time.Since(start)
	b.StopTimer()
	if d := s.Status().QueueDropped; d != 0 {
		b.Fatalf("%d events dropped by the bus queue", d)
	}
	b.ReportMetric(float64(b.N)/written.Seconds(), "outbox-events/s")
	b.ReportMetric(float64(b.N)/delivered.Seconds(), "delivered-events/s")
}

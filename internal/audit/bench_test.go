package audit

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/events"
)

// BenchmarkAuditAppend measures events per second from the bus into the store: a
// publisher keeps the log's queue full (without overflowing it, sleeping while it is)
// and the writer batches what is queued into one synced transaction. The events are what an admin's
// UpdateParticipant publishes: a participant_updated with its actor and a change.
func BenchmarkAuditAppend(b *testing.B) {
	st := openStore(b)
	bus := events.NewBus()
	l := New(Options{Store: st, Bus: bus, Record: true})
	l.Start()
	defer l.Close()
	rm := &livekit.Room{Name: "class-42", Sid: "RM_abcdef123456", Metadata: `{"auth_id":"school"}`}
	p := &livekit.ParticipantInfo{Identity: "student-17", Sid: "PA_abcdef123456", Name: "Student 17"}
	actor := events.Actor{Kind: events.ActorAdmin, APIKey: "APIabcdef", Identity: "teacher", Address: "10.1.2.3", RequestID: "REQ_abcdef123456"}
	changes := []events.Change{{Field: "permission", Before: `{"can_publish":true}`, After: `{"can_publish":false}`}}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		for l.sub.Len() >= l.opts.QueueSize-1 {
			time.Sleep(50 * time.Microsecond) // the queue is full: leave the CPU to the writer
		}
		bus.Publish(&events.Event{Kind: events.ParticipantUpdated, Room: rm, Participant: p, Actor: actor, Changes: changes})
	}
	for l.Written() < uint64(b.N) {
		if l.Dropped() > 0 || l.Failed() > 0 {
			b.Fatalf("dropped %d, failed %d", l.Dropped(), l.Failed())
		}
		time.Sleep(100 * time.Microsecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

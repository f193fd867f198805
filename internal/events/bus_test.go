package events

import (
	"context"
	"testing"

	"github.com/livekit/protocol/livekit"
)

func TestBusQueuesForEveryConsumerAndNeverBlocks(t *testing.T) {
	b := NewBus()
	fast := b.Subscribe("fast", 8)
	slow := b.Subscribe("slow", 2)
	for range 5 {
		b.Publish(&Event{Kind: TrackMuted, Room: &livekit.Room{Name: "r"}})
	}
	if got := fast.Len(); got != 5 {
		t.Fatalf("fast consumer has %d events; want 5", got)
	}
	if slow.Len() != 2 || slow.Dropped() != 3 {
		t.Fatalf("slow consumer has %d queued, %d dropped; want 2 and 3", slow.Len(), slow.Dropped())
	}
	var last uint64
	for range 5 {
		e := <-fast.C()
		if e.Seq <= last || e.ID == "" || e.Time.IsZero() {
			t.Fatalf("event %+v out of order or unstamped", e)
		}
		last = e.Seq
	}
	b.Unsubscribe(fast)
	b.Publish(&Event{Kind: TrackMuted})
	if fast.Len() != 0 {
		t.Fatal("an unsubscribed consumer still gets events")
	}
	var nilBus *Bus
	nilBus.Publish(&Event{}) // a server without consumers publishes nothing, without failing
}

func TestActorTravelsInTheContext(t *testing.T) {
	if a := ActorFrom(context.Background()); a.Kind != ActorServer {
		t.Fatalf("actor of a bare context %+v; want the server", a)
	}
	ctx := NewContext(context.Background(), Actor{Kind: ActorAdmin, APIKey: "k"})
	if a := ActorFrom(ctx); a.Kind != ActorAdmin || a.APIKey != "k" {
		t.Fatalf("actor %+v", a)
	}
	if Kind("participant_joined").Moderation() || !ParticipantRemoved.Moderation() {
		t.Fatal("LiveKit's webhook kinds are not moderation events; the others are")
	}
}

// BenchmarkPublish measures the fan-out: one event to two consumers that drain their
// queues (as the webhook sender and the audit log do).
func BenchmarkPublish(b *testing.B) {
	bus := NewBus()
	done := make(chan struct{})
	for range 2 {
		s := bus.Subscribe("c", 8192)
		go func() {
			for {
				select {
				case <-s.C():
				case <-done:
					return
				}
			}
		}()
	}
	defer close(done)
	room := &livekit.Room{Name: "r"}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		bus.Publish(&Event{Kind: ParticipantUpdated, Room: room})
	}
}

package events

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/utils/guid"
)

// Bus hands every published event to every subscription. Publish never blocks: each
// subscription has its own bounded queue, and an event that does not fit is counted
// as dropped for that subscription alone.
type Bus struct {
	seq  atomic.Uint64
	mu   sync.Mutex // guards changes of subs
	subs atomic.Pointer[[]*Subscription]
}

// NewBus returns a bus without subscriptions.
func NewBus() *Bus {
	b := &Bus{}
	b.subs.Store(&[]*Subscription{})
	return b
}

// Subscription is one consumer's queue.
type Subscription struct {
	name    string
	ch      chan *Event
	dropped atomic.Uint64
}

// C returns the queue the consumer reads.
func (s *Subscription) C() <-chan *Event { return s.ch }

// Name returns the consumer's name.
func (s *Subscription) Name() string { return s.name }

// Dropped returns how many events did not fit in the queue.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Len returns how many events wait in the queue.
func (s *Subscription) Len() int { return len(s.ch) }

// Subscribe adds a consumer with a queue of size events.
func (b *Bus) Subscribe(name string, size int) *Subscription {
	s := &Subscription{name: name, ch: make(chan *Event, size)}
	b.mu.Lock()
	defer b.mu.Unlock()
	old := *b.subs.Load()
	next := make([]*Subscription, 0, len(old)+1)
	next = append(append(next, old...), s)
	b.subs.Store(&next)
	return s
}

// Unsubscribe removes a consumer; its queue is not closed (events already queued stay
// readable).
func (b *Bus) Unsubscribe(s *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := *b.subs.Load()
	next := make([]*Subscription, 0, len(old))
	for _, o := range old {
		if o != s {
			next = append(next, o)
		}
	}
	b.subs.Store(&next)
}

// Publish stamps e (ID, Seq, Time when unset) and queues it for every consumer. A
// room publishes while it holds its lock, so each room's events are queued in the
// order its changes were applied. A nil bus drops the event.
func (b *Bus) Publish(e *Event) {
	if b == nil {
		return
	}
	e.Seq = b.seq.Add(1)
	if e.ID == "" {
		e.ID = guid.New("EV_")
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	for _, s := range *b.subs.Load() {
		select {
		case s.ch <- e:
		default:
			s.dropped.Add(1)
		}
	}
}

// Package audit is Usher's durable audit log: a consumer of the event bus that appends
// every event of every room, with its actor, to the embedded store; a sweeper that
// applies the retention; and the query the Audit service, the REST gateway and
// `usher audit` answer from. docs/audit.md describes the records and the API.
package audit

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/utils/guid"

	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/store"
)

// Record is one entry of the audit log (its JSON form is the API's record format).
type Record = store.AuditRecord

// KindEventsDropped is the kind of the record the log writes when events did not fit
// in its queue: the log says where it has a gap.
const KindEventsDropped = "audit_events_dropped"

// maxBatch bounds the records written in one transaction.
const maxBatch = 1024

// defaultFlushDelay is how long the writer waits, after an event arrives, for more to
// write in the same transaction: a synced commit per event would cost the rooms' API
// calls CPU and disk time whenever they come one at a time.
const defaultFlushDelay = 10 * time.Millisecond

// sweepBatch bounds the records one sweep transaction deletes, so appends are never
// held up for long.
const sweepBatch = 5000

// Options configures the audit log.
type Options struct {
	// Store keeps the records.
	Store *store.Store
	// Bus is subscribed to when Record is set.
	Bus *events.Bus
	// Record turns recording on (audit.enabled); without it the log only answers
	// queries and applies the retention to what it holds.
	Record bool
	// QueueSize bounds the events waiting to be written (audit.queue_size).
	QueueSize int
	// Retention is how long records are kept; 0 keeps them until MaxRecords.
	Retention time.Duration
	// MaxRecords caps the records kept, the oldest going first; 0 is no cap.
	MaxRecords int64
	// SweepInterval is how often the retention is applied (default a minute).
	SweepInterval time.Duration
	// FlushDelay is how long an event may wait for others to share its transaction
	// (default 10ms); a full batch is written at once.
	FlushDelay time.Duration
	Logger     *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// Log is the audit log.
type Log struct {
	opts Options
	log  *slog.Logger
	sub  *events.Subscription

	written atomic.Uint64
	failed  atomic.Uint64
	// notedDrops is how many dropped events the log has recorded as a gap.
	notedDrops atomic.Uint64

	stop      chan struct{}
	done      sync.WaitGroup
	startOnce sync.Once
	closeOnce sync.Once
}

// New returns the audit log. When recording, it subscribes to the bus at once, so
// events published before Start are kept.
func New(opts Options) *Log {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	if opts.FlushDelay <= 0 {
		opts.FlushDelay = defaultFlushDelay
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Log{opts: opts, log: opts.Logger, stop: make(chan struct{})}
	if opts.Record && opts.Bus != nil {
		l.sub = opts.Bus.Subscribe("audit", opts.QueueSize)
	}
	return l
}

// Start starts the writer and the sweeper.
func (l *Log) Start() {
	l.startOnce.Do(func() {
		if l.sub != nil {
			l.done.Add(1)
			go l.run()
		}
		l.done.Add(1)
		go l.sweeper()
	})
}

// Close stops the log: it leaves the bus, writes every event still queued, and stops
// the writer and the sweeper. Call it after the rooms are closed (their last events
// are then queued) and before the store is closed.
func (l *Log) Close() {
	l.closeOnce.Do(func() {
		if l.sub != nil {
			l.opts.Bus.Unsubscribe(l.sub)
		}
		close(l.stop)
		l.startOnce.Do(func() {}) // a log never started is not started by Close
		l.done.Wait()
		if l.sub != nil {
			// The writer has stopped (or never ran): what is still queued is written here.
			l.drain()
		}
	})
}

// Written returns how many records were written.
func (l *Log) Written() uint64 { return l.written.Load() }

// Dropped returns how many events did not fit in the queue.
func (l *Log) Dropped() uint64 {
	if l.sub == nil {
		return 0
	}
	return l.sub.Dropped()
}

// Failed returns how many records could not be written.
func (l *Log) Failed() uint64 { return l.failed.Load() }

// run writes events as they come until Close: each transaction takes the events that
// arrive within FlushDelay of the first, or maxBatch of them.
func (l *Log) run() {
	defer l.done.Done()
	batch := make([]Record, 0, maxBatch)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		select {
		case <-l.stop:
			return
		case e := <-l.sub.C():
			batch = append(batch[:0], recordOf(e))
		}
		linger.Reset(l.opts.FlushDelay)
	fill:
		for len(batch) < maxBatch {
			select { // what is queued first, so a busy writer always fills its batch
			case e := <-l.sub.C():
				batch = append(batch, recordOf(e))
				continue
			default:
			}
			select {
			case e := <-l.sub.C():
				batch = append(batch, recordOf(e))
			case <-linger.C:
				break fill
			case <-l.stop:
				break fill // written now; Close writes what follows
			}
		}
		linger.Stop()
		l.write(l.noteDropped(batch))
	}
}

// drain writes what the queue holds; the subscription has left the bus.
func (l *Log) drain() {
	batch := make([]Record, 0, maxBatch)
	for {
		batch = batch[:0]
	fill:
		for len(batch) < maxBatch {
			select {
			case e := <-l.sub.C():
				batch = append(batch, recordOf(e))
			default:
				break fill
			}
		}
		batch = l.noteDropped(batch)
		if len(batch) == 0 {
			return
		}
		l.write(batch)
	}
}

// noteDropped appends a record of the events dropped since the last one noted.
func (l *Log) noteDropped(batch []Record) []Record {
	if l.sub == nil {
		return batch
	}
	total := l.sub.Dropped()
	prev := l.notedDrops.Load()
	if total <= prev {
		return batch
	}
	l.notedDrops.Store(total)
	n := total - prev
	l.log.Warn("audit log: events did not fit in the queue and are missing from the log", "events", n, "queue_size", l.opts.QueueSize)
	return append(batch, Record{
		ID:     guid.New("EV_"),
		Time:   l.opts.Now().UTC(),
		Kind:   KindEventsDropped,
		Actor:  events.Server,
		Reason: fmt.Sprintf("%d events did not fit in the audit queue (audit.queue_size %d) and are not in the log", n, l.opts.QueueSize),
	})
}

func (l *Log) write(batch []Record) {
	if len(batch) == 0 {
		return
	}
	if err := l.opts.Store.AppendAudit(batch); err != nil {
		l.failed.Add(uint64(len(batch)))
		l.log.Error("audit log: records could not be written", "records", len(batch), "error", err)
		return
	}
	l.written.Add(uint64(len(batch)))
}

// recordOf is the record of an event, with the tenant of its room as it is now (the
// room may be gone when the record is read).
func recordOf(e *events.Event) Record {
	r := Record{
		ID:                    e.ID,
		Time:                  e.Time.UTC(),
		Kind:                  string(e.Kind),
		Room:                  e.Room.GetName(),
		RoomSID:               e.Room.GetSid(),
		Tenant:                tenantOf(e),
		ParticipantIdentity:   e.Participant.GetIdentity(),
		ParticipantSID:        e.Participant.GetSid(),
		ParticipantName:       e.Participant.GetName(),
		TrackSID:              e.Track.GetSid(),
		Actor:                 e.Actor,
		Reason:                e.Reason,
		Changes:               e.Changes,
		Destination:           e.Destination,
		Tracks:                e.Tracks,
		Topic:                 e.Topic,
		DestinationIdentities: e.Identities,
	}
	if !e.Until.IsZero() {
		u := e.Until.UTC()
		r.Until = &u
	}
	return r
}

// sweeper applies the retention every SweepInterval, and once at start.
func (l *Log) sweeper() {
	defer l.done.Done()
	t := time.NewTicker(l.opts.SweepInterval)
	defer t.Stop()
	for {
		if err := l.Sweep(); err != nil {
			l.log.Warn("audit log: applying the retention failed", "error", err)
		}
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
	}
}

// Sweep deletes the records older than the retention, then the oldest beyond
// MaxRecords, a bounded number per transaction.
func (l *Log) Sweep() error {
	deleted := 0
	if l.opts.Retention > 0 {
		cutoff := l.opts.Now().Add(-l.opts.Retention)
		for {
			n, err := l.opts.Store.DeleteAuditBefore(cutoff, sweepBatch)
			deleted += n
			if err != nil {
				return err
			}
			if n < sweepBatch || l.stopping() {
				break
			}
		}
	}
	if l.opts.MaxRecords > 0 {
		for {
			n, err := l.opts.Store.TrimAudit(l.opts.MaxRecords, sweepBatch)
			deleted += n
			if err != nil {
				return err
			}
			if n < sweepBatch || l.stopping() {
				break
			}
		}
	}
	if deleted > 0 {
		l.log.Debug("audit log: retention applied", "deleted", deleted)
	}
	return nil
}

func (l *Log) stopping() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// tenantOf is the tenant an event belongs to: its room's, or the tenant a ban names.
func tenantOf(e *events.Event) string {
	if t := room.TenantOf(e.Room.GetMetadata()); t != "" {
		return t
	}
	return e.Tenant
}

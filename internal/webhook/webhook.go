// Package webhook sends LiveKit's webhooks, and Usher's moderation events to the URLs
// that ask for them, from the event bus, through a durable outbox: every event is
// written to the embedded store before it is sent, each URL has its own worker that
// delivers in order and retries with exponential backoff and jitter for a bounded
// time, and what is still pending at a restart is delivered after it. A receiver that
// is down or slow delays nothing but its own deliveries.
//
// Bodies and signatures are LiveKit's (livekit.WebhookEvent in protojson, signed with
// an access token carrying the body's SHA-256), so every LiveKit receiver works
// unchanged.
package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	lkwebhook "github.com/livekit/protocol/webhook"

	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/store"
)

// Outbox is where events wait for their receivers: the embedded store.
type Outbox interface {
	AppendOutbox(entries []store.OutboxEntry) error
	OutboxAfter(stream string, after uint64, limit int) ([]store.OutboxEntry, error)
	DeleteOutbox(stream string, seqs []uint64) error
	OutboxCounts() (map[string]int, error)
	DeleteOutboxStreams(keep func(stream string) bool) (map[string]int, error)
}

var _ Outbox = (*store.Store)(nil)

// Endpoint is one webhook URL.
type Endpoint struct {
	URL string
	// Moderation makes the URL also get Usher's moderation events, and every event it
	// gets carry the Extension (the actor …).
	Moderation bool
}

// Options configures a Sender.
type Options struct {
	Endpoints []Endpoint
	// Filter selects events by name, as livekit-server's webhook.filter_params.
	Filter lkwebhook.FilterParams
	// APIKey and APISecret sign every webhook.
	APIKey, APISecret string
	// RetryFor bounds how long one event is retried, from when it happened.
	RetryFor time.Duration
	// RetryMinInterval and RetryMaxInterval bound the backoff between attempts.
	RetryMinInterval, RetryMaxInterval time.Duration
	// RequestTimeout bounds one attempt.
	RequestTimeout time.Duration
	// QueueSize bounds the bus subscription: events waiting to be written.
	QueueSize int
	// MaxPending bounds the events in the outbox of one URL.
	MaxPending int

	Outbox Outbox
	Bus    *events.Bus
	Logger *slog.Logger
	// Transport sends the requests (default: a clone of http.DefaultTransport).
	Transport http.RoundTripper
}

// Defaults of the Options left zero.
const (
	DefaultRetryFor         = 24 * time.Hour
	DefaultRetryMinInterval = time.Second
	DefaultRetryMaxInterval = 5 * time.Minute
	DefaultRequestTimeout   = 10 * time.Second
	DefaultQueueSize        = 10000
	DefaultMaxPending       = 100000
)

// Bounds of one pass of the writer and of the workers, how long each waits to share
// a disk sync with what comes next (the writer for more events, a worker before
// deleting delivered entries), and the wait for healthy receivers to take what is
// pending when the sender stops.
const (
	writeBatch   = 1024
	readBatch    = 64
	writeLinger  = 5 * time.Millisecond
	deleteLinger = 100 * time.Millisecond
	drainGrace   = 5 * time.Second
	// maxResponseHeader bounds a receiver's response headers; only the status is used.
	maxResponseHeader = 64 << 10
)

// ErrInvalidOptions is returned by Start for options it cannot run with.
var ErrInvalidOptions = errors.New("webhook: invalid options")

// Sender writes the bus's events to the outbox and delivers them.
type Sender struct {
	opts    Options
	log     *slog.Logger
	client  *http.Client
	sub     *events.Subscription
	workers []*worker

	stopWriter chan struct{}
	writerDone chan struct{}
	stopOnce   sync.Once

	// written counts the events the writer has handled (benchmarks wait on it).
	written atomic.Uint64
	entries []store.OutboxEntry // the writer's reused batch
}

// StreamOf names the outbox stream of a URL: a hash, so that the store holds no URL.
func StreamOf(url string) string {
	sum := sha256.Sum256([]byte(url))
	return "u/" + hex.EncodeToString(sum[:16])
}

// Start subscribes to the bus, loads what the outbox still holds for each URL, and
// starts the writer and one delivery worker per URL. Entries of URLs no longer
// configured are deleted, with a warning.
func Start(opts Options) (*Sender, error) {
	switch {
	case len(opts.Endpoints) == 0:
		return nil, fmt.Errorf("%w: no URL", ErrInvalidOptions)
	case opts.APIKey == "" || opts.APISecret == "":
		return nil, fmt.Errorf("%w: no signing key", ErrInvalidOptions)
	case opts.Outbox == nil || opts.Bus == nil:
		return nil, fmt.Errorf("%w: no outbox or bus", ErrInvalidOptions)
	}
	setDefault(&opts.RetryFor, DefaultRetryFor)
	setDefault(&opts.RetryMinInterval, DefaultRetryMinInterval)
	setDefault(&opts.RetryMaxInterval, DefaultRetryMaxInterval)
	setDefault(&opts.RequestTimeout, DefaultRequestTimeout)
	setDefault(&opts.QueueSize, DefaultQueueSize)
	setDefault(&opts.MaxPending, DefaultMaxPending)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := opts.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxResponseHeaderBytes = maxResponseHeader
		tr = t
	}
	s := &Sender{
		opts: opts,
		log:  log,
		client: &http.Client{
			Transport: tr,
			Timeout:   opts.RequestTimeout,
			// A redirect is the receiver's answer, not followed: a webhook's URL is
			// configured, and following would re-send the body elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		stopWriter: make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	keep := map[string]bool{}
	for _, ep := range opts.Endpoints {
		w := newWorker(s, ep)
		s.workers = append(s.workers, w)
		keep[w.stream] = true
	}
	removed, err := opts.Outbox.DeleteOutboxStreams(func(stream string) bool { return keep[stream] })
	if err != nil {
		return nil, fmt.Errorf("webhook outbox: %w", err)
	}
	for _, n := range removed {
		log.Warn("webhook: dropped undelivered events of a URL no longer configured", "events", n)
	}
	counts, err := opts.Outbox.OutboxCounts()
	if err != nil {
		return nil, fmt.Errorf("webhook outbox: %w", err)
	}
	s.sub = opts.Bus.Subscribe("webhook", opts.QueueSize)
	for _, w := range s.workers {
		w.depth.Store(int64(counts[w.stream]))
		if n := counts[w.stream]; n > 0 {
			log.Info("webhook: delivering events pending from before the restart", "url", w.display, "events", n)
		}
		go w.run()
	}
	go s.writer()
	return s, nil
}

func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Stop stops taking events, writes every event already queued to the outbox, gives
// the receivers that answer a few seconds (bounded by ctx) to take what is pending,
// and stops the workers. What is not delivered stays in the outbox for the next
// start. Stop returns once every goroutine of the sender has ended. A nil Sender has
// nothing to stop.
func (s *Sender) Stop(ctx context.Context) {
	if s == nil {
		return
	}
	s.stopOnce.Do(func() {
		s.opts.Bus.Unsubscribe(s.sub)
		close(s.stopWriter)
		<-s.writerDone
		for _, w := range s.workers {
			close(w.drain)
		}
		grace := time.NewTimer(drainGrace)
		defer grace.Stop()
	wait:
		for _, w := range s.workers {
			select {
			case <-w.done:
			case <-ctx.Done():
				break wait
			case <-grace.C:
				break wait
			}
		}
		for _, w := range s.workers {
			w.cancel()
			<-w.done
		}
		s.client.CloseIdleConnections()
	})
}

// wants reports whether ep gets events of kind k.
func (s *Sender) wants(ep Endpoint, k events.Kind) bool {
	if k.Moderation() && !ep.Moderation {
		return false
	}
	return s.opts.Filter.IsAllowed(string(k))
}

// writer moves events from the bus subscription to the outbox: whatever is queued
// when it wakes is written in one transaction.
func (s *Sender) writer() {
	defer close(s.writerDone)
	batch := make([]*events.Event, 0, writeBatch)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		select {
		case e := <-s.sub.C():
			batch = s.gather(s.fill(append(batch[:0], e)), linger)
			s.write(batch)
		case <-s.stopWriter:
			for {
				batch = s.fill(batch[:0])
				if len(batch) == 0 {
					return
				}
				s.write(batch)
			}
		}
	}
}

// gather waits up to writeLinger for more events after the first, so that the events
// of a burst share one synced transaction (each commit costs a disk sync; meanwhile
// the events wait in memory, as they do in the bus queue).
func (s *Sender) gather(batch []*events.Event, t *time.Timer) []*events.Event {
	if len(batch) >= writeBatch {
		return batch
	}
	t.Reset(writeLinger)
	defer t.Stop()
	for len(batch) < writeBatch {
		select {
		case e := <-s.sub.C():
			batch = append(batch, e)
		case <-t.C:
			return batch
		case <-s.stopWriter:
			return batch
		}
	}
	return batch
}

// fill adds what the subscription holds to batch, up to writeBatch events.
func (s *Sender) fill(batch []*events.Event) []*events.Event {
	for len(batch) < writeBatch {
		select {
		case e := <-s.sub.C():
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// write appends the bodies of batch for every URL that wants them, in one transaction,
// then wakes the workers.
func (s *Sender) write(batch []*events.Event) {
	entries := s.entries[:0]
	added := make([]int64, len(s.workers))
	overflow := make([]int, len(s.workers))
	for _, e := range batch {
		var plain, extended []byte
		for i, w := range s.workers {
			if !s.wants(w.ep, e.Kind) {
				continue
			}
			if w.depth.Load()+added[i] >= int64(s.opts.MaxPending) {
				overflow[i]++
				continue
			}
			body := &plain
			if w.ep.Moderation {
				body = &extended
			}
			if *body == nil {
				b, err := Encode(e, w.ep.Moderation)
				if err != nil {
					s.log.Error("webhook: an event could not be encoded; dropped", "event", e.Kind, "id", e.ID, "error", err)
					break
				}
				*body = b
			}
			entries = append(entries, store.OutboxEntry{
				Stream: w.stream, Created: e.Time, ID: label(e.ID), Kind: label(string(e.Kind)), Body: *body,
			})
			added[i]++
		}
	}
	for i, n := range overflow {
		if n > 0 {
			w := s.workers[i]
			w.dropped(dropOverflow, uint64(n))
			s.log.Error("webhook: the URL has max_pending events waiting; newer events are dropped",
				"url", w.display, "dropped", n, "max_pending", s.opts.MaxPending)
		}
	}
	if err := s.appendOutbox(entries); err != nil {
		for i, n := range added {
			if n > 0 {
				s.workers[i].dropped(dropUnwritten, uint64(n))
			}
		}
		s.log.Error("webhook: events could not be written to the outbox; dropped", "events", len(entries), "error", err)
	} else {
		for i, n := range added {
			if n > 0 {
				s.workers[i].depth.Add(n)
				s.workers[i].poke()
			}
		}
	}
	clear(entries) // let the bodies go
	s.entries = entries[:0]
	s.written.Add(uint64(len(batch)))
}

// appendOutbox writes entries, trying again briefly if the store fails.
func (s *Sender) appendOutbox(entries []store.OutboxEntry) error {
	var err error
	for wait := 50 * time.Millisecond; wait <= 200*time.Millisecond; wait *= 2 {
		if err = s.opts.Outbox.AppendOutbox(entries); err == nil {
			return nil
		}
		time.Sleep(wait)
	}
	return err
}

// label bounds an event's ID or kind for the outbox's log fields.
func label(s string) string {
	if len(s) > store.MaxOutboxLabel {
		return s[:store.MaxOutboxLabel]
	}
	return s
}

// Written returns how many events the writer has taken from the bus.
func (s *Sender) Written() uint64 { return s.written.Load() }

package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lkwebhook "github.com/livekit/protocol/webhook"

	"github.com/usher-rtc/usher/internal/store"
)

// Why an event was dropped for a URL.
type dropReason int

const (
	// dropRejected: the receiver answered a status that is not retried (a 4xx …).
	dropRejected dropReason = iota
	// dropExpired: retried for retry_for without success.
	dropExpired
	// dropOverflow: the URL already had max_pending events waiting.
	dropOverflow
	// dropUnwritten: the outbox could not be written (or an entry read back).
	dropUnwritten
	numDropReasons
)

// worker delivers the outbox stream of one URL, in order, one request at a time.
type worker struct {
	s       *Sender
	ep      Endpoint
	stream  string
	display string // the URL without credentials, for logs and the status

	wake   chan struct{} // new entries were written
	drain  chan struct{} // closed by Stop: leave when empty or at the first failure
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	depth     atomic.Int64 // entries in the outbox not yet delivered or dropped
	delivered atomic.Uint64
	drops     [numDropReasons]atomic.Uint64

	mu          sync.Mutex
	lastSuccess time.Time
	lastError   string
	lastErrorAt time.Time
	attempts    int // failed attempts of the event being retried
	nextAttempt time.Time

	toDelete []uint64
}

func newWorker(s *Sender, ep Endpoint) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	return &worker{
		s:       s,
		ep:      ep,
		stream:  StreamOf(ep.URL),
		display: RedactURL(ep.URL),
		wake:    make(chan struct{}, 1),
		drain:   make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
	}
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) dropped(r dropReason, n uint64) { w.drops[r].Add(n) }

func (w *worker) draining() bool {
	select {
	case <-w.drain:
		return true
	default:
		return false
	}
}

// run delivers the stream until the sender stops.
func (w *worker) run() {
	defer close(w.done)
	var after uint64
	for {
		entries, err := w.s.opts.Outbox.OutboxAfter(w.stream, after, readBatch)
		if err != nil {
			w.s.log.Error("webhook: reading the outbox failed", "url", w.display, "error", err)
			if !w.sleep(time.Second) {
				return
			}
			continue
		}
		if len(entries) == 0 {
			// Delivered entries are deleted once the stream is idle for a moment, or
			// readBatch at a time: a steady trickle of events does not cost a disk
			// sync each (a crash before the deletion sends them again, same IDs).
			var idle <-chan time.Time
			if len(w.toDelete) > 0 {
				idle = time.After(deleteLinger)
			}
			select {
			case <-idle:
				w.flush()
			case <-w.wake:
			case <-w.drain:
				w.flush()
				return
			case <-w.ctx.Done():
				w.flush()
				return
			}
			continue
		}
		for i := range entries {
			if !w.deliver(&entries[i]) {
				w.flush()
				return
			}
			after = entries[i].Seq
		}
		if len(w.toDelete) >= readBatch {
			w.flush()
		}
	}
}

// finished marks an entry delivered or dropped: it leaves the outbox at the next flush.
func (w *worker) finished(e *store.OutboxEntry) {
	w.toDelete = append(w.toDelete, e.Seq)
	w.depth.Add(-1)
}

// flush deletes the finished entries from the outbox. One that could not be deleted
// is delivered again after a restart, with the same event ID.
func (w *worker) flush() {
	if len(w.toDelete) == 0 {
		return
	}
	if err := w.s.opts.Outbox.DeleteOutbox(w.stream, w.toDelete); err != nil {
		w.s.log.Warn("webhook: deleting delivered events from the outbox failed; they will be sent again after a restart",
			"url", w.display, "events", len(w.toDelete), "error", err)
	}
	w.toDelete = w.toDelete[:0]
}

// deliver sends one entry until it is delivered or dropped (true), or the sender stops
// first (false: the entry stays in the outbox).
func (w *worker) deliver(e *store.OutboxEntry) bool {
	log := w.s.log.With("url", w.display, "event", e.Kind, "id", e.ID)
	if e.Body == nil {
		log.Error("webhook: an outbox entry could not be read; dropped")
		w.dropped(dropUnwritten, 1)
		w.finished(e)
		return true
	}
	deadline := e.Created.Add(w.s.opts.RetryFor)
	if time.Now().After(deadline) {
		log.Error("webhook: event older than retry_for when its turn came; dropped", "retry_for", w.s.opts.RetryFor)
		w.dropped(dropExpired, 1)
		w.finished(e)
		return true
	}
	for attempt := 0; ; attempt++ {
		res := w.post(e.Body)
		switch res.outcome {
		case delivered:
			w.mu.Lock()
			w.lastSuccess, w.attempts, w.nextAttempt = time.Now(), 0, time.Time{}
			w.mu.Unlock()
			w.delivered.Add(1)
			w.finished(e)
			return true
		case stopped:
			return false
		case rejected:
			w.failed(res.err, 0, time.Time{})
			log.Error("webhook: the receiver refused the event; dropped (a 4xx is not retried)", "error", res.err)
			w.dropped(dropRejected, 1)
			w.finished(e)
			return true
		}
		now := time.Now()
		if now.After(deadline) {
			w.failed(res.err, 0, time.Time{})
			log.Error("webhook: event not delivered within retry_for; dropped", "attempts", attempt+1, "retry_for", w.s.opts.RetryFor, "error", res.err)
			w.dropped(dropExpired, 1)
			w.finished(e)
			return true
		}
		wait := max(Backoff(attempt, w.s.opts.RetryMinInterval, w.s.opts.RetryMaxInterval), min(res.retryAfter, w.s.opts.RetryMaxInterval))
		wait = min(wait, deadline.Sub(now))
		w.failed(res.err, attempt+1, now.Add(wait))
		if attempt == 0 {
			log.Warn("webhook: delivery failed; retrying", "error", res.err)
		} else {
			log.Debug("webhook: delivery failed again", "attempts", attempt+1, "next_in", wait, "error", res.err)
		}
		if w.draining() {
			return false
		}
		w.flush()
		if !w.sleep(wait) {
			return false
		}
	}
}

func (w *worker) failed(err error, attempts int, next time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastError, w.lastErrorAt = err.Error(), time.Now()
	w.attempts, w.nextAttempt = attempts, next
}

// sleep waits d, or returns false when the sender stops first.
func (w *worker) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.drain:
		return false
	case <-w.ctx.Done():
		return false
	}
}

type outcome int

const (
	delivered outcome = iota
	retry
	rejected
	stopped
)

type result struct {
	outcome    outcome
	err        error
	retryAfter time.Duration
}

// errStatus is a receiver's answer other than 2xx.
var errStatus = errors.New("receiver answered")

// post makes one attempt: a 2xx is delivered; 408, 425, 429 and 5xx other than 501
// are retried, as are network errors; anything else (4xx, 3xx, 501) is the receiver's
// refusal, as livekit-server does not retry it either.
func (w *worker) post(body []byte) result {
	token, err := Sign(body, w.s.opts.APIKey, w.s.opts.APISecret)
	if err != nil {
		return result{outcome: retry, err: fmt.Errorf("signing: %w", err)}
	}
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, w.ep.URL, bytes.NewReader(body))
	if err != nil {
		return result{outcome: rejected, err: errors.New("the URL cannot be requested")}
	}
	req.Header.Set("Authorization", token)
	req.Header.Set("Content-Type", lkwebhook.ContentType)
	req.Header.Set("User-Agent", lkwebhook.DefaultUserAgent)
	resp, err := w.s.client.Do(req)
	if err != nil {
		if w.ctx.Err() != nil {
			return result{outcome: stopped}
		}
		return result{outcome: retry, err: redactError(err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return result{outcome: delivered}
	}
	err = fmt.Errorf("%w %d %s", errStatus, code, http.StatusText(code))
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests,
		code >= 500 && code != http.StatusNotImplemented:
		return result{outcome: retry, err: err, retryAfter: retryAfter(resp.Header, time.Now())}
	}
	return result{outcome: rejected, err: err}
}

// redactError drops the URL from a client error: it may carry the receiver's
// credentials.
func redactError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errors.New("request timed out")
		}
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// RedactURL returns u without what may be a secret: the user information and the
// query values are replaced by "***".
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	hadUser := p.User != nil
	p.User = nil
	if p.RawQuery != "" {
		q := p.Query()
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, url.QueryEscape(k)+"=***")
		}
		slices.Sort(keys)
		p.RawQuery = strings.Join(keys, "&")
	}
	p.Fragment, p.RawFragment = "", ""
	out := p.String()
	if hadUser {
		out = strings.Replace(out, "://", "://***@", 1)
	}
	return out
}

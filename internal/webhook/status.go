package webhook

import "time"

// Status is the delivery state of every webhook URL.
type Status struct {
	// URLs has one entry per configured URL, in configuration order (webhook.urls,
	// then webhook.moderation_urls).
	URLs []URLStatus `json:"urls"`
	// QueueDepth is how many events wait in memory to be written to the outbox.
	QueueDepth int `json:"queue_depth"`
	// QueueDropped is how many events did not fit in that queue (webhook.queue_size)
	// since the start: they reached no URL.
	QueueDropped uint64 `json:"queue_dropped"`
}

// URLStatus is the delivery state of one URL. Counters start at zero with the process;
// Pending counts what the outbox holds, including events from before a restart.
type URLStatus struct {
	// URL is the configured URL with its user information and query values replaced
	// by "***".
	URL string `json:"url"`
	// Moderation is true for a URL of webhook.moderation_urls.
	Moderation bool `json:"moderation"`
	// Pending is how many events wait in the outbox for this URL.
	Pending int64 `json:"pending"`
	// Delivered counts events the receiver accepted (2xx).
	Delivered uint64 `json:"delivered"`
	// Dropped counts events given up, the sum of the four reasons below.
	Dropped uint64 `json:"dropped"`
	// DroppedRejected: the receiver answered a status that is not retried (4xx …).
	DroppedRejected uint64 `json:"dropped_rejected"`
	// DroppedExpired: not delivered within webhook.retry_for.
	DroppedExpired uint64 `json:"dropped_expired"`
	// DroppedOverflow: webhook.max_pending events were already waiting.
	DroppedOverflow uint64 `json:"dropped_overflow"`
	// DroppedUnwritten: the outbox could not be written or read.
	DroppedUnwritten uint64 `json:"dropped_unwritten"`
	// LastSuccessAt is when the receiver last accepted an event.
	LastSuccessAt *time.Time `json:"last_success_at,omitempty"`
	// LastError is the last failure ("receiver answered 503 Service Unavailable",
	// "dial: connection refused" …) and LastErrorAt its time.
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	// Attempts is how many times the event at the head of the queue has failed (0
	// when nothing is being retried), and NextAttemptAt when it is tried again.
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
}

// Status returns the delivery state of every URL. A nil Sender (no webhook
// configured) has none.
func (s *Sender) Status() Status {
	if s == nil {
		return Status{URLs: []URLStatus{}}
	}
	st := Status{URLs: make([]URLStatus, 0, len(s.workers)), QueueDepth: s.sub.Len(), QueueDropped: s.sub.Dropped()}
	for _, w := range s.workers {
		u := URLStatus{
			URL:              w.display,
			Moderation:       w.ep.Moderation,
			Pending:          max(w.depth.Load(), 0),
			Delivered:        w.delivered.Load(),
			DroppedRejected:  w.drops[dropRejected].Load(),
			DroppedExpired:   w.drops[dropExpired].Load(),
			DroppedOverflow:  w.drops[dropOverflow].Load(),
			DroppedUnwritten: w.drops[dropUnwritten].Load(),
		}
		u.Dropped = u.DroppedRejected + u.DroppedExpired + u.DroppedOverflow + u.DroppedUnwritten
		w.mu.Lock()
		u.LastSuccessAt = timePtr(w.lastSuccess)
		u.LastError, u.LastErrorAt = w.lastError, timePtr(w.lastErrorAt)
		u.Attempts, u.NextAttemptAt = w.attempts, timePtr(w.nextAttempt)
		w.mu.Unlock()
		st.URLs = append(st.URLs, u)
	}
	return st
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

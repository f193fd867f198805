package testutil

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
)

// LogRecord is one line of the server's log, as a test sees it.
type LogRecord struct {
	Message string
	// Attrs holds every attribute of the record and of the logger it was written
	// with, by key (group names are dropped), formatted with fmt's %v.
	Attrs map[string]string
}

// WatchLog returns a channel that is closed once the server logs a record matching
// match. Only records logged after the call are seen. Use it where the only outward
// sign that the server handled something is its log (a data packet it dropped), so
// a test can wait for that instead of sleeping.
func (s *TestServer) WatchLog(match func(LogRecord) bool) <-chan struct{} {
	return s.logs.add(match)
}

// logWatchers are the pending WatchLog calls of one server.
type logWatchers struct {
	n  atomic.Int32 // len(list), read without the lock on every log call
	mu sync.Mutex
	// list holds the watches not yet matched.
	list []*logWatch
}

type logWatch struct {
	match func(LogRecord) bool
	done  chan struct{}
}

func (w *logWatchers) add(match func(LogRecord) bool) <-chan struct{} {
	lw := &logWatch{match: match, done: make(chan struct{})}
	w.mu.Lock()
	w.list = append(w.list, lw)
	w.n.Store(int32(len(w.list)))
	w.mu.Unlock()
	return lw.done
}

func (w *logWatchers) offer(rec LogRecord) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = slices.DeleteFunc(w.list, func(lw *logWatch) bool {
		if lw.match(rec) {
			close(lw.done)
			return true
		}
		return false
	})
	w.n.Store(int32(len(w.list)))
}

// logTap is the test server's slog handler: it passes records to out (nil discards
// them) and offers them to the watchers. While nobody watches and out is nil, every
// level is disabled, so logging costs the server nothing.
type logTap struct {
	out      slog.Handler
	attrs    []slog.Attr
	watchers *logWatchers
}

func (h *logTap) Enabled(ctx context.Context, l slog.Level) bool {
	return h.watchers.n.Load() > 0 || h.out != nil && h.out.Enabled(ctx, l)
}

func (h *logTap) Handle(ctx context.Context, r slog.Record) error {
	if h.watchers.n.Load() > 0 {
		rec := LogRecord{Message: r.Message, Attrs: make(map[string]string, len(h.attrs)+r.NumAttrs())}
		for _, a := range h.attrs {
			addAttr(rec.Attrs, a)
		}
		r.Attrs(func(a slog.Attr) bool {
			addAttr(rec.Attrs, a)
			return true
		})
		h.watchers.offer(rec)
	}
	if h.out != nil && h.out.Enabled(ctx, r.Level) {
		return h.out.Handle(ctx, r)
	}
	return nil
}

func addAttr(m map[string]string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			addAttr(m, g)
		}
		return
	}
	m[a.Key] = fmt.Sprint(v.Any())
}

func (h *logTap) WithAttrs(as []slog.Attr) slog.Handler {
	c := &logTap{attrs: append(slices.Clip(h.attrs), as...), watchers: h.watchers}
	if h.out != nil {
		c.out = h.out.WithAttrs(as)
	}
	return c
}

func (h *logTap) WithGroup(name string) slog.Handler {
	c := &logTap{attrs: h.attrs, watchers: h.watchers}
	if h.out != nil {
		c.out = h.out.WithGroup(name)
	}
	return c
}

package testutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lkwebhook "github.com/livekit/protocol/webhook"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/webhook"
)

// ReceivedWebhook is one request a WebhookReceiver took.
type ReceivedWebhook struct {
	// Event is what the official receiver (webhook.ReceiveWebhookEvent) decoded.
	Event *livekit.WebhookEvent
	// Ext is Usher's extension of the body, nil when the body has none.
	Ext *webhook.Extension
	// Body is the raw body; Status what the receiver answered.
	Body   []byte
	Status int
}

// WebhookReceiver is a real HTTP webhook receiver on 127.0.0.1 that checks every
// request as a LiveKit backend does, with the Go SDK's webhook.ReceiveWebhookEvent and
// the test key. It can answer an error status, hold requests, or stop listening.
type WebhookReceiver struct {
	// URL is the receiver's address (plus any path a test adds).
	URL string

	t    testing.TB
	addr string
	kp   lkauth.KeyProvider

	mu      sync.Mutex
	srv     *http.Server
	status  int
	hold    chan struct{} // non-nil: requests wait until it is closed
	held    int
	got     []ReceivedWebhook
	bad     []error
	changed chan struct{}
}

// NewWebhookReceiver starts a receiver that accepts (204) every valid webhook signed
// with the test key, and stops it when the test ends.
func NewWebhookReceiver(t testing.TB) *WebhookReceiver {
	t.Helper()
	r := &WebhookReceiver{t: t, kp: lkauth.NewSimpleKeyProvider(APIKey, APISecret), status: http.StatusNoContent, changed: make(chan struct{})}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.URL = "http://" + r.addr + "/hook"
	r.serve(ln)
	t.Cleanup(func() {
		r.Release()
		r.Down()
	})
	return r
}

func (r *WebhookReceiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 10 * time.Second}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (r *WebhookReceiver) handle(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 10<<20))
	req.Body = io.NopCloser(bytes.NewReader(body))
	ev, err := lkwebhook.ReceiveWebhookEvent(req, r.kp)
	if err == nil && req.Header.Get("Content-Type") != lkwebhook.ContentType {
		err = errors.New("content type " + req.Header.Get("Content-Type"))
	}
	r.mu.Lock()
	hold := r.hold
	if hold != nil {
		r.held++
		r.signalLocked()
	}
	r.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-req.Context().Done():
			return
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.bad = append(r.bad, err)
		r.signalLocked()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rec := ReceivedWebhook{Event: ev, Body: body, Status: r.status}
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) == nil && raw[webhook.ExtensionKey] != nil {
		rec.Ext = &webhook.Extension{}
		if err := json.Unmarshal(raw[webhook.ExtensionKey], rec.Ext); err != nil {
			r.bad = append(r.bad, err)
		}
	}
	r.got = append(r.got, rec)
	r.signalLocked()
	w.WriteHeader(r.status)
}

func (r *WebhookReceiver) signalLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// SetStatus makes the receiver answer code from now on.
func (r *WebhookReceiver) SetStatus(code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = code
}

// Hold makes requests wait, from now on, until Release.
func (r *WebhookReceiver) Hold() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hold == nil {
		r.hold = make(chan struct{})
	}
}

// Release lets held requests go on.
func (r *WebhookReceiver) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hold != nil {
		close(r.hold)
		r.hold = nil
	}
}

// Held returns how many requests have been held so far.
func (r *WebhookReceiver) Held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

// Down stops listening: connections are refused until Up.
func (r *WebhookReceiver) Down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Up listens again on the same address.
func (r *WebhookReceiver) Up() {
	r.t.Helper()
	ln, err := net.Listen("tcp4", r.addr)
	if err != nil {
		r.t.Fatalf("receiver back up on %s: %v", r.addr, err)
	}
	r.serve(ln)
}

// All returns every valid request received, answered or not with a 2xx.
func (r *WebhookReceiver) All() []ReceivedWebhook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ReceivedWebhook(nil), r.got...)
}

// Accepted returns the valid requests answered with a 2xx, in arrival order.
func (r *WebhookReceiver) Accepted() []ReceivedWebhook {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ReceivedWebhook
	for _, g := range r.got {
		if g.Status >= 200 && g.Status < 300 {
			out = append(out, g)
		}
	}
	return out
}

// Invalid returns the errors of requests that failed the SDK's checks.
func (r *WebhookReceiver) Invalid() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.bad...)
}

// WaitFor waits until cond holds for the receiver, waking on every request, or fails
// the test after timeout.
func (r *WebhookReceiver) WaitFor(timeout time.Duration, what string, cond func(r *WebhookReceiver) bool) {
	r.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		if cond(r) {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			r.t.Fatalf("webhook receiver: %s not within %s (%d accepted, %d received, %d invalid)",
				what, timeout, len(r.Accepted()), len(r.All()), len(r.Invalid()))
		}
	}
}

// WaitAccepted waits until n requests were accepted and returns them.
func (r *WebhookReceiver) WaitAccepted(timeout time.Duration, n int) []ReceivedWebhook {
	r.t.Helper()
	r.WaitFor(timeout, "accepted requests", func(r *WebhookReceiver) bool { return len(r.Accepted()) >= n })
	return r.Accepted()
}

// CheckWebhooks fails the test unless got carries exactly the events want, in order,
// each with the body LiveKit would send (event, room, participant, track, the
// event's ID, created_at) and, when ext, Usher's extension with the event's actor,
// reason, changes and destination; without ext the body must not have it.
func CheckWebhooks(t testing.TB, who string, got []ReceivedWebhook, want []*events.Event, ext bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d webhooks %v, want %d %v", who, len(got), receivedKinds(got), len(want), eventKinds(want))
	}
	for i, e := range want {
		g := got[i]
		wantEv := &livekit.WebhookEvent{Event: string(e.Kind), Room: e.Room, Participant: e.Participant, Track: e.Track, Id: e.ID, CreatedAt: e.Time.Unix()}
		if e.Kind == events.RoomFinished {
			wantEv.RoomEndReason = webhook.RoomEndReason(e.Reason)
		}
		if !proto.Equal(g.Event, wantEv) {
			t.Errorf("%s #%d: got %v\nwant %v", who, i, g.Event, wantEv)
		}
		switch {
		case !ext && g.Ext != nil:
			t.Errorf("%s #%d (%s): carries Usher's extension: %s", who, i, e.Kind, g.Body)
		case ext && g.Ext == nil:
			t.Errorf("%s #%d (%s): no extension: %s", who, i, e.Kind, g.Body)
		case ext:
			x := g.Ext
			until := int64(0)
			if !e.Until.IsZero() {
				until = e.Until.Unix()
			}
			if x.Actor != e.Actor || x.Reason != e.Reason || x.Destination != e.Destination || !x.Time.Equal(e.Time) ||
				fmt.Sprint(x.Changes) != fmt.Sprint(e.Changes) || x.Until != until || x.Topic != e.Topic {
				t.Errorf("%s #%d (%s): extension %+v, event %+v", who, i, e.Kind, x, e)
			}
		}
	}
}

func receivedKinds(got []ReceivedWebhook) []string {
	out := make([]string, len(got))
	for i, g := range got {
		out[i] = g.Event.GetEvent()
	}
	return out
}

func eventKinds(evs []*events.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.Kind)
	}
	return out
}

// Distinct returns got without the repetitions of an event ID (redeliveries), in the
// order of first arrival.
func Distinct(got []ReceivedWebhook) []ReceivedWebhook {
	seen := map[string]bool{}
	var out []ReceivedWebhook
	for _, g := range got {
		if id := g.Event.GetId(); !seen[id] {
			seen[id] = true
			out = append(out, g)
		}
	}
	return out
}

// LiveKitEvents returns the events of evs that LiveKit's webhooks have.
func LiveKitEvents(evs []*events.Event) []*events.Event {
	var out []*events.Event
	for _, e := range evs {
		if !e.Kind.Moderation() {
			out = append(out, e)
		}
	}
	return out
}

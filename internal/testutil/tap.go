package testutil

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// SignalTap sits between a client and the server and records every signal message the
// server sends on the WebSockets that pass through it: what an SDK handles internally
// (subscribed_quality_update, for one) a test can then see as the wire carried it.
// Join through it with WithURL(tap.WSURL).
type SignalTap struct {
	WSURL string

	mu   sync.Mutex
	got  []*livekit.SignalResponse
	cond chan struct{}
}

// NewSignalTap starts a tap in front of srv.
func (s *TestServer) NewSignalTap(t testing.TB) *SignalTap {
	t.Helper()
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	tap := &SignalTap{cond: make(chan struct{})}
	proxy := httputil.NewSingleHostReverseProxy(target)
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			proxy.ServeHTTP(w, r)
			return
		}
		h := http.Header{}
		if a := r.Header.Get("Authorization"); a != "" {
			h.Set("Authorization", a)
		}
		up, resp, err := websocket.DefaultDialer.Dial(s.WSURL+r.URL.RequestURI(), h)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			status := http.StatusBadGateway
			if resp != nil {
				status = resp.StatusCode
			}
			http.Error(w, "tap: "+err.Error(), status)
			return
		}
		down, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			_ = up.Close()
			return
		}
		go tap.relay(down, up, false)
		go tap.relay(up, down, true)
	}))
	t.Cleanup(hs.Close)
	tap.WSURL = "ws" + strings.TrimPrefix(hs.URL, "http")
	return tap
}

// relay copies frames from src to dst; record decodes them as server messages.
func (tap *SignalTap) relay(src, dst *websocket.Conn, record bool) {
	defer func() { _ = src.Close(); _ = dst.Close() }()
	for {
		mt, data, err := src.ReadMessage()
		if err != nil {
			return
		}
		if record {
			res := &livekit.SignalResponse{}
			var derr error
			if mt == websocket.TextMessage {
				derr = protojson.Unmarshal(data, res)
			} else {
				derr = proto.Unmarshal(data, res)
			}
			if derr == nil {
				tap.mu.Lock()
				tap.got = append(tap.got, res)
				close(tap.cond)
				tap.cond = make(chan struct{})
				tap.mu.Unlock()
			}
		}
		if err := dst.WriteMessage(mt, data); err != nil {
			return
		}
	}
}

// Await waits for a server message after the first `after` ones that matches, and
// returns it with its index.
func (tap *SignalTap) Await(t testing.TB, timeout time.Duration, after int, what string, match func(*livekit.SignalResponse) bool) (*livekit.SignalResponse, int) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	i := after
	for {
		tap.mu.Lock()
		got, ch := tap.got, tap.cond
		tap.mu.Unlock()
		for ; i < len(got); i++ {
			if match(got[i]) {
				return got[i], i
			}
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("tap: no %s within %s", what, timeout)
		}
	}
}

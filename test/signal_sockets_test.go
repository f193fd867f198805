package test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

// openFDs counts the test process's open file descriptors (server and clients alike).
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

// joined dials a raw participant and waits for its JoinResponse and first token, then
// for the answer to a ping: a barrier after which the server has sent its first burst.
func joined(t *testing.T, srv *testutil.TestServer, roomName, identity string) *rawClient {
	t.Helper()
	c := dialRaw(t, srv, testutil.JoinToken(t, roomName, identity), "")
	c.await(5*time.Second, "join", func(r *livekit.SignalResponse) bool { return r.GetJoin() != nil })
	c.await(5*time.Second, "refresh_token", func(r *livekit.SignalResponse) bool { return r.GetRefreshToken() != "" })
	c.ping(5 * time.Second)
	return c
}

// ping sends a ping_req and waits for its pong_resp.
func (c *rawClient) ping(timeout time.Duration) {
	c.t.Helper()
	ts := time.Now().UnixNano()
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_PingReq{PingReq: &livekit.Ping{Timestamp: ts}}})
	c.await(timeout, "pong_resp", func(r *livekit.SignalResponse) bool { return r.GetPongResp().GetLastPingTimestamp() == ts })
}

// A client whose signal TCP connection drops without a leave must not leave its socket
// open on the server until a garbage collection happens to close it.
func TestDroppedSignalSocketsAreClosed(t *testing.T) {
	// Without GC, only the server closing its sockets brings the count back down.
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
		c.Signal.ResumeWindow = time.Minute // the sessions wait for a resume all along
	}))
	baseline := openFDs(t)
	const n = 20
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i] = joined(t, srv, "drops", fmt.Sprintf("dropper-%d", i))
	}
	t.Logf("%d descriptors before, %d with %d clients connected", baseline, openFDs(t), n)
	for _, c := range clients {
		_ = c.ws.NetConn().Close() // no leave, no close frame
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return openFDs(t) <= baseline },
		"the server still holds the dropped clients' sockets: %d descriptors open, %d before they joined", openFDs(t), baseline)
	// The participants themselves wait for a resume, as before.
	res, err := srv.RoomClient().ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: "drops"})
	if err != nil || len(res.Participants) != n {
		t.Errorf("ListParticipants: %v, %v; want %d participants waiting for their resume", res, err, n)
	}
}

// After a client's close frame the server answers and closes the TCP connection at
// once, so a client that closes before resuming (the JS SDK waits 250 ms) is not held.
func TestClientCloseFrameClosesTheConnection(t *testing.T) {
	srv := testutil.StartServer(t)
	const n = 5
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		c := joined(t, srv, "closing", fmt.Sprintf("closer-%d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := closeAndWaitEOF(c.ws, 10*time.Second); err != nil {
				errs <- fmt.Errorf("closer-%d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// closeAndWaitEOF sends a close frame and reads the raw connection until the server
// closes it, returning how long that took.
func closeAndWaitEOF(ws *websocket.Conn, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), start.Add(time.Second)); err != nil {
		return 0, err
	}
	nc := ws.NetConn()
	_ = nc.SetReadDeadline(start.Add(timeout))
	buf := make([]byte, 4096)
	for {
		_, err := nc.Read(buf)
		switch {
		case errors.Is(err, io.EOF):
			return time.Since(start), nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			return 0, fmt.Errorf("the server did not close the connection within %s of the close frame", timeout)
		case err != nil:
			return time.Since(start), nil // reset: closed too
		}
	}
}

// BenchmarkSignalClientClose measures how long the server takes to close the TCP
// connection after a client's close frame (what a browser waits for before its close
// event). Run: go test -run '^$' -bench SignalClientClose -benchtime 20x ./test/
func BenchmarkSignalClientClose(b *testing.B) {
	srv := testutil.StartServer(b)
	var total time.Duration
	timeouts := 0
	for i := range b.N {
		b.StopTimer()
		ws := benchJoin(b, srv, fmt.Sprintf("b-%d", i))
		b.StartTimer()
		d, err := closeAndWaitEOF(ws, 3*time.Second)
		if err != nil {
			timeouts++
			d = 3 * time.Second
		}
		total += d
		_ = ws.Close()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/close")
	b.ReportMetric(float64(timeouts), "not-closed-in-3s")
}

// benchJoin dials a raw participant and waits for its first burst (join, token, pong).
func benchJoin(b *testing.B, srv *testutil.TestServer, identity string) *websocket.Conn {
	b.Helper()
	h := map[string][]string{"Authorization": {"Bearer " + testutil.JoinToken(b, "bench", identity)}}
	ws, _, err := websocket.DefaultDialer.Dial(srv.WSURL+"/rtc?protocol=16", h)
	if err != nil {
		b.Fatal(err)
	}
	ping, _ := proto.Marshal(&livekit.SignalRequest{Message: &livekit.SignalRequest_PingReq{PingReq: &livekit.Ping{Timestamp: 42}}})
	gotToken := false
	for {
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		res := &livekit.SignalResponse{}
		_ = proto.Unmarshal(data, res)
		if res.GetRefreshToken() != "" && !gotToken {
			gotToken = true
			_ = ws.WriteMessage(websocket.BinaryMessage, ping)
		}
		if res.GetPongResp().GetLastPingTimestamp() == 42 {
			return ws
		}
	}
}

// Signal sockets are capped per client address and per identity in a room, for the
// whole life of the socket; a refusal comes before the upgrade with 429 and a reason.
func TestSignalConnectionCaps(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
			c.Signal.MaxConnectionsPerIP = 3
		}))
		var clients []*rawClient
		for i := range 3 {
			clients = append(clients, joined(t, srv, "capped", fmt.Sprintf("p%d", i)))
		}
		tok := testutil.JoinToken(t, "capped", "p3")
		status, body := tryDial(t, srv, tok, "protocol=16")
		if status != 429 || !strings.Contains(body, "signal.max_connections_per_ip") || !strings.Contains(body, "limit is 3") {
			t.Fatalf("4th socket from one address: %d %q, want 429 naming signal.max_connections_per_ip and its limit", status, body)
		}
		if vs, vb := rawValidate(t, srv, tok, "protocol=16"); vs != 429 || vb != body {
			t.Errorf("validate: %d %q, want the same refusal", vs, vb)
		}
		// Once one socket closes, a new one is admitted.
		_ = clients[0].ws.Close()
		testutil.Eventually(t, 5*time.Second, func() bool {
			s, _ := tryDial(t, srv, tok, "protocol=16")
			return s == 101
		}, "no socket admitted after one closed")
	})

	t.Run("per identity", func(t *testing.T) {
		srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
			c.Signal.MaxConnectionsPerIdentity = 2
			// A kicked session whose client does not read keeps its socket until a write
			// to it times out: that is how one identity comes to hold several sockets.
			c.Signal.WriteTimeout = time.Minute
		}))
		// The first connection stops reading; the server fills its buffers.
		stuck := dialStuck(t, srv, "capped", "dup")
		for i := range 200 {
			if err := srv.RoomClientUpdateRoomMetadata(t, "capped", strings.Repeat("m", 60000)+fmt.Sprint(i)); err != nil {
				t.Fatal(err)
			}
		}
		// A second connection with the same identity replaces the first (which stays
		// open, its writer blocked): two sockets for "dup".
		second := joined(t, srv, "capped", "dup")
		tok := testutil.JoinToken(t, "capped", "dup")
		status, body := tryDial(t, srv, tok, "protocol=16")
		if status != 429 || !strings.Contains(body, `"dup"`) || !strings.Contains(body, "signal.max_connections_per_identity") || !strings.Contains(body, "limit is 2") {
			t.Fatalf("3rd socket for one identity: %d %q, want 429 naming the identity, signal.max_connections_per_identity and its limit", status, body)
		}
		// Another identity from the same address is not affected.
		joined(t, srv, "capped", "other")
		// Once the stuck socket closes, the identity may connect again.
		_ = stuck.Close()
		testutil.Eventually(t, 10*time.Second, func() bool {
			s, _ := tryDial(t, srv, tok, "protocol=16&auto_subscribe=0")
			return s == 101
		}, "no socket admitted for dup after one closed")
		_ = second
	})
}

// dialStuck connects a participant that never reads, with a tiny receive buffer.
func dialStuck(t *testing.T, srv *testutil.TestServer, roomName, identity string) net.Conn {
	t.Helper()
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	h := map[string][]string{"Authorization": {"Bearer " + testutil.JoinToken(t, roomName, identity)}}
	ws, _, err := d.Dial(srv.WSURL+"/rtc?protocol=16", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws.NetConn()
}

// tryDial attempts a signal connection and returns the HTTP status (101 when it was
// upgraded; that socket is closed at once) and the refusal's body.
func tryDial(t *testing.T, srv *testutil.TestServer, token, query string) (int, string) {
	t.Helper()
	h := map[string][]string{"Authorization": {"Bearer " + token}}
	ws, resp, err := websocket.DefaultDialer.Dial(srv.WSURL+"/rtc?"+query, h)
	if err == nil {
		_ = ws.Close()
		return resp.StatusCode, ""
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

package test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

func withHTTPTimeouts(read time.Duration) testutil.Option {
	return testutil.WithConfig(func(c *config.Config) {
		c.HTTP.ReadHeaderTimeout = read
		c.HTTP.ReadTimeout = read
	})
}

// A client that declares a body and then trickles it is cut off by http.read_timeout
// instead of holding its connection forever.
func TestSlowBodyIsCutOff(t *testing.T) {
	srv := testutil.StartServer(t, withHTTPTimeouts(500*time.Millisecond))
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const bodyLen = 200
	fmt.Fprintf(conn, "POST /twirp/livekit.RoomService/ListRooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", bodyLen)

	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_, _ = io.Copy(io.Discard, conn) // returns when the server closes the connection
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for sent := 0; sent < bodyLen-1; sent++ {
		select {
		case <-closed:
			return // cut off before the body was complete
		case <-tick.C:
			if _, err := conn.Write([]byte(" ")); err != nil {
				return // the server closed the connection
			}
		}
	}
	t.Fatalf("the server read %d bytes sent one every 100 ms without closing the connection", bodyLen-1)
}

// A client that never finishes its headers is cut off too.
func TestSlowHeadersAreCutOff(t *testing.T) {
	srv := testutil.StartServer(t, withHTTPTimeouts(500*time.Millisecond))
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept a connection with unfinished headers open for 20 s")
	}
}

// The timeouts bound HTTP requests, not the long-lived signal WebSocket.
func TestSignalOutlivesTheHTTPReadTimeout(t *testing.T) {
	srv := testutil.StartServer(t, withHTTPTimeouts(300*time.Millisecond), testutil.WithConfig(func(c *config.Config) {
		c.Signal.RefreshInterval = time.Second
		c.Signal.TokenTTL = 2 * time.Second
	}))
	c := dialRaw(t, srv, testutil.JoinToken(t, "long", "alice"), "")
	c.await(5*time.Second, "join", func(r *livekit.SignalResponse) bool { return r.GetJoin() != nil })
	c.await(5*time.Second, "first refresh_token", func(r *livekit.SignalResponse) bool { return r.GetRefreshToken() != "" })
	// The next refresh comes a refresh interval later: well past the read timeout.
	c.await(5*time.Second, "periodic refresh_token", func(r *livekit.SignalResponse) bool { return r.GetRefreshToken() != "" })
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_PingReq{PingReq: &livekit.Ping{Timestamp: 42}}})
	c.await(5*time.Second, "pong", func(r *livekit.SignalResponse) bool { return r.GetPongResp().GetLastPingTimestamp() == 42 })

	// Keep-alive HTTP requests still work too.
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || b != "OK" {
		t.Fatalf("health check: %d %q", resp.StatusCode, b)
	}
}

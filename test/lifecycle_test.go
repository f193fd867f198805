package test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

// rawClient is a bare WebSocket signal client, for wire details the SDK hides.
type rawClient struct {
	t       *testing.T
	ws      *websocket.Conn
	writeMu sync.Mutex

	mu   sync.Mutex
	seen []*livekit.SignalResponse // every response read, in order
}

func dialRaw(t *testing.T, srv *testutil.TestServer, token, query string) *rawClient {
	t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	ws, resp, err := websocket.DefaultDialer.Dial(srv.WSURL+"/rtc?protocol=16&"+query, h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial /rtc: %v (HTTP %d)", err, status)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return &rawClient{t: t, ws: ws}
}

// next reads the next response, in either encoding.
func (c *rawClient) next(timeout time.Duration) (*livekit.SignalResponse, int, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
	mt, data, err := c.ws.ReadMessage()
	if err != nil {
		return nil, 0, err
	}
	res := &livekit.SignalResponse{}
	if mt == websocket.TextMessage {
		err = protojson.Unmarshal(data, res)
	} else {
		err = proto.Unmarshal(data, res)
	}
	if err == nil {
		c.mu.Lock()
		c.seen = append(c.seen, res)
		c.mu.Unlock()
	}
	return res, mt, err
}

// received returns every response read so far, in order.
func (c *rawClient) received() []*livekit.SignalResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*livekit.SignalResponse(nil), c.seen...)
}

var rawBarrierSeq atomic.Int64

// barrier reads until the server has sent everything it queued for this connection
// before it handled a ping sent now, and returns the responses read on the way (see
// received for all of them). The server handles a connection's requests in order and
// queues the pong at the end of the connection's queue, where nothing queued later is
// merged ahead of it. So once the pong is read, anything the server meant to send
// before the ping was handled has been read: use it after making the server do
// something that must not reach this client.
func (c *rawClient) barrier() []*livekit.SignalResponse {
	c.t.Helper()
	ts := 1_000_000 + rawBarrierSeq.Add(1)
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_PingReq{PingReq: &livekit.Ping{Timestamp: ts}}})
	var before []*livekit.SignalResponse
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, _, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for the pong of barrier %d: %v", ts, err)
		}
		if res.GetPongResp().GetLastPingTimestamp() == ts {
			return before
		}
		before = append(before, res)
	}
}

// await reads until a response matches, failing after timeout.
func (c *rawClient) await(timeout time.Duration, what string, match func(*livekit.SignalResponse) bool) (*livekit.SignalResponse, int) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		res, mt, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(res) {
			return res, mt
		}
	}
}

func (c *rawClient) send(req *livekit.SignalRequest) {
	c.t.Helper()
	data, _ := proto.Marshal(req)
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, data); err != nil {
		c.t.Error(err)
	}
}

func TestRawWebSocketJSONMode(t *testing.T) {
	srv := testutil.StartServer(t)
	watcher := srv.Join(t, "raw", "watcher")
	c := dialRaw(t, srv, testutil.JoinToken(t, "raw", "json-client"), "")

	// The first message is the JoinResponse, then a refresh token.
	res, mt, err := c.next(5 * time.Second)
	if err != nil || mt != websocket.BinaryMessage || res.GetJoin() == nil {
		t.Fatalf("first frame: %v %d %v", res, mt, err)
	}
	join := res.GetJoin()
	if join.Room.GetName() != "raw" || join.Participant.GetIdentity() != "json-client" || len(join.OtherParticipants) != 1 ||
		!join.SubscriberPrimary || join.PingInterval != 5 || join.PingTimeout != 15 || join.ServerInfo.GetProtocol() == 0 {
		t.Errorf("JoinResponse: %v", join)
	}
	c.await(5*time.Second, "refresh_token", func(r *livekit.SignalResponse) bool { return r.GetRefreshToken() != "" })

	// A client that speaks JSON text frames gets JSON back.
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"pingReq":{"timestamp":"1234","rtt":"5"}}`)); err != nil {
		t.Fatal(err)
	}
	pong, mt := c.await(5*time.Second, "pong_resp", func(r *livekit.SignalResponse) bool { return r.GetPongResp() != nil })
	if mt != websocket.TextMessage || pong.GetPongResp().LastPingTimestamp != 1234 || pong.GetPongResp().Timestamp == 0 {
		t.Errorf("pong: %v (frame type %d)", pong, mt)
	}
	// snake_case keys are accepted too, and unknown fields ignored.
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"ping_req":{"timestamp":"99"},"future":1}`)); err != nil {
		t.Fatal(err)
	}
	c.await(5*time.Second, "second pong", func(r *livekit.SignalResponse) bool { return r.GetPongResp().GetLastPingTimestamp() == 99 })
	// A garbage frame is skipped; the connection stays.
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`{not json`))
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`{"pingReq":{"timestamp":"7"}}`))
	c.await(5*time.Second, "pong after garbage", func(r *livekit.SignalResponse) bool { return r.GetPongResp().GetLastPingTimestamp() == 7 })

	watcher.WaitFor(t, 5*time.Second, "participant_connected", "json-client")
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`{"leave":{"reason":"CLIENT_INITIATED"}}`))
	e := watcher.WaitFor(t, 5*time.Second, "participant_disconnected", "json-client")
	if e.Detail != "CLIENT_INITIATED" {
		t.Errorf("leave reason %s", e.Detail)
	}
}

func TestResumeAfterSignalDrop(t *testing.T) {
	forBothModes(t, func(t *testing.T, mode ...testutil.JoinOption) {
		srv := testutil.StartServer(t)
		watcher := srv.Join(t, "r", "watcher")
		mover := srv.Join(t, "r", "mover", mode...)
		waitActive(t, srv, "r", "mover")
		sid := mover.Room.LocalParticipant.SID()
		watcher.WaitFor(t, 5*time.Second, "participant_connected", "mover")
		seen := watcher.Room.GetParticipantByIdentity("mover")

		mover.Room.Simulate(lksdk.SimulateSignalReconnect)
		mover.WaitFor(t, 10*time.Second, "reconnected", "")
		if got := srv.Participant(t, "r", "mover").Sid; got != sid {
			t.Errorf("resumed with sid %s, want the same session %s", got, sid)
		}
		// Nobody saw the participant leave: after a barrier, the watcher's SDK still
		// holds the participant it was first told about (a leave and a rejoin would
		// have replaced it).
		srv.SignalBarrier(t, "r", watcher)
		if rp := watcher.Room.GetParticipantByIdentity("mover"); rp != seen || watcher.Has("participant_disconnected", "mover") {
			t.Errorf("watcher saw mover leave during a resume: %v", watcher.Events())
		}
		// The session still works both ways.
		if err := srv.RoomClientUpdateRoomMetadata(t, "r", "after-resume"); err != nil {
			t.Fatal(err)
		}
		if _, ok := mover.Await(5*time.Second, func(e testutil.Event) bool { return e.Kind == "room_metadata" && e.Detail == "after-resume" }); !ok {
			t.Errorf("room metadata after resume did not arrive: %v", mover.Events())
		}
		if err := mover.Room.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("still here")), lksdk.WithDataPublishReliable(true)); err != nil {
			t.Fatal(err)
		}
		watcher.WaitFor(t, 5*time.Second, "data", "mover")
	})
}

func TestSignalDropWithoutResumeLeaves(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
		c.Signal.ResumeWindow = time.Second
	}))
	watcher := srv.Join(t, "r", "watcher")
	c := dialRaw(t, srv, testutil.JoinToken(t, "r", "ghost"), "")
	watcher.WaitFor(t, 5*time.Second, "participant_connected", "ghost")
	_ = c.ws.Close() // no leave: the server waits for a resume, then gives up
	e := watcher.WaitFor(t, 5*time.Second, "participant_disconnected", "ghost")
	if e.Detail != "SIGNAL_CLOSE" {
		t.Errorf("reason %s, want SIGNAL_CLOSE", e.Detail)
	}
}

func TestMissedPingsDropTheConnection(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
		c.Signal.PingInterval = time.Second
		c.Signal.PingTimeout = 2 * time.Second
		c.Signal.ResumeWindow = time.Second
	}))
	watcher := srv.Join(t, "r", "watcher")
	// This client never reads, so it never answers the server's pings.
	dialRaw(t, srv, testutil.JoinToken(t, "r", "silent"), "")
	watcher.WaitFor(t, 5*time.Second, "participant_connected", "silent")
	e := watcher.WaitFor(t, 10*time.Second, "participant_disconnected", "silent")
	if e.Detail != "SIGNAL_CLOSE" {
		t.Errorf("reason %s, want SIGNAL_CLOSE", e.Detail)
	}
	// A client that keeps reading (and so answers pings) is never dropped.
	if watcher.Room.ConnectionState() != lksdk.ConnectionStateConnected {
		t.Errorf("the SDK client was dropped too")
	}
}

func TestJoinTimeoutRemovesParticipantsThatNeverConnect(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) { c.Signal.JoinTimeout = time.Second }))
	watcher := srv.Join(t, "r", "watcher")
	c := dialRaw(t, srv, testutil.JoinToken(t, "r", "no-webrtc"), "")
	leave, _ := c.await(10*time.Second, "leave", func(r *livekit.SignalResponse) bool { return r.GetLeave() != nil })
	if leave.GetLeave().Reason != livekit.DisconnectReason_JOIN_FAILURE {
		t.Errorf("leave %v, want JOIN_FAILURE", leave.GetLeave())
	}
	e := watcher.WaitFor(t, 5*time.Second, "participant_disconnected", "no-webrtc")
	if e.Detail != "JOIN_FAILURE" {
		t.Errorf("reason %s", e.Detail)
	}
	// The SDK client, whose transport connected in time, stays.
	if watcher.Has("disconnected", "") {
		t.Errorf("the watcher was removed too")
	}
}

func TestDeleteRoomDisconnectsEveryone(t *testing.T) {
	srv := testutil.StartServer(t)
	a := srv.Join(t, "doomed", "a")
	b := srv.Join(t, "doomed", "b", singlePC)
	other := srv.Join(t, "other", "c")
	if _, err := srv.RoomClient().DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: "doomed"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testutil.Client{a, b} {
		e := c.WaitFor(t, 5*time.Second, "disconnected", "")
		if e.Detail != "ROOM_DELETED" {
			t.Errorf("%s disconnected with %s, want ROOM_DELETED", c.Identity, e.Detail)
		}
	}
	// Had the deletion closed other's connection too (it closes connections before it
	// returns), other would never see a barrier sent through its room after it.
	srv.SignalBarrier(t, "other", other)
	if other.Has("disconnected", "") || other.Room.ConnectionState() != lksdk.ConnectionStateConnected {
		t.Errorf("a participant of another room was disconnected: %v", other.Events())
	}
}

func TestShutdownSendsServerShutdown(t *testing.T) {
	srv := testutil.StartServer(t)
	c := dialRaw(t, srv, testutil.JoinToken(t, "r", "raw"), "")
	c.await(5*time.Second, "join", func(r *livekit.SignalResponse) bool { return r.GetJoin() != nil })
	sdk := srv.Join(t, "r", "sdk")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	leave, _ := c.await(5*time.Second, "leave", func(r *livekit.SignalResponse) bool { return r.GetLeave() != nil })
	if l := leave.GetLeave(); l.Reason != livekit.DisconnectReason_SERVER_SHUTDOWN || l.Action != livekit.LeaveRequest_RECONNECT {
		t.Errorf("leave %v, want SERVER_SHUTDOWN with RECONNECT (clients find the server again after a restart)", l)
	}
	sdk.WaitFor(t, 5*time.Second, "reconnecting", "")
	sdk.Room.Disconnect()
}

func TestAgentsDoNotKeepTheRoomOpen(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) { c.Room.DepartureTimeout = 1 }))
	human := srv.Join(t, "call", "human")
	agent := srv.Join(t, "call", "agent", testutil.WithKind(livekit.ParticipantInfo_AGENT))
	if rp := human.Room.GetParticipantByIdentity("agent"); rp == nil {
		human.WaitFor(t, 5*time.Second, "participant_connected", "agent")
	}
	if k := human.Room.GetParticipantByIdentity("agent").Kind(); k != lksdk.ParticipantAgent {
		t.Errorf("agent kind as seen by others: %v", k)
	}
	human.Room.Disconnect()
	e := agent.WaitFor(t, 5*time.Second, "disconnected", "")
	if e.Detail != "ROOM_CLOSED" {
		t.Errorf("agent disconnected with %s, want ROOM_CLOSED", e.Detail)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		res, err := srv.RoomClient().ListRooms(context.Background(), &livekit.ListRoomsRequest{})
		return err == nil && len(res.Rooms) == 0
	}, "room did not close")
}

func TestDepartureTimeoutKeepsRoomForReturningParticipants(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) { c.Room.DepartureTimeout = 2 }))
	a := srv.Join(t, "lobby", "a")
	sid := a.Room.SID()
	a.Room.Disconnect()
	// Once a has left, the room is empty and counting down departure_timeout...
	testutil.Eventually(t, 5*time.Second, func() bool {
		rm, err := srv.Rooms().Room("lobby")
		return err == nil && rm.Participant("a") == nil
	}, "the server did not see a leave")
	// ...and within it the room is still open: joining finds the same session.
	b := srv.Join(t, "lobby", "b")
	if b.Room.SID() != sid {
		t.Errorf("room was replaced within departure_timeout")
	}
	b.Room.Disconnect()
	testutil.Eventually(t, 5*time.Second, func() bool {
		res, err := srv.RoomClient().ListRooms(context.Background(), &livekit.ListRoomsRequest{})
		return err == nil && len(res.Rooms) == 0
	}, "room did not close after departure_timeout")
}

func TestRoomMetadataReachesClients(t *testing.T) {
	srv := testutil.StartServer(t)
	a := srv.Join(t, "r", "a")
	b := srv.Join(t, "r", "b", singlePC)
	if err := srv.RoomClientUpdateRoomMetadata(t, "r", `{"slide":3}`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testutil.Client{a, b} {
		if e := c.WaitFor(t, 5*time.Second, "room_metadata", ""); e.Detail != `{"slide":3}` {
			t.Errorf("%s got %q", c.Identity, e.Detail)
		}
		if c.Room.Metadata() != `{"slide":3}` {
			t.Errorf("%s room metadata %q", c.Identity, c.Room.Metadata())
		}
	}
}

func TestTokenRefreshIsUsable(t *testing.T) {
	srv := testutil.StartServer(t)
	c := dialRaw(t, srv, testutil.JoinToken(t, "r", "refresher", testutil.WithName("R")), "")
	res, _ := c.await(5*time.Second, "refresh_token", func(r *livekit.SignalResponse) bool { return r.GetRefreshToken() != "" })
	claims, err := srv.Verifier().Verify(res.GetRefreshToken())
	if err != nil {
		t.Fatalf("refresh token does not verify: %v", err)
	}
	v := claims.Video()
	if claims.Identity() != "refresher" || claims.Grants.Name != "R" || !v.RoomJoin || v.Room != "r" || v.RoomAdmin || v.RoomCreate {
		t.Errorf("refresh token claims: %+v %+v", claims.Grants, v)
	}
	if ttl := time.Until(claims.ExpiresAt); ttl <= 0 || ttl > 11*time.Minute {
		t.Errorf("refresh token expires in %s", ttl)
	}
	if strings.Contains(res.String(), testutil.APISecret) {
		t.Errorf("secret leaked")
	}
}

// A client that stops reading must not hold anyone else up: events keep flowing to the
// others and the Room service keeps answering.
func TestStalledClientDoesNotBlockTheRoom(t *testing.T) {
	srv := testutil.StartServer(t)
	stalled := dialRaw(t, srv, testutil.JoinToken(t, "busy", "stalled"), "")
	_ = stalled // never read from again
	a := srv.Join(t, "busy", "a")
	for i := range 300 {
		if err := srv.RoomClientUpdateRoomMetadata(t, "busy", strings.Repeat("m", 1000)+itoa3(i)); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	for i := range 5 {
		srv.Join(t, "busy", "late"+itoa3(i))
	}
	want := strings.Repeat("m", 1000) + itoa3(299)
	testutil.Eventually(t, 10*time.Second, func() bool { return a.Room.Metadata() == want }, "a did not get the last metadata")
	testutil.Eventually(t, 10*time.Second, func() bool { return len(a.Room.GetRemoteParticipants()) == 6 }, "a does not see everyone")
}

func itoa3(i int) string {
	return string(rune('0'+i/100%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}

func TestTokenIsRefreshedPeriodically(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
		c.Signal.RefreshInterval = time.Second
		c.Signal.TokenTTL = 3 * time.Second
	}))
	c := dialRaw(t, srv, testutil.JoinToken(t, "r", "long-call"), "")
	var tokens []string
	for len(tokens) < 3 {
		res, _ := c.await(5*time.Second, "refresh_token", func(r *livekit.SignalResponse) bool { return r.GetRefreshToken() != "" })
		tokens = append(tokens, res.GetRefreshToken())
	}
	if tokens[0] == tokens[2] {
		t.Errorf("the refreshed tokens do not change")
	}
	last, err := srv.Verifier().Verify(tokens[2])
	if err != nil || time.Until(last.ExpiresAt) > 3*time.Second {
		t.Errorf("last refresh token: %v, expires in %s", err, time.Until(last.ExpiresAt))
	}
}

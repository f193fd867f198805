package signal_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

// frameClient is the one raw participant of a fuzz run; it reconnects when an input
// legitimately ended its connection.
type frameClient struct {
	srv  *testutil.TestServer
	ws   *websocket.Conn
	n    int   // connections made, for fresh identities
	ping int64 // last ping timestamp
}

func (c *frameClient) connect(t testing.TB) {
	t.Helper()
	if c.ws != nil {
		_ = c.ws.Close()
	}
	c.n++
	h := http.Header{"Authorization": {"Bearer " + testutil.JoinToken(t, "fuzz", fmt.Sprintf("fuzzer-%d", c.n))}}
	ws, resp, err := websocket.DefaultDialer.Dial(c.srv.WSURL+"/rtc?protocol=16", h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	c.ws = ws
}

// maxRefusal bounds a RequestResponse that refuses a request: its message and the
// identifying fields it echoes, never the bulk of the input.
const maxRefusal = 2048

// pingAndWait sends a ping_req and reads until its pong_resp, checking every refusal
// on the way. It returns an error when the connection ended first.
func (c *frameClient) pingAndWait(t *testing.T) error {
	c.ping++
	ts := c.ping
	data, _ := proto.Marshal(&livekit.SignalRequest{Message: &livekit.SignalRequest_PingReq{PingReq: &livekit.Ping{Timestamp: ts}}})
	if err := c.ws.WriteMessage(websocket.BinaryMessage, data); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_ = c.ws.SetReadDeadline(deadline)
		mt, msg, err := c.ws.ReadMessage()
		if err != nil {
			return err
		}
		res := &livekit.SignalResponse{}
		if mt == websocket.TextMessage {
			err = protojson.Unmarshal(msg, res)
		} else {
			err = proto.Unmarshal(msg, res)
		}
		if err != nil {
			t.Fatalf("the server sent an undecodable frame: %v", err)
		}
		if rr := res.GetRequestResponse(); rr != nil && rr.Reason != livekit.RequestResponse_OK {
			if n := proto.Size(rr); n > maxRefusal || len(rr.Message) > 512 {
				t.Fatalf("a refusal of %d bytes (message %d): it echoes the input", n, len(rr.Message))
			}
		}
		if res.GetLeave() != nil {
			return errors.New("left")
		}
		if res.GetPongResp().GetLastPingTimestamp() == ts {
			return nil
		}
	}
}

// endsConnection reports whether a frame may legitimately end the connection: a
// leave, a simulated failure (node failure, migration, server leave: SDK tests ask
// for them, and the server drops the connection, possibly after answering the next
// ping), or a frame over the read limit.
func endsConnection(frame []byte, text bool) bool {
	if len(frame) > 1<<20 {
		return true
	}
	req := &livekit.SignalRequest{}
	var err error
	if text {
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(frame, req)
	} else {
		err = proto.Unmarshal(frame, req)
	}
	if err != nil {
		return false
	}
	switch req.GetSimulate().GetScenario().(type) {
	case *livekit.SimulateScenario_NodeFailure, *livekit.SimulateScenario_Migration, *livekit.SimulateScenario_ServerLeave:
		return true
	}
	return req.GetLeave() != nil
}

// FuzzSignalFrame sends each input to a real server as a binary frame and as a text
// frame, each followed by a ping_req: the server must still answer it. A refusal never
// echoes more than a bounded slice of the input.
func FuzzSignalFrame(f *testing.F) {
	for _, req := range seedRequests() {
		data, _ := proto.Marshal(req)
		f.Add(data)
		js, _ := protojson.Marshal(req)
		f.Add(js)
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte(`{"addTrack":{"cid":"x","layers":[{},{},{},{},{}]}}`))

	srv := testutil.StartServer(f, testutil.WithConfig(func(c *config.Config) {
		// The raw participant never connects its transports; keep it anyway.
		c.Signal.JoinTimeout = time.Hour
		c.Signal.PingTimeout = time.Hour
	}))
	c := &frameClient{srv: srv}
	c.connect(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		for _, mt := range []int{websocket.BinaryMessage, websocket.TextMessage} {
			err := c.ws.WriteMessage(mt, frame)
			if err == nil {
				err = c.pingAndWait(t)
			}
			ends := endsConnection(frame, mt == websocket.TextMessage)
			if err == nil && ends {
				// The server may drop the connection after it answered the ping.
				c.connect(t)
				continue
			}
			if err != nil {
				if !ends {
					t.Fatalf("the server stopped answering after a %d-byte frame (type %d): %v", len(frame), mt, err)
				}
				c.connect(t)
				if err := c.pingAndWait(t); err != nil {
					t.Fatalf("after reconnecting: %v", err)
				}
			}
		}
	})
}

// seedRequests are valid requests of the kinds SDKs send.
func seedRequests() []*livekit.SignalRequest {
	return []*livekit.SignalRequest{
		{Message: &livekit.SignalRequest_AddTrack{AddTrack: &livekit.AddTrackRequest{
			Cid: "8f0e1a2b-3c4d", Name: "camera", Type: livekit.TrackType_VIDEO, Source: livekit.TrackSource_CAMERA, Width: 1280, Height: 720,
			Layers:          []*livekit.VideoLayer{{Quality: livekit.VideoQuality_LOW, Rid: "q"}, {Quality: livekit.VideoQuality_HIGH, Rid: "f"}},
			SimulcastCodecs: []*livekit.SimulcastCodec{{Codec: "vp8", Cid: "8f0e1a2b-3c4d"}},
		}}},
		{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{Type: "offer", Sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\na=msid:s t\r\na=rtpmap:111 opus/48000/2\r\n"}}},
		{Message: &livekit.SignalRequest_Trickle{Trickle: &livekit.TrickleRequest{
			CandidateInit: `{"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host","sdpMid":"0","sdpMLineIndex":0}`,
			Target:        livekit.SignalTarget_SUBSCRIBER,
		}}},
		{Message: &livekit.SignalRequest_Ping{Ping: 1234}},
		{Message: &livekit.SignalRequest_PingReq{PingReq: &livekit.Ping{Timestamp: 99, Rtt: 5}}},
		{Message: &livekit.SignalRequest_Mute{Mute: &livekit.MuteTrackRequest{Sid: "TR_x", Muted: true}}},
		{Message: &livekit.SignalRequest_UpdateMetadata{UpdateMetadata: &livekit.UpdateParticipantMetadata{Metadata: "m", RequestId: 1, Attributes: map[string]string{"a": "b"}}}},
		{Message: &livekit.SignalRequest_Subscription{Subscription: &livekit.UpdateSubscription{TrackSids: []string{"TR_a"}, Subscribe: true}}},
		{Message: &livekit.SignalRequest_Leave{Leave: &livekit.LeaveRequest{Reason: livekit.DisconnectReason_CLIENT_INITIATED}}},
	}
}

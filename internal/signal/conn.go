package signal

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// maxFrameSize bounds one incoming signal frame.
const maxFrameSize = 1 << 20

// wsConn is one signal WebSocket. Reads happen on one goroutine and writes on another,
// as gorilla/websocket requires.
type wsConn struct {
	ws *websocket.Conn
	// json is set once the client sent a text frame: replies are then protojson.
	json atomic.Bool
	// lastRecv is the UnixNano time of the last frame or pong received.
	lastRecv atomic.Int64
	// release gives back the connection's place under the per-address and
	// per-identity caps; close calls it once.
	release   func()
	closeOnce sync.Once
}

// newWSConn wraps an upgraded socket. release (may be nil) is called once when the
// socket is closed.
func newWSConn(ws *websocket.Conn, release func()) *wsConn {
	c := &wsConn{ws: ws, release: release}
	c.lastRecv.Store(time.Now().UnixNano())
	ws.SetReadLimit(maxFrameSize)
	ws.SetPongHandler(func(string) error {
		c.lastRecv.Store(time.Now().UnixNano())
		return nil
	})
	return c
}

var errUnsupportedFrame = errors.New("unsupported frame type")

// read returns the next request. A frame that does not decode is reported with
// errBadRequest wrapped, so the caller can skip it and keep the connection.
func (c *wsConn) read() (*livekit.SignalRequest, error) {
	mt, data, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	c.lastRecv.Store(time.Now().UnixNano())
	req := &livekit.SignalRequest{}
	switch mt {
	case websocket.BinaryMessage:
		c.json.Store(false)
		err = proto.Unmarshal(data, req)
	case websocket.TextMessage:
		c.json.Store(true)
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, req)
	default:
		err = errUnsupportedFrame
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return req, nil
}

var errBadRequest = errors.New("bad signal request")

// write sends one response in the connection's current encoding.
func (c *wsConn) write(msg *livekit.SignalResponse, timeout time.Duration) error {
	var (
		data []byte
		err  error
		mt   = websocket.BinaryMessage
	)
	if c.json.Load() {
		mt = websocket.TextMessage
		data, err = protojson.Marshal(msg)
	} else {
		data, err = proto.Marshal(msg)
	}
	if err != nil {
		return err
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(timeout))
	return c.ws.WriteMessage(mt, data)
}

// ping sends a WebSocket ping; the client's pong refreshes lastRecv.
func (c *wsConn) ping(timeout time.Duration) error {
	return c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(timeout))
}

// idleFor returns how long nothing was received.
func (c *wsConn) idleFor() time.Duration {
	return time.Since(time.Unix(0, c.lastRecv.Load()))
}

// close closes the socket (which ends its reader) and releases its place under the
// connection caps. It is safe to call more than once and from any goroutine.
func (c *wsConn) close() {
	c.closeOnce.Do(func() {
		_ = c.ws.Close()
		if c.release != nil {
			c.release()
		}
	})
}

// closeWith sends a close frame (best effort) and closes the socket.
func (c *wsConn) closeWith(code int, text string) {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	c.close()
}

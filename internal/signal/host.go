package signal

import (
	"time"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/host"
	"github.com/usher-rtc/usher/internal/room"
)

// hostFlushWait bounds how long ending the session waits for the answer to the host
// who ended it to leave the server; hostGrace then lets the client's SDK take the
// answer off its data channel before the leave (on the signal connection) makes it
// tear the connection down.
const (
	hostFlushWait = time.Second
	hostGrace     = 250 * time.Millisecond
)

// handleHostRPC answers an RPC request addressed to the server's identity "usher" (a
// host control): it acknowledges it, acts, and responds, as a participant answering
// RPC would. It reports whether pkt was such a request.
func (s *Session) handleHostRPC(pkt *livekit.DataPacket) bool {
	req := pkt.GetRpcRequest()
	if req == nil || len(pkt.DestinationIdentities) != 1 || pkt.DestinationIdentities[0] != room.ServerIdentity {
		return false
	}
	s.sendFromServer(&livekit.DataPacket_RpcAck{RpcAck: &livekit.RpcAck{RequestId: req.GetId()}})
	res := host.Handle(s.p, req.GetMethod(), req.GetPayload())
	resp := &livekit.RpcResponse{RequestId: req.GetId()}
	if res.Error != nil {
		resp.Value = &livekit.RpcResponse_Error{Error: res.Error}
	} else {
		resp.Value = &livekit.RpcResponse_Payload{Payload: res.Payload}
	}
	s.sendFromServer(&livekit.DataPacket_RpcResponse{RpcResponse: resp})
	if res.After != nil {
		go func() {
			s.data.waitSent(hostFlushWait, func() uint64 {
				if t := s.dataTransport(); t != nil {
					return t.DataBuffered(livekit.DataPacket_RELIABLE)
				}
				return 0
			})
			time.Sleep(hostGrace)
			if err := res.After(); err != nil {
				s.log.Debug("host control after its answer failed", "method", req.GetMethod(), "error", err)
			}
		}()
	}
	return true
}

// sendFromServer queues a reliable data packet from the server's identity.
func (s *Session) sendFromServer(v any) {
	pkt := &livekit.DataPacket{Kind: livekit.DataPacket_RELIABLE, ParticipantIdentity: room.ServerIdentity}
	switch m := v.(type) {
	case *livekit.DataPacket_RpcAck:
		pkt.Value = m
	case *livekit.DataPacket_RpcResponse:
		pkt.Value = m
	}
	data, err := proto.Marshal(pkt)
	if err != nil {
		return
	}
	s.SendData(livekit.DataPacket_RELIABLE, data)
}

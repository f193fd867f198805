package testutil

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
)

// barrierTimeout bounds the wait for a barrier to come through.
const barrierTimeout = 10 * time.Second

// SignalBarrier returns once each client's SDK has handled every signal message the
// server queued for it before the call. A test that must show something was never
// sent (a hidden participant, a disconnect) makes the server do the forbidden thing
// first, then calls SignalBarrier, then looks.
//
// The barrier is a change of the room's metadata, made twice. The server's outbound
// queue replaces a room update that is still waiting in place, so the first change
// may overtake messages queued before it; but once a client has seen it, everything
// queued before the call has been taken from its queue, and the second change can
// only be written after all of it. The SDK reads signal messages one at a time and
// applies a room update (Room.Metadata) while handling it, so seeing the second
// value means every earlier message was handled. The SDK reports some events
// (participant connected/disconnected, room metadata) from goroutines of their own:
// after a barrier, look at the SDK's state (GetParticipantByIdentity, Metadata) rather
// than only at the recorded events. Events it reports inline (metadata, attributes,
// tracks, data) are recorded in order.
//
// It leaves the room's metadata set to a barrier value. A client whose connection was
// closed never sees the barrier, and the test fails here.
func (s *TestServer) SignalBarrier(t testing.TB, roomName string, clients ...*Client) {
	t.Helper()
	for round := 1; round <= 2; round++ {
		md := fmt.Sprintf("test-barrier-%d", s.barrierSeq.Add(1))
		if err := s.RoomClientUpdateRoomMetadata(t, roomName, md); err != nil {
			t.Fatalf("signal barrier in %q: %v", roomName, err)
		}
		for _, c := range clients {
			Eventually(t, barrierTimeout, func() bool {
				if c.Has("disconnected", "") {
					t.Fatalf("%s was disconnected before the signal barrier reached it: %v", c.Identity, c.Events())
				}
				return c.Room.Metadata() == md
			}, "%s did not receive the signal barrier (round %d); it saw %v", c.Identity, round, c.Events())
		}
	}
}

// BarrierTopic is the topic of the data packets DataBarrier sends.
const BarrierTopic = "test-barrier"

// DataBarrier returns once each client has received every reliable data packet the
// server queued for it before the call. It sends each client a reliable packet from
// the server (topic BarrierTopic, no sender identity) and waits for it: reliable
// packets for a participant leave in the order they were queued, on an ordered data
// channel, and the SDK reports them inline. It says nothing about lossy packets,
// which may arrive in any order or not at all.
func (s *TestServer) DataBarrier(t testing.TB, roomName string, clients ...*Client) {
	t.Helper()
	payload := fmt.Sprintf("test-barrier-%d", s.barrierSeq.Add(1))
	dests := make([]string, len(clients))
	for i, c := range clients {
		dests[i] = c.Identity
	}
	topic := BarrierTopic
	ctx, cancel := context.WithTimeout(context.Background(), barrierTimeout)
	defer cancel()
	_, err := s.RoomClient().SendData(ctx, &livekit.SendDataRequest{
		Room: roomName, Data: []byte(payload), Kind: livekit.DataPacket_RELIABLE, Topic: &topic, DestinationIdentities: dests,
	})
	if err != nil {
		t.Fatalf("data barrier in %q: %v", roomName, err)
	}
	for _, c := range clients {
		if _, ok := c.Await(barrierTimeout, func(e Event) bool { return e.Kind == "data" && e.Detail == payload }); !ok {
			t.Fatalf("%s did not receive the data barrier; it saw %v", c.Identity, c.Events())
		}
	}
}

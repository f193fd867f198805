package signal

import (
	"fmt"
	"testing"

	"github.com/livekit/protocol/livekit"
)

func info(sid string, v uint32) *livekit.ParticipantInfo {
	return &livekit.ParticipantInfo{Sid: sid, Identity: sid, Version: v}
}

func TestQueueCoalescesUpdatesInOrder(t *testing.T) {
	q := newOutQueue(16)
	q.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_RefreshToken{RefreshToken: "t"}})
	for i := range 200 { // a join storm: 100 joins, each followed by an ACTIVE update
		sid := fmt.Sprintf("p%d", i%100)
		q.pushUpdate([]*livekit.ParticipantInfo{info(sid, uint32(i/100+1))})
		q.pushRoom(&livekit.Room{NumParticipants: uint32(i)})
	}
	q.pushUpdate([]*livekit.ParticipantInfo{info("p0", 1)}) // stale: must not replace version 2
	msgs, overflow := q.take()
	if overflow {
		t.Fatal("overflowed")
	}
	if len(msgs) != 4 {
		t.Fatalf("%d messages, want 4 (token, update, room, update): %v", len(msgs), msgs)
	}
	if msgs[0].GetRefreshToken() != "t" {
		t.Errorf("first message %v", msgs[0])
	}
	first := msgs[1].GetUpdate().GetParticipants()
	if len(first) != 1 {
		t.Errorf("first batch %v", first)
	}
	if msgs[2].GetRoomUpdate().GetRoom().GetNumParticipants() != 199 {
		t.Errorf("room update is not the latest: %v", msgs[2])
	}
	rest := msgs[3].GetUpdate().GetParticipants()
	if len(rest) != 100 {
		t.Errorf("second batch has %d participants, want 100 (one per sid)", len(rest))
	}
	for _, p := range rest {
		if p.Sid == "p0" && p.Version != 2 {
			t.Errorf("a stale version replaced a newer one: %v", p)
		}
	}
}

func TestQueueOverflow(t *testing.T) {
	q := newOutQueue(16)
	for range 17 {
		q.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_Pong{Pong: 1}})
	}
	if !q.overflowed() {
		t.Fatal("17 messages in a queue of 16 did not overflow")
	}
	msgs, overflow := q.take()
	if !overflow || len(msgs) != 0 {
		t.Errorf("take after overflow: %d msgs, overflow %v", len(msgs), overflow)
	}
}

func TestQueueResumeOrdering(t *testing.T) {
	q := newOutQueue(64)
	pong := func(n int64) *livekit.SignalResponse {
		return &livekit.SignalResponse{Message: &livekit.SignalResponse_Pong{Pong: n}}
	}
	q.push(pong(3))
	q.pushFront(pong(1))
	q.requeue([]*livekit.SignalResponse{pong(2)}) // unwritten before the resume: after its header
	msgs, _ := q.take()
	var got []int64
	for _, m := range msgs {
		got = append(got, m.GetPong())
	}
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("order %v, want [1 2 3]", got)
	}
}

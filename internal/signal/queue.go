package signal

import (
	"sync"

	"github.com/livekit/protocol/livekit"
)

// outQueue is a connection's bounded outbound queue. It keeps messages in order and
// coalesces what is safe to coalesce while it waits to be written:
//
//   - participant updates queued back to back merge into one `update` message, keeping
//     the newest version of each participant, so a join storm in a large room costs each
//     client a handful of messages instead of one per join;
//   - only the newest pending room_update is kept, in the place of the first.
//
// Pushing never blocks. When more than max messages are waiting the queue overflows:
// the client cannot keep up and is disconnected.
type outQueue struct {
	mu       sync.Mutex
	entries  []*entry
	room     *entry // the pending room_update entry, if any
	max      int
	overflow bool
	// header counts the entries pushed to the front (a resume's first messages) that
	// have not been taken yet; requeued messages go after them.
	header int
	notify chan struct{}
}

type entry struct {
	msg   *livekit.SignalResponse    // a plain message, or
	infos []*livekit.ParticipantInfo // a participant update batch, or
	index map[string]int             // sid -> position in infos
	room  *livekit.Room              // a room update
}

func newOutQueue(max int) *outQueue {
	return &outQueue{max: max, notify: make(chan struct{}, 1)}
}

func (q *outQueue) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// appendLocked adds e and reports overflow.
func (q *outQueue) appendLocked(e *entry) {
	if q.overflow {
		return
	}
	if len(q.entries) >= q.max {
		q.overflow = true
		q.entries, q.room, q.header = nil, nil, 0
		return
	}
	q.entries = append(q.entries, e)
}

// push queues one message.
func (q *outQueue) push(msg *livekit.SignalResponse) {
	q.mu.Lock()
	q.appendLocked(&entry{msg: msg})
	q.mu.Unlock()
	q.wake()
}

// pushFront queues messages ahead of everything waiting (used on resume).
func (q *outQueue) pushFront(msgs ...*livekit.SignalResponse) {
	q.mu.Lock()
	front := make([]*entry, 0, len(msgs)+len(q.entries))
	for _, m := range msgs {
		front = append(front, &entry{msg: m})
	}
	q.entries = append(front, q.entries...)
	q.header += len(msgs)
	q.mu.Unlock()
	q.wake()
}

// requeue puts back messages that could not be written, ahead of everything else but
// behind a resume's first messages.
func (q *outQueue) requeue(msgs []*livekit.SignalResponse) {
	if len(msgs) == 0 {
		return
	}
	q.mu.Lock()
	back := make([]*entry, 0, len(msgs)+len(q.entries))
	back = append(back, q.entries[:q.header]...)
	for _, m := range msgs {
		back = append(back, &entry{msg: m})
	}
	back = append(back, q.entries[q.header:]...)
	q.entries = back
	q.mu.Unlock()
}

// pushUpdate queues participant infos, merging into the last entry when it is an
// update batch too.
func (q *outQueue) pushUpdate(infos []*livekit.ParticipantInfo) {
	q.mu.Lock()
	var e *entry
	if n := len(q.entries); n > 0 && q.entries[n-1].index != nil {
		e = q.entries[n-1]
	} else {
		e = &entry{index: make(map[string]int, len(infos))}
		q.appendLocked(e)
	}
	for _, pi := range infos {
		if i, ok := e.index[pi.Sid]; ok {
			if pi.Version >= e.infos[i].Version {
				e.infos[i] = pi
			}
			continue
		}
		e.index[pi.Sid] = len(e.infos)
		e.infos = append(e.infos, pi)
	}
	q.mu.Unlock()
	q.wake()
}

// pushRoom queues a room update, replacing the pending one if there is one.
func (q *outQueue) pushRoom(room *livekit.Room) {
	q.mu.Lock()
	if q.room != nil {
		q.room.room = room
	} else {
		e := &entry{room: room}
		q.appendLocked(e)
		if !q.overflow {
			q.room = e
		}
	}
	q.mu.Unlock()
	q.wake()
}

// take removes and returns everything waiting, as signal messages, and whether the
// queue overflowed.
func (q *outQueue) take() ([]*livekit.SignalResponse, bool) {
	q.mu.Lock()
	entries, overflow := q.entries, q.overflow
	q.entries, q.room, q.header = nil, nil, 0
	q.mu.Unlock()
	out := make([]*livekit.SignalResponse, 0, len(entries))
	for _, e := range entries {
		switch {
		case e.msg != nil:
			out = append(out, e.msg)
		case e.index != nil:
			out = append(out, &livekit.SignalResponse{Message: &livekit.SignalResponse_Update{
				Update: &livekit.ParticipantUpdate{Participants: e.infos},
			}})
		case e.room != nil:
			out = append(out, &livekit.SignalResponse{Message: &livekit.SignalResponse_RoomUpdate{
				RoomUpdate: &livekit.RoomUpdate{Room: e.room},
			}})
		}
	}
	return out, overflow
}

// overflowed reports whether the queue overflowed.
func (q *outQueue) overflowed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.overflow
}

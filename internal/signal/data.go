package signal

import (
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/rtc"
)

// Bounds of the data waiting for a participant's data channels.
const (
	maxPendingReliable      = 1024
	maxPendingReliableBytes = 8 << 20
	maxPendingLossy         = 256
	// dataRetry is how soon a reliable packet the channel refused is offered again.
	dataRetry = 20 * time.Millisecond
)

// dataQueue holds data packets for one participant until its data channel of the
// right kind is open. Reliable packets wait (bounded); lossy ones are dropped oldest
// first when too many wait.
type dataQueue struct {
	mu       sync.Mutex
	reliable [][]byte
	relBytes int
	lossy    [][]byte
	closed   bool
	notify   chan struct{}
	dropped  int
	// sending counts reliable packets taken from the queue and not yet handed to the
	// data channel.
	sending int
}

func newDataQueue() *dataQueue {
	return &dataQueue{notify: make(chan struct{}, 1)}
}

func (q *dataQueue) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// push queues a packet. It reports false when a reliable packet could not be queued
// because too much is waiting already.
func (q *dataQueue) push(kind livekit.DataPacket_Kind, data []byte) bool {
	q.mu.Lock()
	ok := true
	switch {
	case q.closed:
	case kind == livekit.DataPacket_LOSSY:
		if len(q.lossy) >= maxPendingLossy {
			q.lossy = q.lossy[1:]
			q.dropped++
		}
		q.lossy = append(q.lossy, data)
	case len(q.reliable) >= maxPendingReliable || q.relBytes+len(data) > maxPendingReliableBytes:
		q.dropped++
		ok = false
	default:
		q.reliable = append(q.reliable, data)
		q.relBytes += len(data)
	}
	q.mu.Unlock()
	q.wake()
	return ok
}

// waitSent waits until every reliable packet queued was handed to the data channel
// and acknowledged by the peer (buffered reports what the channel still holds), the
// queue closes, or timeout passes.
func (q *dataQueue) waitSent(timeout time.Duration, buffered func() uint64) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		q.mu.Lock()
		closed, waiting := q.closed, len(q.reliable)+q.sending
		q.mu.Unlock()
		if closed || waiting == 0 && buffered() == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (q *dataQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.reliable, q.lossy = nil, nil
	q.mu.Unlock()
	q.wake()
}

// drain sends what the transport can take now; packets for a channel that is not open
// yet stay queued.
func (q *dataQueue) drain(t *rtc.Transport) (closed bool) {
	for _, kind := range []livekit.DataPacket_Kind{livekit.DataPacket_RELIABLE, livekit.DataPacket_LOSSY} {
		if !t.DataOpen(kind) {
			continue
		}
		q.mu.Lock()
		var batch [][]byte
		if kind == livekit.DataPacket_RELIABLE {
			batch, q.reliable, q.relBytes = q.reliable, nil, 0
			q.sending = len(batch)
		} else {
			batch, q.lossy = q.lossy, nil
		}
		q.mu.Unlock()
		for i, d := range batch {
			if err := t.SendData(kind, d); err != nil && kind == livekit.DataPacket_RELIABLE {
				q.mu.Lock()
				q.reliable = append(append([][]byte(nil), batch[i:]...), q.reliable...)
				for _, b := range batch[i:] {
					q.relBytes += len(b)
				}
				q.mu.Unlock()
				// Nothing else may come to wake the queue: try again shortly.
				time.AfterFunc(dataRetry, q.wake)
				break
			}
		}
		if kind == livekit.DataPacket_RELIABLE {
			q.mu.Lock()
			q.sending = 0
			q.mu.Unlock()
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// dataLoop delivers queued data packets until the session ends.
func (s *Session) dataLoop() {
	defer s.h.wg.Done()
	for {
		select {
		case <-s.data.notify:
		case <-s.done:
			return
		}
		t := s.dataTransport()
		if t == nil {
			continue
		}
		if s.data.drain(t) {
			return
		}
	}
}

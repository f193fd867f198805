package main

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// vp8Stream packetizes frames the way the Go SDK does (VP8 with picture IDs, 1200-byte
// MTU) and returns each frame's packets.
func vp8Stream(t *testing.T, sizes []int, sent time.Time) [][]*rtp.Packet {
	t.Helper()
	p := rtp.NewPacketizer(1200, 96, 1234, &codecs.VP8Payloader{EnablePictureID: true}, rtp.NewRandomSequencer(), 90000)
	var out [][]*rtp.Packet
	for i, size := range sizes {
		l := fanoutVideo
		f := vp8Frame(make([]byte, size), size, i == 0, l)
		putStamp(f[vp8StampAt:], sent, uint32(i), 2) //nolint:gosec // G115: a small index
		out = append(out, p.Packetize(f, 3000))
	}
	return out
}

func TestCounterVP8(t *testing.T) {
	sent := time.Now()
	at := sent.Add(3 * time.Millisecond).UnixNano()
	feed := func(frames [][]*rtp.Packet, skip func(f, i int) bool) trackStats {
		var st trackStats
		c := &rtpCounter{video: true}
		for f, pkts := range frames {
			for i, p := range pkts {
				if skip != nil && skip(f, i) {
					continue
				}
				b, err := p.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				var q rtp.Packet
				if err := q.Unmarshal(b); err != nil {
					t.Fatal(err)
				}
				c.count(&st, &q, len(b), at, true)
			}
		}
		return st
	}
	frames := vp8Stream(t, []int{9000, 2000, 2000, 2000, 2000}, sent)
	if len(frames[0]) < 3 || len(frames[1]) != 2 {
		t.Fatalf("packets per frame: %d, %d", len(frames[0]), len(frames[1]))
	}

	st := feed(frames, nil)
	if st.frames != 5 || len(st.lat) != 5 || st.framesLost+st.framesIncomplete+st.pktLost+st.pktLate != 0 {
		t.Fatalf("clean stream: %+v", st)
	}
	if st.lat[0] != 3*time.Millisecond || st.layerFrames[2] != 5 {
		t.Fatalf("latency %v, layers %v", st.lat[0], st.layerFrames)
	}

	// A middle packet of the keyframe lost: the frame is incomplete.
	st = feed(frames, func(f, i int) bool { return f == 0 && i == 1 })
	if st.framesIncomplete != 1 || st.pktLost != 1 || len(st.lat) != 4 || st.frames != 5 {
		t.Fatalf("middle packet lost: %+v", st)
	}
	// A frame's last packet lost: incomplete too.
	st = feed(frames, func(f, i int) bool { return f == 2 && i == 1 })
	if st.framesIncomplete != 1 || st.pktLost != 1 || len(st.lat) != 4 {
		t.Fatalf("last packet lost: %+v", st)
	}
	// A frame's first packet lost: the frame is lost.
	st = feed(frames, func(f, i int) bool { return f == 2 && i == 0 })
	if st.framesLost != 1 || st.frames != 4 || st.framesIncomplete != 0 || len(st.lat) != 4 {
		t.Fatalf("first packet lost: %+v", st)
	}

	// Reordered: frame 2 arrives after frame 3; no loss, one late frame, two late packets.
	order := [][]*rtp.Packet{frames[0], frames[1], frames[3], frames[2], frames[4]}
	st = feed(order, nil)
	if st.framesLost != 0 || st.framesLate != 1 || st.pktLost != 0 || st.pktLate != 2 || st.frames != 5 {
		t.Fatalf("reordered: %+v", st)
	}
}

func TestCounterOpusAndPadding(t *testing.T) {
	var st trackStats
	c := &rtpCounter{}
	sent := time.Now()
	for i := range 10 {
		if i == 4 {
			continue
		}
		f := opusFrame(make([]byte, opusFrameBytes))
		putStamp(f[opusStampAt:], sent, uint32(i), 0)                                                                 //nolint:gosec // G115: a small index
		p := &rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(100 + i), Timestamp: uint32(960 * i)}, Payload: f} //nolint:gosec // G115: small
		c.count(&st, p, 100, sent.Add(time.Millisecond).UnixNano(), true)
	}
	c.count(&st, &rtp.Packet{Header: rtp.Header{SequenceNumber: 110}}, 100, sent.UnixNano(), true)
	if st.frames != 9 || st.framesLost != 1 || st.pktLost != 1 || len(st.lat) != 9 || st.padding != 1 || st.packets != 9 {
		t.Fatalf("%+v", st)
	}
}

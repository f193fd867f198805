package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
)

// Connection quality inputs: the loss of each published stream, counted on the packet
// path from sequence numbers, and what each subscriber reports of its streams (RTCP
// receiver reports: loss, jitter, and the round trip to it).

// seqCounter counts one stream's packets against its extended highest sequence number.
// observe runs on the stream's read goroutine only; take on another.
type seqCounter struct {
	started      bool
	last         uint16
	cycles       uint32
	extMax, recv atomic.Uint32
	// first is the first packet's sequence number.
	first atomic.Uint32
	// Of the previous take.
	baseMax, baseRecv uint32
	baseSet           bool
}

func (c *seqCounter) observe(seq uint16) {
	if !c.started {
		c.started, c.last = true, seq
		c.first.Store(uint32(seq))
		c.extMax.Store(uint32(seq))
		c.recv.Add(1)
		return
	}
	c.recv.Add(1)
	if diff := seq - c.last; diff != 0 && diff < 0x8000 {
		if seq < c.last {
			c.cycles += 1 << 16
		}
		c.last = seq
		c.extMax.Store(c.cycles | uint32(seq))
	}
}

// take returns the packets expected and lost since the last take.
func (c *seqCounter) take() (expected, lost uint32) {
	m, r := c.extMax.Load(), c.recv.Load()
	if !c.baseSet {
		if r == 0 {
			return 0, 0
		}
		// The first window starts at the first packet.
		c.baseSet, c.baseMax, c.baseRecv = true, c.first.Load()-1, 0
	}
	expected, received := m-c.baseMax, r-c.baseRecv
	c.baseMax, c.baseRecv = m, r
	if received >= expected {
		return expected, 0 // retransmissions and duplicates
	}
	return expected, expected - received
}

// TakeLoss returns the packets the publisher sent on every layer since the last call
// and how many of them never arrived (repaired ones did arrive).
func (r *Receiver) TakeLoss() (expected, lost uint32) {
	r.lossMu.Lock()
	defer r.lossMu.Unlock()
	for i := range r.layers {
		e, l := r.layers[i].seq.take()
		expected += e
		lost += l
	}
	return expected, lost
}

// HandleNack counts the packets a subscriber reported missing (a NACK about d's stream):
// what the link lost, before the retransmissions repaired it.
func (d *DownTrack) HandleNack(n *rtcp.TransportLayerNack) {
	lost := 0
	for _, p := range n.Nacks {
		lost += len(p.PacketList())
	}
	d.rx.nacked.Add(uint64(lost))
}

// TakeLinkLoss returns the share of the packets sent since the last call that the
// subscriber reported missing (0 when nothing was sent).
func (d *DownTrack) TakeLinkLoss() float64 {
	sent, nacked := d.packets.Load(), d.rx.nacked.Load()
	d.rx.mu.Lock()
	defer d.rx.mu.Unlock()
	ds, dn := sent-d.rx.baseSent, nacked-d.rx.baseNacked
	d.rx.baseSent, d.rx.baseNacked = sent, nacked
	if ds == 0 {
		return 0
	}
	return min(float64(dn)/float64(ds), 1)
}

// HandleREMB records a client's receiver-side bandwidth estimate, which a client that
// does not send transport-wide CC feedback sends instead.
func (d *DownTrack) HandleREMB(bitrate float32, now time.Time) {
	d.rx.remb.Store(int64(bitrate))
	d.rx.rembAt.Store(now.UnixNano())
}

// REMB returns the client's latest receiver estimate if it came after since.
func (d *DownTrack) REMB(since time.Time) (float64, bool) {
	if d.rx.rembAt.Load() < since.UnixNano() {
		return 0, false
	}
	return float64(d.rx.remb.Load()), true
}

// reception is what a subscriber last reported of one down track.
type reception struct {
	// fractionLost is the RR's fraction lost (of 256), jitter in RTP units, rtt in
	// microseconds (0: unknown), at when it arrived (unix ns).
	fractionLost, jitter, rtt atomic.Uint32
	at                        atomic.Int64
	// nacked counts the packets NACKed; mu guards the counts of the last take.
	nacked atomic.Uint64
	// remb is the client's latest receiver estimate (bit/s), at rembAt (unix ns).
	remb, rembAt         atomic.Int64
	mu                   sync.Mutex
	baseSent, baseNacked uint64
}

// srRecord is a sender report d sent: its middle 32 bits of NTP time (what the
// subscriber echoes as LSR) and when it was sent.
type srRecord struct {
	lsr uint32
	at  int64
}

// HandleReceptionReport takes a subscriber's report about d's stream (it must be
// about d's SSRC) received at now.
func (d *DownTrack) HandleReceptionReport(rep rtcp.ReceptionReport, now time.Time) {
	d.rx.fractionLost.Store(uint32(rep.FractionLost))
	d.rx.jitter.Store(rep.Jitter)
	if rep.LastSenderReport != 0 {
		d.mu.Lock()
		for _, s := range d.srSent {
			if s.lsr == rep.LastSenderReport && s.at != 0 {
				// The report left the subscriber DLSR (1/65536 s) after it got our
				// report; the rest of the time since we sent it is the round trip.
				rtt := now.UnixNano() - s.at - int64(rep.Delay)*1e9/65536
				if rtt >= 0 {
					d.rx.rtt.Store(uint32(min(rtt/1e3, 1<<31)))
				}
			}
		}
		d.mu.Unlock()
	}
	d.rx.at.Store(now.UnixNano())
}

// SSRC returns the SSRC d is sent with (0 before it is bound).
func (d *DownTrack) SSRC() uint32 {
	if b := d.binding.Load(); b != nil {
		return b.ssrc
	}
	return 0
}

// Reception is a subscriber's view of one down track from its latest receiver report.
type Reception struct {
	// Loss is the fraction of packets lost (0 to 1); Jitter and RTT as reported and
	// measured (RTT 0: unknown).
	Loss        float64
	Jitter, RTT time.Duration
}

// Reception returns the subscriber's latest report, if it came after since.
func (d *DownTrack) Reception(since time.Time) (Reception, bool) {
	if d.rx.at.Load() < since.UnixNano() {
		return Reception{}, false
	}
	rate := d.clockRate()
	out := Reception{Loss: float64(d.rx.fractionLost.Load()) / 256, RTT: time.Duration(d.rx.rtt.Load()) * time.Microsecond}
	if rate > 0 {
		out.Jitter = time.Duration(uint64(d.rx.jitter.Load()) * uint64(time.Second) / uint64(rate))
	}
	return out, true
}

func (d *DownTrack) clockRate() uint32 {
	if b := d.binding.Load(); b != nil {
		return b.codec.ClockRate
	}
	return 0
}

// recordSR remembers a sender report sent at now (under d.mu).
func (d *DownTrack) recordSR(ntp uint64, now time.Time) {
	d.srSent[d.srNext%len(d.srSent)] = srRecord{lsr: uint32(ntp >> 16), at: now.UnixNano()}
	d.srNext++
}

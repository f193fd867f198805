package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

func TestSeqCounterCountsLossAcrossAWrap(t *testing.T) {
	var c seqCounter
	if e, l := c.take(); e != 0 || l != 0 {
		t.Fatalf("before any packet: %d expected, %d lost", e, l)
	}
	seq := uint16(65500)
	for i := range 100 {
		if i%10 != 3 { // every tenth packet lost
			c.observe(seq)
		}
		seq++
	}
	if e, l := c.take(); e != 100 || l != 10 {
		t.Fatalf("100 packets across the wrap, 10 lost: %d expected, %d lost", e, l)
	}
	// A retransmission of a lost packet and a reordered one: nothing more lost.
	c.observe(65503)
	for range 20 {
		c.observe(seq)
		seq++
	}
	if e, l := c.take(); e != 20 || l != 0 {
		t.Fatalf("20 packets and a retransmission: %d expected, %d lost", e, l)
	}
}

func TestReceptionReportGivesLossJitterAndRoundTrip(t *testing.T) {
	d := &DownTrack{}
	d.binding.Store(&binding{ssrc: 42, codec: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000}})
	sent := time.Unix(1000, 0)
	d.mu.Lock()
	d.recordSR(0x0000_1234_5678_0000, sent)
	d.mu.Unlock()
	now := sent.Add(300 * time.Millisecond)
	d.HandleReceptionReport(rtcp.ReceptionReport{SSRC: 42, FractionLost: 64, Jitter: 480, LastSenderReport: 0x1234_5678, Delay: 65536 / 10}, now)
	rx, ok := d.Reception(sent)
	if !ok {
		t.Fatal("no reception after the report")
	}
	if rx.Loss != 0.25 || rx.Jitter != 10*time.Millisecond || rx.RTT < 199*time.Millisecond || rx.RTT > 201*time.Millisecond {
		t.Fatalf("reception %+v; want 25%% loss, 10 ms jitter, 200 ms round trip", rx)
	}
	if _, ok := d.Reception(now.Add(time.Second)); ok {
		t.Fatal("a report older than the window counted")
	}
}

package sfu

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// demands records what a receiver's demand handler heard.
type demands struct {
	ch chan int
}

func (d *demands) handle(l int) { d.ch <- l }

func (d *demands) next(t *testing.T, want int) {
	t.Helper()
	select {
	case l := <-d.ch:
		if l != want {
			t.Fatalf("demand %d, want %d", l, want)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("no demand update (want %d)", want)
	}
}

// More demand is told at once; less after the delay, and only if it lasted.
func TestDemandFollowsSubscribers(t *testing.T) {
	r := NewReceiver(ReceiverParams{TrackID: "cam", Kind: webrtc.RTPCodecTypeVideo, Codec: webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
	}})
	r.dem.delay = 50 * time.Millisecond
	rec := &demands{ch: make(chan int, 16)}
	r.SetDemandHandler(rec.handle)
	rec.next(t, NoDemand) // nobody subscribes: the layers stop after the delay

	d := NewSimpleDownTrack(r, "TR", "s")
	d.src.Store(r)
	r.AddDownTrack(d)
	rec.next(t, MaxLayers-1) // a subscriber of the top layer: at once
	d.SetTargetLayer(0)
	rec.next(t, 0)
	d.SetTargetLayer(1)
	rec.next(t, 1)
	// A blink (down and up again within the delay) is not told.
	d.SetPaused(true)
	d.SetPaused(false)
	d.SetPaused(true)
	rec.next(t, NoDemand)
	r.RemoveDownTrack(d)
	d.SetPaused(false) // no longer a subscriber of r: nothing to tell
	// The next update is the one a new subscriber causes.
	d2 := NewSimpleDownTrack(r, "TR2", "s")
	d2.src.Store(r)
	r.AddDownTrack(d2)
	rec.next(t, MaxLayers-1)
}

package signal

import (
	"testing"

	"github.com/usher-rtc/usher/internal/rtc/sfu"
)

// The estimate: heavy loss cuts it to what got through, little loss lets it grow, and
// the growth speeds up while the link stays clean but never runs far beyond what the
// tracks would use.
func TestEstimateFollowsLoss(t *testing.T) {
	a := &allocState{estimate: 1_000_000}
	a.update(0.3, 800_000, 2_000_000)
	if a.estimate != 800_000*(1-0.15) {
		t.Fatalf("after 30%% loss at 800 kbit/s sent: %.0f", a.estimate)
	}
	a.update(0.05, 700_000, 2_000_000)
	if a.estimate != 800_000*(1-0.15) {
		t.Fatalf("5%% loss should hold the estimate: %.0f", a.estimate)
	}
	prev, grew := a.estimate, []float64{}
	for range 5 {
		a.update(0, 600_000, 2_000_000)
		grew = append(grew, a.estimate/prev)
		prev = a.estimate
	}
	for i := 1; i < len(grew); i++ {
		if grew[i] < grew[i-1] {
			t.Fatalf("probing did not speed up on a clean link: growth %v", grew)
		}
	}
	idle := &allocState{estimate: 300_000}
	for range 50 {
		idle.update(0, 100_000, 200_000)
	}
	if want := 1.5*200_000 + probeStep; idle.estimate != want {
		t.Fatalf("the estimate of a link carrying little: %.0f, want it to stop at %.0f", idle.estimate, want)
	}
	for range 50 {
		a.update(1, 1_000, 0)
	}
	if a.estimate != minEstimate {
		t.Fatalf("total loss: %.0f, want the floor %.0f", a.estimate, minEstimate)
	}
}

type fakeVideo struct {
	id               string
	priority, target int
	r                *sfu.Receiver
}

func (f *fakeVideo) ID() string              { return f.id }
func (f *fakeVideo) Priority() int           { return f.priority }
func (f *fakeVideo) Target() int             { return f.target }
func (f *fakeVideo) Receiver() *sfu.Receiver { return f.r }

// What is short goes to the screen share first, then the pinned camera, then the rest;
// a track for which nothing fits gets -1 (paused).
func TestFitByPriority(t *testing.T) {
	layers := [sfu.MaxLayers]float64{100_000, 300_000, 1_000_000}
	rates := map[*sfu.Receiver][sfu.MaxLayers]float64{}
	track := func(id string, priority int) *fakeVideo {
		r := sfu.NewReceiver(sfu.ReceiverParams{TrackID: id})
		rates[r] = layers
		return &fakeVideo{id: id, priority: priority, target: 2, r: r}
	}
	camA, camB := track("TR_a", 0), track("TR_b", 0)
	pinned, screen := track("TR_pin", 1), track("TR_screen", 2)
	got := fit(1_500_000, []videoTrack{camA, camB, pinned, screen}, rates)
	// 1.35 Mbit/s usable: the screen share takes its top layer (1 Mbit/s), the pinned
	// camera the middle one (0.3), camera a the lowest (0.1); camera b gets nothing.
	want := map[videoTrack]int{screen: 2, pinned: 1, camA: 0, camB: -1}
	for tr, l := range want {
		if got[tr] != l {
			t.Errorf("%s: layer %d, want %d (all: %v)", tr.ID(), got[tr], l, got)
		}
	}
}

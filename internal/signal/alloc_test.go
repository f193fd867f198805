package signal

import (
	"testing"
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

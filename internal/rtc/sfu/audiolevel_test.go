package sfu

import (
	"math"
	"testing"
)

func TestLevelWindow(t *testing.T) {
	var w levelWindow
	if got := w.take(); got != 0 {
		t.Fatalf("an empty window: %v", got)
	}
	for range 50 {
		w.observe(10)
	}
	if got, want := w.take(), math.Pow(10, -0.5); math.Abs(got-want) > 1e-9 {
		t.Fatalf("constant speech at -10 dBov: %v, want %v", got, want)
	}
	// Speech in 30% of the packets is below MinPercentile: silence.
	for i := range 10 {
		if i < 3 {
			w.observe(5)
		} else {
			w.observe(127)
		}
	}
	if got := w.take(); got != 0 {
		t.Fatalf("speech in 30%% of the window: %v", got)
	}
	// Half the window at -20 dBov (the loudest), half quiet: 6 dB less.
	for i := range 10 {
		if i%2 == 0 {
			w.observe(20)
		} else {
			w.observe(30) // sound too, but quieter than the loudest
			w.observe(100)
		}
	}
	got := w.take()
	frac := 10.0 / 15.0
	want := math.Pow(10, -(20-20*math.Log10(frac))/20)
	if math.Abs(got-want) > 1e-9 {
		t.Fatalf("intermittent speech: %v, want %v", got, want)
	}
	if got := w.take(); got != 0 {
		t.Fatalf("the next window did not start empty: %v", got)
	}
}

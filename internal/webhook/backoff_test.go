package webhook

import (
	"net/http"
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	const minWait, maxWait = time.Second, 5 * time.Minute
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	step := minWait
	for attempt := 0; attempt < 40; attempt++ {
		lo := backoff(attempt, minWait, maxWait, lowest)
		hi := backoff(attempt, minWait, maxWait, highest)
		if lo != step/2 || hi != step {
			t.Errorf("attempt %d: jitter spans [%s, %s], want [%s, %s]", attempt, lo, hi, step/2, step)
		}
		for i := 0; i < 200; i++ {
			if d := Backoff(attempt, minWait, maxWait); d < step/2 || d > step {
				t.Fatalf("attempt %d: Backoff %s outside [%s, %s]", attempt, d, step/2, step)
			}
		}
		step = min(2*step, maxWait)
	}
	// The jitter spreads: 200 draws of one step are not all equal.
	seen := map[time.Duration]bool{}
	for i := 0; i < 200; i++ {
		seen[Backoff(3, minWait, maxWait)] = true
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct waits in 200 draws", len(seen))
	}
	// Huge attempt numbers neither overflow nor exceed the cap.
	if d := Backoff(1<<30, minWait, maxWait); d < maxWait/2 || d > maxWait {
		t.Errorf("attempt 2^30: %s", d)
	}
	// Degenerate bounds stay positive and bounded.
	if d := Backoff(5, 0, 0); d <= 0 || d > time.Millisecond {
		t.Errorf("zero bounds: %s", d)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"7", 7 * time.Second}, {"0", 0}, {"-3", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"99999999999999", (1 << 30) * time.Second},
	} {
		h := http.Header{}
		if c.v != "" {
			h.Set("Retry-After", c.v)
		}
		if got := retryAfter(h, now); got != c.want {
			t.Errorf("Retry-After %q: %s, want %s", c.v, got, c.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.example.com/lk":                     "https://hooks.example.com/lk",
		"https://user:pass@hooks.example.com/lk?token=abc": "https://***@hooks.example.com/lk?token=***",
		"http://h/p?a=1&b=2#frag":                          "http://h/p?a=***&b=***",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

package webhook

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Backoff returns how long to wait after failed attempt number attempt (0 for the
// first) of one event: the exponential step min·2^attempt, capped at max, with equal
// jitter, so the wait lies in [step/2, step]. Receivers that come back after an outage
// are not hit by every server at the same instant.
func Backoff(attempt int, minWait, maxWait time.Duration) time.Duration {
	return backoff(attempt, minWait, maxWait, rand.Int64N) //nolint:gosec // G404: jitter needs no cryptographic randomness
}

// backoff is Backoff with the random source given: randN(n) returns a number in [0, n).
func backoff(attempt int, minWait, maxWait time.Duration, randN func(int64) int64) time.Duration {
	if minWait <= 0 {
		minWait = time.Millisecond
	}
	if maxWait < minWait {
		maxWait = minWait
	}
	step := minWait
	for i := 0; i < attempt && step < maxWait; i++ {
		step *= 2
	}
	step = min(step, maxWait)
	half := step / 2
	return half + time.Duration(randN(int64(step-half)+1))
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), or returns 0.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, 1<<30)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

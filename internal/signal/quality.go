package signal

import (
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/rtc"
)

// QualityInterval is how often a session rates its participant's connection.
const QualityInterval = 2 * time.Second

// Thresholds of the connection quality ratings (what LiveKit's SDKs show as
// excellent, good and poor): loss of the client's published or received streams, the
// round trip to it, and the jitter it reports.
const (
	excellentLoss, goodLoss     = 0.02, 0.08
	excellentRTT, goodRTT       = 300 * time.Millisecond, 600 * time.Millisecond
	excellentJitter, goodJitter = 30 * time.Millisecond, 100 * time.Millisecond
)

// rateQuality turns a window's stats into LiveKit's quality and a score (MOS-like, 1
// to 5). A client whose signal connection is gone (it may resume) is lost.
func rateQuality(stats []rtc.QualityStats, connected bool) (livekit.ConnectionQuality, float32) {
	if !connected {
		return livekit.ConnectionQuality_LOST, 0
	}
	var expected, lost uint32
	var downLoss float64
	var rtt, jitter time.Duration
	for _, q := range stats {
		expected += q.UpExpected
		lost += q.UpLost
		downLoss = max(downLoss, q.DownLoss)
		rtt = max(rtt, q.RTT)
		jitter = max(jitter, q.Jitter)
	}
	loss := downLoss
	if expected > 0 {
		loss = max(loss, float64(lost)/float64(expected))
	}
	score := 4.5 - 20*loss - rtt.Seconds() - 5*jitter.Seconds()
	score = min(max(score, 1), 4.5)
	switch {
	case loss <= excellentLoss && rtt < excellentRTT && jitter < excellentJitter:
		return livekit.ConnectionQuality_EXCELLENT, float32(score)
	case loss <= goodLoss && rtt < goodRTT && jitter < goodJitter:
		return livekit.ConnectionQuality_GOOD, float32(score)
	}
	return livekit.ConnectionQuality_POOR, float32(score)
}

// updateQuality rates the connection once per QualityInterval and hands the rating to
// the room, which tells everyone who sees the participant when it changed.
func (s *Session) updateQuality(now time.Time) {
	s.mu.Lock()
	since := s.qualityAt
	due := now.Sub(since) >= s.h.opts.QualityInterval
	if due {
		s.qualityAt = now
	}
	connected := s.conn != nil
	s.mu.Unlock()
	if !due || since.IsZero() {
		return
	}
	var stats []rtc.QualityStats
	for _, t := range []*rtc.Transport{s.pub, s.sub} {
		if t != nil {
			stats = append(stats, t.TakeQualityStats(since))
		}
	}
	q, score := rateQuality(stats, connected)
	s.p.SetConnectionQuality(q, score)
}

package signal

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/rtc"
)

func TestRateQuality(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stats     []rtc.QualityStats
		connected bool
		want      livekit.ConnectionQuality
	}{
		{"nothing measured", nil, true, livekit.ConnectionQuality_EXCELLENT},
		{"clean", []rtc.QualityStats{{UpExpected: 500, UpLost: 2, RTT: 20 * time.Millisecond}}, true, livekit.ConnectionQuality_EXCELLENT},
		{"5% published loss", []rtc.QualityStats{{UpExpected: 1000, UpLost: 50}}, true, livekit.ConnectionQuality_GOOD},
		{"5% received loss", []rtc.QualityStats{{}, {DownLoss: 0.05, DownReports: 2}}, true, livekit.ConnectionQuality_GOOD},
		{"a long round trip", []rtc.QualityStats{{RTT: 400 * time.Millisecond}}, true, livekit.ConnectionQuality_GOOD},
		{"15% loss", []rtc.QualityStats{{UpExpected: 100, UpLost: 15}}, true, livekit.ConnectionQuality_POOR},
		{"heavy jitter", []rtc.QualityStats{{Jitter: 150 * time.Millisecond}}, true, livekit.ConnectionQuality_POOR},
		{"signal gone", nil, false, livekit.ConnectionQuality_LOST},
	} {
		got, score := rateQuality(tc.stats, tc.connected)
		if got != tc.want || score < 0 || score > 4.5 {
			t.Errorf("%s: %s (score %.2f), want %s", tc.name, got, score, tc.want)
		}
	}
}

package test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

// BenchmarkUpdateParticipantEvents measures an admin call (UpdateParticipant of
// metadata, in a 20-participant room, over real HTTP) with the event consumers off,
// with the audit log, with webhooks (a LiveKit URL and a moderation URL answered by a
// live receiver), and with both: the added latency of each is its difference from
// "off". It also reports the events each consumer took per second, and fails if one
// dropped any.
func BenchmarkUpdateParticipantEvents(b *testing.B) {
	var received atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	for _, mode := range []struct {
		name            string
		audit, webhooks bool
	}{{"off", false, false}, {"audit", true, false}, {"webhooks", false, true}, {"both", true, true}} {
		b.Run(mode.name, func(b *testing.B) {
			srv := testutil.StartServer(b, testutil.WithConfig(func(c *config.Config) {
				c.Signal.JoinTimeout = time.Hour
				c.Audit.Enabled = mode.audit
				if mode.webhooks {
					c.Webhook.URLs = []string{rcv.URL + "/livekit"}
					c.Webhook.ModerationURLs = []string{rcv.URL + "/moderation"}
					c.Webhook.MaxPending = 10_000_000
				}
			}))
			crowd(b, srv, "upd", 20)
			tok := testutil.Token(b, "bench", &lkauth.VideoGrant{RoomAdmin: true, Room: "upd"})
			client := &http.Client{}
			written := srv.Audit().Written()
			got := received.Load()
			start := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				var info livekit.ParticipantInfo
				benchPost(b, client, srv.URL, "UpdateParticipant", tok, &livekit.UpdateParticipantRequest{Room: "upd", Identity: "p0000", Metadata: fmt.Sprint(n)}, &info)
				n++
			}
			b.StopTimer()
			if mode.audit {
				testutil.Eventually(b, 30*time.Second, func() bool { return srv.Audit().Written()-written >= uint64(n) },
					"the audit log wrote %d of %d updates", srv.Audit().Written()-written, n)
				b.ReportMetric(float64(srv.Audit().Written()-written)/time.Since(start).Seconds(), "audit-records/s")
				if d := srv.Audit().Dropped(); d > 0 {
					b.Fatalf("the audit log dropped %d events", d)
				}
			}
			if mode.webhooks {
				// Each update is one moderation event (participant_updated), sent only to
				// the moderation URL.
				testutil.Eventually(b, 60*time.Second, func() bool { return received.Load()-got >= int64(n) },
					"the receiver got %d of %d webhooks", received.Load()-got, n)
				b.ReportMetric(float64(received.Load()-got)/time.Since(start).Seconds(), "webhooks/s")
			}
		})
	}
}

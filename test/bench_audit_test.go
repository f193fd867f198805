package test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

// BenchmarkUpdateParticipantAudit measures an admin's UpdateParticipant (metadata)
// in a 10-participant room over real HTTP, with the audit log off and on: the added
// latency of recording (the call publishes on the bus; the log writes in its own
// goroutine). With audit on, it also reports the records written per second.
func BenchmarkUpdateParticipantAudit(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("audit=%v", on), func(b *testing.B) {
			srv := testutil.StartServer(b, testutil.WithConfig(func(c *config.Config) {
				c.Signal.JoinTimeout = time.Hour
				c.Audit.Enabled = on
			}))
			crowd(b, srv, "upd", 10)
			tok := testutil.Token(b, "bench", &lkauth.VideoGrant{RoomAdmin: true, Room: "upd"})
			client := &http.Client{}
			written := srv.Audit().Written()
			start := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				var info livekit.ParticipantInfo
				benchPost(b, client, srv.URL, "UpdateParticipant", tok, &livekit.UpdateParticipantRequest{Room: "upd", Identity: "p0000", Metadata: fmt.Sprint(i)}, &info)
				i++
			}
			b.StopTimer()
			if on {
				testutil.Eventually(b, 10*time.Second, func() bool { return srv.Audit().Written()-written >= uint64(i) },
					"the audit log wrote %d of %d updates", srv.Audit().Written()-written, i)
				b.ReportMetric(float64(srv.Audit().Written()-written)/time.Since(start).Seconds(), "records/s")
				if d := srv.Audit().Dropped(); d > 0 {
					b.Fatalf("the audit log dropped %d events", d)
				}
			}
		})
	}
}

package test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

// BenchmarkUpdateParticipantWebhooks measures an admin call (UpdateParticipant of
// metadata, in a 20-participant room, over real HTTP) with webhooks off and on (a
// LiveKit URL and a moderation URL, answered by a live receiver): the added latency
// of the webhooks is the difference of the two.
func BenchmarkUpdateParticipantWebhooks(b *testing.B) {
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer rcv.Close()
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			srv := testutil.StartServer(b, testutil.WithConfig(func(c *config.Config) {
				c.Signal.JoinTimeout = time.Hour
				if on {
					c.Webhook.URLs = []string{rcv.URL + "/livekit"}
					c.Webhook.ModerationURLs = []string{rcv.URL + "/moderation"}
					c.Webhook.MaxPending = 10_000_000
				}
			}))
			crowd(b, srv, "upd", 20)
			tok := testutil.Token(b, "bench", &lkauth.VideoGrant{RoomAdmin: true, Room: "upd"})
			client := &http.Client{}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				var info livekit.ParticipantInfo
				benchPost(b, client, srv.URL, "UpdateParticipant", tok, &livekit.UpdateParticipantRequest{Room: "upd", Identity: "p0000", Metadata: fmt.Sprint(i)}, &info)
				i++
			}
		})
	}
}

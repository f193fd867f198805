package test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

// crowd joins n signal-only participants (real /rtc connections that read everything
// the server sends, without WebRTC) to roomName.
func crowd(b *testing.B, srv *testutil.TestServer, roomName string, n int) {
	b.Helper()
	for i := range n {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+testutil.JoinToken(b, roomName, fmt.Sprintf("p%04d", i), testutil.WithMetadata(`{"seat":12}`)))
		ws, _, err := websocket.DefaultDialer.Dial(srv.WSURL+"/rtc", h)
		if err != nil {
			b.Fatalf("join %d: %v", i, err)
		}
		b.Cleanup(func() { _ = ws.Close() })
		go func() {
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	testutil.Eventually(b, 30*time.Second, func() bool {
		rm, err := srv.Rooms().Room(roomName)
		return err == nil && len(rm.Participants()) == n
	}, "the crowd did not join")
}

// BenchmarkListParticipants500 measures ListParticipants of a 500-participant room over
// real HTTP on loopback (protobuf, pre-signed token, keep-alive).
func BenchmarkListParticipants500(b *testing.B) {
	srv := testutil.StartServer(b, testutil.WithConfig(func(c *config.Config) { c.Signal.JoinTimeout = time.Hour }))
	crowd(b, srv, "big", 500)
	tok := testutil.Token(b, "bench", &lkauth.VideoGrant{RoomAdmin: true, Room: "big"})
	client := &http.Client{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var resp livekit.ListParticipantsResponse
		benchPost(b, client, srv.URL, "ListParticipants", tok, &livekit.ListParticipantsRequest{Room: "big"}, &resp)
		if len(resp.Participants) != 500 {
			b.Fatalf("listed %d", len(resp.Participants))
		}
	}
}

// BenchmarkUpdateParticipantMetadata measures UpdateParticipant (metadata) in a
// 100-participant room, each call fanned out to all of them, over real HTTP.
func BenchmarkUpdateParticipantMetadata(b *testing.B) {
	srv := testutil.StartServer(b, testutil.WithConfig(func(c *config.Config) { c.Signal.JoinTimeout = time.Hour }))
	crowd(b, srv, "upd", 100)
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
}

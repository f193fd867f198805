package room

import (
	"context"
	"fmt"
	"testing"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/config"
)

// joinN fills a room with n participants (no connections: nop sinks) and returns it.
func joinN(tb testing.TB, m *Manager, name string, n int) *Room {
	tb.Helper()
	if _, _, err := m.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: name}); err != nil {
		tb.Fatal(err)
	}
	r, err := m.Room(name)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		id := fmt.Sprintf("p%d", i)
		g := &lkauth.ClaimGrants{Identity: id, Video: &lkauth.VideoGrant{RoomJoin: true, Room: name}}
		p, err := r.Reserve(JoinParams{Identity: id, Grants: g, AutoSubscribe: true})
		if err != nil {
			tb.Fatal(err)
		}
		if err := r.Activate(p, &livekit.JoinResponse{}); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

// BenchmarkJoinLargeRoom measures one more join into a room of 1,000 participants
// (the cost every join pays: subscriptions, the others' updates, events).
func BenchmarkJoinLargeRoom(b *testing.B) {
	cfg := config.Default()
	m := NewManager(Options{Defaults: cfg.Room, Limits: cfg.Limit})
	defer m.Close()
	r := joinN(b, m, "big", 1000)
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("late%d", i)
		g := &lkauth.ClaimGrants{Identity: id, Video: &lkauth.VideoGrant{RoomJoin: true, Room: "big"}}
		p, err := r.Reserve(JoinParams{Identity: id, Grants: g, AutoSubscribe: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Activate(p, &livekit.JoinResponse{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		p.Leave(livekit.DisconnectReason_CLIENT_INITIATED)
		b.StartTimer()
	}
}

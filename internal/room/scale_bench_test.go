package room

import (
	"context"
	"fmt"
	"testing"
	"time"

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

// levelSource is an audio track's media at a fixed level.
type levelSource struct{ level float64 }

func (levelSource) SetMuted(bool)             {}
func (l levelSource) TakeAudioLevel() float64 { return l.level }

// BenchmarkSpeakersLargeRoom measures one speaker update (every 400 ms) of a room of
// 1,000 participants, 50 of whom publish a microphone and speak at changing levels.
func BenchmarkSpeakersLargeRoom(b *testing.B) {
	cfg := config.Default()
	m := NewManager(Options{Defaults: cfg.Room, Limits: cfg.Limit, SpeakerInterval: time.Hour})
	defer m.Close()
	r := joinN(b, m, "big", 1000)
	r.mu.Lock()
	i := 0
	for _, p := range r.participants {
		if i == 50 {
			break
		}
		p.tracks = append(p.tracks, &track{info: &livekit.TrackInfo{Sid: fmt.Sprintf("TR_%d", i), Type: livekit.TrackType_AUDIO},
			source: levelSource{level: 0.05 + float64(i)/100}})
		i++
	}
	r.unlock()
	b.ResetTimer()
	for n := range b.N {
		r.mu.Lock()
		for _, p := range r.participants {
			for _, t := range p.tracks {
				// Levels that move, so every update has changes to send.
				t.source = levelSource{level: 0.05 + float64((n+len(t.info.Sid))%10)/20}
			}
		}
		r.updateSpeakersLocked()
		r.unlock()
	}
}

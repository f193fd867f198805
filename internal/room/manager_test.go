package room

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/config"
)

func newTestManager() *Manager {
	c := config.Default()
	return NewManager(Options{Defaults: c.Room, Limits: c.Limit})
}

func TestConcurrentLifecycle(t *testing.T) {
	m := newTestManager()
	defer m.Close()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				name := fmt.Sprintf("r%d", i%10)
				switch (w + i) % 4 {
				case 0:
					if _, _, err := m.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: name, EmptyTimeout: 1}); err != nil {
						t.Error(err)
					}
				case 1:
					if err := m.DeleteRoom(context.Background(), name); err != nil && !errors.Is(err, ErrRoomNotFound) {
						t.Error(err)
					}
				case 2:
					m.ListRooms(nil)
				case 3:
					if _, err := m.UpdateRoomMetadata(context.Background(), name, "x"); err != nil && !errors.Is(err, ErrRoomNotFound) {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestExpiryIgnoresReplacedTimer(t *testing.T) {
	m := newTestManager()
	defer m.Close()
	if _, _, err := m.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: "a", EmptyTimeout: 1}); err != nil {
		t.Fatal(err)
	}
	r, _ := m.Room("a")
	r.mu.Lock()
	old := r.timerGen
	r.armCloseTimerLocked(time.Hour) // replaced: the old timer must no longer close it
	r.mu.Unlock()
	m.expire(r, old)
	if _, err := m.Room("a"); err != nil {
		t.Fatalf("a stale timer closed the room: %v", err)
	}
	r.mu.Lock()
	cur := r.timerGen
	r.mu.Unlock()
	m.expire(r, cur)
	if _, err := m.Room("a"); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("the current timer did not close the room: %v", err)
	}
}

func TestClosedManagerRefusesRooms(t *testing.T) {
	m := newTestManager()
	m.Close()
	if _, _, err := m.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: "late"}); !errors.Is(err, ErrRoomClosed) {
		t.Errorf("CreateRoom after Close: %v", err)
	}
}

package twirpapi

import (
	"context"
	"net/http"

	"github.com/usher-rtc/usher/internal/room"
)

// WaitingRoomServiceName is the Twirp name of the waiting room for backends, served at
// /twirp/usher.WaitingRoom/<Method> on Twirp's JSON wire format.
const WaitingRoomServiceName = "usher.WaitingRoom"

// WaitingRoomRequest names a room.
type WaitingRoomRequest struct {
	Room string `json:"room"`
}

// WaitingParticipantRequest names a waiting participant; Reason goes with a denial.
type WaitingParticipantRequest struct {
	Room     string `json:"room"`
	Identity string `json:"identity"`
	Reason   string `json:"reason,omitempty"`
}

// WaitingJSON is one waiting participant.
type WaitingJSON struct {
	Identity string `json:"identity"`
	Name     string `json:"name"`
	SID      string `json:"sid"`
	Preset   string `json:"preset,omitempty"`
	// Since is when it arrived, in Unix milliseconds.
	Since int64 `json:"since"`
}

// ListWaitingResponse lists the waiting participants in the order they arrived.
type ListWaitingResponse struct {
	Waiting []WaitingJSON `json:"waiting"`
}

// WaitingSettingsJSON are a room's waiting-room settings.
type WaitingSettingsJSON struct {
	Room    string `json:"room"`
	Enabled bool   `json:"enabled"`
	// Mode is "admit" or "host_opens" ("" keeps the current one when setting).
	Mode    string `json:"mode"`
	Message string `json:"message"`
	// Opened says a host has opened the room (mode host_opens); read only.
	Opened bool `json:"opened"`
}

// WaitingRoomService is usher.WaitingRoom: this server's (WaitingRoom) or a remote
// one's (Client).
type WaitingRoomService interface {
	ListWaiting(ctx context.Context, req *WaitingRoomRequest) (*ListWaitingResponse, error)
	Admit(ctx context.Context, req *WaitingParticipantRequest) (*IdentitiesResponse, error)
	AdmitAll(ctx context.Context, req *WaitingRoomRequest) (*IdentitiesResponse, error)
	Deny(ctx context.Context, req *WaitingParticipantRequest) (*IdentitiesResponse, error)
	GetSettings(ctx context.Context, req *WaitingRoomRequest) (*WaitingSettingsJSON, error)
	SetSettings(ctx context.Context, req *WaitingSettingsJSON) (*WaitingSettingsJSON, error)
}

// WaitingRoom is usher.WaitingRoom over the room manager, for a backend with
// roomAdmin for the room.
type WaitingRoom struct{ rooms *room.Manager }

var _ WaitingRoomService = (*WaitingRoom)(nil)

// NewWaitingRoom returns usher.WaitingRoom over rooms.
func NewWaitingRoom(rooms *room.Manager) *WaitingRoom { return &WaitingRoom{rooms: rooms} }

// NewWaitingRoomHandler serves w at /twirp/usher.WaitingRoom/.
func NewWaitingRoomHandler(w WaitingRoomService, opts HandlerOptions) http.Handler {
	return NewJSONHandler(WaitingRoomServiceName, map[string]JSONMethod{
		"ListWaiting": jsonMethod(w.ListWaiting),
		"Admit":       jsonMethod(w.Admit),
		"AdmitAll":    jsonMethod(w.AdmitAll),
		"Deny":        jsonMethod(w.Deny),
		"GetSettings": jsonMethod(w.GetSettings),
		"SetSettings": jsonMethod(w.SetSettings),
	}, opts)
}

func (w *WaitingRoom) admin(ctx context.Context, method, roomName string) error {
	return requireRoomAdmin(ctx, w.rooms, method, roomName)
}

// ListWaiting lists the waiting participants of a room.
func (w *WaitingRoom) ListWaiting(ctx context.Context, req *WaitingRoomRequest) (*ListWaitingResponse, error) {
	if err := w.admin(ctx, "ListWaiting", req.Room); err != nil {
		return nil, err
	}
	list, err := w.rooms.ListWaiting(ctx, req.Room)
	if err != nil {
		return nil, err
	}
	out := &ListWaitingResponse{Waiting: make([]WaitingJSON, 0, len(list))}
	for _, p := range list {
		out.Waiting = append(out.Waiting, WaitingJSON{Identity: p.Identity, Name: p.Name, SID: p.SID, Preset: p.Preset, Since: p.Since.UnixMilli()})
	}
	return out, nil
}

// Admit lets a waiting participant in.
func (w *WaitingRoom) Admit(ctx context.Context, req *WaitingParticipantRequest) (*IdentitiesResponse, error) {
	if err := w.admin(ctx, "Admit", req.Room); err != nil {
		return nil, err
	}
	if err := w.rooms.Admit(ctx, req.Room, req.Identity); err != nil {
		return nil, err
	}
	return &IdentitiesResponse{Identities: []string{req.Identity}}, nil
}

// AdmitAll lets everyone waiting in, in the order they arrived.
func (w *WaitingRoom) AdmitAll(ctx context.Context, req *WaitingRoomRequest) (*IdentitiesResponse, error) {
	if err := w.admin(ctx, "AdmitAll", req.Room); err != nil {
		return nil, err
	}
	ids, err := w.rooms.AdmitAll(ctx, req.Room)
	if err != nil {
		return nil, err
	}
	return &IdentitiesResponse{Identities: ids}, nil
}

// Deny turns a waiting participant away for good.
func (w *WaitingRoom) Deny(ctx context.Context, req *WaitingParticipantRequest) (*IdentitiesResponse, error) {
	if err := w.admin(ctx, "Deny", req.Room); err != nil {
		return nil, err
	}
	if err := w.rooms.Deny(ctx, req.Room, req.Identity, req.Reason); err != nil {
		return nil, err
	}
	return &IdentitiesResponse{Identities: []string{req.Identity}}, nil
}

// GetSettings returns a room's waiting-room settings.
func (w *WaitingRoom) GetSettings(ctx context.Context, req *WaitingRoomRequest) (*WaitingSettingsJSON, error) {
	if err := w.admin(ctx, "GetSettings", req.Room); err != nil {
		return nil, err
	}
	s, opened, err := w.rooms.WaitingRoomSettings(req.Room)
	if err != nil {
		return nil, err
	}
	return &WaitingSettingsJSON{Room: req.Room, Enabled: s.Enabled, Mode: s.Mode, Message: s.Message, Opened: opened}, nil
}

// SetSettings changes a room's waiting-room settings and returns them.
func (w *WaitingRoom) SetSettings(ctx context.Context, req *WaitingSettingsJSON) (*WaitingSettingsJSON, error) {
	if err := w.admin(ctx, "SetSettings", req.Room); err != nil {
		return nil, err
	}
	if err := w.rooms.SetWaitingRoom(ctx, req.Room, room.WaitingSettings{Enabled: req.Enabled, Mode: req.Mode, Message: req.Message}); err != nil {
		return nil, err
	}
	return w.GetSettings(ctx, &WaitingRoomRequest{Room: req.Room})
}

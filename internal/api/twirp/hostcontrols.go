package twirpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/room"
)

// HostControlsServiceName is the Twirp name of the host controls for backends, served
// at /twirp/usher.HostControls/<Method> on Twirp's JSON wire format.
const HostControlsServiceName = "usher.HostControls"

// SelectorJSON chooses participants for a bulk action: those holding one of presets
// (everyone when empty), except those holding one of except_presets, and except hosts
// (holders of any host control) with except_hosts.
type SelectorJSON struct {
	Presets       []string `json:"presets"`
	ExceptPresets []string `json:"except_presets"`
	ExceptHosts   bool     `json:"except_hosts"`
}

// MaxSelectorPresets bounds each preset list of a selector (presets, except_presets),
// as the room manager does.
const MaxSelectorPresets = 64

func (s SelectorJSON) selector() room.Selector {
	return room.Selector{Presets: s.Presets, ExceptPresets: s.ExceptPresets, ExceptHosts: s.ExceptHosts}
}

// Validate checks the selector's lists: at most MaxSelectorPresets names each, every
// one a preset name. Errors name the list and the position.
func (s SelectorJSON) Validate() error {
	for _, l := range []struct {
		field string
		names []string
	}{{"presets", s.Presets}, {"except_presets", s.ExceptPresets}} {
		if len(l.names) > MaxSelectorPresets {
			return fmt.Errorf("%w: %s has %d names; at most %d presets in presets and except_presets", room.ErrInvalidArgument, l.field, len(l.names), MaxSelectorPresets)
		}
		for i, n := range l.names {
			if problems := config.PresetProblems(n, config.PresetConfig{}); len(problems) > 0 {
				return fmt.Errorf("%w: %s[%d]: %s", room.ErrInvalidArgument, l.field, i, problems[0])
			}
		}
	}
	return nil
}

// DisableAllRequest mutes the audio ("audio") or camera ("video") of the chosen
// participants of room; allow_unmute false makes it a hard mute.
type DisableAllRequest struct {
	Room        string `json:"room"`
	Kind        string `json:"kind"`
	AllowUnmute bool   `json:"allow_unmute"`
	SelectorJSON
}

// EnableRequest lifts the hard mute of one participant's audio or video.
type EnableRequest struct {
	Room     string `json:"room"`
	Identity string `json:"identity"`
	Kind     string `json:"kind"`
}

// PinRequest pins or unpins one participant for the whole session.
type PinRequest struct {
	Room     string `json:"room"`
	Identity string `json:"identity"`
}

// RemoveParticipantsRequest removes the chosen participants of room for good.
type RemoveParticipantsRequest struct {
	Room string `json:"room"`
	SelectorJSON
}

// IdentitiesResponse names the participants an action reached.
type IdentitiesResponse struct {
	Identities []string `json:"identities"`
}

// PinResponse says who is pinned now and who was unpinned.
type PinResponse struct {
	Pinned   string `json:"pinned,omitempty"`
	Unpinned string `json:"unpinned,omitempty"`
}

// HostControlsService is usher.HostControls: this server's (HostControls) or a remote
// one's (Client).
type HostControlsService interface {
	DisableAll(ctx context.Context, req *DisableAllRequest) (*IdentitiesResponse, error)
	Enable(ctx context.Context, req *EnableRequest) (*IdentitiesResponse, error)
	Pin(ctx context.Context, req *PinRequest) (*PinResponse, error)
	Unpin(ctx context.Context, req *PinRequest) (*PinResponse, error)
	RemoveParticipants(ctx context.Context, req *RemoveParticipantsRequest) (*IdentitiesResponse, error)
}

// HostControls is usher.HostControls over the room manager: the in-session host
// controls, in bulk, for a backend with roomAdmin for the room.
type HostControls struct{ rooms *room.Manager }

var _ HostControlsService = (*HostControls)(nil)

// NewHostControls returns usher.HostControls over rooms.
func NewHostControls(rooms *room.Manager) *HostControls { return &HostControls{rooms: rooms} }

// NewHostControlsHandler serves h at /twirp/usher.HostControls/.
func NewHostControlsHandler(h HostControlsService, opts HandlerOptions) http.Handler {
	return NewJSONHandler(HostControlsServiceName, map[string]JSONMethod{
		"DisableAll":         jsonMethod(h.DisableAll),
		"Enable":             jsonMethod(h.Enable),
		"Pin":                jsonMethod(h.Pin),
		"Unpin":              jsonMethod(h.Unpin),
		"RemoveParticipants": jsonMethod(h.RemoveParticipants),
	}, opts)
}

func (h *HostControls) admin(ctx context.Context, method, roomName string) error {
	return requireRoomAdmin(ctx, h.rooms, method, roomName)
}

// requireRoomAdmin checks that the caller has roomAdmin for roomName, a valid name.
func requireRoomAdmin(ctx context.Context, rooms *room.Manager, method, roomName string) error {
	if err := claims(ctx).RequireRoomAdmin(method, roomName); err != nil {
		return err
	}
	return rooms.ValidateRoomName(roomName)
}

func isVideo(kind string) (bool, error) {
	switch kind {
	case "audio":
		return false, nil
	case "video":
		return true, nil
	}
	return false, fmt.Errorf("%w: kind must be \"audio\" or \"video\"", room.ErrInvalidArgument)
}

// DisableAll mutes the chosen participants' audio or camera.
func (h *HostControls) DisableAll(ctx context.Context, req *DisableAllRequest) (*IdentitiesResponse, error) {
	if err := h.admin(ctx, "DisableAll", req.Room); err != nil {
		return nil, err
	}
	video, err := isVideo(req.Kind)
	if err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	ids, err := h.rooms.DisableAll(ctx, req.Room, video, req.AllowUnmute, req.selector())
	if err != nil {
		return nil, err
	}
	return &IdentitiesResponse{Identities: ids}, nil
}

// Enable lifts a hard mute.
func (h *HostControls) Enable(ctx context.Context, req *EnableRequest) (*IdentitiesResponse, error) {
	if err := h.admin(ctx, "Enable", req.Room); err != nil {
		return nil, err
	}
	video, err := isVideo(req.Kind)
	if err != nil {
		return nil, err
	}
	if err := h.rooms.EnableParticipant(ctx, req.Room, req.Identity, video); err != nil {
		return nil, err
	}
	return &IdentitiesResponse{Identities: []string{req.Identity}}, nil
}

// Pin pins a participant for the session.
func (h *HostControls) Pin(ctx context.Context, req *PinRequest) (*PinResponse, error) {
	if err := h.admin(ctx, "Pin", req.Room); err != nil {
		return nil, err
	}
	prev, err := h.rooms.Pin(ctx, req.Room, req.Identity, true)
	if err != nil {
		return nil, err
	}
	return &PinResponse{Pinned: req.Identity, Unpinned: prev}, nil
}

// Unpin unpins a participant.
func (h *HostControls) Unpin(ctx context.Context, req *PinRequest) (*PinResponse, error) {
	if err := h.admin(ctx, "Unpin", req.Room); err != nil {
		return nil, err
	}
	if _, err := h.rooms.Pin(ctx, req.Room, req.Identity, false); err != nil {
		return nil, err
	}
	return &PinResponse{Unpinned: req.Identity}, nil
}

// RemoveParticipants removes the chosen participants for good.
func (h *HostControls) RemoveParticipants(ctx context.Context, req *RemoveParticipantsRequest) (*IdentitiesResponse, error) {
	if err := h.admin(ctx, "RemoveParticipants", req.Room); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	ids, err := h.rooms.RemoveSelected(ctx, req.Room, req.selector())
	if err != nil {
		return nil, err
	}
	return &IdentitiesResponse{Identities: ids}, nil
}

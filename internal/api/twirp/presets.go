package twirpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/room"
)

// PresetsServiceName is the Twirp name of Usher's preset service, served at
// /twirp/usher.Presets/<Method> on Twirp's JSON wire format.
const PresetsServiceName = "usher.Presets"

// PresetJSON is a preset on the wire: its name, where it comes from ("config": the
// configuration file, read-only; "api": made through this service) and its
// definition, with the field names of the configuration file.
type PresetJSON struct {
	Name   string              `json:"name"`
	Source string              `json:"source"`
	Preset config.PresetConfig `json:"preset"`
}

// PutPresetRequest is the request of CreatePreset and UpdatePreset: the whole
// definition of the preset called name (a field left out is false).
type PutPresetRequest struct {
	Name   string              `json:"name"`
	Preset config.PresetConfig `json:"preset"`
}

// PresetNameRequest is the request of GetPreset and DeletePreset.
type PresetNameRequest struct {
	Name string `json:"name"`
}

// ListPresetsRequest is the request of ListPresets: every preset (at most
// config.MaxPresets, so there is no paging).
type ListPresetsRequest struct{}

// PresetResponse is one preset; updated says how many participants an update or a
// deletion changed at once.
type PresetResponse struct {
	Preset  PresetJSON `json:"preset"`
	Updated int        `json:"updated_participants"`
}

// ListPresetsResponse is every preset, by name.
type ListPresetsResponse struct {
	Presets []PresetJSON `json:"presets"`
}

// PresetsService is usher.Presets: this server's (Presets) or a remote one's
// (Client).
type PresetsService interface {
	CreatePreset(ctx context.Context, req *PutPresetRequest) (*PresetResponse, error)
	UpdatePreset(ctx context.Context, req *PutPresetRequest) (*PresetResponse, error)
	DeletePreset(ctx context.Context, req *PresetNameRequest) (*PresetResponse, error)
	GetPreset(ctx context.Context, req *PresetNameRequest) (*PresetResponse, error)
	ListPresets(ctx context.Context, req *ListPresetsRequest) (*ListPresetsResponse, error)
}

// Presets is usher.Presets over the room manager. Grants: presets apply to every
// room, and roomAdmin is a grant on one room, so writes need roomCreate and reads
// roomList.
type Presets struct {
	rooms *room.Manager
}

var _ PresetsService = (*Presets)(nil)

// NewPresetsService returns usher.Presets over rooms.
func NewPresetsService(rooms *room.Manager) *Presets { return &Presets{rooms: rooms} }

// NewPresetsHandler serves s at /twirp/usher.Presets/ with the Room service's token
// check, body limit and timeout.
func NewPresetsHandler(s PresetsService, opts HandlerOptions) http.Handler {
	return NewJSONHandler(PresetsServiceName, PresetsMethods(s), opts)
}

// PresetsMethods are the methods of usher.Presets served by s.
func PresetsMethods(s PresetsService) map[string]JSONMethod {
	return map[string]JSONMethod{
		"CreatePreset": jsonMethod(s.CreatePreset),
		"UpdatePreset": jsonMethod(s.UpdatePreset),
		"DeletePreset": jsonMethod(s.DeletePreset),
		"GetPreset":    jsonMethod(s.GetPreset),
		"ListPresets":  jsonMethod(s.ListPresets),
	}
}

func toPresetJSON(p room.Preset) PresetJSON {
	if p.Config.CanPublishSources == nil {
		p.Config.CanPublishSources = []string{}
	}
	return PresetJSON{Name: p.Name, Source: p.Source, Preset: p.Config}
}

func requireName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: name is empty", room.ErrInvalidArgument)
	}
	return nil
}

// CreatePreset adds a preset. Its name may not be taken, by the configuration or the
// API.
func (s *Presets) CreatePreset(ctx context.Context, req *PutPresetRequest) (*PresetResponse, error) {
	if err := claims(ctx).RequireRoomCreate("CreatePreset"); err != nil {
		return nil, err
	}
	if err := requireName(req.Name); err != nil {
		return nil, err
	}
	p, err := s.rooms.CreatePreset(ctx, req.Name, req.Preset)
	if err != nil {
		return nil, err
	}
	return &PresetResponse{Preset: toPresetJSON(p)}, nil
}

// UpdatePreset replaces a preset made through the API and applies it at once to its
// holders in every room.
func (s *Presets) UpdatePreset(ctx context.Context, req *PutPresetRequest) (*PresetResponse, error) {
	if err := claims(ctx).RequireRoomCreate("UpdatePreset"); err != nil {
		return nil, err
	}
	if err := requireName(req.Name); err != nil {
		return nil, err
	}
	p, n, err := s.rooms.UpdatePreset(ctx, req.Name, req.Preset)
	if err != nil && p.Name == "" {
		return nil, err
	}
	// Stored: a holder it could not change is reported with the error.
	return &PresetResponse{Preset: toPresetJSON(p), Updated: n}, err
}

// DeletePreset removes a preset made through the API; its holders lose its host
// controls and keep their media permissions.
func (s *Presets) DeletePreset(ctx context.Context, req *PresetNameRequest) (*PresetResponse, error) {
	if err := claims(ctx).RequireRoomCreate("DeletePreset"); err != nil {
		return nil, err
	}
	if err := requireName(req.Name); err != nil {
		return nil, err
	}
	p, n, err := s.rooms.DeletePreset(ctx, req.Name)
	if err != nil && p.Name == "" {
		return nil, err
	}
	// Removed: a holder it could not change is reported with the error.
	return &PresetResponse{Preset: toPresetJSON(p), Updated: n}, err
}

// GetPreset returns one preset.
func (s *Presets) GetPreset(ctx context.Context, req *PresetNameRequest) (*PresetResponse, error) {
	if err := claims(ctx).RequireRoomList("GetPreset"); err != nil {
		return nil, err
	}
	if err := requireName(req.Name); err != nil {
		return nil, err
	}
	p, ok := s.rooms.Presets().Lookup(req.Name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", room.ErrPresetNotFound, req.Name)
	}
	return &PresetResponse{Preset: toPresetJSON(p)}, nil
}

// ListPresets returns every preset, by name.
func (s *Presets) ListPresets(ctx context.Context, _ *ListPresetsRequest) (*ListPresetsResponse, error) {
	if err := claims(ctx).RequireRoomList("ListPresets"); err != nil {
		return nil, err
	}
	out := &ListPresetsResponse{Presets: []PresetJSON{}}
	for _, p := range s.rooms.Presets().List() {
		out.Presets = append(out.Presets, toPresetJSON(p))
	}
	return out, nil
}

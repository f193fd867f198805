package rest

import (
	"context"
	"fmt"
	"net/http"

	"github.com/usher-rtc/usher/internal/api/twirp"
	"github.com/usher-rtc/usher/internal/apierr"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/room"
)

// Presets through the gateway (usher.Presets, this server's or the upstream's).
// Presets are server-wide: every caller reads them (a tenant needs the names to issue
// tokens with a preset), and only an operator (a token without an auth id, or no token
// in open mode) writes them. Presets of the configuration file are read-only.

// presetJSON is a preset as the gateway shows it: its name, where it comes from
// ("config": the configuration file, read-only; "api": made through the API) and its
// definition, with the configuration file's field names.
type presetJSON struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	config.PresetConfig
}

// createPresetRequest is the body of POST /livekit/presets: the name and the whole
// definition (a field left out is false).
type createPresetRequest struct {
	Name string `json:"name"`
	config.PresetConfig
}

// presetChangeResponse is a preset after an update, with the participants it changed
// at once.
type presetChangeResponse struct {
	presetJSON
	UpdatedParticipants int `json:"updated_participants"`
}

func toRESTPreset(p twirpapi.PresetJSON) presetJSON {
	if p.Preset.CanPublishSources == nil {
		p.Preset.CanPublishSources = []string{}
	}
	return presetJSON{Name: p.Name, Source: p.Source, PresetConfig: p.Preset}
}

// presetHandler is a preset endpoint, given the preset service.
type presetHandler func(ctx context.Context, svc twirpapi.PresetsService, r *http.Request) (int, any, error)

// presetRoute serves h with the preset service; a write only for an operator.
func (g *Gateway) presetRoute(write bool, h presetHandler) func(context.Context, caller, *http.Request) (int, any, error) {
	return func(ctx context.Context, c caller, r *http.Request) (int, any, error) {
		if write && c.authID != "" {
			return 0, nil, fmt.Errorf("%w: presets apply to every room of the server, so only an operator's API token (one without an auth id) may change them", apierr.ErrOperatorOnly)
		}
		if g.opts.Presets == nil {
			return 0, nil, fmt.Errorf("%w: presets need Usher's usher.Presets service", room.ErrUnsupported)
		}
		return h(ctx, g.opts.Presets, r)
	}
}

// presetAnswer answers with the preset of res, or err.
func presetAnswer(status int, res *twirpapi.PresetResponse, err error) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	return status, toRESTPreset(res.Preset), nil
}

// listPresets lists every preset, by name.
func listPresets(ctx context.Context, svc twirpapi.PresetsService, _ *http.Request) (int, any, error) {
	res, err := svc.ListPresets(ctx, &twirpapi.ListPresetsRequest{})
	if err != nil {
		return 0, nil, err
	}
	out := struct {
		Presets []presetJSON `json:"presets"`
	}{Presets: make([]presetJSON, 0, len(res.Presets))}
	for _, p := range res.Presets {
		out.Presets = append(out.Presets, toRESTPreset(p))
	}
	return http.StatusOK, out, nil
}

// getPreset returns one preset.
func getPreset(ctx context.Context, svc twirpapi.PresetsService, r *http.Request) (int, any, error) {
	res, err := svc.GetPreset(ctx, &twirpapi.PresetNameRequest{Name: r.PathValue("name")})
	return presetAnswer(http.StatusOK, res, err)
}

// createPreset adds a preset; its name may not be taken.
func createPreset(ctx context.Context, svc twirpapi.PresetsService, r *http.Request) (int, any, error) {
	var req createPresetRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"name", req.Name}); err != nil {
		return 0, nil, err
	}
	res, err := svc.CreatePreset(ctx, &twirpapi.PutPresetRequest{Name: req.Name, Preset: req.PresetConfig})
	return presetAnswer(http.StatusCreated, res, err)
}

// updatePreset replaces the definition of a preset made through the API; its holders
// in every room get it at once.
func updatePreset(ctx context.Context, svc twirpapi.PresetsService, r *http.Request) (int, any, error) {
	var def config.PresetConfig
	if err := decode(r, &def); err != nil {
		return 0, nil, err
	}
	res, err := svc.UpdatePreset(ctx, &twirpapi.PutPresetRequest{Name: r.PathValue("name"), Preset: def})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, presetChangeResponse{presetJSON: toRESTPreset(res.Preset), UpdatedParticipants: res.Updated}, nil
}

// deletePreset removes a preset made through the API; its holders lose its host
// controls and keep their media permissions.
func deletePreset(ctx context.Context, svc twirpapi.PresetsService, r *http.Request) (int, any, error) {
	name := r.PathValue("name")
	res, err := svc.DeletePreset(ctx, &twirpapi.PresetNameRequest{Name: name})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"status": "deleted", "name": name, "updated_participants": res.Updated}, nil
}

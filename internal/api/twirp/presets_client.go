package twirpapi

import (
	"context"
	"net/http"

	lkauth "github.com/livekit/protocol/auth"
)

// PresetsClient calls usher.Presets on a running server over HTTP (see jsonClient):
// writes are signed with roomCreate, reads with roomList.
type PresetsClient struct{ jsonClient }

var _ PresetsService = (*PresetsClient)(nil)

// NewPresetsClient returns a client of the server at serverURL (http://, https://,
// ws:// or wss://). hc may be nil for a client with a 30-second timeout.
func NewPresetsClient(serverURL, apiKey, apiSecret string, hc *http.Client) *PresetsClient {
	return &PresetsClient{newJSONClient(serverURL, apiKey, apiSecret, hc)}
}

var (
	presetWriteGrant = &lkauth.VideoGrant{RoomCreate: true}
	presetReadGrant  = &lkauth.VideoGrant{RoomList: true}
)

// CreatePreset implements PresetsService.
func (c *PresetsClient) CreatePreset(ctx context.Context, req *PutPresetRequest) (*PresetResponse, error) {
	return invoke[PresetResponse](ctx, &c.jsonClient, PresetsServiceName, "CreatePreset", presetWriteGrant, req)
}

// UpdatePreset implements PresetsService.
func (c *PresetsClient) UpdatePreset(ctx context.Context, req *PutPresetRequest) (*PresetResponse, error) {
	return invoke[PresetResponse](ctx, &c.jsonClient, PresetsServiceName, "UpdatePreset", presetWriteGrant, req)
}

// DeletePreset implements PresetsService.
func (c *PresetsClient) DeletePreset(ctx context.Context, req *PresetNameRequest) (*PresetResponse, error) {
	return invoke[PresetResponse](ctx, &c.jsonClient, PresetsServiceName, "DeletePreset", presetWriteGrant, req)
}

// GetPreset implements PresetsService.
func (c *PresetsClient) GetPreset(ctx context.Context, req *PresetNameRequest) (*PresetResponse, error) {
	return invoke[PresetResponse](ctx, &c.jsonClient, PresetsServiceName, "GetPreset", presetReadGrant, req)
}

// ListPresets implements PresetsService.
func (c *PresetsClient) ListPresets(ctx context.Context, req *ListPresetsRequest) (*ListPresetsResponse, error) {
	return invoke[ListPresetsResponse](ctx, &c.jsonClient, PresetsServiceName, "ListPresets", presetReadGrant, req)
}

package twirpapi

import (
	"context"
	"net/http"
)

// HostControlsClient calls usher.HostControls on a running server over HTTP (see
// jsonClient), each call signed with roomAdmin for its room.
type HostControlsClient struct{ jsonClient }

var _ HostControlsService = (*HostControlsClient)(nil)

// NewHostControlsClient returns a client of the server at serverURL (http://,
// https://, ws:// or wss://). hc may be nil for a client with a 30-second timeout.
func NewHostControlsClient(serverURL, apiKey, apiSecret string, hc *http.Client) *HostControlsClient {
	return &HostControlsClient{newJSONClient(serverURL, apiKey, apiSecret, hc)}
}

// DisableAll implements HostControlsService.
func (c *HostControlsClient) DisableAll(ctx context.Context, req *DisableAllRequest) (*IdentitiesResponse, error) {
	return invoke[IdentitiesResponse](ctx, &c.jsonClient, HostControlsServiceName, "DisableAll", roomAdminGrant(req.Room), req)
}

// Enable implements HostControlsService.
func (c *HostControlsClient) Enable(ctx context.Context, req *EnableRequest) (*IdentitiesResponse, error) {
	return invoke[IdentitiesResponse](ctx, &c.jsonClient, HostControlsServiceName, "Enable", roomAdminGrant(req.Room), req)
}

// Pin implements HostControlsService.
func (c *HostControlsClient) Pin(ctx context.Context, req *PinRequest) (*PinResponse, error) {
	return invoke[PinResponse](ctx, &c.jsonClient, HostControlsServiceName, "Pin", roomAdminGrant(req.Room), req)
}

// Unpin implements HostControlsService.
func (c *HostControlsClient) Unpin(ctx context.Context, req *PinRequest) (*PinResponse, error) {
	return invoke[PinResponse](ctx, &c.jsonClient, HostControlsServiceName, "Unpin", roomAdminGrant(req.Room), req)
}

// RemoveParticipants implements HostControlsService.
func (c *HostControlsClient) RemoveParticipants(ctx context.Context, req *RemoveParticipantsRequest) (*IdentitiesResponse, error) {
	return invoke[IdentitiesResponse](ctx, &c.jsonClient, HostControlsServiceName, "RemoveParticipants", roomAdminGrant(req.Room), req)
}

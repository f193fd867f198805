package twirpapi

import (
	"context"
	"net/http"

	lkauth "github.com/livekit/protocol/auth"
)

// ModerationClient calls usher.Moderation on a running server over HTTP (see
// jsonClient: each call is signed with only the grants it needs; errors are
// twirp.Error values with the server's code and message).
type ModerationClient struct{ jsonClient }

var _ ModerationService = (*ModerationClient)(nil)

// NewModerationClient returns a client of the server at serverURL (http://, https://,
// ws:// or wss://, as LIVEKIT_URL is written). hc may be nil for a client with a
// 30-second timeout.
func NewModerationClient(serverURL, apiKey, apiSecret string, hc *http.Client) *ModerationClient {
	return &ModerationClient{newJSONClient(serverURL, apiKey, apiSecret, hc)}
}

// moderationGrant is the grant of a moderation call: roomAdmin for roomName, or
// roomCreate and roomList without a room.
func moderationGrant(roomName string) *lkauth.VideoGrant {
	if roomName != "" {
		return roomAdminGrant(roomName)
	}
	return &lkauth.VideoGrant{RoomCreate: true, RoomList: true}
}

// BanParticipant implements ModerationService.
func (c *ModerationClient) BanParticipant(ctx context.Context, req *BanParticipantRequest) (*BanParticipantResponse, error) {
	return invoke[BanParticipantResponse](ctx, &c.jsonClient, ModerationServiceName, "BanParticipant", moderationGrant(req.Room), req)
}

// ListBans implements ModerationService.
func (c *ModerationClient) ListBans(ctx context.Context, req *ListBansRequest) (*ListBansResponse, error) {
	return invoke[ListBansResponse](ctx, &c.jsonClient, ModerationServiceName, "ListBans", moderationGrant(req.Room), req)
}

// LiftBan implements ModerationService.
func (c *ModerationClient) LiftBan(ctx context.Context, req *LiftBanRequest) (*LiftBanResponse, error) {
	return invoke[LiftBanResponse](ctx, &c.jsonClient, ModerationServiceName, "LiftBan", moderationGrant(req.Room), req)
}

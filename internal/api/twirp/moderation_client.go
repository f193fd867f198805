package twirpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/twitchtv/twirp"
)

// maxClientResponse bounds a response the moderation client reads.
const maxClientResponse = 16 << 20

// clientTokenTTL is the lifetime of the token the client signs for each call.
const clientTokenTTL = 5 * time.Minute

// ModerationClient calls usher.Moderation on a running server over HTTP, signing each
// call with a short-lived token that carries only the grants the call needs (as the
// LiveKit SDKs' clients do). Its errors are twirp.Error values with the server's code
// and message.
type ModerationClient struct {
	baseURL           string
	apiKey, apiSecret string
	http              *http.Client
}

var _ ModerationService = (*ModerationClient)(nil)

// NewModerationClient returns a client of the server at serverURL (http://, https://,
// ws:// or wss://, as LIVEKIT_URL is written). hc may be nil for a client with a
// 30-second timeout.
func NewModerationClient(serverURL, apiKey, apiSecret string, hc *http.Client) *ModerationClient {
	u := strings.TrimRight(serverURL, "/")
	switch {
	case strings.HasPrefix(u, "ws://"):
		u = "http://" + strings.TrimPrefix(u, "ws://")
	case strings.HasPrefix(u, "wss://"):
		u = "https://" + strings.TrimPrefix(u, "wss://")
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &ModerationClient{baseURL: u, apiKey: apiKey, apiSecret: apiSecret, http: hc}
}

// BanParticipant implements ModerationService.
func (c *ModerationClient) BanParticipant(ctx context.Context, req *BanParticipantRequest) (*BanParticipantResponse, error) {
	resp := &BanParticipantResponse{}
	if err := c.call(ctx, "BanParticipant", req.Room, req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// ListBans implements ModerationService.
func (c *ModerationClient) ListBans(ctx context.Context, req *ListBansRequest) (*ListBansResponse, error) {
	resp := &ListBansResponse{}
	if err := c.call(ctx, "ListBans", req.Room, req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// LiftBan implements ModerationService.
func (c *ModerationClient) LiftBan(ctx context.Context, req *LiftBanRequest) (*LiftBanResponse, error) {
	resp := &LiftBanResponse{}
	if err := c.call(ctx, "LiftBan", req.Room, req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// call posts req to method with a token granting roomAdmin for roomName, or roomCreate
// and roomList without a room, and decodes the answer into resp.
func (c *ModerationClient) call(ctx context.Context, method, roomName string, req, resp any) error {
	grant := &lkauth.VideoGrant{RoomCreate: true, RoomList: true}
	if roomName != "" {
		grant = &lkauth.VideoGrant{RoomAdmin: true, Room: roomName}
	}
	tok, err := lkauth.NewAccessToken(c.apiKey, c.apiSecret).SetValidFor(clientTokenTTL).SetVideoGrant(grant).ToJWT()
	if err != nil {
		return fmt.Errorf("signing the request token: %w", err)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	url := c.baseURL + "/twirp/" + ModerationServiceName + "/" + method
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Authorization", "Bearer "+tok)
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return twirp.InternalErrorWith(err)
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hresp.Body, maxClientResponse))
	if err != nil {
		return twirp.InternalErrorWith(err)
	}
	if hresp.StatusCode != http.StatusOK {
		var te struct {
			Code string `json:"code"`
			Msg  string `json:"msg"`
		}
		if json.Unmarshal(data, &te) != nil || te.Code == "" || !twirp.IsValidErrorCode(twirp.ErrorCode(te.Code)) {
			return twirp.NewError(twirp.Unavailable, fmt.Sprintf("%s answered HTTP %d without a Twirp error", c.baseURL, hresp.StatusCode))
		}
		return twirp.NewError(twirp.ErrorCode(te.Code), te.Msg)
	}
	if err := json.Unmarshal(data, resp); err != nil {
		return twirp.NewError(twirp.Malformed, fmt.Sprintf("the answer of %s could not be decoded: %v", method, err))
	}
	return nil
}

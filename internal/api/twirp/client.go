package twirpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/twitchtv/twirp"
)

// maxClientResponse bounds a response the client of Usher's services reads.
const maxClientResponse = 16 << 20

// clientTokenTTL is the lifetime of the token a client signs for each call.
const clientTokenTTL = 5 * time.Minute

// ClientInterceptor wraps every call of a client of Usher's own services: it runs call
// (the HTTP exchange, with the context it is given) and returns its error, which it
// may translate; it may also bound the call (a deadline). The REST gateway uses one to
// apply its upstream timeout and error catalogue.
type ClientInterceptor func(ctx context.Context, service, method string, call func(context.Context) error) error

// Client calls Usher's own JSON Twirp services (usher.Moderation, usher.HostControls,
// usher.WaitingRoom, usher.Presets) on a running server over HTTP, signing each call
// with a short-lived token that carries only the grants the call needs (as the LiveKit
// SDKs' clients do): roomAdmin for the room of a call on one room, roomCreate and
// roomList for a ban without a room, roomCreate for preset writes and roomList for
// preset reads. Its errors are twirp.Error values with the server's code and message.
type Client struct {
	baseURL           string
	apiKey, apiSecret string
	http              *http.Client
	intercept         ClientInterceptor
}

var (
	_ ModerationService   = (*Client)(nil)
	_ HostControlsService = (*Client)(nil)
	_ WaitingRoomService  = (*Client)(nil)
	_ PresetsService      = (*Client)(nil)
)

// NewClient returns a client of the server at serverURL (http://, https://, ws:// or
// wss://, as LIVEKIT_URL is written). hc may be nil for a client with a 30-second
// timeout.
func NewClient(serverURL, apiKey, apiSecret string, hc *http.Client) *Client {
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
	return &Client{baseURL: u, apiKey: apiKey, apiSecret: apiSecret, http: hc}
}

// SetInterceptor makes f wrap every later call of the client (nil: none). Set it
// before the client is shared.
func (c *Client) SetInterceptor(f ClientInterceptor) { c.intercept = f }

// Grants of the calls (see Client).
var (
	presetWriteGrant = &lkauth.VideoGrant{RoomCreate: true}
	presetReadGrant  = &lkauth.VideoGrant{RoomList: true}
)

func roomAdminGrant(roomName string) *lkauth.VideoGrant {
	return &lkauth.VideoGrant{RoomAdmin: true, Room: roomName}
}

func moderationGrant(roomName string) *lkauth.VideoGrant {
	if roomName != "" {
		return roomAdminGrant(roomName)
	}
	return &lkauth.VideoGrant{RoomCreate: true, RoomList: true}
}

// The methods of ModerationService, HostControlsService, WaitingRoomService and
// PresetsService.

// BanParticipant implements ModerationService.
func (c *Client) BanParticipant(ctx context.Context, r *BanParticipantRequest) (*BanParticipantResponse, error) {
	return invoke[BanParticipantResponse](ctx, c, ModerationServiceName, "BanParticipant", moderationGrant(r.Room), r)
}

// ListBans implements ModerationService.
func (c *Client) ListBans(ctx context.Context, r *ListBansRequest) (*ListBansResponse, error) {
	return invoke[ListBansResponse](ctx, c, ModerationServiceName, "ListBans", moderationGrant(r.Room), r)
}

// LiftBan implements ModerationService.
func (c *Client) LiftBan(ctx context.Context, r *LiftBanRequest) (*LiftBanResponse, error) {
	return invoke[LiftBanResponse](ctx, c, ModerationServiceName, "LiftBan", moderationGrant(r.Room), r)
}

// DisableAll implements HostControlsService.
func (c *Client) DisableAll(ctx context.Context, r *DisableAllRequest) (*IdentitiesResponse, error) {
	return invoke[IdentitiesResponse](ctx, c, HostControlsServiceName, "DisableAll", roomAdminGrant(r.Room), r)
}

// Enable implements HostControlsService.
func (c *Client) Enable(ctx context.Context, r *EnableRequest) (*IdentitiesResponse, error) {
	return invoke[IdentitiesResponse](ctx, c, HostControlsServiceName, "Enable", roomAdminGrant(r.Room), r)
}

// Pin implements HostControlsService.
func (c *Client) Pin(ctx context.Context, r *PinRequest) (*PinResponse, error) {
	return invoke[PinResponse](ctx, c, HostControlsServiceName, "Pin", roomAdminGrant(r.Room), r)
}

// Unpin implements HostControlsService.
func (c *Client) Unpin(ctx context.Context, r *PinRequest) (*PinResponse, error) {
	return invoke[PinResponse](ctx, c, HostControlsServiceName, "Unpin", roomAdminGrant(r.Room), r)
}

// RemoveParticipants implements HostControlsService.
func (c *Client) RemoveParticipants(ctx context.Context, r *RemoveParticipantsRequest) (*IdentitiesResponse, error) {
	return invoke[IdentitiesResponse](ctx, c, HostControlsServiceName, "RemoveParticipants", roomAdminGrant(r.Room), r)
}

// ListWaiting implements WaitingRoomService.
func (c *Client) ListWaiting(ctx context.Context, r *WaitingRoomRequest) (*ListWaitingResponse, error) {
	return invoke[ListWaitingResponse](ctx, c, WaitingRoomServiceName, "ListWaiting", roomAdminGrant(r.Room), r)
}

// Admit implements WaitingRoomService.
func (c *Client) Admit(ctx context.Context, r *WaitingParticipantRequest) (*IdentitiesResponse, error) {
	return invoke[IdentitiesResponse](ctx, c, WaitingRoomServiceName, "Admit", roomAdminGrant(r.Room), r)
}

// AdmitAll implements WaitingRoomService.
func (c *Client) AdmitAll(ctx context.Context, r *WaitingRoomRequest) (*IdentitiesResponse, error) {
	return invoke[IdentitiesResponse](ctx, c, WaitingRoomServiceName, "AdmitAll", roomAdminGrant(r.Room), r)
}

// Deny implements WaitingRoomService.
func (c *Client) Deny(ctx context.Context, r *WaitingParticipantRequest) (*IdentitiesResponse, error) {
	return invoke[IdentitiesResponse](ctx, c, WaitingRoomServiceName, "Deny", roomAdminGrant(r.Room), r)
}

// GetSettings implements WaitingRoomService.
func (c *Client) GetSettings(ctx context.Context, r *WaitingRoomRequest) (*WaitingSettingsJSON, error) {
	return invoke[WaitingSettingsJSON](ctx, c, WaitingRoomServiceName, "GetSettings", roomAdminGrant(r.Room), r)
}

// SetSettings implements WaitingRoomService.
func (c *Client) SetSettings(ctx context.Context, r *WaitingSettingsJSON) (*WaitingSettingsJSON, error) {
	return invoke[WaitingSettingsJSON](ctx, c, WaitingRoomServiceName, "SetSettings", roomAdminGrant(r.Room), r)
}

// CreatePreset implements PresetsService.
func (c *Client) CreatePreset(ctx context.Context, r *PutPresetRequest) (*PresetResponse, error) {
	return invoke[PresetResponse](ctx, c, PresetsServiceName, "CreatePreset", presetWriteGrant, r)
}

// UpdatePreset implements PresetsService.
func (c *Client) UpdatePreset(ctx context.Context, r *PutPresetRequest) (*PresetResponse, error) {
	return invoke[PresetResponse](ctx, c, PresetsServiceName, "UpdatePreset", presetWriteGrant, r)
}

// DeletePreset implements PresetsService.
func (c *Client) DeletePreset(ctx context.Context, r *PresetNameRequest) (*PresetResponse, error) {
	return invoke[PresetResponse](ctx, c, PresetsServiceName, "DeletePreset", presetWriteGrant, r)
}

// GetPreset implements PresetsService.
func (c *Client) GetPreset(ctx context.Context, r *PresetNameRequest) (*PresetResponse, error) {
	return invoke[PresetResponse](ctx, c, PresetsServiceName, "GetPreset", presetReadGrant, r)
}

// ListPresets implements PresetsService.
func (c *Client) ListPresets(ctx context.Context, r *ListPresetsRequest) (*ListPresetsResponse, error) {
	return invoke[ListPresetsResponse](ctx, c, PresetsServiceName, "ListPresets", presetReadGrant, r)
}

// invoke calls service/method with req under a token carrying grant and decodes the
// answer into a new Resp.
func invoke[Resp any](ctx context.Context, c *Client, service, method string, grant *lkauth.VideoGrant, req any) (*Resp, error) {
	resp := new(Resp)
	call := func(ctx context.Context) error { return c.post(ctx, service, method, grant, req, resp) }
	var err error
	if c.intercept != nil {
		err = c.intercept(ctx, service, method, call)
	} else {
		err = call(ctx)
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// post posts req to service/method with a token carrying grant, and decodes the answer
// into resp.
func (c *Client) post(ctx context.Context, service, method string, grant *lkauth.VideoGrant, req, resp any) error {
	tok, err := lkauth.NewAccessToken(c.apiKey, c.apiSecret).SetValidFor(clientTokenTTL).SetVideoGrant(grant).ToJWT()
	if err != nil {
		return fmt.Errorf("signing the request token: %w", err)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	url := c.baseURL + "/twirp/" + service + "/" + method
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
			if hresp.StatusCode == http.StatusNotFound {
				// A plain 404: livekit-server, which serves none of Usher's services.
				return twirp.NewError(twirp.BadRoute, fmt.Sprintf("%s has no %s service (HTTP 404)", c.baseURL, service))
			}
			return twirp.NewError(twirp.Unavailable, fmt.Sprintf("%s answered HTTP %d without a Twirp error", c.baseURL, hresp.StatusCode))
		}
		return twirp.NewError(twirp.ErrorCode(te.Code), te.Msg)
	}
	if ct, _, _ := mime.ParseMediaType(hresp.Header.Get("Content-Type")); ct != "application/json" {
		// Not a Twirp answer: older livekit-server answers any unknown path with its
		// health check ("OK").
		return twirp.NewError(twirp.BadRoute, fmt.Sprintf("%s has no %s service (it answered %s with HTTP 200 of type %q)", c.baseURL, service, method, ct))
	}
	if err := json.Unmarshal(data, resp); err != nil {
		return twirp.NewError(twirp.Malformed, fmt.Sprintf("the answer of %s could not be decoded: %v", method, err))
	}
	return nil
}

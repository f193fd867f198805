package twirpapi

import (
	"context"

	"github.com/usher-rtc/usher/internal/webhook"
)

// WebhooksService is the name of Usher's webhook service, served at
// /twirp/usher.Webhooks/<Method> with NewJSONHandler.
const WebhooksService = "usher.Webhooks"

// ListDeliveryStatusRequest is the request of usher.Webhooks/ListDeliveryStatus. It
// has no fields: every configured URL is reported.
type ListDeliveryStatusRequest struct{}

// WebhooksMethods returns the methods of usher.Webhooks over status, which returns the
// delivery state of every webhook URL (webhook.Sender.Status).
//
// ListDeliveryStatus requires the roomList grant, as ListRooms: the status names no
// room, but it is server-wide, so a token scoped to one room's administration does
// not see it. URLs come back without their user information or query values.
func WebhooksMethods(status func() webhook.Status) map[string]JSONMethod {
	return map[string]JSONMethod{
		"ListDeliveryStatus": func(ctx context.Context, body []byte) (any, error) {
			if err := claims(ctx).RequireRoomList("ListDeliveryStatus"); err != nil {
				return nil, err
			}
			var req ListDeliveryStatusRequest
			if err := DecodeJSON(body, &req); err != nil {
				return nil, err
			}
			return status(), nil
		},
	}
}

package webhook

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/protojson"

	"github.com/usher-rtc/usher/internal/events"
)

// TokenValidity is how long the signature of one delivery attempt is valid, as
// LiveKit's: each attempt is signed anew.
const TokenValidity = 5 * time.Minute

// ExtensionKey is the top-level key of the body under which events sent to a
// moderation URL carry what LiveKit's webhooks do not have. Every LiveKit receiver
// (webhook.ReceiveWebhookEvent in Go, WebhookReceiver in Node and Python) ignores
// unknown fields.
const ExtensionKey = "usher"

// Extension is what an event sent to a moderation URL carries under ExtensionKey.
type Extension struct {
	// Actor is who caused the event.
	Actor events.Actor `json:"actor"`
	// Time is when the change was applied, to the nanosecond (created_at has seconds).
	Time time.Time `json:"time"`
	// Reason is a disconnect, removal or ban reason.
	Reason string `json:"reason,omitempty"`
	// Changes lists what changed, before and after.
	Changes []events.Change `json:"changes,omitempty"`
	// Destination is the room a participant was moved or forwarded to.
	Destination string `json:"destination,omitempty"`
	// Until is when a ban ends, in Unix seconds (absent: until lifted).
	Until int64 `json:"until,omitempty"`
	// Tracks lists the track SIDs of a subscription change.
	Tracks []string `json:"tracks,omitempty"`
	// Topic and Identities are the topic and destinations (none: everyone) of data
	// sent by the server (data_sent).
	Topic      string   `json:"topic,omitempty"`
	Identities []string `json:"identities,omitempty"`
}

var errEncoding = errors.New("webhook body: the protobuf encoding is not a JSON object")

// Encode returns the webhook body of e: LiveKit's WebhookEvent in protojson, as
// livekit-server sends it, with the ID of the event (kept by every redelivery) and its
// time in seconds. With extension, the body also carries Usher's Extension.
func Encode(e *events.Event, extension bool) ([]byte, error) {
	we := &livekit.WebhookEvent{
		Event:       string(e.Kind),
		Room:        e.Room,
		Participant: e.Participant,
		Track:       e.Track,
		Id:          e.ID,
		CreatedAt:   e.Time.Unix(),
	}
	if e.Kind == events.RoomFinished {
		we.RoomEndReason = RoomEndReason(e.Reason)
	}
	body, err := protojson.Marshal(we)
	if err != nil {
		return nil, err
	}
	if !extension {
		return body, nil
	}
	ext := Extension{
		Actor:       e.Actor,
		Time:        e.Time.UTC(),
		Reason:      e.Reason,
		Changes:     e.Changes,
		Destination: e.Destination,
		Tracks:      e.Tracks,
		Topic:       e.Topic,
		Identities:  e.Identities,
	}
	if !e.Until.IsZero() {
		ext.Until = e.Until.Unix()
	}
	extJSON, err := json.Marshal(ext)
	if err != nil {
		return nil, err
	}
	body = bytes.TrimRight(body, " \t\r\n")
	if len(body) < 2 || body[len(body)-1] != '}' {
		return nil, errEncoding
	}
	out := make([]byte, 0, len(body)+len(ExtensionKey)+len(extJSON)+8)
	out = append(out, body[:len(body)-1]...)
	if len(bytes.TrimSpace(body[:len(body)-1])) > 1 {
		out = append(out, ',')
	}
	out = append(out, `"`+ExtensionKey+`":`...)
	out = append(out, extJSON...)
	return append(out, '}'), nil
}

// RoomEndReason maps the reason of a room_finished event (the disconnect reason its
// participants were given) to LiveKit's room end reason.
func RoomEndReason(reason string) livekit.RoomEndReason {
	switch reason {
	case livekit.DisconnectReason_ROOM_DELETED.String():
		return livekit.RoomEndReason_ROOM_END_API_DELETE
	case livekit.DisconnectReason_ROOM_CLOSED.String():
		return livekit.RoomEndReason_ROOM_END_IDLE_TIMEOUT
	case livekit.DisconnectReason_SERVER_SHUTDOWN.String():
		return livekit.RoomEndReason_ROOM_END_SERVER_SHUTDOWN
	}
	if r, ok := livekit.RoomEndReason_value[reason]; ok {
		return livekit.RoomEndReason(r)
	}
	return livekit.RoomEndReason_ROOM_END_UNKNOWN
}

// Sign returns the Authorization header LiveKit sends with body: a token of apiKey,
// signed with apiSecret and valid for TokenValidity, whose sha256 claim is the base64
// SHA-256 of body (what webhook.Receive in livekit/protocol checks).
func Sign(body []byte, apiKey, apiSecret string) (string, error) {
	sum := sha256.Sum256(body)
	return lkauth.NewAccessToken(apiKey, apiSecret).
		SetValidFor(TokenValidity).
		SetSha256(base64.StdEncoding.EncodeToString(sum[:])).
		ToJWT()
}

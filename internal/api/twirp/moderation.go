package twirpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/room"
)

// ModerationServiceName is the Twirp name of Usher's moderation service, served at
// /twirp/usher.Moderation/<Method> on Twirp's JSON wire format.
const ModerationServiceName = "usher.Moderation"

// BanParticipantRequest is the request of usher.Moderation/BanParticipant: ban identity
// from room, or, with room empty, from every room of tenant. With both set, the ban
// covers room only while it belongs to tenant.
type BanParticipantRequest struct {
	Room     string `json:"room"`
	Identity string `json:"identity"`
	Tenant   string `json:"tenant"`
	// DurationSeconds is how long the ban lasts; 0 keeps it until it is lifted.
	DurationSeconds int64  `json:"duration_seconds"`
	Reason          string `json:"reason"`
}

// BanJSON is a ban on the wire. Times are RFC 3339; expires_at is "" for a ban that
// lasts until it is lifted.
type BanJSON struct {
	Room      string `json:"room"`
	Tenant    string `json:"tenant"`
	Identity  string `json:"identity"`
	Reason    string `json:"reason"`
	CreatedBy string `json:"created_by"`
	CreatedAt string `json:"created_at"`
	ExpiresAt string `json:"expires_at"`
}

// RemovedJSON is a participant a ban removed from a room.
type RemovedJSON struct {
	Room     string `json:"room"`
	Identity string `json:"identity"`
	SID      string `json:"sid"`
}

// BanParticipantResponse is the ban as stored and the participants it removed.
type BanParticipantResponse struct {
	Ban     BanJSON       `json:"ban"`
	Removed []RemovedJSON `json:"removed"`
}

// ListBansRequest is the request of usher.Moderation/ListBans: the bans of room, of
// tenant, of both (that tenant's bans of that room), or with neither every ban; one
// page of at most limit (default 100, at most 1000), continuing at page_token.
type ListBansRequest struct {
	Room      string `json:"room"`
	Tenant    string `json:"tenant"`
	Limit     int    `json:"limit"`
	PageToken string `json:"page_token"`
}

// ListBansResponse is one page of bans; next_page_token is "" after the last.
type ListBansResponse struct {
	Bans          []BanJSON `json:"bans"`
	NextPageToken string    `json:"next_page_token"`
}

// LiftBanRequest is the request of usher.Moderation/LiftBan: the room (empty for a ban
// from every room of tenant), tenant and identity of the ban, as it was made.
type LiftBanRequest struct {
	Room     string `json:"room"`
	Tenant   string `json:"tenant"`
	Identity string `json:"identity"`
}

// LiftBanResponse is the ban that was lifted.
type LiftBanResponse struct {
	Ban BanJSON `json:"ban"`
}

// ModerationService is usher.Moderation: this server's (Moderation) or a remote one's
// (Client).
type ModerationService interface {
	BanParticipant(ctx context.Context, req *BanParticipantRequest) (*BanParticipantResponse, error)
	ListBans(ctx context.Context, req *ListBansRequest) (*ListBansResponse, error)
	LiftBan(ctx context.Context, req *LiftBanRequest) (*LiftBanResponse, error)
}

// Moderation is usher.Moderation over the room manager. Grants: an operation naming a
// room needs roomAdmin for that room; one without a room (a ban from every room of a
// tenant, listing a tenant's or every ban) needs roomCreate and roomList, the grants
// that already act on every room.
type Moderation struct {
	rooms *room.Manager
}

var _ ModerationService = (*Moderation)(nil)

// NewModeration returns usher.Moderation over rooms.
func NewModeration(rooms *room.Manager) *Moderation { return &Moderation{rooms: rooms} }

// NewModerationHandler serves m at /twirp/usher.Moderation/ with the Room service's
// token check, body limit and timeout.
func NewModerationHandler(m ModerationService, opts HandlerOptions) http.Handler {
	return NewJSONHandler(ModerationServiceName, map[string]JSONMethod{
		"BanParticipant": jsonMethod(m.BanParticipant),
		"ListBans":       jsonMethod(m.ListBans),
		"LiftBan":        jsonMethod(m.LiftBan),
	}, opts)
}

// jsonMethod adapts a typed method to a JSONMethod: the body is decoded strictly into
// a new request.
func jsonMethod[Req any, Resp any](f func(context.Context, *Req) (Resp, error)) JSONMethod {
	return func(ctx context.Context, body []byte) (any, error) {
		req := new(Req)
		if err := DecodeJSON(body, req); err != nil {
			return nil, err
		}
		return f(ctx, req)
	}
}

// authorize checks the grants of an operation on room, or on no room (a tenant, or
// every ban).
func authorize(ctx context.Context, method, roomName string) error {
	c := claims(ctx)
	if roomName != "" {
		return c.RequireRoomAdmin(method, roomName)
	}
	if c.RequireRoomCreate(method) != nil || c.RequireRoomList(method) != nil {
		return fmt.Errorf("%w: %s without a room (a ban from every room of a tenant, or a listing of a tenant's or of every ban) requires the roomCreate and roomList grants",
			auth.ErrPermissionDenied, method)
	}
	return nil
}

// BanParticipant bans an identity; when it is present in a room the ban covers, it is
// removed (PARTICIPANT_REMOVED) and its tokens revoked.
func (m *Moderation) BanParticipant(ctx context.Context, req *BanParticipantRequest) (*BanParticipantResponse, error) {
	if err := authorize(ctx, "BanParticipant", req.Room); err != nil {
		return nil, err
	}
	maxSeconds := int64(room.MaxBanDuration / time.Second)
	if req.DurationSeconds < 0 || req.DurationSeconds > maxSeconds {
		return nil, fmt.Errorf("%w: duration_seconds must be between 0 (until lifted) and %d", room.ErrInvalidArgument, maxSeconds)
	}
	now := time.Now()
	ban := auth.Ban{
		Room:      req.Room,
		Tenant:    req.Tenant,
		Identity:  req.Identity,
		Reason:    req.Reason,
		CreatedBy: describeActor(events.ActorFrom(ctx)),
		Created:   now,
	}
	if req.DurationSeconds > 0 {
		ban.Expires = now.Add(time.Duration(req.DurationSeconds) * time.Second)
	}
	res, err := m.rooms.Ban(ctx, ban)
	if err != nil && res.Ban.Identity == "" {
		return nil, err
	}
	// A ban stored whose removal failed in part still holds: report it with the error.
	out := &BanParticipantResponse{Ban: ToBanJSON(res.Ban), Removed: []RemovedJSON{}}
	for _, r := range res.Removed {
		out.Removed = append(out.Removed, RemovedJSON{Room: r.Room, Identity: r.Identity, SID: r.SID})
	}
	return out, err
}

// ListBans lists bans in force, one page at a time.
func (m *Moderation) ListBans(ctx context.Context, req *ListBansRequest) (*ListBansResponse, error) {
	if err := authorize(ctx, "ListBans", req.Room); err != nil {
		return nil, err
	}
	bans, next, err := m.rooms.ListBans(auth.BanFilter{Room: req.Room, Tenant: req.Tenant, Limit: req.Limit, PageToken: req.PageToken})
	if err != nil {
		return nil, err
	}
	out := &ListBansResponse{Bans: make([]BanJSON, 0, len(bans)), NextPageToken: next}
	for _, b := range bans {
		out.Bans = append(out.Bans, ToBanJSON(b))
	}
	return out, nil
}

// LiftBan ends a ban. It does not readmit tokens a removal revoked.
func (m *Moderation) LiftBan(ctx context.Context, req *LiftBanRequest) (*LiftBanResponse, error) {
	if err := authorize(ctx, "LiftBan", req.Room); err != nil {
		return nil, err
	}
	ban, err := m.rooms.LiftBan(ctx, req.Room, req.Tenant, req.Identity)
	if err != nil {
		return nil, err
	}
	return &LiftBanResponse{Ban: ToBanJSON(ban)}, nil
}

// ToBanJSON is ban on the wire.
func ToBanJSON(b auth.Ban) BanJSON {
	out := BanJSON{Room: b.Room, Tenant: b.Tenant, Identity: b.Identity, Reason: b.Reason, CreatedBy: b.CreatedBy}
	if !b.Created.IsZero() {
		out.CreatedAt = b.Created.UTC().Format(time.RFC3339)
	}
	if !b.Expires.IsZero() {
		out.ExpiresAt = b.Expires.UTC().Format(time.RFC3339)
	}
	return out
}

// describeActor says who acted, for a ban's created_by: "admin APIkey (identity)",
// "admin (rest-gateway)" (the REST gateway's operator, who has no API key), "tenant
// acme", "server".
func describeActor(a events.Actor) string {
	switch a.Kind {
	case events.ActorAdmin:
		out := strings.TrimSpace("admin " + a.APIKey)
		if a.Identity != "" {
			out += " (" + a.Identity + ")"
		}
		return out
	case events.ActorTenant:
		if a.Tenant == "" {
			return "REST gateway (no tenant)"
		}
		return "tenant " + a.Tenant
	case events.ActorParticipant:
		return fmt.Sprintf("participant %s in %s", a.Identity, a.Room)
	}
	return string(a.Kind)
}

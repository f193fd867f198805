package rest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/usher-rtc/usher/internal/api/twirp"
	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/room"
)

// Bans through the gateway. A tenant's bans carry its auth id: a ban of a room covers
// that room only while it is the tenant's, a ban without a room covers every room of
// the tenant, and a tenant lists and lifts only its own bans. Without an auth id (open
// mode) a ban names a room and covers it whoever owns it, and every ban is listed.

// banRequest is the body of POST /livekit/bans.
type banRequest struct {
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
	DurationSeconds     int64  `json:"duration_seconds"`
	Reason              string `json:"reason"`
}

// liftRequest is the body of DELETE /livekit/bans.
type liftRequest struct {
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
}

// banJSON is a ban as the gateway shows it. room_name is "" for a ban from every room
// of the tenant; expires_at is 0 for a ban that lasts until it is lifted.
type banJSON struct {
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
	AuthID              string `json:"auth_id"`
	Reason              string `json:"reason"`
	CreatedAt           int64  `json:"created_at"`
	ExpiresAt           int64  `json:"expires_at"`
}

type banResponse struct {
	Status string `json:"status"`
	banJSON
	// RemovedFrom lists the rooms the participant was removed from.
	RemovedFrom []string `json:"removed_from"`
}

func toBanJSON(b twirpapi.BanJSON) banJSON {
	out := banJSON{RoomName: b.Room, ParticipantIdentity: b.Identity, AuthID: b.Tenant, Reason: b.Reason}
	if t, err := time.Parse(time.RFC3339, b.CreatedAt); err == nil {
		out.CreatedAt = t.Unix()
	}
	if t, err := time.Parse(time.RFC3339, b.ExpiresAt); err == nil {
		out.ExpiresAt = t.Unix()
	}
	return out
}

// moderation returns the moderation service. Its calls take the request's context,
// whose actor is the caller's (see serve), as every gateway call's.
func (g *Gateway) moderation() (twirpapi.ModerationService, error) {
	if g.opts.Moderation == nil {
		return nil, fmt.Errorf("%w: bans need Usher's usher.Moderation service", room.ErrUnsupported)
	}
	return g.opts.Moderation, nil
}

// banParticipant bans an identity from a room of the caller, or from every room of the
// caller's tenant; when it is present it is removed, as by DELETE /livekit/participant.
func (g *Gateway) banParticipant(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	var req banRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"participant_identity", req.ParticipantIdentity}); err != nil {
		return 0, nil, err
	}
	if c.authID == "" && req.RoomName == "" {
		return 0, nil, fmt.Errorf("%w: room_name is required: without a tenant's API token there is no tenant to ban from every room of", room.ErrInvalidArgument)
	}
	svc, err := g.moderation()
	if err != nil {
		return 0, nil, err
	}
	res, err := svc.BanParticipant(ctx, &twirpapi.BanParticipantRequest{
		Room: req.RoomName, Identity: req.ParticipantIdentity, Tenant: c.authID,
		DurationSeconds: req.DurationSeconds, Reason: req.Reason,
	})
	if err != nil {
		return 0, nil, err
	}
	out := banResponse{Status: "banned", banJSON: toBanJSON(res.Ban), RemovedFrom: []string{}}
	for _, rm := range res.Removed {
		out.RemovedFrom = append(out.RemovedFrom, rm.Room)
	}
	return http.StatusOK, out, nil
}

// listBans lists the caller's bans (every ban in open mode), optionally of one room,
// one page at a time (?limit=, ?page_token=).
func (g *Gateway) listBans(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	q, err := query(r, "room_name", "limit", "page_token")
	if err != nil {
		return 0, nil, err
	}
	limit := 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > auth.MaxBanPage {
			return 0, nil, fmt.Errorf("%w: limit must be a number from 1 to %d", room.ErrInvalidArgument, auth.MaxBanPage)
		}
		limit = n
	}
	svc, err := g.moderation()
	if err != nil {
		return 0, nil, err
	}
	res, err := svc.ListBans(ctx, &twirpapi.ListBansRequest{Room: q.Get("room_name"), Tenant: c.authID, Limit: limit, PageToken: q.Get("page_token")})
	if err != nil {
		return 0, nil, err
	}
	out := struct {
		Bans          []banJSON `json:"bans"`
		NextPageToken string    `json:"next_page_token"`
	}{Bans: make([]banJSON, 0, len(res.Bans)), NextPageToken: res.NextPageToken}
	for _, b := range res.Bans {
		out.Bans = append(out.Bans, toBanJSON(b))
	}
	return http.StatusOK, out, nil
}

// liftBan lifts one of the caller's bans.
func (g *Gateway) liftBan(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	var req liftRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"participant_identity", req.ParticipantIdentity}); err != nil {
		return 0, nil, err
	}
	if c.authID == "" && req.RoomName == "" {
		return 0, nil, fmt.Errorf("%w: room_name is required without a tenant's API token", room.ErrInvalidArgument)
	}
	svc, err := g.moderation()
	if err != nil {
		return 0, nil, err
	}
	_, err = svc.LiftBan(ctx, &twirpapi.LiftBanRequest{Room: req.RoomName, Tenant: c.authID, Identity: req.ParticipantIdentity})
	if err != nil {
		return 0, nil, notFoundAs(err, auth.ErrBanNotFound, fmt.Sprintf("%q is not banned there", req.ParticipantIdentity))
	}
	return http.StatusOK, map[string]string{
		"status":               "lifted",
		"room_name":            req.RoomName,
		"participant_identity": req.ParticipantIdentity,
	}, nil
}

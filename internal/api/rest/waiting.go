package rest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/usher-rtc/usher/internal/api/twirp"
	"github.com/usher-rtc/usher/internal/room"
)

// The waiting room through the gateway (usher.WaitingRoom, this server's or the
// upstream's; docs/waiting-room.md): on a room of the caller, list who waits in the
// order of arrival, admit one or everyone, deny one, and read or change the room's
// waiting-room settings.

// roomNameRequest is the body of POST /livekit/waiting/admit_all.
type roomNameRequest struct {
	RoomName string `json:"room_name"`
}

// denyRequest is the body of POST /livekit/waiting/deny; POST /livekit/waiting/admit
// takes its participantRequest alone.
type denyRequest struct {
	participantRequest
	Reason string `json:"reason"`
}

// waitingSettingsRequest is the body of PUT /livekit/waiting/settings.
type waitingSettingsRequest struct {
	RoomName string `json:"room_name"`
	Enabled  *bool  `json:"enabled"`
	// Mode is "admit" or "host_opens"; "" keeps the current one.
	Mode string `json:"mode"`
	// Message is shown to everyone waiting; "" (or leaving it out) shows none.
	Message string `json:"message"`
}

// waitingJSON is one waiting participant; since is when it arrived, in Unix ms.
type waitingJSON struct {
	ParticipantIdentity string `json:"participant_identity"`
	Name                string `json:"name"`
	SID                 string `json:"sid"`
	Preset              string `json:"preset"`
	Since               int64  `json:"since"`
}

type waitingListResponse struct {
	RoomName string        `json:"room_name"`
	Waiting  []waitingJSON `json:"waiting"`
}

type waitingSettingsResponse struct {
	RoomName string `json:"room_name"`
	Enabled  bool   `json:"enabled"`
	Mode     string `json:"mode"`
	Message  string `json:"message"`
	// Opened says a host has opened the room (mode host_opens).
	Opened bool `json:"opened"`
}

// waitingRoom returns the waiting-room service once the caller's access to the room is
// checked (another tenant's room is not found).
func (g *Gateway) waitingRoom(ctx context.Context, c caller, roomName string) (twirpapi.WaitingRoomService, error) {
	if g.opts.WaitingRoom == nil {
		return nil, fmt.Errorf("%w: the waiting room needs Usher's usher.WaitingRoom service", room.ErrUnsupported)
	}
	if _, err := g.room(ctx, c, roomName); err != nil {
		return nil, err
	}
	return g.opts.WaitingRoom, nil
}

// query returns the request's query parameters, refusing one not in names (api_key,
// the caller's token, is always allowed) or given twice.
func query(r *http.Request, names ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: the query string is malformed", room.ErrInvalidArgument)
	}
	for k, v := range q {
		known := k == "api_key"
		for _, n := range names {
			known = known || k == n
		}
		if !known {
			return nil, fmt.Errorf("%w: unknown query parameter %q (%s)", room.ErrInvalidArgument, k, strings.Join(names, ", "))
		}
		if len(v) > 1 {
			return nil, fmt.Errorf("%w: query parameter %q is given %d times", room.ErrInvalidArgument, k, len(v))
		}
	}
	return q, nil
}

// waitingRoomQuery reads the room of a GET from its query (room_name, required and
// alone), and returns it with the waiting-room service once the caller's access to
// the room is checked.
func (g *Gateway) waitingRoomQuery(ctx context.Context, c caller, r *http.Request) (string, twirpapi.WaitingRoomService, error) {
	q, err := query(r, "room_name")
	if err != nil {
		return "", nil, err
	}
	name := q.Get("room_name")
	if err := required([2]string{"room_name", name}); err != nil {
		return "", nil, err
	}
	svc, err := g.waitingRoom(ctx, c, name)
	return name, svc, err
}

func roomNotFound(err error, roomName string) error {
	return notFoundAs(err, room.ErrRoomNotFound, fmt.Sprintf("%q", roomName))
}

// listWaiting lists the waiting participants of a room of the caller, in the order
// they arrived.
func (g *Gateway) listWaiting(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	name, svc, err := g.waitingRoomQuery(ctx, c, r)
	if err != nil {
		return 0, nil, err
	}
	res, err := svc.ListWaiting(ctx, &twirpapi.WaitingRoomRequest{Room: name})
	if err != nil {
		return 0, nil, roomNotFound(err, name)
	}
	out := waitingListResponse{RoomName: name, Waiting: make([]waitingJSON, 0, len(res.Waiting))}
	for _, w := range res.Waiting {
		out.Waiting = append(out.Waiting, waitingJSON{ParticipantIdentity: w.Identity, Name: w.Name, SID: w.SID, Preset: w.Preset, Since: w.Since})
	}
	return http.StatusOK, out, nil
}

func (g *Gateway) admitWaiting(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	return g.answerWaiting(ctx, c, r, false)
}

func (g *Gateway) denyWaiting(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	return g.answerWaiting(ctx, c, r, true)
}

// answerWaiting admits a waiting participant of a room of the caller, or denies it
// (with an optional reason): it leaves with USER_REJECTED and its tokens for the room
// are refused from then on.
func (g *Gateway) answerWaiting(ctx context.Context, c caller, r *http.Request, deny bool) (int, any, error) {
	var req denyRequest
	var body any = &req.participantRequest // an admission takes no reason
	if deny {
		body = &req
	}
	if err := decode(r, body); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"room_name", req.RoomName}, [2]string{"participant_identity", req.ParticipantIdentity}); err != nil {
		return 0, nil, err
	}
	svc, err := g.waitingRoom(ctx, c, req.RoomName)
	if err != nil {
		return 0, nil, err
	}
	call, status := svc.Admit, "admitted"
	if deny {
		call, status = svc.Deny, "denied"
	}
	res, err := call(ctx, &twirpapi.WaitingParticipantRequest{Room: req.RoomName, Identity: req.ParticipantIdentity, Reason: req.Reason})
	if err != nil {
		return 0, nil, notFoundAs(err, room.ErrParticipantNotFound, fmt.Sprintf("nobody called %q is waiting in room %q", req.ParticipantIdentity, req.RoomName))
	}
	return http.StatusOK, identitiesResponse{Status: status, RoomName: req.RoomName, Identities: orEmpty(res.Identities)}, nil
}

// admitAllWaiting admits everyone waiting in a room of the caller, in the order they
// arrived; it stops at the first who would exceed max_participants (ROOM_FULL, naming
// those admitted before).
func (g *Gateway) admitAllWaiting(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	var req roomNameRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"room_name", req.RoomName}); err != nil {
		return 0, nil, err
	}
	svc, err := g.waitingRoom(ctx, c, req.RoomName)
	if err != nil {
		return 0, nil, err
	}
	res, err := svc.AdmitAll(ctx, &twirpapi.WaitingRoomRequest{Room: req.RoomName})
	if err != nil {
		return 0, nil, roomNotFound(err, req.RoomName)
	}
	return http.StatusOK, identitiesResponse{Status: "admitted", RoomName: req.RoomName, Identities: orEmpty(res.Identities)}, nil
}

// settingsAnswer answers with the settings of res, or err.
func settingsAnswer(roomName string, res *twirpapi.WaitingSettingsJSON, err error) (int, any, error) {
	if err != nil {
		return 0, nil, roomNotFound(err, roomName)
	}
	return http.StatusOK, waitingSettingsResponse{RoomName: roomName, Enabled: res.Enabled, Mode: res.Mode, Message: res.Message, Opened: res.Opened}, nil
}

// getWaitingSettings returns the waiting-room settings of a room of the caller.
func (g *Gateway) getWaitingSettings(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	name, svc, err := g.waitingRoomQuery(ctx, c, r)
	if err != nil {
		return 0, nil, err
	}
	res, err := svc.GetSettings(ctx, &twirpapi.WaitingRoomRequest{Room: name})
	return settingsAnswer(name, res, err)
}

// setWaitingSettings turns the waiting room of a room of the caller on or off, and sets
// its mode and message. Turning it off admits nobody.
func (g *Gateway) setWaitingSettings(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	var req waitingSettingsRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"room_name", req.RoomName}); err != nil {
		return 0, nil, err
	}
	if req.Enabled == nil {
		return 0, nil, fmt.Errorf("%w: enabled is required (true: everyone but hosts waits to be admitted; false: only holders of a preset with waiting_room wait)", room.ErrInvalidArgument)
	}
	svc, err := g.waitingRoom(ctx, c, req.RoomName)
	if err != nil {
		return 0, nil, err
	}
	res, err := svc.SetSettings(ctx, &twirpapi.WaitingSettingsJSON{Room: req.RoomName, Enabled: *req.Enabled, Mode: req.Mode, Message: req.Message})
	return settingsAnswer(req.RoomName, res, err)
}

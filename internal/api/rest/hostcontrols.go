package rest

import (
	"context"
	"fmt"
	"net/http"

	"github.com/usher-rtc/usher/internal/api/twirp"
	"github.com/usher-rtc/usher/internal/room"
)

// The backend's host controls through the gateway (usher.HostControls, this server's
// or the upstream's): on a room of the caller, mute everyone's audio or video (a hard
// mute when allow_unmute is false), lift a hard mute, pin and unpin, remove in bulk.
// A selector chooses whom a bulk action reaches: the holders of presets (everyone
// when empty), except the holders of except_presets, except hosts with except_hosts.

// disableRequest is the body of POST /livekit/participants/disable.
type disableRequest struct {
	RoomName    string `json:"room_name"`
	Kind        string `json:"kind"`
	AllowUnmute *bool  `json:"allow_unmute"`
	twirpapi.SelectorJSON
}

type disableResponse struct {
	Status      string   `json:"status"`
	RoomName    string   `json:"room_name"`
	Kind        string   `json:"kind"`
	AllowUnmute bool     `json:"allow_unmute"`
	Identities  []string `json:"identities"`
}

// enableRequest is the body of POST /livekit/participant/enable.
type enableRequest struct {
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
	Kind                string `json:"kind"`
}

// removeSelectedRequest is the body of POST /livekit/participants/remove.
type removeSelectedRequest struct {
	RoomName string `json:"room_name"`
	twirpapi.SelectorJSON
}

type identitiesResponse struct {
	Status     string   `json:"status"`
	RoomName   string   `json:"room_name"`
	Identities []string `json:"identities"`
}

type pinResponse struct {
	Status   string `json:"status"`
	RoomName string `json:"room_name"`
	// Pinned is who is pinned now by this call ("" after an unpin), Unpinned who no
	// longer is ("" when nobody was pinned before).
	Pinned   string `json:"pinned"`
	Unpinned string `json:"unpinned"`
}

// hostControls returns the host-control service, once a bulk call's selector (nil for
// a call on one participant) and then the caller's access to the room are checked
// (another tenant's room is not found).
func (g *Gateway) hostControls(ctx context.Context, c caller, roomName string, sel *twirpapi.SelectorJSON) (twirpapi.HostControlsService, error) {
	if sel != nil {
		if err := g.checkSelector(*sel); err != nil {
			return nil, err
		}
	}
	if g.opts.HostControls == nil {
		return nil, fmt.Errorf("%w: host controls need Usher's usher.HostControls service", room.ErrUnsupported)
	}
	if _, err := g.room(ctx, c, roomName); err != nil {
		return nil, err
	}
	return g.opts.HostControls, nil
}

func checkKind(kind string) error {
	if kind != "audio" && kind != "video" {
		return fmt.Errorf("%w: kind must be \"audio\" or \"video\", not %q", room.ErrInvalidArgument, kind)
	}
	return nil
}

// checkSelector checks a selector's lists (twirpapi.SelectorJSON.Validate) and, on a
// gateway of this server, that every preset they name is defined: a misspelt name
// would silently choose nobody.
func (g *Gateway) checkSelector(s twirpapi.SelectorJSON) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if g.opts.PresetExists == nil {
		return nil
	}
	for _, l := range []struct {
		field string
		names []string
	}{{"presets", s.Presets}, {"except_presets", s.ExceptPresets}} {
		for _, n := range l.names {
			if !g.opts.PresetExists(n) {
				return fmt.Errorf("%w: %s: preset %q is not defined on this server", room.ErrInvalidArgument, l.field, n)
			}
		}
	}
	return nil
}

func orEmpty(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// disableAll mutes the audio or video of the selected participants of a room of the
// caller; allow_unmute false makes it a hard mute.
func (g *Gateway) disableAll(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	var req disableRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"room_name", req.RoomName}, [2]string{"kind", req.Kind}); err != nil {
		return 0, nil, err
	}
	if req.AllowUnmute == nil {
		return 0, nil, fmt.Errorf("%w: allow_unmute is required (true: they may unmute themselves; false: a hard mute, which only a host or POST /livekit/participant/enable lifts)", room.ErrInvalidArgument)
	}
	if err := checkKind(req.Kind); err != nil {
		return 0, nil, err
	}
	svc, err := g.hostControls(ctx, c, req.RoomName, &req.SelectorJSON)
	if err != nil {
		return 0, nil, err
	}
	res, err := svc.DisableAll(ctx, &twirpapi.DisableAllRequest{
		Room: req.RoomName, Kind: req.Kind, AllowUnmute: *req.AllowUnmute, SelectorJSON: req.SelectorJSON,
	})
	if err != nil {
		return 0, nil, notFoundAs(err, room.ErrRoomNotFound, fmt.Sprintf("%q", req.RoomName))
	}
	return http.StatusOK, disableResponse{
		Status: "disabled", RoomName: req.RoomName, Kind: req.Kind, AllowUnmute: *req.AllowUnmute, Identities: orEmpty(res.Identities),
	}, nil
}

// enableParticipant lifts the hard mute of one participant's audio or video.
func (g *Gateway) enableParticipant(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	var req enableRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"room_name", req.RoomName}, [2]string{"participant_identity", req.ParticipantIdentity},
		[2]string{"kind", req.Kind}); err != nil {
		return 0, nil, err
	}
	if err := checkKind(req.Kind); err != nil {
		return 0, nil, err
	}
	svc, err := g.hostControls(ctx, c, req.RoomName, nil)
	if err != nil {
		return 0, nil, err
	}
	_, err = svc.Enable(ctx, &twirpapi.EnableRequest{Room: req.RoomName, Identity: req.ParticipantIdentity, Kind: req.Kind})
	if err != nil {
		return 0, nil, notFoundAs(err, room.ErrParticipantNotFound, fmt.Sprintf("%q is not in room %q", req.ParticipantIdentity, req.RoomName))
	}
	return http.StatusOK, map[string]string{
		"status":               "enabled",
		"room_name":            req.RoomName,
		"participant_identity": req.ParticipantIdentity,
		"kind":                 req.Kind,
	}, nil
}

func (g *Gateway) pinParticipant(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	return g.setPin(ctx, c, r, true)
}

func (g *Gateway) unpinParticipant(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	return g.setPin(ctx, c, r, false)
}

// setPin pins a participant of a room of the caller for everyone (unpinning the one
// pinned before), or unpins it.
func (g *Gateway) setPin(ctx context.Context, c caller, r *http.Request, pin bool) (int, any, error) {
	var req participantRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"room_name", req.RoomName}, [2]string{"participant_identity", req.ParticipantIdentity}); err != nil {
		return 0, nil, err
	}
	svc, err := g.hostControls(ctx, c, req.RoomName, nil)
	if err != nil {
		return 0, nil, err
	}
	call, status := svc.Unpin, "unpinned"
	if pin {
		call, status = svc.Pin, "pinned"
	}
	res, err := call(ctx, &twirpapi.PinRequest{Room: req.RoomName, Identity: req.ParticipantIdentity})
	if err != nil {
		return 0, nil, notFoundAs(err, room.ErrParticipantNotFound, fmt.Sprintf("%q is not in room %q", req.ParticipantIdentity, req.RoomName))
	}
	return http.StatusOK, pinResponse{Status: status, RoomName: req.RoomName, Pinned: res.Pinned, Unpinned: res.Unpinned}, nil
}

// removeSelected removes the selected participants of a room of the caller for good,
// as DELETE /livekit/participant does one.
func (g *Gateway) removeSelected(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	var req removeSelectedRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"room_name", req.RoomName}); err != nil {
		return 0, nil, err
	}
	svc, err := g.hostControls(ctx, c, req.RoomName, &req.SelectorJSON)
	if err != nil {
		return 0, nil, err
	}
	res, err := svc.RemoveParticipants(ctx, &twirpapi.RemoveParticipantsRequest{Room: req.RoomName, SelectorJSON: req.SelectorJSON})
	if err != nil {
		return 0, nil, notFoundAs(err, room.ErrRoomNotFound, fmt.Sprintf("%q", req.RoomName))
	}
	return http.StatusOK, identitiesResponse{Status: "removed", RoomName: req.RoomName, Identities: orEmpty(res.Identities)}, nil
}

package rest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/apierr"
	"github.com/usher-rtc/usher/internal/room"
)

// ErrUpstreamNotFound is an upstream not_found whose meaning (room, participant,
// track) the calling endpoint decides from what it asked.
var ErrUpstreamNotFound = errors.New("not found upstream")

// notFoundAs turns an upstream not_found into the endpoint's own meaning.
func notFoundAs(err, as error, what string) error {
	if errors.Is(err, ErrUpstreamNotFound) {
		return fmt.Errorf("%w: %s", as, what)
	}
	return err
}

func required(fields ...[2]string) error {
	var missing []string
	for _, f := range fields {
		if strings.TrimSpace(f[1]) == "" {
			missing = append(missing, f[0])
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%w: %s is required", room.ErrInvalidArgument, missing[0])
	}
	return fmt.Errorf("%w: %s are required", room.ErrInvalidArgument, strings.Join(missing, ", "))
}

// --- tokens --------------------------------------------------------------------------

type permissionJSON struct {
	CanPublish        *bool    `json:"can_publish,omitempty"`
	CanSubscribe      *bool    `json:"can_subscribe,omitempty"`
	CanPublishData    *bool    `json:"can_publish_data,omitempty"`
	CanUpdateMetadata *bool    `json:"can_update_metadata,omitempty"`
	CanPublishSources []string `json:"can_publish_sources,omitempty"`
	Hidden            *bool    `json:"hidden,omitempty"`
}

type tokenRequest struct {
	RoomName            string            `json:"room_name"`
	ParticipantName     string            `json:"participant_name"`
	ParticipantIdentity string            `json:"participant_identity"`
	Metadata            string            `json:"metadata"`
	Attributes          map[string]string `json:"attributes"`
	TTL                 *int64            `json:"ttl"`
	Permission          *permissionJSON   `json:"permission"`
	// Preset names the participant's preset: the token's usher.preset attribute.
	Preset string `json:"preset"`
}

type tokenResponse struct {
	Token               string `json:"token"`
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
	LiveKitURL          string `json:"livekit_url"`
	ExpiresAt           int64  `json:"expires_at"`
}

var sourceNames = map[string]string{
	"camera": "camera", "microphone": "microphone", "screen_share": "screen_share", "screen_share_audio": "screen_share_audio",
}

// issueToken issues a join token for a room of the caller, creating and binding the
// room when it is missing. The token never carries admin grants.
func (g *Gateway) issueToken(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	var req tokenRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"room_name", req.RoomName}, [2]string{"participant_name", req.ParticipantName},
		[2]string{"participant_identity", req.ParticipantIdentity}); err != nil {
		return 0, nil, err
	}
	if err := g.validateTokenRequest(&req); err != nil {
		return 0, nil, err
	}
	ttl := g.opts.DefaultTokenTTL
	if req.TTL != nil {
		// Compared in seconds before converting: any int64 times a second could overflow.
		if maxTTL := int64(g.opts.MaxTokenTTL / time.Second); *req.TTL < 1 || *req.TTL > maxTTL {
			return 0, nil, fmt.Errorf("%w: ttl must be between 1 and %d seconds (rest.max_token_ttl)", room.ErrInvalidArgument, maxTTL)
		}
		ttl = time.Duration(*req.TTL) * time.Second
	}
	grant := &lkauth.VideoGrant{RoomJoin: true, Room: req.RoomName}
	if p := req.Permission; p != nil {
		if p.CanPublish != nil {
			grant.SetCanPublish(*p.CanPublish)
		}
		if p.CanSubscribe != nil {
			grant.SetCanSubscribe(*p.CanSubscribe)
		}
		if p.CanPublishData != nil {
			grant.SetCanPublishData(*p.CanPublishData)
		}
		if p.CanUpdateMetadata != nil {
			grant.SetCanUpdateOwnMetadata(*p.CanUpdateMetadata)
		}
		if p.Hidden != nil {
			grant.Hidden = *p.Hidden
		}
		for _, s := range p.CanPublishSources {
			grant.CanPublishSources = append(grant.CanPublishSources, sourceNames[strings.ToLower(s)])
		}
	}
	if _, err := g.createOwned(ctx, c, &livekit.CreateRoomRequest{Name: req.RoomName}); err != nil {
		return 0, nil, err
	}
	at := lkauth.NewAccessToken(g.opts.APIKey, g.opts.APISecret).
		SetIdentity(req.ParticipantIdentity).
		SetName(req.ParticipantName).
		SetMetadata(req.Metadata).
		SetValidFor(ttl).
		SetVideoGrant(grant)
	if req.Preset != "" {
		req.Attributes = maps.Clone(req.Attributes)
		if req.Attributes == nil {
			req.Attributes = map[string]string{}
		}
		req.Attributes[room.AttrPreset] = req.Preset
	}
	if len(req.Attributes) > 0 {
		at.SetAttributes(req.Attributes)
	}
	if c.authID != "" {
		// The tenant claim: the token joins only this tenant's rooms, and a room it
		// auto-creates belongs to this tenant.
		at.SetRoomConfig(room.TenantClaim(c.authID))
	}
	expires := time.Now().Add(ttl)
	tok, err := at.ToJWT()
	if err != nil {
		return 0, nil, fmt.Errorf("signing the token: %w", err)
	}
	if len(tok) > g.opts.MaxTokenSize {
		// Measured on the signed token, whatever it carries. The room (the caller's own)
		// may have been created above; it closes after its empty timeout.
		return 0, nil, fmt.Errorf("%w: the token would be %d bytes; /rtc accepts tokens of at most %d bytes: shorten metadata or attributes",
			room.ErrInvalidArgument, len(tok), g.opts.MaxTokenSize)
	}
	return http.StatusOK, tokenResponse{
		Token:               tok,
		RoomName:            req.RoomName,
		ParticipantIdentity: req.ParticipantIdentity,
		LiveKitURL:          g.liveKitURL(),
		ExpiresAt:           expires.Unix(),
	}, nil
}

// validateTokenRequest checks what the token would carry with the rules a join applies
// (room.Validate*, under the server's limits), so that no token is issued that /rtc
// would refuse. Each error names the request field.
func (g *Gateway) validateTokenRequest(req *tokenRequest) error {
	l := g.opts.Limits
	checks := []struct {
		field string
		err   error
	}{
		{"room_name", room.ValidateRoomName(g.opts.Limits, req.RoomName)},
		{"participant_identity", room.ValidateIdentity(l, req.ParticipantIdentity)},
		{"participant_name", room.ValidateParticipantName(l, req.ParticipantName)},
		{"metadata", room.ValidateMetadata(l, "participant metadata", req.Metadata)},
		{"attributes", room.ValidateAttributes(l, req.Attributes)},
		{"permission", validateSources(req.Permission)},
		{"preset", g.validatePreset(req)},
	}
	for _, c := range checks {
		if c.err != nil {
			return fieldError(c.field, c.err)
		}
	}
	return nil
}

// validatePreset checks the preset field (the token's usher.preset attribute, which
// attributes may name too, alike): a local gateway knows which presets exist (a
// remote server's join refuses an unknown one).
func (g *Gateway) validatePreset(req *tokenRequest) error {
	if v, ok := req.Attributes[room.AttrPreset]; ok {
		if req.Preset != "" && req.Preset != v {
			return fmt.Errorf("%w: preset %q and attributes[%q] %q differ", room.ErrInvalidArgument, req.Preset, room.AttrPreset, v)
		}
		req.Preset = v
	}
	if req.Preset == "" {
		return nil
	}
	if g.opts.PresetExists != nil && !g.opts.PresetExists(req.Preset) {
		return fmt.Errorf("%w: preset %q is not defined on this server", room.ErrInvalidArgument, req.Preset)
	}
	if len(req.Preset) > 64 {
		return fmt.Errorf("%w: a preset name is at most 64 bytes", room.ErrInvalidArgument)
	}
	return nil
}

// validateSources checks a token permission's can_publish_sources: known names, each
// at most once (room.ValidatePermission).
func validateSources(p *permissionJSON) error {
	if p == nil {
		return nil
	}
	perm := &livekit.ParticipantPermission{}
	for _, s := range p.CanPublishSources {
		if _, ok := sourceNames[strings.ToLower(s)]; !ok {
			return fmt.Errorf("%w: can_publish_sources: %q is not camera, microphone, screen_share or screen_share_audio", room.ErrInvalidArgument, s)
		}
		perm.CanPublishSources = append(perm.CanPublishSources, livekit.TrackSource(livekit.TrackSource_value[strings.ToUpper(s)]))
	}
	return room.ValidatePermission(perm)
}

// fieldError prefixes a validator's message with the request field it is about:
// "invalid argument: participant_identity: participant identity is 500000 bytes; the
// limit is 256".
func fieldError(field string, err error) error {
	if msg, ok := strings.CutPrefix(err.Error(), room.ErrInvalidArgument.Error()+": "); ok {
		return fmt.Errorf("%w: %s: %s", room.ErrInvalidArgument, field, msg)
	}
	return fmt.Errorf("%s: %w", field, err)
}

// liveKitURL is the URL clients connect to: configured (rest.livekit_url), or this
// server's own from its configuration. Never the request's Host or X-Forwarded-*
// headers, which the caller chooses.
func (g *Gateway) liveKitURL() string {
	if g.opts.LiveKitURL != "" || g.opts.DefaultLiveKitURL == nil {
		return g.opts.LiveKitURL
	}
	return g.opts.DefaultLiveKitURL()
}

// --- rooms ---------------------------------------------------------------------------

type roomJSON struct {
	Name             string `json:"name"`
	SID              string `json:"sid"`
	NumParticipants  uint32 `json:"num_participants"`
	MaxParticipants  uint32 `json:"max_participants"`
	EmptyTimeout     uint32 `json:"empty_timeout"`
	DepartureTimeout uint32 `json:"departure_timeout"`
	CreationTime     int64  `json:"creation_time"`
	Metadata         string `json:"metadata"`
}

type roomWithParticipantsJSON struct {
	roomJSON
	Participants []participantJSON `json:"participants"`
}

func toRoomJSON(r *livekit.Room) roomJSON {
	return roomJSON{
		Name:             r.Name,
		SID:              r.Sid,
		NumParticipants:  r.NumParticipants,
		MaxParticipants:  r.MaxParticipants,
		EmptyTimeout:     r.EmptyTimeout,
		DepartureTimeout: r.DepartureTimeout,
		CreationTime:     r.CreationTime,
		Metadata:         r.Metadata,
	}
}

type roomSummaryJSON struct {
	Name            string `json:"name"`
	SID             string `json:"sid"`
	NumParticipants uint32 `json:"num_participants"`
	CreationTime    int64  `json:"creation_time"`
}

func (g *Gateway) listRooms(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	res, err := g.opts.Service.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		return 0, nil, err
	}
	out := struct {
		Rooms []roomSummaryJSON `json:"rooms"`
	}{Rooms: []roomSummaryJSON{}}
	for _, rm := range res.Rooms {
		if c.owns(rm) {
			out.Rooms = append(out.Rooms, roomSummaryJSON{Name: rm.Name, SID: rm.Sid, NumParticipants: rm.NumParticipants, CreationTime: rm.CreationTime})
		}
	}
	return http.StatusOK, out, nil
}

type createRoomRequest struct {
	RoomName         string `json:"room_name"`
	EmptyTimeout     uint32 `json:"empty_timeout"`
	DepartureTimeout uint32 `json:"departure_timeout"`
	MaxParticipants  uint32 `json:"max_participants"`
	Metadata         string `json:"metadata"`
}

func (g *Gateway) createRoom(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	var req createRoomRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"room_name", req.RoomName}); err != nil {
		return 0, nil, err
	}
	existed := false
	if res, err := g.opts.Service.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{req.RoomName}}); err == nil && len(res.Rooms) > 0 {
		existed = true
	}
	rm, err := g.createOwned(ctx, c, &livekit.CreateRoomRequest{
		Name:             req.RoomName,
		EmptyTimeout:     req.EmptyTimeout,
		DepartureTimeout: req.DepartureTimeout,
		MaxParticipants:  req.MaxParticipants,
		Metadata:         req.Metadata,
	})
	if err != nil {
		return 0, nil, err
	}
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	return status, toRoomJSON(rm), nil
}

func (g *Gateway) getRoom(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	name := r.PathValue("room_name")
	rm, err := g.room(ctx, c, name)
	if err != nil {
		return 0, nil, err
	}
	res, err := g.opts.Service.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: name})
	if err != nil {
		return 0, nil, notFoundAs(err, room.ErrRoomNotFound, fmt.Sprintf("%q", name))
	}
	out := roomWithParticipantsJSON{roomJSON: toRoomJSON(rm), Participants: make([]participantJSON, 0, len(res.Participants))}
	for _, p := range res.Participants {
		out.Participants = append(out.Participants, toParticipantJSON(p))
	}
	return http.StatusOK, out, nil
}

func (g *Gateway) deleteRoom(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	name := r.PathValue("room_name")
	if _, err := g.room(ctx, c, name); err != nil {
		return 0, nil, err
	}
	if _, err := g.opts.Service.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: name}); err != nil {
		return 0, nil, notFoundAs(err, room.ErrRoomNotFound, fmt.Sprintf("%q", name))
	}
	return http.StatusOK, map[string]string{"status": "deleted", "room_name": name}, nil
}

// --- participants --------------------------------------------------------------------

type trackJSON struct {
	SID      string `json:"sid"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Source   string `json:"source"`
	Muted    bool   `json:"muted"`
	MimeType string `json:"mime_type"`
	Width    uint32 `json:"width"`
	Height   uint32 `json:"height"`
}

type participantPermissionJSON struct {
	CanSubscribe      bool     `json:"can_subscribe"`
	CanPublish        bool     `json:"can_publish"`
	CanPublishData    bool     `json:"can_publish_data"`
	CanPublishSources []string `json:"can_publish_sources"`
	Hidden            bool     `json:"hidden"`
	CanUpdateMetadata bool     `json:"can_update_metadata"`
}

type participantJSON struct {
	SID         string                    `json:"sid"`
	Identity    string                    `json:"identity"`
	Name        string                    `json:"name"`
	State       string                    `json:"state"`
	Kind        string                    `json:"kind"`
	KindDetails []string                  `json:"kind_details"`
	JoinedAt    int64                     `json:"joined_at"`
	Metadata    string                    `json:"metadata"`
	Attributes  map[string]string         `json:"attributes"`
	IsPublisher bool                      `json:"is_publisher"`
	Permission  participantPermissionJSON `json:"permission"`
	Tracks      []trackJSON               `json:"tracks"`
}

func toParticipantJSON(p *livekit.ParticipantInfo) participantJSON {
	out := participantJSON{
		SID:         p.Sid,
		Identity:    p.Identity,
		Name:        p.Name,
		State:       p.State.String(),
		Kind:        p.Kind.String(),
		KindDetails: []string{},
		JoinedAt:    p.JoinedAt,
		Metadata:    p.Metadata,
		Attributes:  p.Attributes,
		IsPublisher: p.IsPublisher,
		Tracks:      make([]trackJSON, 0, len(p.Tracks)),
	}
	if out.Attributes == nil {
		out.Attributes = map[string]string{}
	}
	for _, k := range p.KindDetails {
		out.KindDetails = append(out.KindDetails, k.String())
	}
	if perm := p.Permission; perm != nil {
		out.Permission = participantPermissionJSON{
			CanSubscribe:      perm.CanSubscribe,
			CanPublish:        perm.CanPublish,
			CanPublishData:    perm.CanPublishData,
			CanPublishSources: []string{},
			Hidden:            perm.Hidden,
			CanUpdateMetadata: perm.CanUpdateMetadata,
		}
		for _, s := range perm.CanPublishSources {
			out.Permission.CanPublishSources = append(out.Permission.CanPublishSources, strings.ToLower(s.String()))
		}
	}
	for _, t := range p.Tracks {
		out.Tracks = append(out.Tracks, trackJSON{
			SID: t.Sid, Name: t.Name, Type: t.Type.String(), Source: t.Source.String(), Muted: t.Muted,
			MimeType: t.MimeType, Width: t.Width, Height: t.Height,
		})
	}
	return out
}

type participantRequest struct {
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
}

// participant checks the caller's access to the room, then that the participant is
// there, as the seed's flow has it.
func (g *Gateway) participant(ctx context.Context, c caller, roomName, identity string) (*livekit.ParticipantInfo, error) {
	if _, err := g.room(ctx, c, roomName); err != nil {
		return nil, err
	}
	p, err := g.opts.Service.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: roomName, Identity: identity})
	if err != nil {
		return nil, notFoundAs(err, room.ErrParticipantNotFound, fmt.Sprintf("%q is not in room %q", identity, roomName))
	}
	return p, nil
}

func (g *Gateway) removeParticipant(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	var req participantRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"room_name", req.RoomName}, [2]string{"participant_identity", req.ParticipantIdentity}); err != nil {
		return 0, nil, err
	}
	if _, err := g.participant(ctx, c, req.RoomName, req.ParticipantIdentity); err != nil {
		return 0, nil, err
	}
	_, err := g.opts.Service.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: req.RoomName, Identity: req.ParticipantIdentity})
	if err != nil {
		return 0, nil, notFoundAs(err, room.ErrParticipantNotFound, fmt.Sprintf("%q is not in room %q", req.ParticipantIdentity, req.RoomName))
	}
	return http.StatusOK, map[string]string{
		"status":               "removed",
		"room_name":            req.RoomName,
		"participant_identity": req.ParticipantIdentity,
	}, nil
}

type muteRequest struct {
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
	TrackSID            string `json:"track_sid"`
	Muted               *bool  `json:"muted"`
}

type muteResponse struct {
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
	TrackSID            string `json:"track_sid"`
	Muted               bool   `json:"muted"`
}

func (g *Gateway) muteTrack(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	var req muteRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"room_name", req.RoomName}, [2]string{"participant_identity", req.ParticipantIdentity},
		[2]string{"track_sid", req.TrackSID}); err != nil {
		return 0, nil, err
	}
	if req.Muted == nil {
		return 0, nil, fmt.Errorf("%w: muted is required (true or false)", room.ErrInvalidArgument)
	}
	if _, err := g.participant(ctx, c, req.RoomName, req.ParticipantIdentity); err != nil {
		return 0, nil, err
	}
	res, err := g.opts.Service.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{
		Room: req.RoomName, Identity: req.ParticipantIdentity, TrackSid: req.TrackSID, Muted: *req.Muted,
	})
	if err != nil {
		return 0, nil, notFoundAs(err, room.ErrTrackNotFound, fmt.Sprintf("%q has no track %q", req.ParticipantIdentity, req.TrackSID))
	}
	return http.StatusOK, muteResponse{
		RoomName: req.RoomName, ParticipantIdentity: req.ParticipantIdentity, TrackSID: req.TrackSID, Muted: res.GetTrack().GetMuted(),
	}, nil
}

type updateRequest struct {
	RoomName            string                     `json:"room_name"`
	ParticipantIdentity string                     `json:"participant_identity"`
	Name                string                     `json:"name"`
	Metadata            string                     `json:"metadata"`
	Attributes          map[string]string          `json:"attributes"`
	Permission          *participantPermissionJSON `json:"permission"`
}

func (g *Gateway) updateParticipant(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	var req updateRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required([2]string{"room_name", req.RoomName}, [2]string{"participant_identity", req.ParticipantIdentity}); err != nil {
		return 0, nil, err
	}
	up := &livekit.UpdateParticipantRequest{
		Room: req.RoomName, Identity: req.ParticipantIdentity, Name: req.Name, Metadata: req.Metadata, Attributes: req.Attributes,
	}
	if p := req.Permission; p != nil {
		up.Permission = &livekit.ParticipantPermission{
			CanSubscribe: p.CanSubscribe, CanPublish: p.CanPublish, CanPublishData: p.CanPublishData,
			Hidden: p.Hidden, CanUpdateMetadata: p.CanUpdateMetadata,
		}
		for _, s := range p.CanPublishSources {
			src, ok := livekit.TrackSource_value[strings.ToUpper(s)]
			if !ok || src == int32(livekit.TrackSource_UNKNOWN) {
				return 0, nil, fmt.Errorf("%w: permission.can_publish_sources: %q is not camera, microphone, screen_share or screen_share_audio", room.ErrInvalidArgument, s)
			}
			up.Permission.CanPublishSources = append(up.Permission.CanPublishSources, livekit.TrackSource(src))
		}
	}
	if _, err := g.participant(ctx, c, req.RoomName, req.ParticipantIdentity); err != nil {
		return 0, nil, err
	}
	info, err := g.opts.Service.UpdateParticipant(ctx, up)
	if err != nil {
		return 0, nil, notFoundAs(err, room.ErrParticipantNotFound, fmt.Sprintf("%q is not in room %q", req.ParticipantIdentity, req.RoomName))
	}
	return http.StatusOK, toParticipantJSON(info), nil
}

type relocateRequest struct {
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
	DestinationRoom     string `json:"destination_room"`
}

func (g *Gateway) decodeRelocate(r *http.Request) (relocateRequest, error) {
	var req relocateRequest
	if err := decode(r, &req); err != nil {
		return req, err
	}
	return req, required([2]string{"room_name", req.RoomName}, [2]string{"participant_identity", req.ParticipantIdentity},
		[2]string{"destination_room", req.DestinationRoom})
}

func relocated(status string, req relocateRequest) map[string]string {
	return map[string]string{
		"status":               status,
		"room_name":            req.RoomName,
		"participant_identity": req.ParticipantIdentity,
		"destination_room":     req.DestinationRoom,
	}
}

// moveParticipant moves a participant between two rooms of the caller.
func (g *Gateway) moveParticipant(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	req, err := g.decodeRelocate(r)
	if err != nil {
		return 0, nil, err
	}
	if _, err := g.participant(ctx, c, req.RoomName, req.ParticipantIdentity); err != nil {
		return 0, nil, err
	}
	if _, err := g.room(ctx, c, req.DestinationRoom); err != nil {
		return 0, nil, fmt.Errorf("destination: %w", err)
	}
	_, err = g.opts.Service.MoveParticipant(ctx, &livekit.MoveParticipantRequest{
		Room: req.RoomName, Identity: req.ParticipantIdentity, DestinationRoom: req.DestinationRoom,
	})
	if err != nil {
		return 0, nil, notFoundAs(err, room.ErrParticipantNotFound, fmt.Sprintf("%q is not in room %q", req.ParticipantIdentity, req.RoomName))
	}
	return http.StatusOK, relocated("moved", req), nil
}

// forwardParticipant forwards a participant's tracks into another room of the caller,
// creating (and binding) the destination when it is missing.
func (g *Gateway) forwardParticipant(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	req, err := g.decodeRelocate(r)
	if err != nil {
		return 0, nil, err
	}
	if _, err := g.participant(ctx, c, req.RoomName, req.ParticipantIdentity); err != nil {
		return 0, nil, err
	}
	if req.DestinationRoom == req.RoomName {
		return 0, nil, fmt.Errorf("%w: destination_room is the room the participant is already in", room.ErrInvalidArgument)
	}
	if _, err := g.createOwned(ctx, c, &livekit.CreateRoomRequest{Name: req.DestinationRoom}); err != nil {
		if errors.Is(err, apierr.ErrRoomAccessDenied) {
			return 0, nil, fmt.Errorf("destination: %w: %q", room.ErrRoomNotFound, req.DestinationRoom)
		}
		return 0, nil, err
	}
	_, err = g.opts.Service.ForwardParticipant(ctx, &livekit.ForwardParticipantRequest{
		Room: req.RoomName, Identity: req.ParticipantIdentity, DestinationRoom: req.DestinationRoom,
	})
	if err != nil {
		return 0, nil, notFoundAs(err, room.ErrParticipantNotFound, fmt.Sprintf("%q is not in room %q", req.ParticipantIdentity, req.RoomName))
	}
	return http.StatusOK, relocated("forwarded", req), nil
}

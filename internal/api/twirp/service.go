// Package twirpapi implements LiveKit's livekit.RoomService over the room manager and
// serves it as Twirp over HTTP (JSON and protobuf).
package twirpapi

import (
	"context"
	"fmt"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/apierr"
	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/room"
)

// RoomService is Usher's livekit.RoomService. Every method checks the caller's grants
// (from the verified token in the context) exactly as LiveKit does, then acts on the
// room manager.
type RoomService struct {
	rooms *room.Manager
}

var _ livekit.RoomService = (*RoomService)(nil)

// NewRoomService returns a RoomService over rooms.
func NewRoomService(rooms *room.Manager) *RoomService {
	return &RoomService{rooms: rooms}
}

func claims(ctx context.Context) *auth.Claims { return auth.FromContext(ctx) }

// CreateRoom creates a room, or returns the existing one. Requires roomCreate.
func (s *RoomService) CreateRoom(ctx context.Context, req *livekit.CreateRoomRequest) (*livekit.Room, error) {
	if err := claims(ctx).RequireRoomCreate("CreateRoom"); err != nil {
		return nil, err
	}
	info, _, err := s.rooms.CreateRoom(ctx, req)
	return info, err
}

// ListRooms lists open rooms, optionally only the named ones. Requires roomList.
func (s *RoomService) ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	if err := claims(ctx).RequireRoomList("ListRooms"); err != nil {
		return nil, err
	}
	rooms, err := s.rooms.ListRoomsNamed(req.Names)
	if err != nil {
		return nil, err
	}
	return &livekit.ListRoomsResponse{Rooms: rooms}, nil
}

// DeleteRoom closes a room and disconnects everyone in it. Requires roomCreate.
func (s *RoomService) DeleteRoom(ctx context.Context, req *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error) {
	if err := claims(ctx).RequireRoomCreate("DeleteRoom"); err != nil {
		return nil, err
	}
	if err := s.rooms.ValidateRoomName(req.Room); err != nil {
		return nil, err
	}
	if err := s.rooms.DeleteRoom(ctx, req.Room); err != nil {
		return nil, err
	}
	return &livekit.DeleteRoomResponse{}, nil
}

// UpdateRoomMetadata replaces a room's metadata. Requires roomAdmin for the room.
func (s *RoomService) UpdateRoomMetadata(ctx context.Context, req *livekit.UpdateRoomMetadataRequest) (*livekit.Room, error) {
	if err := s.roomAdmin(ctx, "UpdateRoomMetadata", req.Room); err != nil {
		return nil, err
	}
	return s.rooms.UpdateRoomMetadata(ctx, req.Room, req.Metadata)
}

// roomAdmin validates the room name, then checks the roomAdmin grant for it.
func (s *RoomService) roomAdmin(ctx context.Context, method, roomName string) error {
	if err := claims(ctx).RequireRoomAdmin(method, roomName); err != nil {
		return err
	}
	return s.rooms.ValidateRoomName(roomName)
}

// ListParticipants lists a room's participants, hidden ones included. Requires
// roomAdmin for the room, or roomList (the participant management guide names it).
func (s *RoomService) ListParticipants(ctx context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	c := claims(ctx)
	if err := c.RequireRoomAdmin("ListParticipants", req.Room); err != nil {
		if c.RequireRoomList("ListParticipants") != nil {
			return nil, err
		}
	}
	if err := s.rooms.ValidateRoomName(req.Room); err != nil {
		return nil, err
	}
	ps, err := s.rooms.ListParticipants(req.Room)
	if err != nil {
		return nil, err
	}
	return &livekit.ListParticipantsResponse{Participants: ps}, nil
}

// GetParticipant returns one participant. Requires roomAdmin for the room.
func (s *RoomService) GetParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error) {
	if err := s.roomAdmin(ctx, "GetParticipant", req.Room); err != nil {
		return nil, err
	}
	return s.rooms.GetParticipant(req.Room, req.Identity)
}

// RemoveParticipant disconnects a participant and revokes their tokens. Requires
// roomAdmin for the room.
func (s *RoomService) RemoveParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error) {
	if err := s.roomAdmin(ctx, "RemoveParticipant", req.Room); err != nil {
		return nil, err
	}
	if err := s.rooms.RemoveParticipant(ctx, req.Room, req.Identity); err != nil {
		return nil, err
	}
	return &livekit.RemoveParticipantResponse{}, nil
}

// MutePublishedTrack mutes or unmutes a published track. Requires roomAdmin for the room.
func (s *RoomService) MutePublishedTrack(ctx context.Context, req *livekit.MuteRoomTrackRequest) (*livekit.MuteRoomTrackResponse, error) {
	if err := s.roomAdmin(ctx, "MutePublishedTrack", req.Room); err != nil {
		return nil, err
	}
	ti, err := s.rooms.MutePublishedTrack(ctx, req.Room, req.Identity, req.TrackSid, req.Muted)
	if err != nil {
		return nil, err
	}
	return &livekit.MuteRoomTrackResponse{Track: ti}, nil
}

// UpdateParticipant changes a participant's metadata, name, attributes or permission.
// Requires roomAdmin for the room.
func (s *RoomService) UpdateParticipant(ctx context.Context, req *livekit.UpdateParticipantRequest) (*livekit.ParticipantInfo, error) {
	if err := s.roomAdmin(ctx, "UpdateParticipant", req.Room); err != nil {
		return nil, err
	}
	return s.rooms.UpdateParticipant(ctx, req.Room, req.Identity, room.Update{
		Name:       req.Name,
		Metadata:   req.Metadata,
		Attributes: req.Attributes,
		Permission: req.Permission,
	})
}

// UpdateSubscriptions subscribes or unsubscribes a participant. Requires roomAdmin for
// the room.
func (s *RoomService) UpdateSubscriptions(ctx context.Context, req *livekit.UpdateSubscriptionsRequest) (*livekit.UpdateSubscriptionsResponse, error) {
	if err := s.roomAdmin(ctx, "UpdateSubscriptions", req.Room); err != nil {
		return nil, err
	}
	if err := s.rooms.UpdateSubscriptions(ctx, req.Room, req.Identity, req.TrackSids, req.ParticipantTracks, req.Subscribe); err != nil {
		return nil, err
	}
	return &livekit.UpdateSubscriptionsResponse{}, nil
}

// SendData sends a data packet to participants. Requires roomAdmin for the room.
func (s *RoomService) SendData(ctx context.Context, req *livekit.SendDataRequest) (*livekit.SendDataResponse, error) {
	if err := s.roomAdmin(ctx, "SendData", req.Room); err != nil {
		return nil, err
	}
	if err := s.rooms.SendData(ctx, req); err != nil {
		return nil, err
	}
	return &livekit.SendDataResponse{}, nil
}

// ForwardParticipant forwards a participant's tracks into another room. Requires
// roomAdmin for the room and destinationRoom for the destination.
func (s *RoomService) ForwardParticipant(ctx context.Context, req *livekit.ForwardParticipantRequest) (*livekit.ForwardParticipantResponse, error) {
	if err := s.roomAdmin(ctx, "ForwardParticipant", req.Room); err != nil {
		return nil, err
	}
	if err := claims(ctx).RequireDestinationRoom("ForwardParticipant", req.DestinationRoom); err != nil {
		return nil, err
	}
	if err := s.rooms.ForwardParticipant(ctx, req.Room, req.Identity, req.DestinationRoom); err != nil {
		return nil, err
	}
	return &livekit.ForwardParticipantResponse{}, nil
}

// MoveParticipant moves a participant into another room. Requires roomAdmin for the
// room and destinationRoom for the destination.
func (s *RoomService) MoveParticipant(ctx context.Context, req *livekit.MoveParticipantRequest) (*livekit.MoveParticipantResponse, error) {
	if err := s.roomAdmin(ctx, "MoveParticipant", req.Room); err != nil {
		return nil, err
	}
	if err := claims(ctx).RequireDestinationRoom("MoveParticipant", req.DestinationRoom); err != nil {
		return nil, err
	}
	if err := s.rooms.MoveParticipant(ctx, req.Room, req.Identity, req.DestinationRoom); err != nil {
		return nil, err
	}
	return &livekit.MoveParticipantResponse{}, nil
}

// PerformRpc calls an RPC method on a participant. Requires roomAdmin for the room.
// Usher does not implement server-initiated RPC yet.
func (s *RoomService) PerformRpc(ctx context.Context, req *livekit.PerformRpcRequest) (*livekit.PerformRpcResponse, error) {
	if err := s.roomAdmin(ctx, "PerformRpc", req.Room); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: PerformRpc is not implemented yet", apierr.ErrUnimplemented)
}

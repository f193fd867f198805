package auth

import "fmt"

// RequireRoomCreate checks the roomCreate grant, needed by CreateRoom and DeleteRoom.
func (c *Claims) RequireRoomCreate(method string) error {
	if c != nil && c.Operator {
		return nil
	}
	if c == nil || !c.Video().RoomCreate {
		return fmt.Errorf("%w: %s requires the roomCreate grant", ErrPermissionDenied, method)
	}
	return nil
}

// RequireRoomList checks the roomList grant, needed by ListRooms.
func (c *Claims) RequireRoomList(method string) error {
	if c != nil && c.Operator {
		return nil
	}
	if c == nil || !c.Video().RoomList {
		return fmt.Errorf("%w: %s requires the roomList grant", ErrPermissionDenied, method)
	}
	return nil
}

// RequireRoomAdmin checks the roomAdmin grant for room, needed by every method that names
// a room. A token for one room never grants anything in another.
func (c *Claims) RequireRoomAdmin(method, room string) error {
	if c != nil && c.Operator {
		return nil
	}
	if c == nil || !c.Video().RoomAdmin {
		return fmt.Errorf("%w: %s requires the roomAdmin grant", ErrPermissionDenied, method)
	}
	if granted := c.Video().Room; granted != room {
		if granted == "" {
			return fmt.Errorf("%w: %s requires a roomAdmin grant naming room %q; the token names no room", ErrPermissionDenied, method, printable(room))
		}
		return fmt.Errorf("%w: the token's roomAdmin grant is for room %q, not %q", ErrPermissionDenied, printable(granted), printable(room))
	}
	return nil
}

// RequireDestinationRoom checks the destinationRoom grant, needed by MoveParticipant and
// ForwardParticipant on top of roomAdmin.
func (c *Claims) RequireDestinationRoom(method, room string) error {
	if c != nil && c.Operator {
		return nil
	}
	if c == nil || c.Video().DestinationRoom != room {
		return fmt.Errorf("%w: %s requires a destinationRoom grant naming room %q", ErrPermissionDenied, method, printable(room))
	}
	return nil
}

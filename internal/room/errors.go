package room

import "errors"

// Sentinel errors of the room package. They are wrapped with detail; apierr maps
// each to a Twirp code, an HTTP status and a REST code.
var (
	// ErrRoomNotFound: no open room has that name.
	ErrRoomNotFound = errors.New("room not found")
	// ErrInvalidArgument: a request field is missing, too long or malformed.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnsupported: the request asks for something Usher does not do.
	ErrUnsupported = errors.New("not supported")
	// ErrRoomClosed: the room closed while the operation was under way.
	ErrRoomClosed = errors.New("room is closed")
)

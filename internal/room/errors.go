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

// Errors of joining and acting on participants.
var (
	// ErrParticipantNotFound: no participant with that identity (or session) is in the room.
	ErrParticipantNotFound = errors.New("participant not found")
	// ErrTrackNotFound: the participant has no published track with that SID.
	ErrTrackNotFound = errors.New("track not found")
	// ErrRoomFull: the room has reached max_participants.
	ErrRoomFull = errors.New("room is full")
	// ErrDuplicateIdentity: the identity is already in the room and duplicates are rejected.
	ErrDuplicateIdentity = errors.New("identity already in room")
	// ErrPermissionDenied: the participant's permission does not allow the action.
	ErrPermissionDenied = errors.New("not allowed")
)

// More errors of participant management.
var (
	// ErrDataBacklog: a recipient's queue of reliable data packets is full.
	ErrDataBacklog = errors.New("a recipient cannot take more reliable data now")
	// ErrRemoteUnmuteDisabled: an admin tried to unmute a track without room.enable_remote_unmute.
	ErrRemoteUnmuteDisabled = errors.New("remote unmute is disabled")
	// ErrRevocation: the durable revocation could not be stored.
	ErrRevocation = errors.New("could not store the token revocation")
)

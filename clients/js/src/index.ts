// @usher-rtc/host-controls: RealtimeKit's host controls for livekit-client against Usher.
export { UsherMeeting, UsherParticipants, ParticipantMap, SERVER_IDENTITY, roomLeftState } from './meeting.js';
export type { MeetingOptions, JoinedEvents, PinnedEvents } from './meeting.js';
export { UsherParticipant, UsherSelf } from './participant.js';
export type {
  AudioUpdate,
  VideoUpdate,
  MediaLockUpdate,
  DisableOptions,
  BanOptions,
  ParticipantEvents,
  SelfEvents,
  RoomLeft,
  RoomLeftState,
} from './participant.js';
export { ClientError, ErrorCode, toClientError } from './errors.js';
export type { ErrorCodeName } from './errors.js';
export {
  parsePermissions,
  ATTR_PRESET,
  ATTR_PERMISSIONS,
  ATTR_PINNED,
  ATTR_AUDIO_LOCKED,
  ATTR_VIDEO_LOCKED,
} from './permissions.js';
export type { HostPermissions } from './permissions.js';
export type {
  DisableResponse,
  DisableAllResponse,
  EnableResponse,
  PinResponse,
  UnpinResponse,
  KickResponse,
  BanResponse,
  KickAllResponse,
} from './responses.js';
export { Emitter } from './emitter.js';

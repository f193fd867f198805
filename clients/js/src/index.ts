// @usher-rtc/host-controls: RealtimeKit's host controls for livekit-client against Usher.
export { UsherMeeting, UsherParticipants, ParticipantMap, WaitlistMap, SERVER_IDENTITY, roomLeftState } from './meeting.js';
export type { MeetingOptions, JoinedEvents, PinnedEvents, WaitlistedEvents } from './meeting.js';
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
  RoomState,
  WaitingUpdate,
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
  ATTR_WAITING,
  ATTR_WAITING_STATUS,
  ATTR_WAITING_MESSAGE,
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
  AdmitResponse,
  AdmitAllResponse,
  DenyResponse,
  WaitingMessageResponse,
  KickAllResponse,
} from './responses.js';
export { Emitter } from './emitter.js';

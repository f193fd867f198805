// self.permissions: the local participant's host controls, read from the reserved
// attribute usher.permissions (a JSON object the server keeps up to date).

export const ATTR_PRESET = 'usher.preset';
export const ATTR_PERMISSIONS = 'usher.permissions';
export const ATTR_PINNED = 'usher.pinned';
export const ATTR_AUDIO_LOCKED = 'usher.audio_locked';
export const ATTR_VIDEO_LOCKED = 'usher.video_locked';
export const ATTR_WAITING = 'usher.waiting';
export const ATTR_WAITING_STATUS = 'usher.waiting_status';
export const ATTR_WAITING_MESSAGE = 'usher.waiting_message';

/** The host controls, with RealtimeKit's names. All false without a preset. */
export interface HostPermissions {
  /** disable_participant_audio: disableAudio, disableAllAudio, enableAudio. */
  canDisableParticipantAudio: boolean;
  /** disable_participant_video: disableVideo, disableAllVideo, enableVideo. */
  canDisableParticipantVideo: boolean;
  /** pin_participant: pin, unpin. */
  pinParticipant: boolean;
  /** kick_participant: kick, kickAll. */
  kickParticipant: boolean;
  /** end_session: kickAll. */
  endSession: boolean;
  /** accept_waiting_requests: sees the waiting room's queue; admit, admitAll, deny. */
  acceptWaitingRequests: boolean;
  /** ban_participant: ban. */
  banParticipant: boolean;
  /** Every key of usher.permissions as the server sent it (snake_case), newer ones included. */
  readonly raw: Readonly<Record<string, boolean>>;
}

const KNOWN: Record<string, keyof Omit<HostPermissions, 'raw'>> = {
  disable_participant_audio: 'canDisableParticipantAudio',
  disable_participant_video: 'canDisableParticipantVideo',
  pin_participant: 'pinParticipant',
  kick_participant: 'kickParticipant',
  end_session: 'endSession',
  accept_waiting_requests: 'acceptWaitingRequests',
  ban_participant: 'banParticipant',
};

/**
 * Parses the usher.permissions attribute. A missing or malformed value gives no
 * permission: the server is the authority anyway, and answers 1201 when one is missing.
 */
export function parsePermissions(value: string | undefined): HostPermissions {
  const raw: Record<string, boolean> = {};
  if (value) {
    try {
      const obj: unknown = JSON.parse(value);
      if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
        for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
          if (typeof v === 'boolean') raw[k] = v;
        }
      }
    } catch {
      // not JSON: no permission
    }
  }
  const perms = {
    canDisableParticipantAudio: false,
    canDisableParticipantVideo: false,
    pinParticipant: false,
    kickParticipant: false,
    endSession: false,
    acceptWaitingRequests: false,
    banParticipant: false,
    raw: Object.freeze(raw),
  };
  for (const [key, name] of Object.entries(KNOWN)) perms[name] = raw[key] === true;
  return Object.freeze(perms);
}

export function samePermissions(a: HostPermissions, b: HostPermissions): boolean {
  const ka = Object.keys(a.raw);
  if (ka.length !== Object.keys(b.raw).length) return false;
  return ka.every((k) => a.raw[k] === b.raw[k]);
}

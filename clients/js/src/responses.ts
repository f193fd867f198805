// The response payloads of the host controls (docs/host-controls.md), parsed from JSON.

/** disableAudio / disableVideo. */
export interface DisableResponse {
  identity: string;
  /** The sids of the tracks muted. */
  tracks: string[];
  allowUnmute: boolean;
}

/** disableAllAudio / disableAllVideo. */
export interface DisableAllResponse {
  identities: string[];
  allowUnmute: boolean;
}

/** enableAudio / enableVideo (a hard mute lifted). */
export interface EnableResponse {
  identity: string;
}

export interface PinResponse {
  pinned: string;
  /** The previously pinned participant, if there was one. */
  unpinned?: string;
}

export interface UnpinResponse {
  unpinned: string;
}

export interface KickResponse {
  kicked: string;
}

export interface BanResponse {
  banned: string;
  /** 0: until lifted. */
  durationSeconds: number;
}

export interface KickAllResponse {
  ended: boolean;
}

/** admit. */
export interface AdmitResponse {
  admitted: string;
}

/** admitAll: the identities let in, in the order they arrived. */
export interface AdmitAllResponse {
  admitted: string[];
}

/** deny. */
export interface DenyResponse {
  denied: string;
}

/** setWaitingMessage: who got the message. */
export interface WaitingMessageResponse {
  identities: string[];
}

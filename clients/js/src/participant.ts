// Participant objects with RealtimeKit's names: the remote ones (meeting.participants.joined)
// and the local one (meeting.self), each wrapping a livekit-client participant.

import type { LocalParticipant, Participant, RemoteParticipant, Track, TrackPublication } from 'livekit-client';

import { Emitter } from './emitter.js';
import { ClientError, ErrorCode } from './errors.js';
import {
  ATTR_AUDIO_LOCKED,
  ATTR_PERMISSIONS,
  ATTR_PINNED,
  ATTR_PRESET,
  ATTR_VIDEO_LOCKED,
  ATTR_WAITING,
  ATTR_WAITING_MESSAGE,
  ATTR_WAITING_STATUS,
  parsePermissions,
  samePermissions,
  type HostPermissions,
} from './permissions.js';
import type {
  BanResponse,
  DisableResponse,
  EnableResponse,
  KickResponse,
  PinResponse,
  UnpinResponse,
} from './responses.js';

// Track.Source values (a runtime enum in livekit-client; the wrapper imports only its types).
const MICROPHONE = 'microphone' as Track.Source;
const CAMERA = 'camera' as Track.Source;

/** The payload of audioUpdate. */
export interface AudioUpdate {
  audioEnabled: boolean;
  /** The microphone's MediaStreamTrack, when there is one (a remote one once subscribed). */
  audioTrack?: MediaStreamTrack;
}

/** The payload of videoUpdate. */
export interface VideoUpdate {
  videoEnabled: boolean;
  /** The camera's MediaStreamTrack, when there is one (a remote one once subscribed). */
  videoTrack?: MediaStreamTrack;
}

/** The payload of mediaLockUpdate: a host's hard mute, put on or lifted. */
export interface MediaLockUpdate {
  audioLocked: boolean;
  videoLocked: boolean;
}

export type ParticipantEvents<P> = {
  audioUpdate: [AudioUpdate];
  videoUpdate: [VideoUpdate];
  pinned: [P];
  unpinned: [P];
  mediaLockUpdate: [MediaLockUpdate];
};

/** What participants need from the meeting: the host-control call. */
export interface HostControlCaller {
  hostControl<T>(method: string, payload: Record<string, unknown>): Promise<T>;
}

/** The options of disableAudio / disableVideo on a participant. */
export interface DisableOptions {
  /** Whether the participant may unmute itself afterwards (default true). false is a hard mute. */
  allowUnmute?: boolean;
}

interface MediaState {
  enabled: boolean;
  track?: MediaStreamTrack;
}

function mediaState(p: Participant, source: Track.Source): MediaState {
  const pub: TrackPublication | undefined = p.getTrackPublication(source);
  if (!pub) return { enabled: false };
  return { enabled: !pub.isMuted, track: pub.track?.mediaStreamTrack };
}

/** What both participant kinds share: identity, media state, pin and lock state, events. */
abstract class BaseParticipant<P, E extends ParticipantEvents<P>, L extends Participant> extends Emitter<E> {
  protected audio: MediaState;
  protected video: MediaState;
  protected pinnedState: boolean;
  protected locks: MediaLockUpdate;

  protected constructor(
    /** The livekit-client participant this one wraps. */
    readonly livekitParticipant: L,
    protected readonly caller: HostControlCaller,
  ) {
    super();
    this.audio = mediaState(livekitParticipant, MICROPHONE);
    this.video = mediaState(livekitParticipant, CAMERA);
    this.pinnedState = this.attr(ATTR_PINNED) === 'true';
    this.locks = this.readLocks();
  }

  protected abstract self(): P;

  /** The participant's LiveKit identity (what host controls target). */
  get id(): string {
    return this.livekitParticipant.identity;
  }
  get identity(): string {
    return this.livekitParticipant.identity;
  }
  /** LiveKit's participant sid (changes when the participant joins again). */
  get sid(): string {
    return this.livekitParticipant.sid;
  }
  get name(): string {
    return this.livekitParticipant.name || this.livekitParticipant.identity;
  }
  get attributes(): Readonly<Record<string, string>> {
    return this.livekitParticipant.attributes;
  }
  /** The name of the participant's preset (usher.preset), if it has one. */
  get presetName(): string | undefined {
    return this.attr(ATTR_PRESET);
  }
  get audioEnabled(): boolean {
    return this.audio.enabled;
  }
  get audioTrack(): MediaStreamTrack | undefined {
    return this.audio.track;
  }
  get videoEnabled(): boolean {
    return this.video.enabled;
  }
  get videoTrack(): MediaStreamTrack | undefined {
    return this.video.track;
  }
  /** Whether this participant is the session's pinned one (usher.pinned). */
  get isPinned(): boolean {
    return this.pinnedState;
  }
  /** Whether a host muted the microphone with allowUnmute false (usher.audio_locked). */
  get audioLocked(): boolean {
    return this.locks.audioLocked;
  }
  /** Whether a host disabled the camera with allowUnmute false (usher.video_locked). */
  get videoLocked(): boolean {
    return this.locks.videoLocked;
  }

  protected attr(key: string): string | undefined {
    return this.livekitParticipant.attributes[key];
  }

  private readLocks(): MediaLockUpdate {
    return { audioLocked: this.attr(ATTR_AUDIO_LOCKED) === 'true', videoLocked: this.attr(ATTR_VIDEO_LOCKED) === 'true' };
  }

  /** @internal Re-reads the media state and emits audioUpdate / videoUpdate for what changed. */
  _refreshMedia(): void {
    const a = mediaState(this.livekitParticipant, MICROPHONE);
    if (a.enabled !== this.audio.enabled || a.track !== this.audio.track) {
      this.audio = a;
      (this as Emitter<ParticipantEvents<P>>).emit('audioUpdate', { audioEnabled: a.enabled, audioTrack: a.track });
    }
    const v = mediaState(this.livekitParticipant, CAMERA);
    if (v.enabled !== this.video.enabled || v.track !== this.video.track) {
      this.video = v;
      (this as Emitter<ParticipantEvents<P>>).emit('videoUpdate', { videoEnabled: v.enabled, videoTrack: v.track });
    }
  }

  /**
   * @internal Re-reads the reserved attributes; emits pinned / unpinned and
   * mediaLockUpdate for what changed. Returns the pin change, if any.
   */
  _refreshAttributes(): 'pinned' | 'unpinned' | undefined {
    const locks = this.readLocks();
    if (locks.audioLocked !== this.locks.audioLocked || locks.videoLocked !== this.locks.videoLocked) {
      this.locks = locks;
      (this as Emitter<ParticipantEvents<P>>).emit('mediaLockUpdate', { ...locks });
    }
    const pinned = this.attr(ATTR_PINNED) === 'true';
    if (pinned === this.pinnedState) return undefined;
    this.pinnedState = pinned;
    const change = pinned ? 'pinned' : 'unpinned';
    (this as Emitter<ParticipantEvents<P>>).emit(change, this.self());
    return change;
  }

  /** Pins this participant for the whole session; the previously pinned one is unpinned. Needs pin_participant. */
  pin(): Promise<PinResponse> {
    return this.caller.hostControl<PinResponse>('pin', { identity: this.identity });
  }

  /** Unpins this participant. Needs pin_participant. */
  unpin(): Promise<UnpinResponse> {
    return this.caller.hostControl<UnpinResponse>('unpin', { identity: this.identity });
  }
}

/** A remote participant, as in meeting.participants.joined. */
export class UsherParticipant extends BaseParticipant<UsherParticipant, ParticipantEvents<UsherParticipant>, RemoteParticipant> {
  /** @internal */
  constructor(p: RemoteParticipant, caller: HostControlCaller) {
    super(p, caller);
  }

  protected self(): UsherParticipant {
    return this;
  }

  /**
   * Mutes this participant's microphone (the server stops forwarding it at once; everyone
   * sees audioUpdate with audioEnabled false). Needs disable_participant_audio, else
   * rejects with ClientError code 1201. With allowUnmute false the mute is hard: the
   * participant cannot unmute until enableAudio().
   */
  disableAudio(opts: DisableOptions = {}): Promise<DisableResponse> {
    return this.caller.hostControl<DisableResponse>('disableAudio', withAllowUnmute({ identity: this.identity }, opts));
  }

  /** Disables this participant's camera, as disableAudio does the microphone. Needs disable_participant_video. */
  disableVideo(opts: DisableOptions = {}): Promise<DisableResponse> {
    return this.caller.hostControl<DisableResponse>('disableVideo', withAllowUnmute({ identity: this.identity }, opts));
  }

  /**
   * Lifts a hard mute (Usher's enableAudio): the participant may unmute itself again. It
   * does not unmute them. Needs disable_participant_audio.
   */
  enableAudio(): Promise<EnableResponse> {
    return this.caller.hostControl<EnableResponse>('enableAudio', { identity: this.identity });
  }

  /** Lifts a hard camera lock (Usher's enableVideo). Needs disable_participant_video. */
  enableVideo(): Promise<EnableResponse> {
    return this.caller.hostControl<EnableResponse>('enableVideo', { identity: this.identity });
  }

  /**
   * Removes this participant from the session: it leaves with roomLeft state "kicked" and
   * cannot join again with the same token. Needs kick_participant.
   */
  kick(): Promise<KickResponse> {
    return this.caller.hostControl<KickResponse>('kick', { identity: this.identity });
  }

  /**
   * Bans this participant from the room (Usher's own): it leaves as kicked, and no token of
   * its identity joins the room again until the ban ends (durationSeconds; 0 or none: until
   * a backend lifts it). Needs ban_participant.
   */
  ban(opts: BanOptions = {}): Promise<BanResponse> {
    const payload: Record<string, unknown> = { identity: this.identity };
    if (opts.reason !== undefined) payload.reason = opts.reason;
    if (opts.durationSeconds !== undefined) payload.durationSeconds = opts.durationSeconds;
    return this.caller.hostControl<BanResponse>('ban', payload);
  }
}

/** The options of ban. */
export interface BanOptions {
  /** Told to the participant when a later join is refused. */
  reason?: string;
  /** How long the ban lasts; 0 or none: until lifted. */
  durationSeconds?: number;
}

function withAllowUnmute(payload: Record<string, unknown>, opts: DisableOptions): Record<string, unknown> {
  if (opts.allowUnmute !== undefined) payload.allowUnmute = opts.allowUnmute;
  return payload;
}

/** How the local participant left: RealtimeKit's roomLeft states. */
export type RoomLeftState = 'left' | 'kicked' | 'ended' | 'rejected' | 'waitingTimedOut' | 'disconnected';

/** Where the local participant is: RealtimeKit's roomState. */
export type RoomState = 'init' | 'waitlisted' | 'joined' | RoomLeftState;

/** The payload of waitingUpdate: what a waiting participant is told. */
export interface WaitingUpdate {
  /** host_present: someone who may admit is in the room; no_host: nobody is, and the place in the queue is kept. */
  status?: string;
  /** The host's message, if any. */
  message?: string;
}

/** The payload of roomLeft. */
export interface RoomLeft {
  /**
   * kicked: removed by a host (or an admin); ended: the session ended (kickAll, room
   * deleted); rejected: turned away from the waiting room; waitingTimedOut: nobody
   * admitted it in time; left: leave() was called; disconnected: anything else.
   */
  state: RoomLeftState;
  /** LiveKit's DisconnectReason, as the SDK reported it. */
  reason?: number;
}

export type SelfEvents = ParticipantEvents<UsherSelf> & {
  roomLeft: [RoomLeft];
  /** self.permissions changed (a preset updated live, or a new preset). */
  permissionsUpdate: [HostPermissions];
  /** The local participant is held in the waiting room. */
  waitlisted: [];
  /** The local participant was let in from the waiting room (or joined without waiting). */
  roomJoined: [];
  /** The waiting room's status or the host's message changed. */
  waitingUpdate: [WaitingUpdate];
};

/** The local participant, meeting.self. */
export class UsherSelf extends BaseParticipant<UsherSelf, SelfEvents, LocalParticipant> {
  private perms: HostPermissions;
  private left = false;
  private leftState: RoomLeftState | undefined;
  private waiting: boolean | undefined;
  private waitingInfo: WaitingUpdate = {};

  /** @internal */
  constructor(p: LocalParticipant, caller: HostControlCaller) {
    super(p, caller);
    this.perms = parsePermissions(this.attr(ATTR_PERMISSIONS));
  }

  protected self(): UsherSelf {
    return this;
  }

  /** The local participant's host controls, with RealtimeKit's names (from usher.permissions). */
  get permissions(): HostPermissions {
    return this.perms;
  }

  /** Whether the local participant has left (roomLeft was emitted). */
  get roomLeft(): boolean {
    return this.left;
  }

  /** Where the local participant is: waitlisted, joined, or how it left (RealtimeKit's roomState). */
  get roomState(): RoomState {
    if (this.left) return this.leftState ?? 'left';
    if (this.waiting === undefined) return 'init';
    return this.waiting ? 'waitlisted' : 'joined';
  }

  /** Whether the local participant is held in the waiting room (usher.waiting). */
  get isWaitlisted(): boolean {
    return this.waiting === true;
  }

  /** While waitlisted: whether a host is present, and the host's message. */
  get waitingRoom(): Readonly<WaitingUpdate> {
    return this.waitingInfo;
  }

  /** @internal */
  override _refreshAttributes(): 'pinned' | 'unpinned' | undefined {
    const perms = parsePermissions(this.attr(ATTR_PERMISSIONS));
    if (!samePermissions(perms, this.perms)) {
      this.perms = perms;
      this.emit('permissionsUpdate', perms);
    }
    if (this.livekitParticipant.identity !== '') {
      const waiting = this.attr(ATTR_WAITING) === 'true';
      const info: WaitingUpdate = { status: this.attr(ATTR_WAITING_STATUS), message: this.attr(ATTR_WAITING_MESSAGE) };
      if (waiting !== this.waiting) {
        this.waiting = waiting;
        this.waitingInfo = info;
        this.emit(waiting ? 'waitlisted' : 'roomJoined');
      } else if (waiting && (info.status !== this.waitingInfo.status || info.message !== this.waitingInfo.message)) {
        this.waitingInfo = info;
        this.emit('waitingUpdate', { ...info });
      }
    }
    return super._refreshAttributes();
  }

  /** @internal */
  _roomLeft(ev: RoomLeft): void {
    if (this.left) return;
    this.left = true;
    this.leftState = ev.state;
    this.emit('roomLeft', ev);
  }

  /** @internal (a new connection of the same room object) */
  _rejoined(): void {
    this.left = false;
    this.leftState = undefined;
  }

  /**
   * Unmutes the local microphone. While a host holds a hard mute (audioLocked) it rejects
   * with ClientError code LOCAL_ACTION_FAILED, and the server would refuse it anyway.
   */
  async enableAudio(): Promise<void> {
    if (this.audioLocked) {
      throw new ClientError(ErrorCode.LOCAL_ACTION_FAILED, 'a host muted this microphone and does not allow unmuting', {
        method: 'enableAudio',
      });
    }
    await localAction('enableAudio', () => this.livekitParticipant.setMicrophoneEnabled(true));
  }

  /** Mutes the local microphone. */
  async disableAudio(): Promise<void> {
    await localAction('disableAudio', () => this.livekitParticipant.setMicrophoneEnabled(false));
  }

  /** Turns the local camera on; rejects while a host holds a hard camera lock (videoLocked). */
  async enableVideo(): Promise<void> {
    if (this.videoLocked) {
      throw new ClientError(ErrorCode.LOCAL_ACTION_FAILED, 'a host disabled this camera and does not allow enabling it', {
        method: 'enableVideo',
      });
    }
    await localAction('enableVideo', () => this.livekitParticipant.setCameraEnabled(true));
  }

  /** Turns the local camera off. */
  async disableVideo(): Promise<void> {
    await localAction('disableVideo', () => this.livekitParticipant.setCameraEnabled(false));
  }
}

async function localAction(method: string, f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (err) {
    if (err instanceof ClientError) throw err;
    throw new ClientError(ErrorCode.LOCAL_ACTION_FAILED, `${method}: ${err instanceof Error ? err.message : String(err)}`, {
      method,
      cause: err,
    });
  }
}

// UsherMeeting: RealtimeKit's meeting object (meeting.self, meeting.participants) built on
// a livekit-client Room, with the host controls called over LiveKit's participant RPC to
// the server's reserved identity "usher".

import type { DisconnectReason, Participant, RemoteParticipant, Room, RoomEventCallbacks } from 'livekit-client';

import { Emitter } from './emitter.js';
import { ClientError, ErrorCode, toClientError } from './errors.js';
import {
  UsherParticipant,
  UsherSelf,
  type AudioUpdate,
  type HostControlCaller,
  type MediaLockUpdate,
  type RoomLeftState,
  type VideoUpdate,
} from './participant.js';
import type {
  AdmitAllResponse,
  AdmitResponse,
  DenyResponse,
  DisableAllResponse,
  KickAllResponse,
  WaitingMessageResponse,
} from './responses.js';
import { ATTR_WAITING } from './permissions.js';

/** The identity the server answers host controls on. No participant has it. */
export const SERVER_IDENTITY = 'usher';

// LiveKit's DisconnectReason values (protocol enum; the wrapper imports only its type).
const CLIENT_INITIATED = 1 as DisconnectReason;
const PARTICIPANT_REMOVED = 4 as DisconnectReason;
const ROOM_DELETED = 5 as DisconnectReason;
const USER_UNAVAILABLE = 11 as DisconnectReason;
const USER_REJECTED = 12 as DisconnectReason;

/** roomLeft's state for a LiveKit DisconnectReason. */
export function roomLeftState(reason: DisconnectReason | undefined): RoomLeftState {
  switch (reason) {
    case PARTICIPANT_REMOVED:
      return 'kicked';
    case ROOM_DELETED:
      return 'ended';
    case CLIENT_INITIATED:
      return 'left';
    case USER_REJECTED:
      return 'rejected';
    case USER_UNAVAILABLE:
      return 'waitingTimedOut';
    default:
      return 'disconnected';
  }
}

export type JoinedEvents = {
  participantJoined: [UsherParticipant];
  participantLeft: [UsherParticipant];
  audioUpdate: [UsherParticipant, AudioUpdate];
  videoUpdate: [UsherParticipant, VideoUpdate];
  pinned: [UsherParticipant];
  unpinned: [UsherParticipant];
  mediaLockUpdate: [UsherParticipant, MediaLockUpdate];
};

export type WaitlistedEvents = {
  /** Someone arrived in the waiting room. */
  participantJoined: [UsherParticipant];
  /** Someone left the waiting room: admitted (then in joined), denied, or gone. */
  participantLeft: [UsherParticipant];
  /** A waiting participant's message or status changed. */
  participantUpdate: [UsherParticipant];
};

export type PinnedEvents = {
  /** A participant was added to the pinned map (also emitted as pinned). */
  participantPinned: [UsherParticipant];
  pinned: [UsherParticipant];
  /** A participant was removed from the pinned map: unpinned, or gone (also emitted as unpinned). */
  participantUnpinned: [UsherParticipant];
  unpinned: [UsherParticipant];
};

/** A read-only map of remote participants by identity, with events (RealtimeKit's joined / pinned). */
export class ParticipantMap<E extends { [event: string]: unknown[] }> extends Emitter<E> {
  private readonly byId = new Map<string, UsherParticipant>();

  get size(): number {
    return this.byId.size;
  }
  get(id: string): UsherParticipant | undefined {
    return this.byId.get(id);
  }
  has(id: string): boolean {
    return this.byId.has(id);
  }
  toArray(): UsherParticipant[] {
    return [...this.byId.values()];
  }
  keys(): IterableIterator<string> {
    return this.byId.keys();
  }
  values(): IterableIterator<UsherParticipant> {
    return this.byId.values();
  }
  [Symbol.iterator](): IterableIterator<[string, UsherParticipant]> {
    return this.byId.entries();
  }
  forEach(f: (p: UsherParticipant, id: string) => void): void {
    this.byId.forEach((p, id) => f(p, id));
  }

  /** @internal */
  _set(p: UsherParticipant): void {
    this.byId.set(p.id, p);
  }
  /** @internal */
  _delete(id: string): boolean {
    return this.byId.delete(id);
  }
  /** @internal */
  _clear(): void {
    this.byId.clear();
  }
}

/** The waiting room's queue: toArray() is in the order of arrival. */
export class WaitlistMap extends ParticipantMap<WaitlistedEvents> {
  override toArray(): UsherParticipant[] {
    return super.toArray().sort((a, b) => joinedAtMs(a) - joinedAtMs(b));
  }
}

function joinedAtMs(p: UsherParticipant): number {
  return p.livekitParticipant.joinedAt?.getTime() ?? 0;
}

/** meeting.participants: the remote participants, and the actions on all of them. */
export class UsherParticipants {
  /** Every remote participant in the session, by identity. */
  readonly joined = new ParticipantMap<JoinedEvents>();
  /** The pinned remote participant (one at most; the local one shows in self.isPinned). */
  readonly pinned = new ParticipantMap<PinnedEvents>();
  /**
   * The waiting room's queue (RealtimeKit's waitlisted), seen only by participants whose
   * preset has accept_waiting_requests. toArray() lists it in the order of arrival.
   */
  readonly waitlisted = new WaitlistMap();

  /** @internal */
  constructor(private readonly meeting: UsherMeeting) {}

  /**
   * Mutes everyone's microphone, the caller's included. allowUnmute (default true) says
   * whether they may unmute themselves; false is a hard mute, lifted per participant by
   * enableAudio(). Needs disable_participant_audio, else ClientError code 1201.
   */
  disableAllAudio(allowUnmute = true): Promise<DisableAllResponse> {
    return this.meeting.hostControl<DisableAllResponse>('disableAllAudio', { allowUnmute });
  }

  /** Lets a waiting participant in. Needs accept_waiting_requests. */
  acceptWaitingRoomRequest(id: string): Promise<AdmitResponse> {
    return this.meeting.hostControl<AdmitResponse>('admit', { identity: id });
  }

  /** Lets everyone waiting in, in the order they arrived. Needs accept_waiting_requests. */
  acceptAllWaitingRoomRequests(): Promise<AdmitAllResponse> {
    return this.meeting.hostControl<AdmitAllResponse>('admitAll', {});
  }

  /**
   * Turns a waiting participant away: it leaves with roomLeft state "rejected", and its
   * token no longer joins the room. Needs accept_waiting_requests.
   */
  rejectWaitingRoomRequest(id: string, reason?: string): Promise<DenyResponse> {
    const payload: Record<string, unknown> = { identity: id };
    if (reason !== undefined) payload.reason = reason;
    return this.meeting.hostControl<DenyResponse>('deny', payload);
  }

  /** Shows a message to everyone waiting (or to the one with id). Needs accept_waiting_requests. */
  setWaitingRoomMessage(message: string, id?: string): Promise<WaitingMessageResponse> {
    const payload: Record<string, unknown> = { message };
    if (id !== undefined) payload.identity = id;
    return this.meeting.hostControl<WaitingMessageResponse>('setWaitingMessage', payload);
  }

  /** Disables everyone's camera, the caller's included. Needs disable_participant_video. */
  disableAllVideo(allowUnmute = true): Promise<DisableAllResponse> {
    return this.meeting.hostControl<DisableAllResponse>('disableAllVideo', { allowUnmute });
  }

  /**
   * Ends the session: everyone, the caller included, leaves with roomLeft state "ended".
   * Needs kick_participant or end_session. Resolves when the server answers or when the
   * caller has left with state "ended", whichever comes first.
   */
  kickAll(): Promise<KickAllResponse> {
    const self = this.meeting.self;
    let onLeft: ((ev: { state: RoomLeftState }) => void) | undefined;
    const ended = new Promise<KickAllResponse>((resolve) => {
      onLeft = (ev) => {
        if (ev.state === 'ended') resolve({ ended: true });
      };
      self.on('roomLeft', onLeft);
    });
    return Promise.race([this.meeting.hostControl<KickAllResponse>('kickAll', {}), ended]).finally(() => {
      if (onLeft) self.off('roomLeft', onLeft);
    });
  }
}

export interface MeetingOptions {
  /** How long a host control waits for the server's response (livekit-client's default otherwise). */
  rpcTimeoutMs?: number;
}

/**
 * RealtimeKit's meeting object over a livekit-client Room. Build it before or after
 * room.connect(); it follows the room until destroy().
 *
 *   const room = new Room();
 *   const meeting = new UsherMeeting(room);
 *   await room.connect(url, token);
 *   await meeting.participants.joined.toArray()[0]?.disableAudio();
 */
export class UsherMeeting implements HostControlCaller {
  readonly self: UsherSelf;
  readonly participants: UsherParticipants;
  private readonly detach: Array<() => void> = [];

  constructor(
    readonly room: Room,
    private readonly options: MeetingOptions = {},
  ) {
    this.self = new UsherSelf(room.localParticipant, this);
    this.participants = new UsherParticipants(this);
    this.listen();
    this.sync();
  }

  /** Leaves the session (roomLeft state "left"). */
  async leave(): Promise<void> {
    await this.room.disconnect();
  }

  /** Stops following the room and removes every listener the meeting added to it. */
  destroy(): void {
    for (const f of this.detach.splice(0)) f();
  }

  /**
   * Calls a host control by its wire name (docs/host-controls.md) and returns the parsed
   * response. Rejects with a ClientError carrying the RPC error's code.
   */
  async hostControl<T>(method: string, payload: Record<string, unknown>): Promise<T> {
    if (this.room.state === 'disconnected') {
      throw new ClientError(ErrorCode.NOT_CONNECTED, `${method}: the room is not connected`, { method });
    }
    let res: string;
    try {
      res = await this.room.localParticipant.performRpc({
        destinationIdentity: SERVER_IDENTITY,
        method,
        payload: JSON.stringify(payload),
        responseTimeout: this.options.rpcTimeoutMs,
      });
    } catch (err) {
      throw toClientError(err, method);
    }
    if (res === '') return {} as T;
    try {
      return JSON.parse(res) as T;
    } catch (err) {
      throw new ClientError(ErrorCode.BAD_RESPONSE, `${method}: the response is not JSON: ${res.slice(0, 100)}`, {
        method,
        cause: err,
      });
    }
  }

  private on<K extends keyof RoomEventCallbacks>(event: K, listener: RoomEventCallbacks[K]): void {
    this.room.on(event, listener);
    this.detach.push(() => this.room.off(event, listener));
  }

  private listen(): void {
    const media = (_pub: unknown, p: Participant) => this.wrapperOf(p)?._refreshMedia();
    this.on('trackMuted', media);
    this.on('trackUnmuted', media);
    this.on('trackPublished', media);
    this.on('trackUnpublished', media);
    this.on('localTrackPublished', media);
    this.on('localTrackUnpublished', media);
    const subscription = (_track: unknown, _pub: unknown, p: RemoteParticipant) => this.wrapperOf(p)?._refreshMedia();
    this.on('trackSubscribed', subscription);
    this.on('trackUnsubscribed', subscription);
    this.on('participantAttributesChanged', (_changed: Record<string, string>, p: Participant) => this.attributesChanged(p));
    this.on('participantConnected', (p: RemoteParticipant) => this.add(p));
    this.on('participantDisconnected', (p: RemoteParticipant) => this.remove(p.identity));
    this.on('connected', () => this.sync());
    this.on('reconnected', () => this.sync());
    this.on('disconnected', (reason?: DisconnectReason) => this.disconnected(reason));
  }

  private wrapperOf(p: Participant): UsherSelf | UsherParticipant | undefined {
    if (p === this.room.localParticipant) return this.self;
    const w = this.participants.joined.get(p.identity) ?? this.participants.waitlisted.get(p.identity);
    return w && w.livekitParticipant === p ? w : undefined;
  }

  private attributesChanged(p: Participant): void {
    const w = this.wrapperOf(p);
    if (!w) return;
    if (w !== this.self) {
      const rp = w as UsherParticipant;
      const waiting = this.participants.waitlisted.get(rp.id) === rp;
      if (waiting !== (p.attributes[ATTR_WAITING] === 'true')) {
        // Admitted (or, rarely, sent back to wait): it moves between the maps.
        this.remove(rp.id);
        this.add(p as RemoteParticipant);
        return;
      }
      if (waiting) {
        rp._refreshAttributes();
        this.participants.waitlisted.emit('participantUpdate', rp);
        return;
      }
    }
    const change = w._refreshAttributes();
    if (!change || w === this.self) return;
    const rp = w as UsherParticipant;
    this.participants.joined.emit(change, rp);
    if (change === 'pinned') this.addPinned(rp);
    else this.removePinned(rp);
  }

  private addPinned(p: UsherParticipant): void {
    const pinned = this.participants.pinned;
    if (pinned.get(p.id) === p) return;
    pinned._set(p);
    pinned.emit('participantPinned', p);
    pinned.emit('pinned', p);
  }

  private removePinned(p: UsherParticipant): void {
    const pinned = this.participants.pinned;
    if (pinned.get(p.id) !== p) return;
    pinned._delete(p.id);
    pinned.emit('participantUnpinned', p);
    pinned.emit('unpinned', p);
  }

  private add(lp: RemoteParticipant): void {
    const joined = this.participants.joined;
    const waitlisted = this.participants.waitlisted;
    const existing = joined.get(lp.identity) ?? waitlisted.get(lp.identity);
    if (existing) {
      if (existing.livekitParticipant === lp) return;
      this.remove(lp.identity); // the same identity on a new participant object: it left and came back
    }
    const p = new UsherParticipant(lp, this);
    if (lp.attributes[ATTR_WAITING] === 'true') {
      waitlisted._set(p);
      waitlisted.emit('participantJoined', p);
      return;
    }
    p.on('audioUpdate', (u) => joined.emit('audioUpdate', p, u));
    p.on('videoUpdate', (u) => joined.emit('videoUpdate', p, u));
    p.on('mediaLockUpdate', (u) => joined.emit('mediaLockUpdate', p, u));
    joined._set(p);
    joined.emit('participantJoined', p);
    if (p.isPinned) this.addPinned(p);
  }

  private remove(identity: string): void {
    const waitlisted = this.participants.waitlisted;
    const w = waitlisted.get(identity);
    if (w) {
      waitlisted._delete(identity);
      waitlisted.emit('participantLeft', w);
      return;
    }
    const joined = this.participants.joined;
    const p = joined.get(identity);
    if (!p) return;
    this.removePinned(p);
    joined._delete(identity);
    joined.emit('participantLeft', p);
  }

  /** Brings the maps and states in line with the room (construction, connect, reconnect). */
  private sync(): void {
    if (this.room.state !== 'disconnected') this.self._rejoined();
    const present = this.room.remoteParticipants;
    for (const id of [...this.participants.joined.keys(), ...this.participants.waitlisted.keys()]) {
      if (!present.has(id)) this.remove(id);
    }
    for (const lp of present.values()) {
      this.add(lp);
      const w = this.participants.joined.get(lp.identity);
      w?._refreshMedia();
      this.attributesChanged(lp);
    }
    this.self._refreshMedia();
    this.self._refreshAttributes();
  }

  private disconnected(reason?: DisconnectReason): void {
    // The SDK has already dropped every remote participant, without participantDisconnected.
    this.participants.pinned._clear();
    this.participants.joined._clear();
    this.participants.waitlisted._clear();
    this.self._roomLeft({ state: roomLeftState(reason), reason });
  }
}

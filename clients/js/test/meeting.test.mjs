// Unit tests of the wrapper's logic against a fake livekit-client Room (node --test).
// The browser test (test/hostcontrols_browser_test.go) runs it against the real server.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';

import * as LK from 'livekit-client';

import { ClientError, ErrorCode, UsherMeeting, parsePermissions, roomLeftState } from '../dist/index.js';

class FakePublication {
  constructor(source, muted = false) {
    this.source = source;
    this.isMuted = muted;
    this.track = { mediaStreamTrack: { kind: source === 'camera' ? 'video' : 'audio', id: `${source}-track` } };
  }
}

class FakeParticipant {
  constructor(identity, attributes = {}) {
    this.identity = identity;
    this.sid = `PA_${identity}`;
    this.name = identity;
    this.attributes = { ...attributes };
    this.pubs = new Map();
  }
  getTrackPublication(source) {
    return this.pubs.get(source);
  }
}

class FakeLocalParticipant extends FakeParticipant {
  constructor(identity, attributes) {
    super(identity, attributes);
    this.calls = [];
    this.answer = async () => '{}';
  }
  async performRpc(params) {
    this.calls.push(params);
    return this.answer(params);
  }
  async setMicrophoneEnabled(on) {
    this.mic = on;
  }
  async setCameraEnabled(on) {
    this.cam = on;
  }
}

class FakeRoom extends EventEmitter {
  constructor(self) {
    super();
    this.state = 'connected';
    this.localParticipant = self;
    this.remoteParticipants = new Map();
  }
  join(p) {
    this.remoteParticipants.set(p.identity, p);
    this.emit('participantConnected', p);
  }
  leave(p) {
    this.remoteParticipants.delete(p.identity);
    this.emit('participantDisconnected', p);
  }
  setAttributes(p, attrs) {
    const changed = {};
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined) delete p.attributes[k];
      else p.attributes[k] = v;
      changed[k] = v ?? '';
    }
    this.emit('participantAttributesChanged', changed, p);
  }
  async disconnect(reason = LK.DisconnectReason.CLIENT_INITIATED) {
    this.state = 'disconnected';
    this.remoteParticipants.clear();
    this.emit('disconnected', reason);
  }
}

const HOST_PERMS = JSON.stringify({
  disable_participant_audio: true,
  disable_participant_video: true,
  pin_participant: true,
  kick_participant: true,
  end_session: false,
});

function setup() {
  const self = new FakeLocalParticipant('host', { 'usher.preset': 'host', 'usher.permissions': HOST_PERMS });
  const room = new FakeRoom(self);
  const student = new FakeParticipant('student', { 'usher.preset': 'student' });
  student.pubs.set('microphone', new FakePublication('microphone'));
  student.pubs.set('camera', new FakePublication('camera'));
  room.remoteParticipants.set('student', student);
  const meeting = new UsherMeeting(room);
  return { room, self, student, meeting };
}

function record(emitter, ...events) {
  const seen = [];
  for (const e of events) emitter.on(e, (...args) => seen.push([e, ...args]));
  return seen;
}

describe('the wrapper matches livekit-client', () => {
  it('uses the SDK event names and DisconnectReason values it was written against', () => {
    for (const e of [
      'TrackMuted',
      'TrackUnmuted',
      'TrackPublished',
      'TrackUnpublished',
      'TrackSubscribed',
      'TrackUnsubscribed',
      'LocalTrackPublished',
      'LocalTrackUnpublished',
      'ParticipantAttributesChanged',
      'ParticipantConnected',
      'ParticipantDisconnected',
      'Connected',
      'Reconnected',
      'Disconnected',
    ]) {
      assert.equal(LK.RoomEvent[e], e[0].toLowerCase() + e.slice(1), e);
    }
    assert.equal(LK.Track.Source.Microphone, 'microphone');
    assert.equal(LK.Track.Source.Camera, 'camera');
    assert.equal(roomLeftState(LK.DisconnectReason.PARTICIPANT_REMOVED), 'kicked');
    assert.equal(roomLeftState(LK.DisconnectReason.ROOM_DELETED), 'ended');
    assert.equal(roomLeftState(LK.DisconnectReason.CLIENT_INITIATED), 'left');
    assert.equal(roomLeftState(LK.DisconnectReason.SIGNAL_CLOSE), 'disconnected');
    assert.equal(roomLeftState(undefined), 'disconnected');
    for (const [name, code] of Object.entries(LK.RpcError.ErrorCode)) assert.equal(ErrorCode[name], code, name);
  });

  it('follows a real (unconnected) livekit-client Room', () => {
    const room = new LK.Room();
    const meeting = new UsherMeeting(room);
    assert.equal(meeting.participants.joined.size, 0);
    assert.equal(meeting.self.permissions.canDisableParticipantAudio, false);
    assert.ok(room.listenerCount('participantAttributesChanged') > 0);
    meeting.destroy();
    assert.equal(room.listenerCount('participantAttributesChanged'), 0);
  });
});

describe('self.permissions', () => {
  it('has the seed names, from usher.permissions', () => {
    const { meeting } = setup();
    const p = meeting.self.permissions;
    assert.equal(p.canDisableParticipantAudio, true);
    assert.equal(p.canDisableParticipantVideo, true);
    assert.equal(p.pinParticipant, true);
    assert.equal(p.kickParticipant, true);
    assert.equal(p.endSession, false);
    assert.equal(meeting.self.presetName, 'host');
  });

  it('gives nothing without a preset or with a malformed value', () => {
    for (const v of [undefined, '', 'not json', '[true]', '{"pin_participant":"yes"}']) {
      const p = parsePermissions(v);
      assert.equal(p.pinParticipant, false, String(v));
      assert.equal(p.canDisableParticipantAudio, false, String(v));
    }
    assert.deepEqual(parsePermissions('{"ban_participant":true}').raw, { ban_participant: true });
    assert.equal(parsePermissions('{"ban_participant":true}').banParticipant, true);
    assert.equal(parsePermissions('{"accept_waiting_requests":true}').acceptWaitingRequests, true);
  });

  it('emits permissionsUpdate when the preset changes live', () => {
    const { room, self, meeting } = setup();
    const seen = record(meeting.self, 'permissionsUpdate');
    room.setAttributes(self, { 'usher.permissions': JSON.stringify({ pin_participant: true }) });
    assert.equal(seen.length, 1);
    assert.equal(meeting.self.permissions.pinParticipant, true);
    assert.equal(meeting.self.permissions.kickParticipant, false);
    room.setAttributes(self, { 'usher.permissions': JSON.stringify({ pin_participant: true }) });
    assert.equal(seen.length, 1, 'no event without a change');
  });
});

describe('participants', () => {
  it('joined holds the remote participants; participantJoined / participantLeft', () => {
    const { room, meeting, student } = setup();
    const joined = meeting.participants.joined;
    assert.deepEqual(
      joined.toArray().map((p) => p.id),
      ['student'],
    );
    const seen = record(joined, 'participantJoined', 'participantLeft');
    const other = new FakeParticipant('other');
    room.join(other);
    assert.equal(joined.size, 2);
    room.leave(student);
    assert.deepEqual(
      seen.map(([e, p]) => `${e}:${p.id}`),
      ['participantJoined:other', 'participantLeft:student'],
    );
    assert.equal(joined.get('student'), undefined);
  });

  it('audioUpdate / videoUpdate on the participant and on joined, from TrackMuted / TrackUnmuted', () => {
    const { room, meeting, student } = setup();
    const p = meeting.participants.joined.get('student');
    assert.equal(p.audioEnabled, true);
    const onP = record(p, 'audioUpdate', 'videoUpdate');
    const onMap = record(meeting.participants.joined, 'audioUpdate', 'videoUpdate');
    const mic = student.pubs.get('microphone');
    mic.isMuted = true;
    room.emit('trackMuted', mic, student);
    assert.equal(p.audioEnabled, false);
    assert.deepEqual(onP, [['audioUpdate', { audioEnabled: false, audioTrack: mic.track.mediaStreamTrack }]]);
    assert.equal(onMap[0][1], p);
    assert.equal(onMap[0][2].audioEnabled, false);
    room.emit('trackMuted', mic, student);
    assert.equal(onP.length, 1, 'no event without a change');
    const cam = student.pubs.get('camera');
    cam.isMuted = true;
    room.emit('trackMuted', cam, student);
    assert.equal(onP[1][0], 'videoUpdate');
    assert.equal(onP[1][1].videoEnabled, false);
    cam.isMuted = false;
    room.emit('trackUnmuted', cam, student);
    assert.equal(onP[2][1].videoEnabled, true);
  });

  it('self gets audioUpdate for its own microphone', () => {
    const { room, self, meeting } = setup();
    const seen = record(meeting.self, 'audioUpdate');
    const mic = new FakePublication('microphone');
    self.pubs.set('microphone', mic);
    room.emit('localTrackPublished', mic, self);
    mic.isMuted = true;
    room.emit('trackMuted', mic, self);
    assert.deepEqual(
      seen.map(([, u]) => u.audioEnabled),
      [true, false],
    );
  });

  it('pinned / unpinned from usher.pinned, the previous one unpinned, self included', () => {
    const { room, self, meeting, student } = setup();
    const other = new FakeParticipant('other');
    room.join(other);
    const joined = meeting.participants.joined;
    const pinnedMap = meeting.participants.pinned;
    const onMap = record(joined, 'pinned', 'unpinned');
    const onPinnedMap = record(pinnedMap, 'participantPinned', 'participantUnpinned');
    const onSelf = record(meeting.self, 'pinned', 'unpinned');
    const onStudent = record(joined.get('student'), 'pinned', 'unpinned');

    room.setAttributes(student, { 'usher.pinned': 'true' });
    assert.equal(joined.get('student').isPinned, true);
    assert.deepEqual([...pinnedMap.keys()], ['student']);
    assert.equal(onStudent[0][0], 'pinned');
    assert.equal(onStudent[0][1], joined.get('student'));

    // Pinning another: the server unpins the previous one.
    room.setAttributes(student, { 'usher.pinned': undefined });
    room.setAttributes(other, { 'usher.pinned': 'true' });
    assert.deepEqual(
      onMap.map(([e, p]) => `${e}:${p.id}`),
      ['pinned:student', 'unpinned:student', 'pinned:other'],
    );
    assert.deepEqual([...pinnedMap.keys()], ['other']);

    // Then the local participant.
    room.setAttributes(other, { 'usher.pinned': undefined });
    room.setAttributes(self, { 'usher.pinned': 'true' });
    assert.equal(meeting.self.isPinned, true);
    assert.equal(onSelf[0][0], 'pinned');
    assert.equal(onSelf[0][1], meeting.self);
    assert.equal(pinnedMap.size, 0, 'pinned holds remote participants only');
    room.setAttributes(self, { 'usher.pinned': undefined });
    assert.deepEqual(
      onSelf.map(([e]) => e),
      ['pinned', 'unpinned'],
    );
    assert.deepEqual(
      onPinnedMap.map(([e, p]) => `${e}:${p.id}`),
      ['participantPinned:student', 'participantUnpinned:student', 'participantPinned:other', 'participantUnpinned:other'],
    );
  });

  it('a pinned participant who leaves is removed from pinned', () => {
    const { room, meeting, student } = setup();
    room.setAttributes(student, { 'usher.pinned': 'true' });
    assert.equal(meeting.participants.pinned.size, 1);
    room.leave(student);
    assert.equal(meeting.participants.pinned.size, 0);
    assert.equal(meeting.participants.joined.size, 0);
  });

  it('reads a pin that was there before the meeting object', () => {
    const self = new FakeLocalParticipant('late', {});
    const room = new FakeRoom(self);
    room.remoteParticipants.set('teacher', new FakeParticipant('teacher', { 'usher.pinned': 'true' }));
    const meeting = new UsherMeeting(room);
    assert.equal(meeting.participants.joined.get('teacher').isPinned, true);
    assert.deepEqual([...meeting.participants.pinned.keys()], ['teacher']);
  });

  it('mediaLockUpdate from usher.audio_locked / usher.video_locked', () => {
    const { room, self, meeting } = setup();
    const seen = record(meeting.self, 'mediaLockUpdate');
    room.setAttributes(self, { 'usher.audio_locked': 'true' });
    assert.equal(meeting.self.audioLocked, true);
    assert.deepEqual(seen, [['mediaLockUpdate', { audioLocked: true, videoLocked: false }]]);
  });
});

describe('host controls', () => {
  it('call usher with the contract method names and payloads', async () => {
    const { self, meeting } = setup();
    self.answer = async ({ method }) =>
      JSON.stringify(method === 'disableAudio' ? { identity: 'student', tracks: ['TR_1'], allowUnmute: true } : {});
    const p = meeting.participants.joined.get('student');
    const res = await p.disableAudio();
    assert.deepEqual(res, { identity: 'student', tracks: ['TR_1'], allowUnmute: true });
    await p.disableVideo({ allowUnmute: false });
    await p.enableAudio();
    await p.enableVideo();
    await p.pin();
    await p.unpin();
    await p.kick();
    await p.ban();
    await p.ban({ reason: 'spam', durationSeconds: 600 });
    await meeting.participants.disableAllAudio();
    await meeting.participants.disableAllAudio(false);
    await meeting.participants.disableAllVideo(true);
    await meeting.self.pin();
    assert.ok(self.calls.every((c) => c.destinationIdentity === 'usher'));
    assert.deepEqual(
      self.calls.map((c) => [c.method, JSON.parse(c.payload)]),
      [
        ['disableAudio', { identity: 'student' }],
        ['disableVideo', { identity: 'student', allowUnmute: false }],
        ['enableAudio', { identity: 'student' }],
        ['enableVideo', { identity: 'student' }],
        ['pin', { identity: 'student' }],
        ['unpin', { identity: 'student' }],
        ['kick', { identity: 'student' }],
        ['ban', { identity: 'student' }],
        ['ban', { identity: 'student', reason: 'spam', durationSeconds: 600 }],
        ['disableAllAudio', { allowUnmute: true }],
        ['disableAllAudio', { allowUnmute: false }],
        ['disableAllVideo', { allowUnmute: true }],
        ['pin', { identity: 'host' }],
      ],
    );
  });

  it("reject with ClientError carrying the RpcError's code (the seed's 1201 branch)", async () => {
    const { self, meeting } = setup();
    self.answer = async () => {
      throw new LK.RpcError(1201, 'permission denied: disable_participant_audio', 'disableAudio');
    };
    const participant = meeting.participants.joined.toArray()[0];
    let branch = 'none';
    try {
      await participant.disableAudio();
    } catch (err) {
      if (err?.code === 1201) branch = '1201';
      assert.ok(err instanceof ClientError);
      assert.equal(err.name, 'ClientError');
      assert.equal(err.codeName, 'PERMISSION_DENIED');
      assert.equal(err.method, 'disableAudio');
      assert.equal(err.data, 'disableAudio');
    }
    assert.equal(branch, '1201');

    self.answer = async () => {
      throw new Error('boom');
    };
    await assert.rejects(meeting.participants.kickAll(), (e) => e instanceof ClientError && e.code === ErrorCode.UNKNOWN);
    self.answer = async () => 'not json';
    await assert.rejects(participant.pin(), (e) => e.code === ErrorCode.BAD_RESPONSE);
  });

  it('reject without calling when the room is disconnected', async () => {
    const { room, self, meeting } = setup();
    await room.disconnect();
    await assert.rejects(meeting.participants.disableAllAudio(), (e) => e.code === ErrorCode.NOT_CONNECTED);
    assert.equal(self.calls.length, 0);
  });

  it('kickAll resolves when the caller leaves with ROOM_DELETED before the response', async () => {
    const { room, self, meeting } = setup();
    self.answer = () => new Promise(() => {}); // never answers
    const done = meeting.participants.kickAll();
    await room.disconnect(LK.DisconnectReason.ROOM_DELETED);
    assert.deepEqual(await done, { ended: true });
    assert.equal(meeting.self.listenerCount('roomLeft'), 0);
  });

  it('self.enableAudio refuses while a host holds a hard mute', async () => {
    const { room, self, meeting } = setup();
    room.setAttributes(self, { 'usher.audio_locked': 'true' });
    await assert.rejects(meeting.self.enableAudio(), (e) => e instanceof ClientError && e.code === ErrorCode.LOCAL_ACTION_FAILED);
    assert.equal(self.mic, undefined);
    room.setAttributes(self, { 'usher.audio_locked': undefined });
    await meeting.self.enableAudio();
    assert.equal(self.mic, true);
  });
});

describe('roomLeft', () => {
  for (const [reason, state] of [
    [LK.DisconnectReason.PARTICIPANT_REMOVED, 'kicked'],
    [LK.DisconnectReason.ROOM_DELETED, 'ended'],
    [LK.DisconnectReason.CLIENT_INITIATED, 'left'],
    [LK.DisconnectReason.USER_REJECTED, 'rejected'],
    [LK.DisconnectReason.USER_UNAVAILABLE, 'waitingTimedOut'],
    [LK.DisconnectReason.SIGNAL_CLOSE, 'disconnected'],
  ]) {
    it(`${state} for DisconnectReason ${reason}`, async () => {
      const { room, meeting } = setup();
      const seen = record(meeting.self, 'roomLeft');
      await room.disconnect(reason);
      assert.deepEqual(seen, [['roomLeft', { state, reason }]]);
      assert.equal(meeting.self.roomLeft, true);
      assert.equal(meeting.participants.joined.size, 0);
    });
  }

  it('leave() gives state left', async () => {
    const { meeting } = setup();
    const seen = record(meeting.self, 'roomLeft');
    await meeting.leave();
    assert.equal(seen[0][1].state, 'left');
  });
});

describe('the waiting room', () => {
  it('keeps waiting participants in waitlisted, in the order of arrival, and moves them to joined when admitted', () => {
    const { room, meeting } = setup();
    const a = new FakeParticipant('a', { 'usher.waiting': 'true' });
    a.joinedAt = new Date(2000);
    const b = new FakeParticipant('b', { 'usher.waiting': 'true' });
    b.joinedAt = new Date(1000);
    const seen = record(meeting.participants.waitlisted, 'participantJoined', 'participantLeft', 'participantUpdate');
    const joined = record(meeting.participants.joined, 'participantJoined');
    room.join(a);
    room.join(b);
    assert.deepEqual(meeting.participants.waitlisted.toArray().map((p) => p.id), ['b', 'a']);
    assert.equal(meeting.participants.joined.has('a'), false);
    room.setAttributes(a, { 'usher.waiting_message': 'soon' });
    room.setAttributes(a, { 'usher.waiting': undefined, 'usher.waiting_message': undefined });
    assert.equal(meeting.participants.waitlisted.has('a'), false);
    assert.equal(meeting.participants.joined.get('a').id, 'a');
    room.leave(b);
    assert.deepEqual(
      seen.map(([e, p]) => [e, p.id]),
      [
        ['participantJoined', 'a'],
        ['participantJoined', 'b'],
        ['participantUpdate', 'a'],
        ['participantLeft', 'a'],
        ['participantLeft', 'b'],
      ],
    );
    assert.deepEqual(joined.map(([e, p]) => [e, p.id]), [['participantJoined', 'a']]);
  });

  it('tells the local participant it waits, what it is told, and when it is let in', () => {
    const self = new FakeLocalParticipant('patient', { 'usher.waiting': 'true', 'usher.waiting_status': 'no_host' });
    const room = new FakeRoom(self);
    const meeting = new UsherMeeting(room);
    assert.equal(meeting.self.roomState, 'waitlisted');
    assert.equal(meeting.self.isWaitlisted, true);
    assert.deepEqual(meeting.self.waitingRoom, { status: 'no_host', message: undefined });
    const seen = record(meeting.self, 'waitingUpdate', 'roomJoined', 'waitlisted');
    room.setAttributes(self, { 'usher.waiting_status': 'host_present', 'usher.waiting_message': 'Two minutes' });
    room.setAttributes(self, { 'usher.waiting': undefined, 'usher.waiting_status': undefined, 'usher.waiting_message': undefined });
    assert.deepEqual(seen, [['waitingUpdate', { status: 'host_present', message: 'Two minutes' }], ['roomJoined']]);
    assert.equal(meeting.self.roomState, 'joined');
  });

  it('calls admit, admitAll, deny and setWaitingMessage', async () => {
    const { self, meeting } = setup();
    await meeting.participants.acceptWaitingRoomRequest('a');
    await meeting.participants.acceptAllWaitingRoomRequests();
    await meeting.participants.rejectWaitingRoomRequest('b');
    await meeting.participants.rejectWaitingRoomRequest('c', 'no ticket');
    await meeting.participants.setWaitingRoomMessage('soon');
    await meeting.participants.setWaitingRoomMessage('you are next', 'a');
    assert.deepEqual(
      self.calls.map((c) => [c.method, JSON.parse(c.payload)]),
      [
        ['admit', { identity: 'a' }],
        ['admitAll', {}],
        ['deny', { identity: 'b' }],
        ['deny', { identity: 'c', reason: 'no ticket' }],
        ['setWaitingMessage', { message: 'soon' }],
        ['setWaitingMessage', { message: 'you are next', identity: 'a' }],
      ],
    );
  });
});

// One participant of the host-controls browser test: livekit-client (global LivekitClient)
// wrapped by @usher-rtc/host-controls (clients/js/dist, served at /host-controls/). The
// listeners and actions are RealtimeKit's TypeScript examples (seed 004, "Manage
// Participants in a Session"), nearly verbatim; hostcontrols.mjs drives them step by step:
//   hc.join({url, token})  connects, publishes the fake microphone and camera;
//   hc.act(name, args)     runs one of the seed's snippets, returns which branch it took;
//   hc.state()             what this page's meeting object says now;
//   hc.log()               every wrapper event so far, numbered (seq), with its time.
import { ClientError, UsherMeeting } from '/host-controls/index.js';

const LK = window.LivekitClient;
const t0 = performance.now();
const ms = () => Math.round(performance.now() - t0);
const S = { room: null, meeting: null, log: [], seq: 0, sdkLog: [], attached: new WeakSet() };

function rec(on, ev, participant, data) {
  S.log.push({ seq: ++S.seq, ms: ms(), on, ev, who: participant ? participant.id : undefined, ...(data || {}) });
}

LK.setLogLevel('info');
LK.setLogExtension((level, msg) => {
  S.sdkLog.push(`${ms()} ${level} ${msg}`);
  if (S.sdkLog.length > 200) S.sdkLog.splice(0, S.sdkLog.length - 200);
});
window.addEventListener('unhandledrejection', (e) => rec('page', 'unhandledRejection', null, { error: String(e.reason) }));

// Option A of the seed: listeners on the participant object.
function attachParticipant(participant) {
  if (S.attached.has(participant)) return;
  S.attached.add(participant);
  const on = `participant:${participant.id}`;
  participant.on('audioUpdate', ({ audioEnabled, audioTrack }) => {
    rec(on, 'audioUpdate', participant, { audioEnabled, hasTrack: !!audioTrack });
  });
  participant.on('videoUpdate', ({ videoEnabled, videoTrack }) => {
    rec(on, 'videoUpdate', participant, { videoEnabled, hasTrack: !!videoTrack });
  });
  participant.on('pinned', (updatedParticipant) => {
    // updatedParticipant.isPinned is true
    rec(on, 'pinned', updatedParticipant, { isPinned: updatedParticipant.isPinned });
  });
  participant.on('unpinned', (updatedParticipant) => {
    // updatedParticipant.isPinned is false
    rec(on, 'unpinned', updatedParticipant, { isPinned: updatedParticipant.isPinned });
  });
}

function listen(meeting) {
  // Option B: listeners on the joined map.
  meeting.participants.joined.on('audioUpdate', (participant, { audioEnabled, audioTrack }) => {
    rec('joined', 'audioUpdate', participant, { audioEnabled, hasTrack: !!audioTrack });
  });
  meeting.participants.joined.on('videoUpdate', (participant, { videoEnabled, videoTrack }) => {
    rec('joined', 'videoUpdate', participant, { videoEnabled, hasTrack: !!videoTrack });
  });
  meeting.participants.joined.on('pinned', (updatedParticipant) => {
    rec('joined', 'pinned', updatedParticipant, { isPinned: updatedParticipant.isPinned });
  });
  meeting.participants.joined.on('unpinned', (updatedParticipant) => {
    rec('joined', 'unpinned', updatedParticipant, { isPinned: updatedParticipant.isPinned });
  });
  meeting.participants.joined.on('participantJoined', (participant) => {
    rec('joined', 'participantJoined', participant);
    attachParticipant(participant);
  });
  meeting.participants.joined.on('participantLeft', (participant) => {
    // Remove the participant tile from the UI.
    rec('joined', 'participantLeft', participant);
  });
  meeting.participants.joined.on('mediaLockUpdate', (participant, { audioLocked, videoLocked }) => {
    rec('joined', 'mediaLockUpdate', participant, { audioLocked, videoLocked });
  });
  // The web-components form: listeners on the pinned map.
  meeting.participants.pinned.on('participantPinned', (participant) => {
    rec('pinnedMap', 'participantPinned', participant, { isPinned: participant.isPinned });
  });
  meeting.participants.pinned.on('unpinned', (participant) => {
    rec('pinnedMap', 'unpinned', participant, { isPinned: participant.isPinned });
  });

  // The local participant.
  meeting.self.on('audioUpdate', ({ audioEnabled, audioTrack }) => {
    // audioEnabled is false
    // Update UI for the local participant
    rec('self', 'audioUpdate', meeting.self, { audioEnabled, hasTrack: !!audioTrack });
  });
  meeting.self.on('videoUpdate', ({ videoEnabled, videoTrack }) => {
    rec('self', 'videoUpdate', meeting.self, { videoEnabled, hasTrack: !!videoTrack });
  });
  meeting.self.on('pinned', (selfParticipant) => {
    // Update the local UI to indicate the participant is pinned.
    rec('self', 'pinned', selfParticipant, { isPinned: selfParticipant.isPinned });
  });
  meeting.self.on('unpinned', (selfParticipant) => {
    // Update the local UI to indicate the participant is no longer pinned.
    rec('self', 'unpinned', selfParticipant, { isPinned: selfParticipant.isPinned });
  });
  meeting.self.on('roomLeft', ({ state }) => {
    if (state === 'kicked') {
      // Show a message and navigate the user out of the meeting UI.
    }
    rec('self', 'roomLeft', meeting.self, { state });
  });
  meeting.self.on('mediaLockUpdate', ({ audioLocked, videoLocked }) => {
    rec('self', 'mediaLockUpdate', meeting.self, { audioLocked, videoLocked });
  });
  meeting.self.on('permissionsUpdate', (permissions) => {
    rec('self', 'permissionsUpdate', meeting.self, { permissions: { ...permissions } });
  });

  // The waiting room.
  meeting.participants.waitlisted.on('participantJoined', (participant) => rec('waitlisted', 'participantJoined', participant));
  meeting.participants.waitlisted.on('participantLeft', (participant) => rec('waitlisted', 'participantLeft', participant));
  meeting.participants.waitlisted.on('participantUpdate', (participant) => rec('waitlisted', 'participantUpdate', participant));
  meeting.self.on('waitlisted', () => rec('self', 'waitlisted', meeting.self));
  meeting.self.on('roomJoined', () => rec('self', 'roomJoined', meeting.self));
  meeting.self.on('waitingUpdate', ({ status, message }) => rec('self', 'waitingUpdate', meeting.self, { status, message }));
}

// The seed's try/catch around each host control: the 1201 branch returns, anything else
// is rethrown (and reported by act as branch "error").
async function seedTry(call) {
  try {
    await call();
  } catch (err) {
    if (err?.code === 1201) {
      // The local participant does not have permission to do this.
      return { branch: '1201', code: err.code, name: err.name, isClientError: err instanceof ClientError, message: err.message };
    }
    throw err;
  }
  return { branch: 'done' };
}

// "Select a remote participant": the seed takes joined.toArray()[0]; with several
// remote participants the test names which one.
function pick(identity) {
  const joinedParticipants = meeting().participants.joined.toArray();
  const participant = joinedParticipants.find((p) => p.id === identity);
  if (!participant) throw new Error(`${identity} is not in participants.joined`);
  return participant;
}

const meeting = () => S.meeting;

const ACTIONS = {
  permissions() {
    const p = meeting().self.permissions;
    return {
      canDisableParticipantAudio: meeting().self.permissions.canDisableParticipantAudio === true,
      canDisableParticipantVideo: meeting().self.permissions.canDisableParticipantVideo === true,
      pinParticipant: meeting().self.permissions.pinParticipant === true,
      kickParticipant: meeting().self.permissions.kickParticipant === true,
      endSession: p.endSession,
      raw: { ...p.raw },
      presetName: meeting().self.presetName ?? null,
    };
  },
  disableAudio: ({ target }) => seedTry(() => pick(target).disableAudio()),
  disableVideo: ({ target }) => seedTry(() => pick(target).disableVideo()),
  enableAudio: ({ target }) => seedTry(() => pick(target).enableAudio()),
  enableVideo: ({ target }) => seedTry(() => pick(target).enableVideo()),
  disableAllAudio: ({ allowUnmute }) => seedTry(() => meeting().participants.disableAllAudio(allowUnmute)),
  disableAllVideo: ({ allowUnmute }) => seedTry(() => meeting().participants.disableAllVideo(allowUnmute)),
  pin: ({ target }) => seedTry(() => pick(target).pin()),
  unpin: ({ target }) => seedTry(() => pick(target).unpin()),
  kick: ({ target }) => seedTry(() => pick(target).kick()),
  kickAll: () => seedTry(() => meeting().participants.kickAll()),
  // The waiting room.
  admit: ({ target }) => seedTry(() => meeting().participants.acceptWaitingRoomRequest(target)),
  admitAll: () => seedTry(() => meeting().participants.acceptAllWaitingRoomRequests()),
  deny: ({ target, reason }) => seedTry(() => meeting().participants.rejectWaitingRoomRequest(target, reason)),
  setWaitingMessage: ({ message }) => seedTry(() => meeting().participants.setWaitingRoomMessage(message)),
  async publish() {
    await S.room.localParticipant.setMicrophoneEnabled(true);
    await S.room.localParticipant.setCameraEnabled(true);
    return { branch: 'done' };
  },
  // A second connection with the same token, on a fresh Room.
  async rejoin({ url, token }) {
    const room = new LK.Room();
    try {
      await room.connect(url, token);
    } catch (err) {
      return { branch: 'refused', message: String(err?.message || err) };
    }
    await room.disconnect();
    return { branch: 'done' };
  },
  // The local participant's own microphone, through the wrapper.
  selfEnableAudio: () => seedTry(() => meeting().self.enableAudio()),
  selfEnableVideo: () => seedTry(() => meeting().self.enableVideo()),
  selfDisableVideo: () => seedTry(() => meeting().self.disableVideo()),
  // Around the wrapper: livekit-client's own unmute, as a client that ignores the lock would.
  async rawUnmuteMicrophone() {
    let error = null;
    try {
      await S.room.localParticipant.setMicrophoneEnabled(true);
    } catch (err) {
      error = String(err?.message || err);
    }
    const pub = S.room.localParticipant.getTrackPublication(LK.Track.Source.Microphone);
    return { branch: error ? 'error' : 'done', error, localMuted: pub ? pub.isMuted : null };
  },
};

function participantState(p) {
  return {
    id: p.id,
    audioEnabled: p.audioEnabled,
    videoEnabled: p.videoEnabled,
    hasAudioTrack: !!p.audioTrack,
    hasVideoTrack: !!p.videoTrack,
    isPinned: p.isPinned,
    audioLocked: p.audioLocked,
    videoLocked: p.videoLocked,
    presetName: p.presetName ?? null,
  };
}

window.hc = {
  sdkVersion: LK.version,
  wrapperLoaded: typeof UsherMeeting === 'function',

  async join({ url, token, publish = true }) {
    const room = new LK.Room({ adaptiveStream: false, dynacast: false });
    S.room = room;
    S.meeting = new UsherMeeting(room);
    listen(S.meeting);
    await room.connect(url, token);
    for (const participant of S.meeting.participants.joined.toArray()) attachParticipant(participant);
    if (publish) {
      await room.localParticipant.setMicrophoneEnabled(true);
      await room.localParticipant.setCameraEnabled(true);
    }
    return { identity: S.meeting.self.id, connectedMs: ms() };
  },

  async act(name, args) {
    const f = ACTIONS[name];
    if (!f) return { branch: 'error', message: `no action ${name}` };
    try {
      return await f(args || {});
    } catch (err) {
      return { branch: 'error', code: err?.code ?? null, name: err?.name ?? null, message: String(err?.message || err) };
    }
  },

  state() {
    const m = S.meeting;
    if (!m) return null;
    return {
      self: {
        ...participantState(m.self),
        roomLeft: m.self.roomLeft,
        meetingRoomState: m.self.roomState,
        waitingRoom: { ...m.self.waitingRoom },
        canPublish: !!S.room.localParticipant.permissions?.canPublish,
      },
      joined: m.participants.joined.toArray().map(participantState),
      waitlisted: m.participants.waitlisted.toArray().map((p) => p.id),
      pinned: [...m.participants.pinned.keys()],
      roomState: S.room.state,
    };
  },

  log: () => S.log,
  sdkLog: () => S.sdkLog,

  async stop() {
    if (S.room) await S.room.disconnect();
  },
};

// One participant of the browser media test, written against the official LiveKit JS SDK
// (the UMD build, global LivekitClient). run.mjs drives it through Playwright:
//   usher.start(cfg)  joins, publishes the fake camera and microphone, resolves when both
//                     are published;
//   usher.status()    what happened so far (events with times since connect, subscriptions,
//                     the first decoded frame, the peer connections);
//   usher.stats()     inbound-rtp of the peer's camera and microphone, outbound-rtp of ours;
//   usher.stop()      leaves the room.
// Times are milliseconds since room.connect() was called.
(() => {
  'use strict';
  const LK = window.LivekitClient;
  const S = {
    t0: performance.now(),
    cfg: null,
    room: null,
    events: [],
    logs: [],
    subscribed: {}, // source -> {ms, sid, mimeType}
    tracks: {}, // source -> RemoteTrack
    firstFrameMs: null,
    videoFrameCallbacks: 0,
    connectMs: null,
    publishedMs: {},
    error: null,
  };
  const now = () => Math.round(performance.now() - S.t0);
  const ev = (name, detail) => {
    S.events.push(Object.assign({ ms: now(), ev: name }, detail || {}));
  };

  // The SDK's own log, kept in a bounded ring: run.mjs shows its tail when a stage fails.
  const levelNames = ['trace', 'debug', 'info', 'warn', 'error', 'silent'];
  const safe = (v) => {
    try {
      const s = JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? String(x) : x));
      return s && s.length > 400 ? s.slice(0, 400) + '…' : s;
    } catch {
      return '[unserializable]';
    }
  };
  LK.setLogLevel('debug');
  LK.setLogExtension((level, msg, ctx) => {
    S.logs.push(`${now()} ${levelNames[level] || level} ${msg}${ctx ? ' ' + safe(ctx) : ''}`);
    if (S.logs.length > 400) S.logs.splice(0, S.logs.length - 400);
  });
  window.addEventListener('error', (e) => ev('page-error', { error: String(e.message) }));
  window.addEventListener('unhandledrejection', (e) => ev('unhandled-rejection', { error: String(e.reason) }));

  const sourceName = (s) => String(s); // Track.Source values are strings: camera, microphone, …

  function watchVideo(track) {
    const el = document.createElement('video');
    el.muted = true;
    el.autoplay = true;
    el.playsInline = true;
    el.width = 320;
    el.height = 240;
    document.getElementById('media').appendChild(el);
    track.attach(el);
    if (typeof el.requestVideoFrameCallback !== 'function') {
      ev('no-requestVideoFrameCallback');
      return;
    }
    const onFrame = (_now, meta) => {
      S.videoFrameCallbacks++;
      if (S.firstFrameMs === null) {
        S.firstFrameMs = now();
        ev('first-frame', { width: meta.width, height: meta.height });
      }
      el.requestVideoFrameCallback(onFrame);
    };
    el.requestVideoFrameCallback(onFrame);
    el.play().catch((e) => ev('video-play-failed', { error: String(e) }));
  }

  function listen(room) {
    const R = LK.RoomEvent;
    room
      .on(R.SignalConnected, () => ev('signal-connected'))
      .on(R.Connected, () => ev('connected'))
      .on(R.ConnectionStateChanged, (s) => ev('connection-state', { state: s }))
      .on(R.SignalReconnecting, () => ev('signal-reconnecting'))
      .on(R.Reconnecting, () => ev('reconnecting'))
      .on(R.Reconnected, () => ev('reconnected'))
      .on(R.Disconnected, (reason) => ev('disconnected', { reason }))
      .on(R.MediaDevicesError, (e) => ev('media-devices-error', { error: String(e) }))
      .on(R.ParticipantConnected, (p) => ev('participant-connected', { identity: p.identity }))
      .on(R.ParticipantDisconnected, (p) => ev('participant-disconnected', { identity: p.identity }))
      .on(R.LocalTrackPublished, (pub) =>
        ev('local-track-published', { source: sourceName(pub.source), sid: pub.trackSid, mimeType: pub.mimeType }),
      )
      .on(R.LocalTrackSubscribed, (pub) => ev('local-track-subscribed', { source: sourceName(pub.source), sid: pub.trackSid }))
      .on(R.TrackPublished, (pub, p) =>
        ev('track-published', { identity: p.identity, source: sourceName(pub.source), sid: pub.trackSid }),
      )
      .on(R.TrackSubscriptionFailed, (sid, p, err) =>
        ev('track-subscription-failed', { identity: p && p.identity, sid, error: String(err) }),
      )
      .on(R.TrackUnsubscribed, (track, pub, p) =>
        ev('track-unsubscribed', { identity: p.identity, source: sourceName(pub.source), sid: pub.trackSid }),
      )
      .on(R.TrackMuted, (pub, p) => ev('track-muted', { identity: p.identity, source: sourceName(pub.source) }))
      .on(R.TrackUnmuted, (pub, p) => ev('track-unmuted', { identity: p.identity, source: sourceName(pub.source) }))
      .on(R.TrackSubscribed, (track, pub, p) => {
        const source = sourceName(pub.source);
        ev('track-subscribed', { identity: p.identity, source, sid: pub.trackSid, kind: track.kind, mimeType: pub.mimeType });
        if (p.identity !== S.cfg.peer) return;
        if (source !== 'camera' && source !== 'microphone') return;
        if (S.subscribed[source]) return;
        S.subscribed[source] = { ms: now(), sid: pub.trackSid, mimeType: pub.mimeType || '' };
        S.tracks[source] = track;
        if (source === 'camera') watchVideo(track);
      });
  }

  async function start(cfg) {
    S.cfg = cfg;
    const opts = Object.assign({}, cfg.roomOptions || {}, { singlePeerConnection: !!cfg.singlePeerConnection });
    const room = new LK.Room(opts);
    S.room = room;
    listen(room);
    S.t0 = performance.now();
    S.events.length = 0;
    ev('connect');
    await room.connect(cfg.url, cfg.token, { autoSubscribe: true });
    S.connectMs = now();
    ev('connect-resolved');
    room.localParticipant.on(LK.ParticipantEvent.LocalTrackPublished, (pub) => {
      S.publishedMs[sourceName(pub.source)] = now();
    });
    await room.localParticipant.enableCameraAndMicrophone();
    ev('camera-and-microphone-enabled');
    return {
      connectMs: S.connectMs,
      publishedMs: S.publishedMs,
      identity: room.localParticipant.identity,
      participantSid: room.localParticipant.sid,
      serverInfo: room.serverInfo ? JSON.parse(safe(room.serverInfo)) : null,
    };
  }

  async function candidatePair(pc) {
    try {
      const stats = await pc.getStats();
      let pair = null;
      stats.forEach((s) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
      });
      if (!pair) return null;
      const l = stats.get(pair.localCandidateId) || {};
      const r = stats.get(pair.remoteCandidateId) || {};
      return {
        state: pair.state,
        local: `${l.protocol} ${l.address}:${l.port} ${l.candidateType}`,
        remote: `${r.protocol} ${r.address}:${r.port} ${r.candidateType}`,
        bytesSent: pair.bytesSent,
        bytesReceived: pair.bytesReceived,
      };
    } catch (e) {
      return { error: String(e) };
    }
  }

  async function status() {
    const pcs = await Promise.all(
      (window.__usherPCs || []).map(async (pc) => ({
        connectionState: pc.connectionState,
        signalingState: pc.signalingState,
        transceivers: pc.getTransceivers().map((t) => `${t.mid}:${t.receiver.track.kind}:${t.currentDirection || t.direction}`),
        candidatePair: await candidatePair(pc),
      })),
    );
    return {
      now: now(),
      connectMs: S.connectMs,
      publishedMs: S.publishedMs,
      subscribed: S.subscribed,
      firstFrameMs: S.firstFrameMs,
      videoFrameCallbacks: S.videoFrameCallbacks,
      roomState: S.room ? S.room.state : null,
      visibility: document.visibilityState,
      peerConnections: pcs,
      remoteParticipants: S.room
        ? Array.from(S.room.remoteParticipants.values()).map((p) => ({
            identity: p.identity,
            tracks: Array.from(p.trackPublications.values()).map((t) => ({
              source: sourceName(t.source),
              sid: t.trackSid,
              subscribed: t.isSubscribed,
              status: t.subscriptionStatus,
            })),
          }))
        : [],
      events: S.events,
    };
  }

  async function inbound(track) {
    if (!track || !track.receiver) return null;
    const stats = await track.receiver.getStats();
    let out = null;
    stats.forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      const codec = s.codecId ? stats.get(s.codecId) : null;
      out = {
        kind: s.kind,
        mimeType: codec ? codec.mimeType : null,
        packetsReceived: s.packetsReceived || 0,
        packetsLost: s.packetsLost || 0,
        bytesReceived: s.bytesReceived || 0,
        framesReceived: s.framesReceived,
        framesDecoded: s.framesDecoded,
        keyFramesDecoded: s.keyFramesDecoded,
        frameWidth: s.frameWidth,
        frameHeight: s.frameHeight,
        totalSamplesReceived: s.totalSamplesReceived,
        concealedSamples: s.concealedSamples,
        totalAudioEnergy: s.totalAudioEnergy,
        pliCount: s.pliCount,
        nackCount: s.nackCount,
        firCount: s.firCount,
      };
    });
    return out;
  }

  async function outbound(pub) {
    if (!pub || !pub.track || !pub.track.sender) return null;
    const stats = await pub.track.sender.getStats();
    const layers = [];
    stats.forEach((s) => {
      if (s.type !== 'outbound-rtp') return;
      layers.push({
        rid: s.rid,
        active: s.active,
        bytesSent: s.bytesSent || 0,
        packetsSent: s.packetsSent || 0,
        framesEncoded: s.framesEncoded,
        frameWidth: s.frameWidth,
        frameHeight: s.frameHeight,
        qualityLimitationReason: s.qualityLimitationReason,
      });
    });
    return layers;
  }

  async function stats() {
    const lp = S.room && S.room.localParticipant;
    return {
      ms: now(),
      videoFrameCallbacks: S.videoFrameCallbacks,
      video: await inbound(S.tracks.camera),
      audio: await inbound(S.tracks.microphone),
      sent: {
        camera: lp ? await outbound(lp.getTrackPublication(LK.Track.Source.Camera)) : null,
        microphone: lp ? await outbound(lp.getTrackPublication(LK.Track.Source.Microphone)) : null,
      },
    };
  }

  async function stop() {
    if (S.room) await S.room.disconnect();
  }

  // Dynacast: the subscriber picks a quality for the peer's camera; the publisher's
  // camera sender says which of its simulcast encodings are active.
  function setPeerVideoQuality(quality) {
    const p = S.room.remoteParticipants.get(S.cfg.peer);
    const pub = p && p.getTrackPublication(LK.Track.Source.Camera);
    if (!pub) throw new Error('no camera publication of the peer');
    pub.setVideoQuality(LK.VideoQuality[quality]);
    return true;
  }

  function cameraEncodings() {
    const pub = S.room.localParticipant.getTrackPublication(LK.Track.Source.Camera);
    const sender = pub && pub.track && pub.track.sender;
    if (!sender) return null;
    return sender.getParameters().encodings.map((e) => ({ rid: e.rid || '', active: e.active }));
  }

  window.usher = {
    sdkVersion: LK.version,
    start,
    status,
    stats,
    stop,
    setPeerVideoQuality,
    cameraEncodings,
    logs: () => S.logs.slice(),
  };
})();

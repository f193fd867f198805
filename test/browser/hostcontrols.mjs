#!/usr/bin/env node
// Host-controls browser test runner: three Chromium pages (a host and two students) with
// livekit-client and the @usher-rtc/host-controls wrapper (clients/js/dist) run
// RealtimeKit's TypeScript examples step by step against a server, and each step checks
// the events every page's meeting object emitted. Driven by test/hostcontrols_browser_test.go.
//
// Input: a JSON object on stdin:
//   {"url": "ws://127.0.0.1:7880",
//    "participants": [{"identity": "teacher", "role": "host", "token": "…"},
//                     {"identity": "alice", "role": "student", "token": "…"},
//                     {"identity": "bob", "role": "student", "token": "…"}],
//    "stageTimeoutMs": 10000, "tmpDir": "/tmp/…"}
// The host's token carries the preset with every host control, the students' one without.
//
// Output: one JSON result on stdout; progress on stderr. Exit status 0 when every step
// passed, 1 when one failed, 2 when the harness could not run (no Chromium, no bundle).

import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { CHROMIUM, CHROMIUM_FLAGS, serveFiles } from './chromium.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const wrapperDist = path.resolve(here, '..', '..', 'clients', 'js', 'dist');

const log = (...a) => process.stderr.write(`[hostcontrols ${new Date().toISOString().slice(11, 23)}] ${a.join(' ')}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class StageError extends Error {
  constructor(stage, message) {
    super(message);
    this.stage = stage;
  }
}

class SetupError extends Error {}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ---- static server: the page, the SDK and the wrapper's build ----------------------------

async function startStaticServer() {
  const js = 'text/javascript; charset=utf-8';
  const files = {
    '/': { file: path.join(here, 'hostcontrols.html'), type: 'text/html; charset=utf-8' },
    '/hostcontrols.js': { file: path.join(here, 'hostcontrols.js'), type: js },
    '/livekit-client.umd.js': { file: path.join(here, 'node_modules', 'livekit-client', 'dist', 'livekit-client.umd.js'), type: js },
  };
  let dist;
  try {
    dist = (await readdir(wrapperDist)).filter((f) => f.endsWith('.js'));
  } catch {
    dist = [];
  }
  if (!dist.includes('index.js')) {
    throw new SetupError(`the wrapper is not built: ${wrapperDist}/index.js is missing (npm ci && npm run build in clients/js)`);
  }
  for (const f of dist) files[`/host-controls/${f}`] = { file: path.join(wrapperDist, f), type: js };
  const bodies = {};
  for (const [p, f] of Object.entries(files)) {
    try {
      bodies[p] = { body: await readFile(f.file), type: f.type };
    } catch (e) {
      throw new SetupError(`cannot read ${f.file}: ${e.message}`);
    }
  }
  return serveFiles(bodies);
}

// ---- the steps ------------------------------------------------------------------------------

// A page, with helpers to act on it and to read what its meeting object emitted.
class Peer {
  constructor(p) {
    this.identity = p.identity;
    this.role = p.role;
    this.token = p.token;
    this.page = null;
    this.console = [];
  }
  log() {
    return this.page.evaluate(() => window.hc.log());
  }
  state() {
    return this.page.evaluate(() => window.hc.state());
  }
  async mark() {
    const l = await this.log();
    return l.length ? l[l.length - 1].seq : 0;
  }
  act(name, args) {
    return this.page.evaluate(([n, a]) => window.hc.act(n, a), [name, args || {}]);
  }
}

function describeExpectation(x) {
  const fields = Object.entries(x.match)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' ');
  return `${x.peer.identity} sees ${fields}`;
}

function matches(entry, match) {
  return Object.entries(match).every(([k, v]) => entry[k] === v);
}

// The helpers every scenario's steps use.
function stepKit(cfg, peers, result) {
  const stageMs = cfg.stageTimeoutMs;
  const step = async (name, fn) => {
    result.stage = name;
    const t = Date.now();
    await fn();
    result.steps.push({ name, ms: Date.now() - t });
    log(`step ${name}: ok (${Date.now() - t} ms)`);
  };
  const fail = (msg) => {
    throw new StageError(result.stage, msg);
  };
  // Waits until, on each page, an event matching each expectation came after the mark.
  const expectEvents = async (marks, list) => {
    const deadline = Date.now() + stageMs;
    for (;;) {
      const missing = [];
      for (const x of list) {
        const l = await x.peer.log();
        if (!l.some((e) => e.seq > marks.get(x.peer) && matches(e, x.match))) missing.push(x);
      }
      if (missing.length === 0) return;
      if (Date.now() > deadline) fail(`within ${stageMs} ms, missing: ${missing.map(describeExpectation).join('; ')}`);
      await sleep(50);
    }
  };
  const marks = async () => new Map(await Promise.all(peers.map(async (p) => [p, await p.mark()])));
  const act = async (peer, name, args, want) => {
    const t = Date.now();
    const res = await peer.act(name, args);
    result.actions.push({ stage: result.stage, by: peer.identity, action: name, args, res, ms: Date.now() - t });
    if (want && res.branch !== want) fail(`${peer.identity} ${name}(${JSON.stringify(args || {})}): branch ${res.branch}, want ${want}: ${JSON.stringify(res)}`);
    return res;
  };
  const waitState = async (peer, what, cond) => {
    const deadline = Date.now() + stageMs;
    for (;;) {
      const st = await peer.state();
      if (cond(st)) return st;
      if (Date.now() > deadline) fail(`${peer.identity}: ${what}: not within ${stageMs} ms (state ${JSON.stringify(st)})`);
      await sleep(50);
    }
  };
  const remote = (st, id) => st.joined.find((p) => p.id === id);
  // A barrier instead of a wait for "nothing happened": who turns its camera off and on
  // again, which it may always do. The server tells everyone in order, so once the
  // observers saw both, whatever the server did before in answer to who's earlier
  // requests has reached them too.
  const barrier = async (who, observers) => {
    for (const enabled of [false, true]) {
      const m = await marks();
      await act(who, enabled ? 'selfEnableVideo' : 'selfDisableVideo', {}, 'done');
      await expectEvents(
        m,
        observers.map((peer) => ({ peer, match: { on: 'joined', ev: 'videoUpdate', who: who.identity, videoEnabled: enabled } })),
      );
    }
  };
  const isBarrier = (e, who) => e.ev === 'videoUpdate' && e.who === who.identity;
  return { stageMs, step, fail, expectEvents, marks, act, waitState, remote, barrier, isBarrier };
}

async function runSteps(cfg, peers, result) {
  const [host, alice, bob] = peers;
  const { stageMs, step, fail, expectEvents, marks, act, waitState, remote, barrier, isBarrier } = stepKit(cfg, peers, result);

  await step('join', async () => {
    await withTimeout(
      Promise.all(peers.map((p) => p.page.evaluate((c) => window.hc.join(c), { url: cfg.url, token: p.token }))),
      stageMs,
      'connect and publish',
    ).catch((e) => fail(String(e.message || e).split('\n')[0]));
    for (const p of peers) {
      const others = peers.filter((o) => o !== p).map((o) => o.identity);
      await waitState(p, `the others (${others}) in participants.joined, their microphone and camera on and subscribed`, (st) =>
        others.every((id) => {
          const r = remote(st, id);
          return r && r.audioEnabled && r.videoEnabled && r.hasAudioTrack && r.hasVideoTrack;
        }),
      );
    }
  });

  await step('permissions', async () => {
    const hp = await host.act('permissions');
    const sp = await alice.act('permissions');
    result.permissions = { host: hp, student: sp };
    for (const k of ['canDisableParticipantAudio', 'canDisableParticipantVideo', 'pinParticipant', 'kickParticipant']) {
      if (hp[k] !== true) fail(`host: self.permissions.${k} is ${hp[k]}, want true (${JSON.stringify(hp)})`);
      if (sp[k] !== false) fail(`student: self.permissions.${k} is ${sp[k]}, want false (${JSON.stringify(sp)})`);
    }
    if (hp.presetName !== 'host' || sp.presetName !== 'student') fail(`presetName: host ${hp.presetName}, student ${sp.presetName}`);
  });

  // The seed's 1201 branch: a student's preset has no host control.
  await step('permission-denied-1201', async () => {
    const m = await marks();
    for (const [name, args] of [
      ['disableAudio', { target: bob.identity }],
      ['disableVideo', { target: bob.identity }],
      ['disableAllAudio', { allowUnmute: true }],
      ['pin', { target: host.identity }],
      ['kick', { target: bob.identity }],
      ['kickAll', {}],
    ]) {
      const res = await act(alice, name, args, '1201');
      if (res.name !== 'ClientError' || !res.isClientError) fail(`${name}: the error is ${res.name}, not the wrapper's ClientError`);
    }
    await barrier(alice, [host]);
    const l = await host.log();
    const changed = l.filter(
      (e) =>
        e.seq > m.get(host) &&
        !isBarrier(e, alice) &&
        (e.audioEnabled === false || e.videoEnabled === false || /pinned|participantLeft|mediaLockUpdate/.test(e.ev)),
    );
    if (changed.length) fail(`denied actions still changed something: ${JSON.stringify(changed)}`);
  });

  // "Mute a participant": everyone, the target included, sees audioEnabled false.
  await step('disableAudio', async () => {
    const m = await marks();
    await act(host, 'disableAudio', { target: alice.identity }, 'done');
    await expectEvents(m, [
      { peer: alice, match: { on: 'self', ev: 'audioUpdate', audioEnabled: false } },
      { peer: host, match: { on: 'joined', ev: 'audioUpdate', who: alice.identity, audioEnabled: false } },
      { peer: host, match: { on: `participant:${alice.identity}`, ev: 'audioUpdate', audioEnabled: false } },
      { peer: bob, match: { on: 'joined', ev: 'audioUpdate', who: alice.identity, audioEnabled: false } },
    ]);
  });

  // allowUnmute defaults to true: the target may unmute itself.
  await step('unmute-allowed', async () => {
    const m = await marks();
    await act(alice, 'selfEnableAudio', {}, 'done');
    await expectEvents(m, [
      { peer: alice, match: { on: 'self', ev: 'audioUpdate', audioEnabled: true } },
      { peer: host, match: { on: 'joined', ev: 'audioUpdate', who: alice.identity, audioEnabled: true } },
    ]);
  });

  // "Mute all participants", the caller included, with allowUnmute false: a hard mute.
  await step('disableAllAudio-hard', async () => {
    const m = await marks();
    await act(host, 'disableAllAudio', { allowUnmute: false }, 'done');
    await expectEvents(m, [
      { peer: host, match: { on: 'self', ev: 'audioUpdate', audioEnabled: false } },
      { peer: alice, match: { on: 'self', ev: 'audioUpdate', audioEnabled: false } },
      { peer: bob, match: { on: 'self', ev: 'audioUpdate', audioEnabled: false } },
      { peer: host, match: { on: 'joined', ev: 'audioUpdate', who: alice.identity, audioEnabled: false } },
      { peer: host, match: { on: 'joined', ev: 'audioUpdate', who: bob.identity, audioEnabled: false } },
      { peer: alice, match: { on: 'self', ev: 'mediaLockUpdate', audioLocked: true } },
      { peer: bob, match: { on: 'self', ev: 'mediaLockUpdate', audioLocked: true } },
    ]);
  });

  // The student's unmute attempts fail: through the wrapper, and through the SDK itself.
  await step('hard-mute-holds', async () => {
    const res = await act(alice, 'selfEnableAudio', {});
    if (res.branch !== 'error' || res.name !== 'ClientError') fail(`self.enableAudio() under a hard mute: ${JSON.stringify(res)}, want a ClientError`);
    const m = await marks();
    await act(alice, 'rawUnmuteMicrophone', {});
    await barrier(alice, [host, bob]);
    // The server told alice's SDK to mute again: its own view agrees with everyone's.
    await waitState(alice, 'alice sees her microphone muted again', (st) => st.self.audioEnabled === false);
    for (const p of [host, bob]) {
      const l = await p.log();
      const unmuted = l.filter((e) => e.seq > m.get(p) && e.ev === 'audioUpdate' && e.who === alice.identity && e.audioEnabled);
      if (unmuted.length) fail(`${p.identity} saw ${alice.identity} unmuted despite the hard mute: ${JSON.stringify(unmuted)}`);
      const st = await p.state();
      if (remote(st, alice.identity)?.audioEnabled !== false) fail(`${p.identity}: ${alice.identity}'s microphone is not muted after the unmute attempt`);
    }
  });

  // enableAudio lifts the hard mute; the student may unmute again.
  await step('enableAudio-lifts', async () => {
    let m = await marks();
    await act(host, 'enableAudio', { target: alice.identity }, 'done');
    await expectEvents(m, [{ peer: alice, match: { on: 'self', ev: 'mediaLockUpdate', audioLocked: false } }]);
    m = await marks();
    await act(alice, 'selfEnableAudio', {}, 'done');
    await expectEvents(m, [
      { peer: host, match: { on: 'joined', ev: 'audioUpdate', who: alice.identity, audioEnabled: true } },
      { peer: bob, match: { on: 'joined', ev: 'audioUpdate', who: alice.identity, audioEnabled: true } },
    ]);
  });

  // "Disable video for a participant".
  await step('disableVideo', async () => {
    const m = await marks();
    await act(host, 'disableVideo', { target: bob.identity }, 'done');
    await expectEvents(m, [
      { peer: bob, match: { on: 'self', ev: 'videoUpdate', videoEnabled: false } },
      { peer: host, match: { on: 'joined', ev: 'videoUpdate', who: bob.identity, videoEnabled: false } },
      { peer: host, match: { on: `participant:${bob.identity}`, ev: 'videoUpdate', videoEnabled: false } },
      { peer: alice, match: { on: 'joined', ev: 'videoUpdate', who: bob.identity, videoEnabled: false } },
    ]);
  });

  // "Disable video for all participants", the caller included.
  await step('disableAllVideo', async () => {
    const m = await marks();
    await act(host, 'disableAllVideo', { allowUnmute: true }, 'done');
    await expectEvents(m, [
      { peer: host, match: { on: 'self', ev: 'videoUpdate', videoEnabled: false } },
      { peer: alice, match: { on: 'self', ev: 'videoUpdate', videoEnabled: false } },
      { peer: bob, match: { on: 'joined', ev: 'videoUpdate', who: alice.identity, videoEnabled: false } },
    ]);
  });

  // "Pin a participant": pinned on the participant, on joined, on the pinned map, and on
  // the target's own meeting.self.
  await step('pin', async () => {
    const m = await marks();
    await act(host, 'pin', { target: alice.identity }, 'done');
    await expectEvents(m, [
      { peer: alice, match: { on: 'self', ev: 'pinned', isPinned: true } },
      { peer: host, match: { on: 'joined', ev: 'pinned', who: alice.identity, isPinned: true } },
      { peer: host, match: { on: `participant:${alice.identity}`, ev: 'pinned', isPinned: true } },
      { peer: host, match: { on: 'pinnedMap', ev: 'participantPinned', who: alice.identity } },
      { peer: bob, match: { on: 'joined', ev: 'pinned', who: alice.identity, isPinned: true } },
    ]);
    for (const p of [host, bob]) {
      await waitState(p, `participants.pinned is [${alice.identity}]`, (st) => st.pinned.length === 1 && st.pinned[0] === alice.identity);
    }
    await waitState(alice, 'self.isPinned', (st) => st.self.isPinned === true);
  });

  // Pinning another one unpins the previous one.
  await step('pin-replaces', async () => {
    const m = await marks();
    await act(host, 'pin', { target: bob.identity }, 'done');
    await expectEvents(m, [
      { peer: host, match: { on: 'joined', ev: 'unpinned', who: alice.identity, isPinned: false } },
      { peer: host, match: { on: 'joined', ev: 'pinned', who: bob.identity, isPinned: true } },
      { peer: host, match: { on: 'pinnedMap', ev: 'unpinned', who: alice.identity } },
      { peer: alice, match: { on: 'self', ev: 'unpinned', isPinned: false } },
      { peer: alice, match: { on: 'joined', ev: 'pinned', who: bob.identity } },
      { peer: bob, match: { on: 'self', ev: 'pinned', isPinned: true } },
      { peer: bob, match: { on: 'joined', ev: 'unpinned', who: alice.identity } },
    ]);
    for (const p of [host, alice]) {
      await waitState(p, `participants.pinned is [${bob.identity}]`, (st) => st.pinned.length === 1 && st.pinned[0] === bob.identity);
    }
  });

  // "Unpin a participant".
  await step('unpin', async () => {
    const m = await marks();
    await act(host, 'unpin', { target: bob.identity }, 'done');
    await expectEvents(m, [
      { peer: bob, match: { on: 'self', ev: 'unpinned', isPinned: false } },
      { peer: host, match: { on: 'joined', ev: 'unpinned', who: bob.identity, isPinned: false } },
      { peer: host, match: { on: `participant:${bob.identity}`, ev: 'unpinned' } },
      { peer: alice, match: { on: 'joined', ev: 'unpinned', who: bob.identity } },
    ]);
    await waitState(host, 'participants.pinned is empty', (st) => st.pinned.length === 0);
  });

  // "Remove a participant": roomLeft kicked on the target, participantLeft for the others.
  await step('kick', async () => {
    const m = await marks();
    await act(host, 'kick', { target: alice.identity }, 'done');
    await expectEvents(m, [
      { peer: alice, match: { on: 'self', ev: 'roomLeft', state: 'kicked' } },
      { peer: host, match: { on: 'joined', ev: 'participantLeft', who: alice.identity } },
      { peer: bob, match: { on: 'joined', ev: 'participantLeft', who: alice.identity } },
    ]);
    await waitState(host, `${alice.identity} gone from participants.joined`, (st) => !remote(st, alice.identity));
  });

  // "Remove all participants": roomLeft ended on every page, the caller's included.
  await step('kickAll', async () => {
    const m = await marks();
    await act(host, 'kickAll', {}, 'done');
    await expectEvents(m, [
      { peer: host, match: { on: 'self', ev: 'roomLeft', state: 'ended' } },
      { peer: bob, match: { on: 'self', ev: 'roomLeft', state: 'ended' } },
    ]);
  });
}

// The waiting-room scenario: a doctor (accept_waiting_requests) and two patients whose
// preset waits. The patients see nothing and nobody but the doctor sees them; the doctor
// sees the queue in order, sends a message, admits one (who then sees and is seen, with
// media both ways) and denies the other (roomLeft "rejected"; its token is refused after).
async function runWaitingSteps(cfg, peers, result) {
  const [doctor, pa, pb] = peers;
  const { step, fail, expectEvents, marks, act, waitState, remote } = stepKit(cfg, peers, result);
  const join = (p, publish) =>
    withTimeout(p.page.evaluate((c) => window.hc.join(c), { url: cfg.url, token: p.token, publish }), cfg.stageTimeoutMs, `${p.identity} connects`).catch(
      (e) => fail(String(e.message || e).split('\n')[0]),
    );
  const about = (l, who, m) => l.filter((e) => e.seq > m && e.who === who.identity && e.on !== 'self');

  await step('join-and-wait', async () => {
    await join(doctor, true);
    for (const p of [pa, pb]) {
      await join(p, false);
      await waitState(doctor, `${p.identity} in participants.waitlisted`, (st) => st.waitlisted.includes(p.identity));
    }
    for (const p of [pa, pb]) {
      const st = await waitState(p, 'self.roomState waitlisted, a host present', (s) => s.self.meetingRoomState === 'waitlisted' && s.self.waitingRoom.status === 'host_present');
      if (st.joined.length || st.waitlisted.length || st.self.canPublish) fail(`${p.identity} waits but sees ${JSON.stringify(st)}`);
    }
    const st = await doctor.state();
    if (st.waitlisted.join() !== `${pa.identity},${pb.identity}` || st.joined.length) fail(`the doctor's queue: ${JSON.stringify(st)}`);
  });

  // The message reaches both; it is also the barrier after which the patients must have
  // seen nobody at all.
  await step('message-and-nothing-leaks', async () => {
    const m = await marks();
    await act(doctor, 'setWaitingMessage', { message: 'The doctor will see you shortly' }, 'done');
    await expectEvents(m, [pa, pb].map((peer) => ({ peer, match: { on: 'self', ev: 'waitingUpdate', message: 'The doctor will see you shortly' } })));
    for (const p of [pa, pb]) {
      const l = await p.log();
      const seen = l.filter((e) => e.on !== 'self' && e.on !== 'page');
      if (seen.length) fail(`${p.identity} saw others while waiting: ${JSON.stringify(seen)}`);
    }
    const res = await act(pa, 'admit', { target: pb.identity });
    if (res.branch !== '1201') fail(`a waiting patient admitting another: ${JSON.stringify(res)}`);
  });

  await step('admit', async () => {
    const m = await marks();
    const t = Date.now();
    await act(doctor, 'admit', { target: pa.identity }, 'done');
    await expectEvents(m, [
      { peer: pa, match: { on: 'self', ev: 'roomJoined' } },
      { peer: doctor, match: { on: 'waitlisted', ev: 'participantLeft', who: pa.identity } },
      { peer: doctor, match: { on: 'joined', ev: 'participantJoined', who: pa.identity } },
    ]);
    await waitState(pa, `the doctor in participants.joined with microphone and camera received`, (st) => {
      const r = remote(st, doctor.identity);
      return st.self.canPublish && r && r.hasAudioTrack && r.hasVideoTrack;
    });
    result.admitToMediaMs = Date.now() - t;
    await act(pa, 'publish', {}, 'done');
    await waitState(doctor, `${pa.identity}'s microphone and camera received`, (st) => {
      const r = remote(st, pa.identity);
      return r && r.audioEnabled && r.videoEnabled && r.hasAudioTrack && r.hasVideoTrack;
    });
    const st = await pa.state();
    if (st.joined.some((p) => p.id === pb.identity) || st.waitlisted.length) fail(`the admitted patient sees the one still waiting: ${JSON.stringify(st)}`);
    const l = await pb.log();
    const seen = about(l, pa, m.get(pb));
    if (seen.length) fail(`${pb.identity}, waiting, saw ${pa.identity} come in: ${JSON.stringify(seen)}`);
  });

  await step('deny', async () => {
    const m = await marks();
    await act(doctor, 'deny', { target: pb.identity, reason: 'not on the list' }, 'done');
    await expectEvents(m, [
      { peer: pb, match: { on: 'self', ev: 'roomLeft', state: 'rejected' } },
      { peer: doctor, match: { on: 'waitlisted', ev: 'participantLeft', who: pb.identity } },
    ]);
    const l = await pa.log();
    const seen = l.filter((e) => e.who === pb.identity);
    if (seen.length) fail(`${pa.identity} saw the denied patient: ${JSON.stringify(seen)}`);
    const res = await act(pb, 'rejoin', { url: cfg.url, token: pb.token });
    if (res.branch !== 'refused') fail(`the denied patient's token joined again: ${JSON.stringify(res)}`);
  });
}

// ---- one run ------------------------------------------------------------------------------

const SCENARIOS = {
  'host-controls': { roles: 'host,student,student', run: runSteps },
  'waiting-room': { roles: 'doctor,patient,patient', run: runWaitingSteps },
};

function validate(cfg) {
  if (typeof cfg.url !== 'string' || !/^wss?:\/\//.test(cfg.url)) throw new SetupError('url must be ws:// or wss://');
  const sc = SCENARIOS[cfg.scenario || 'host-controls'];
  if (!sc) throw new SetupError(`no scenario ${cfg.scenario}`);
  const roles = (cfg.participants || []).map((p) => p.role).join(',');
  if (roles !== sc.roles) throw new SetupError(`participants: want roles ${sc.roles}, got ${roles}`);
  for (const p of cfg.participants) if (!p.identity || !p.token) throw new SetupError('each participant needs identity and token');
}

let activeCleanup = null;

async function run(cfg) {
  const stageMs = cfg.stageTimeoutMs || 10000;
  cfg.stageTimeoutMs = stageMs;
  const result = { ok: false, stage: 'setup', error: null, steps: [], actions: [], versions: {}, pages: [] };
  const t0 = Date.now();
  let context = null;
  let userDataDir = null;
  let stat = null;
  const peers = cfg.participants.map((p) => new Peer(p));
  const closeAll = async () => {
    for (const p of peers) {
      if (p.page) await withTimeout(p.page.evaluate(() => window.hc.stop()), 3000, 'leave').catch(() => {});
    }
    if (context) await withTimeout(context.close(), 5000, 'closing Chromium').catch(() => {});
    if (stat) stat.server.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
    context = null;
    stat = null;
    userDataDir = null;
  };
  activeCleanup = closeAll;
  try {
    stat = await startStaticServer();
    userDataDir = await mkdtemp(path.join(cfg.tmpDir || os.tmpdir(), 'usher-chromium-'));
    try {
      context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_FLAGS,
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
        timeout: stageMs,
      });
    } catch (e) {
      throw new SetupError(`launching ${CHROMIUM}: ${String(e.message || e).split('\n')[0]}`);
    }
    result.versions.chromium = context.browser()?.version() || null;
    await context.grantPermissions(['camera', 'microphone'], { origin: stat.origin });
    for (let i = 0; i < peers.length; i++) {
      const p = peers[i];
      p.page = i === 0 && context.pages().length > 0 ? context.pages()[0] : await context.newPage();
      p.page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') {
          p.console.push(`${m.type()}: ${m.text()}`.slice(0, 300));
          if (p.console.length > 50) p.console.shift();
        }
      });
      p.page.on('pageerror', (e) => p.console.push(`pageerror: ${String(e)}`.slice(0, 300)));
      await p.page.goto(stat.origin + '/', { timeout: stageMs });
      // The page script is a module: wait for it to define window.hc.
      const loaded = await p.page
        .waitForFunction(() => window.hc && window.hc.wrapperLoaded, null, { timeout: stageMs })
        .then(() => p.page.evaluate(() => window.hc.sdkVersion))
        .catch(() => null);
      if (!loaded) throw new SetupError(`the page did not load livekit-client and the wrapper: ${p.console.join(' | ')}`);
      result.versions.livekitClientInPage = loaded;
    }
    log(`Chromium ${result.versions.chromium}, livekit-client ${result.versions.livekitClientInPage}; joining ${cfg.url}`);
    await SCENARIOS[cfg.scenario || 'host-controls'].run(cfg, peers, result);
    result.stage = 'done';
    result.ok = true;
  } catch (e) {
    if (e instanceof SetupError) {
      result.setupFailed = true;
      result.error = e.message;
    } else if (e instanceof StageError) {
      result.stage = e.stage;
      result.error = e.message;
    } else {
      result.error = `${e.stack || e}`.split('\n').slice(0, 3).join(' | ');
    }
  } finally {
    for (const p of peers) {
      const r = { identity: p.identity, role: p.role, console: p.console };
      if (p.page) {
        r.state = await withTimeout(p.page.evaluate(() => window.hc && window.hc.state()), 3000, 'state').catch((e) => ({ error: String(e) }));
        r.log = await withTimeout(p.page.evaluate(() => (window.hc ? window.hc.log() : [])), 3000, 'log').catch(() => []);
        if (!result.ok) {
          r.sdkLogTail = await withTimeout(p.page.evaluate(() => (window.hc ? window.hc.sdkLog() : [])), 3000, 'sdk log')
            .then((l) => l.slice(-40))
            .catch(() => []);
        }
      }
      result.pages.push(r);
    }
    await closeAll();
    activeCleanup = null;
  }
  result.totalMs = Date.now() - t0;
  return result;
}

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, async () => {
    log(`${sig}: closing Chromium`);
    if (activeCleanup) await activeCleanup().catch(() => {});
    process.exit(1);
  });
}

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  let cfg;
  try {
    cfg = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    validate(cfg);
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, setupFailed: true, stage: 'input', error: String(e.message || e) }) + '\n');
    return 2;
  }
  const r = await run(cfg);
  log(r.ok ? `PASS (${r.steps.length} steps, ${r.totalMs} ms)` : `FAIL at ${r.stage}: ${r.error}`);
  process.stdout.write(JSON.stringify(r) + '\n');
  if (r.setupFailed) return 2;
  return r.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stdout.write(JSON.stringify({ ok: false, setupFailed: true, stage: 'setup', error: String(e.stack || e) }) + '\n');
    process.exit(2);
  },
);

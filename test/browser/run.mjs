#!/usr/bin/env node
// Browser media test runner: two Chromium pages with the official LiveKit JS SDK join one
// room, publish the fake camera and microphone, and check that each one decodes the other's
// video and receives its audio. Target-agnostic: the server URL and the tokens come from the
// input, so it runs against Usher (test/browser_test.go) or livekit-server by hand.
//
// Input: a JSON object on stdin (what the Go test sends):
//   {"url": "ws://127.0.0.1:7880", "mode": "single"|"dual",
//    "participants": [{"identity": "alice", "token": "…"}, {"identity": "bob", "token": "…"}],
//    "stageTimeoutMs": 10000, "sampleMs": 1000, "roomOptions": {}, "tmpDir": "/tmp/…", "logs": false}
// or, by hand, flags that mint the tokens here:
//   node run.mjs --url ws://127.0.0.1:7880 --key devkey --secret secret [--mode single|dual|both]
//                [--room NAME] [--stage-timeout-ms 10000] [--sample-ms 1000] [--logs]
//
// Output: one JSON result per mode on stdout (a JSON array when --mode both); progress on
// stderr. Exit status 0 when every mode passed, 1 when a check failed, 2 when the harness
// itself could not run (no Chromium, bad input).

import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

import { SignalRequest, SignalResponse, WrappedJoinRequest, JoinRequest } from '@livekit/protocol';
import { chromium } from 'playwright-core';

import { CHROMIUM, CHROMIUM_FLAGS, serveFiles } from './chromium.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export { CHROMIUM, CHROMIUM_FLAGS };

const log = (...a) => process.stderr.write(`[browser ${new Date().toISOString().slice(11, 23)}] ${a.join(' ')}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class StageError extends Error {
  constructor(stage, message) {
    super(message);
    this.stage = stage;
  }
}

function withTimeout(promise, ms, stage, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new StageError(stage, `${what}: no result within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ---- input -----------------------------------------------------------------------------

function parseFlags(argv) {
  const f = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const k = a.slice(2);
    if (k === 'logs') f.logs = true;
    else if (k === 'help') f.help = true;
    else f[k] = argv[++i];
  }
  return f;
}

function mintToken(key, secret, identity, room) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({
    iss: key,
    sub: identity,
    name: identity,
    nbf: now - 10,
    exp: now + 3600,
    video: { room, roomJoin: true, canPublish: true, canSubscribe: true },
  })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

// Returns the list of configs to run, one per mode.
async function readInput() {
  const flags = parseFlags(process.argv.slice(2));
  if (flags.help) {
    process.stderr.write(
      'usage: node run.mjs < config.json\n' +
        '       node run.mjs --url ws://127.0.0.1:7880 --key devkey --secret secret [--mode single|dual|both] [--room NAME] [--logs]\n',
    );
    process.exit(2);
  }
  const base = {
    stageTimeoutMs: Number(flags['stage-timeout-ms'] || 10000),
    sampleMs: Number(flags['sample-ms'] || 1000),
    logs: !!flags.logs,
  };
  if (flags.url) {
    if (!flags.key || !flags.secret) throw new Error('--url needs --key and --secret to mint tokens');
    const modes = !flags.mode || flags.mode === 'both' ? ['single', 'dual'] : [flags.mode];
    return {
      many: modes.length > 1,
      configs: modes.map((mode) => {
        const room = flags.room || `browser-${mode}-${randomBytes(3).toString('hex')}`;
        return {
          ...base,
          url: flags.url,
          mode,
          room,
          participants: ['alice', 'bob'].map((identity) => ({
            identity,
            token: mintToken(flags.key, flags.secret, identity, room),
          })),
        };
      }),
    };
  }
  const cfg = JSON.parse(await readStdin());
  return { many: false, configs: [{ ...base, ...cfg }] };
}

function validate(cfg) {
  if (typeof cfg.url !== 'string' || !/^wss?:\/\//.test(cfg.url)) throw new Error('url must be ws:// or wss://');
  if (cfg.mode !== 'single' && cfg.mode !== 'dual') throw new Error('mode must be "single" or "dual"');
  if (!Array.isArray(cfg.participants) || cfg.participants.length !== 2) throw new Error('participants: two are needed');
  for (const p of cfg.participants) {
    if (!p.identity || !p.token) throw new Error('each participant needs identity and token');
  }
}

// ---- static server for the page and the SDK ----------------------------------------------

async function startStaticServer() {
  const sdkFile = path.join(here, 'node_modules', 'livekit-client', 'dist', 'livekit-client.umd.js');
  const files = {
    '/': { file: path.join(here, 'page.html'), type: 'text/html; charset=utf-8' },
    '/page.js': { file: path.join(here, 'page.js'), type: 'text/javascript; charset=utf-8' },
    '/livekit-client.umd.js': { file: sdkFile, type: 'text/javascript; charset=utf-8' },
  };
  const bodies = {};
  for (const [p, f] of Object.entries(files)) bodies[p] = { body: await readFile(f.file), type: f.type };
  return serveFiles(bodies);
}

// ---- the signal trace (what went over /rtc, decoded) ---------------------------------------

function sdpSummary(sdp) {
  if (!sdp) return undefined;
  const m = [];
  let cur = null;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      cur = { kind: line.slice(2).split(' ')[0], dir: '', mid: '' };
      m.push(cur);
    } else if (cur && /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(line)) cur.dir = line.slice(2);
    else if (cur && line.startsWith('a=mid:')) cur.mid = line.slice(6);
    else if (cur && line.startsWith('a=simulcast:')) cur.simulcast = line.slice(12);
    else if (cur && line.startsWith('a=msid:')) cur.msid = line.slice(7).replace(' ', '/');
    else if (cur && line.startsWith('a=rtpmap:') && !cur.codec) cur.codec = line.split(' ')[1].split('/')[0];
  }
  // mid:kind/direction first-codec [msid=stream/track] [simulcast …]
  return m
    .map(
      (x) =>
        `${x.mid}:${x.kind}${x.dir ? '/' + x.dir : ''}${x.codec ? ' ' + x.codec : ''}` +
        `${x.msid ? ' msid=' + x.msid : ''}${x.simulcast ? ' simulcast ' + x.simulcast : ''}`,
    )
    .join(', ');
}

function describe(msg) {
  const c = msg.case;
  const v = msg.value;
  if (!c) return { case: '(empty)' };
  const d = { case: c };
  switch (c) {
    case 'join':
      d.subscriberPrimary = v.subscriberPrimary;
      d.fastPublish = v.fastPublish;
      d.serverVersion = v.serverInfo?.version;
      d.serverProtocol = v.serverInfo?.protocol;
      d.otherParticipants = v.otherParticipants.map((p) => p.identity);
      break;
    case 'offer':
    case 'answer':
      d.id = v.id;
      d.sdp = sdpSummary(v.sdp);
      break;
    case 'trickle':
      d.target = v.target;
      d.final = v.final || undefined;
      break;
    case 'addTrack':
      d.cid = v.cid;
      d.type = v.type;
      d.source = v.source;
      d.layers = v.layers?.length;
      d.simulcastCodecs = v.simulcastCodecs?.map((x) => x.codec).join(',');
      break;
    case 'trackPublished':
      d.cid = v.cid;
      d.sid = v.track?.sid;
      break;
    case 'update':
      d.participants = v.participants.map((p) => `${p.identity}:${p.state}:${p.tracks.length}t`).join(' ');
      break;
    case 'mediaSectionsRequirement':
      d.numAudios = v.numAudios;
      d.numVideos = v.numVideos;
      break;
    case 'trackSubscribed':
      d.trackSid = v.trackSid;
      break;
    case 'subscription':
      d.trackSids = v.trackSids;
      d.subscribe = v.subscribe;
      break;
    case 'subscribedQualityUpdate':
      d.trackSid = v.trackSid;
      break;
    case 'leave':
      d.reason = v.reason;
      d.action = v.action;
      break;
    default:
  }
  return d;
}

// What the SDK put in the connect URL: the path, the query keys, and for single-PC mode the
// decoded join_request (compression, and the publisher offer's m-sections).
function describeSignalUrl(raw) {
  const u = new URL(raw);
  const out = { path: u.pathname, query: Array.from(u.searchParams.keys()).sort() };
  const jr = u.searchParams.get('join_request');
  if (jr) {
    try {
      const wrapped = WrappedJoinRequest.fromBinary(Buffer.from(jr, 'base64url'));
      const compression = wrapped.compression; // 0 NONE, 1 GZIP
      const bytes = compression === 1 ? gunzipSync(Buffer.from(wrapped.joinRequest)) : Buffer.from(wrapped.joinRequest);
      const req = JoinRequest.fromBinary(bytes);
      out.joinRequest = {
        compression: compression === 1 ? 'gzip' : compression === 0 ? 'none' : String(compression),
        protocol: req.clientInfo?.protocol,
        sdk: req.clientInfo?.sdk,
        sdkVersion: req.clientInfo?.version,
        autoSubscribe: req.connectionSettings?.autoSubscribe,
        publisherOffer: req.publisherOffer ? sdpSummary(req.publisherOffer.sdp) : undefined,
        publisherOfferId: req.publisherOffer?.id,
      };
    } catch (e) {
      out.joinRequest = { error: String(e) };
    }
  } else {
    out.protocol = u.searchParams.get('protocol');
  }
  return out;
}

function traceSignal(page, t0ref, trace) {
  page.on('websocket', (ws) => {
    const ms = () => Date.now() - t0ref.t0;
    if (!/\/rtc/.test(new URL(ws.url()).pathname)) return;
    trace.sockets.push({ ms: ms(), ...describeSignalUrl(ws.url()) });
    const decode = (Type, payload) => {
      try {
        const buf = typeof payload === 'string' ? null : payload;
        const m = buf ? Type.fromBinary(buf) : Type.fromJsonString(payload);
        return describe(m.message);
      } catch (e) {
        return { case: '(undecodable)', error: String(e) };
      }
    };
    ws.on('framesent', (f) => {
      const d = decode(SignalRequest, f.payload);
      if (d.case !== 'ping' && d.case !== 'pingReq') trace.frames.push({ ms: ms(), dir: 'send', ...d });
    });
    ws.on('framereceived', (f) => {
      const d = decode(SignalResponse, f.payload);
      if (d.case !== 'pong' && d.case !== 'pongResp') trace.frames.push({ ms: ms(), dir: 'recv', ...d });
    });
    ws.on('close', () => trace.frames.push({ ms: ms(), dir: 'closed' }));
  });
}

// ---- one run ------------------------------------------------------------------------------

// Counts and keeps every RTCPeerConnection a page makes (before the SDK loads).
const initScript = () => {
  const Orig = window.RTCPeerConnection;
  window.__usherPCs = [];
  class CountedPC extends Orig {
    constructor(...args) {
      super(...args);
      window.__usherPCs.push(this);
    }
  }
  window.RTCPeerConnection = CountedPC;
};

function checkMedia(name, s1, s2) {
  const problems = [];
  const v1 = s1.video;
  const v2 = s2.video;
  const a1 = s1.audio;
  const a2 = s2.audio;
  if (!v2) problems.push(`${name}: no inbound-rtp video stat for the peer's camera`);
  else if (!(v2.framesDecoded > (v1?.framesDecoded || 0)))
    problems.push(`${name}: video framesDecoded did not advance (${v1?.framesDecoded} → ${v2.framesDecoded}, packets ${v2.packetsReceived})`);
  if (!(s2.videoFrameCallbacks > s1.videoFrameCallbacks))
    problems.push(`${name}: requestVideoFrameCallback did not fire between samples (${s1.videoFrameCallbacks} → ${s2.videoFrameCallbacks})`);
  if (!a2) problems.push(`${name}: no inbound-rtp audio stat for the peer's microphone`);
  else {
    if (!(a2.bytesReceived > (a1?.bytesReceived || 0)))
      problems.push(`${name}: audio bytesReceived did not grow (${a1?.bytesReceived} → ${a2.bytesReceived})`);
    if (!(a2.packetsReceived > (a1?.packetsReceived || 0)))
      problems.push(`${name}: audio packetsReceived did not grow (${a1?.packetsReceived} → ${a2.packetsReceived})`);
  }
  return problems;
}

async function runOne(cfg, versions) {
  validate(cfg);
  const single = cfg.mode === 'single';
  const stageMs = cfg.stageTimeoutMs;
  const result = {
    ok: false,
    mode: cfg.mode,
    url: cfg.url,
    stage: 'setup',
    error: null,
    problems: [],
    versions,
    participants: [],
  };
  const t0ref = { t0: Date.now() };
  let context = null;
  let userDataDir = null;
  let stat = null;
  const peers = cfg.participants.map((p, i) => ({
    identity: p.identity,
    token: p.token,
    peer: cfg.participants[1 - i].identity,
    page: null,
    trace: { sockets: [], frames: [] },
    console: [],
  }));
  const stopHandlers = [];
  const closeAll = async () => {
    for (const p of peers) {
      if (p.page) await withTimeout(p.page.evaluate(() => window.usher.stop()), 3000, 'cleanup', 'leave').catch(() => {});
    }
    if (context) await withTimeout(context.close(), 5000, 'cleanup', 'closing Chromium').catch(() => {});
    if (stat) stat.server.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  };
  stopHandlers.push(closeAll);
  activeCleanup = closeAll;
  try {
    // Setup: a fresh profile, the flags, one browser with two pages.
    stat = await startStaticServer();
    // A fresh profile, under tmpDir when the caller gives one (the Go test gives its
    // t.TempDir(), so even a killed runner leaves nothing behind).
    userDataDir = await mkdtemp(path.join(cfg.tmpDir || os.tmpdir(), 'usher-chromium-'));
    const launchStart = Date.now();
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      timeout: stageMs,
    });
    result.versions.chromium = context.browser()?.version() || null;
    await context.grantPermissions(['camera', 'microphone'], { origin: stat.origin });
    await context.addInitScript(initScript);
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
      traceSignal(p.page, t0ref, p.trace);
      await p.page.goto(stat.origin + '/', { timeout: stageMs });
      const sdk = await p.page.evaluate(() => window.usher && window.usher.sdkVersion);
      if (!sdk) throw new StageError('setup', 'the page did not load livekit-client');
      result.versions.livekitClientInPage = sdk;
    }
    result.setupMs = Date.now() - launchStart;
    log(`${cfg.mode}: Chromium ${result.versions.chromium} up in ${result.setupMs} ms; joining ${cfg.url}`);

    // Connect and publish, both at once.
    result.stage = 'connect';
    t0ref.t0 = Date.now();
    const starts = await withTimeout(
      Promise.all(
        peers.map((p) =>
          p.page
            .evaluate((c) => window.usher.start(c), {
              url: cfg.url,
              token: p.token,
              peer: p.peer,
              singlePeerConnection: single,
              roomOptions: cfg.roomOptions || {},
            })
            .catch((e) => {
              throw new StageError('connect', `${p.identity}: ${String(e.message || e).split('\n')[0]}`);
            }),
        ),
      ),
      stageMs,
      'connect',
      'connect and publish camera + microphone',
    );
    peers.forEach((p, i) => (p.start = starts[i]));

    // The transport mode the SDK really used (it falls back from /rtc/v1 to /rtc silently).
    result.stage = 'transport';
    for (const p of peers) {
      const st = await p.page.evaluate(() => window.usher.status());
      const sock = p.trace.sockets[0];
      const pcs = st.peerConnections.length;
      if (single) {
        if (!sock || sock.path !== '/rtc/v1' || !sock.joinRequest)
          result.problems.push(`${p.identity}: single-PC mode did not join over /rtc/v1 with join_request (${JSON.stringify(p.trace.sockets.map((s) => s.path))})`);
        if (pcs !== 1) result.problems.push(`${p.identity}: single-PC mode made ${pcs} peer connections`);
      } else {
        if (!sock || sock.path !== '/rtc') result.problems.push(`${p.identity}: dual-PC mode did not join over /rtc (${sock && sock.path})`);
        if (pcs !== 2) result.problems.push(`${p.identity}: dual-PC mode made ${pcs} peer connections`);
      }
    }
    if (result.problems.length) throw new StageError('transport', 'the SDK did not use the transport mode asked for');

    // Each waits for the other's camera and microphone.
    result.stage = 'subscribe';
    const waitFor = async (stage, what, cond) => {
      const deadline = Date.now() + stageMs;
      for (;;) {
        const sts = await Promise.all(peers.map((p) => p.page.evaluate(() => window.usher.status())));
        if (sts.every(cond)) return sts;
        if (Date.now() > deadline) {
          const missing = peers.filter((_, i) => !cond(sts[i])).map((p) => p.identity);
          throw new StageError(stage, `${what}: not within ${stageMs} ms for ${missing.join(', ')}`);
        }
        await sleep(50);
      }
    };
    await waitFor('subscribe', "TrackSubscribed for the peer's camera and microphone", (s) => s.subscribed.camera && s.subscribed.microphone);

    result.stage = 'first-frame';
    await waitFor('first-frame', "a decoded frame of the peer's camera", (s) => s.firstFrameMs !== null);

    // Media keeps flowing: two samples sampleMs apart.
    result.stage = 'media-flow';
    const s1 = await Promise.all(peers.map((p) => p.page.evaluate(() => window.usher.stats())));
    await sleep(cfg.sampleMs);
    const s2 = await Promise.all(peers.map((p) => p.page.evaluate(() => window.usher.stats())));
    peers.forEach((p, i) => {
      p.samples = [s1[i], s2[i]];
      result.problems.push(...checkMedia(p.identity, s1[i], s2[i]));
    });
    if (result.problems.length) throw new StageError('media-flow', 'media did not flow both ways');

    if (cfg.checkDynacast) {
      // The SDK's dynacast: the second page asks for the low layer of the first page's
      // camera; the first page stops encoding the others, and resumes them all when
      // the high layer is asked for again.
      const [pub, sub] = peers;
      const encodings = () => pub.page.evaluate(() => window.usher.cameraEncodings());
      const waitEncodings = async (stage, what, cond) => {
        const deadline = Date.now() + stageMs;
        for (;;) {
          const e = await encodings();
          if (e && cond(e)) return e;
          if (Date.now() > deadline) throw new StageError(stage, `${what}: not within ${stageMs} ms (encodings ${JSON.stringify(e)})`);
          await sleep(100);
        }
      };
      result.stage = 'dynacast-all';
      const all = await waitEncodings('dynacast-all', 'every simulcast encoding active', (e) => e.length > 1 && e.every((x) => x.active));
      result.stage = 'dynacast-low';
      const t = Date.now();
      await sub.page.evaluate(() => window.usher.setPeerVideoQuality('LOW'));
      const low = await waitEncodings('dynacast-low', 'only the lowest encoding active', (e) => e[0].active && e.slice(1).every((x) => !x.active));
      result.dynacast = { encodings: all.length, lowAfterMs: Date.now() - t };
      result.stage = 'dynacast-high';
      const t2 = Date.now();
      await sub.page.evaluate(() => window.usher.setPeerVideoQuality('HIGH'));
      await waitEncodings('dynacast-high', 'every encoding active again', (e) => e.every((x) => x.active));
      result.dynacast.highAfterMs = Date.now() - t2;
      result.dynacast.low = low;
    }
    result.stage = 'done';
    result.ok = true;
  } catch (e) {
    result.error = e instanceof StageError ? e.message : `${e.stack || e}`.split('\n').slice(0, 3).join(' | ');
    if (e instanceof StageError) result.stage = e.stage;
  } finally {
    // Whatever happened, gather what each page saw.
    for (const p of peers) {
      const r = { identity: p.identity, start: p.start || null };
      if (p.page) {
        r.status = await withTimeout(p.page.evaluate(() => window.usher.status()), 3000, 'report', 'status').catch((e) => ({ error: String(e) }));
        r.stats = p.samples || (await withTimeout(p.page.evaluate(() => window.usher.stats()), 3000, 'report', 'stats').catch((e) => ({ error: String(e) })));
        if (!result.ok || cfg.logs) {
          r.sdkLogTail = await withTimeout(p.page.evaluate(() => window.usher.logs()), 3000, 'report', 'logs')
            .then((l) => l.slice(cfg.logs ? -400 : -40))
            .catch(() => []);
        }
      }
      const st = r.status && !r.status.error ? r.status : null;
      r.firstFrameMs = st ? st.firstFrameMs : null;
      r.subscribedMs = st ? { camera: st.subscribed.camera?.ms ?? null, microphone: st.subscribed.microphone?.ms ?? null } : null;
      r.signal = p.trace;
      r.console = p.console;
      result.participants.push(r);
    }
    await closeAll();
    activeCleanup = null;
  }
  result.totalMs = Date.now() - t0ref.t0;
  return result;
}

function summary(r) {
  const parts = r.participants.map((p) => {
    const s = Array.isArray(p.stats) ? p.stats[1] : null;
    const v = s && s.video;
    const a = s && s.audio;
    return `${p.identity}: first frame ${p.firstFrameMs} ms, frames ${v ? v.framesDecoded : '-'}, audio bytes ${a ? a.bytesReceived : '-'}`;
  });
  return `${r.mode}: ${r.ok ? 'PASS' : `FAIL at ${r.stage}: ${r.error}`} (${parts.join('; ')})`;
}

let activeCleanup = null;
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, async () => {
    log(`${sig}: closing Chromium`);
    if (activeCleanup) await activeCleanup().catch(() => {});
    process.exit(1);
  });
}

async function main() {
  let input;
  try {
    input = await readInput();
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, stage: 'input', error: String(e.message || e) }) + '\n');
    return 2;
  }
  const pkg = (name) => JSON.parse(require('node:fs').readFileSync(path.join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
  const versions = { node: process.version, livekitClient: pkg('livekit-client'), playwrightCore: pkg('playwright-core') };
  const results = [];
  for (const cfg of input.configs) {
    let r;
    try {
      r = await runOne(cfg, { ...versions });
    } catch (e) {
      r = { ok: false, mode: cfg.mode, stage: 'input', error: String(e.message || e), versions };
      results.push(r);
      process.stdout.write(JSON.stringify(input.many ? results : r) + '\n');
      return 2;
    }
    log(summary(r));
    results.push(r);
  }
  process.stdout.write(JSON.stringify(input.many ? results : results[0]) + '\n');
  return results.every((r) => r.ok) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stdout.write(JSON.stringify({ ok: false, stage: 'setup', error: String(e.stack || e) }) + '\n');
    process.exit(2);
  },
);

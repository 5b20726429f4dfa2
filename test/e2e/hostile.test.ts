// Hostile or broken clients against real peer processes (issue 13): a client
// that never reads its answers, a handshake flood and a connect storm, a
// data directory the peer cannot write, and a forged near-ceiling promise.
// Every attack here is bounded in count and time, and stays on loopback.

import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import test from 'ava';
import { FakePeer, LiveCluster, until, type Proc } from '../helpers/procs.js';
import { MAX_PROPOSAL, OUTPUT_SOFT_MS } from '../../src/paxos/defaults.js';
import { Proposer } from '../../src/core/proposer.js';
import { Outbox } from '../../src/core/ready.js';
import { DEFAULT_TICK_TIMING } from '../../src/core/timing.js';
import { MAIN, run, within } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { dataDirProblem } from '../../src/storage/data-dir.js';
import type { Endpoint } from '../../src/transport/link.js';
import { AUTH_TIMEOUT_MS } from '../../src/paxos/defaults.js';
import { listen, type OutputLimits } from '../../src/transport/server.js';
import { LAB_CODEC } from '../../src/wire/lab.js';
import { LineReader } from '../../src/transport/lines.js';
import { livenessFor } from '../../src/config/liveness.js';
import { HalfOpenBudget } from '../../src/transport/half-open.js';
import { PeerLink } from '../../src/transport/link.js';
import { silentLogger } from '../../src/util/logger.js';

const ONE = 'p1:proposer1\na1:acceptor1\na2:acceptor1\na3:acceptor1\n';
const MiB = 1024 * 1024;
const ATTACKER = new URL('../helpers/attacker.js', import.meta.url).pathname;

/** Resident set size of a process, from /proc (Linux). */
function rss(p: Proc): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** One `get` on a fresh connection; resolves with how long the answer took, in ms. */
function timedGet(at: Endpoint, ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = net.connect({ host: at.host, port: at.port });
    s.setNoDelay(true);
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer to a get from ${at.host}:${at.port} within ${ms} ms`));
    }, ms);
    s.on('connect', () => s.write('{"type":"get","id":"probe"}\n'));
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (!got.includes('\n')) return;
      clearTimeout(timer);
      s.destroy();
      resolve(performance.now() - t0);
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

test.serial(
  'a client that pipelines gets and never reads its answers is cut off; the peer stays small and answers others',
  async (t) => {
    const c = await new LiveCluster(ONE).init();
    t.teardown(() => c.close());
    // A 64 KiB chosen value: each 29-byte get buys a 64 KiB answer.
    const value = 'x'.repeat(64 * 1024 - 16);
    const peers = new Map(c.cluster.hosts.map((h) => [h.host, c.start(h.host, h.host === 'p1' ? ['-v', value] : [])]));
    const a1 = peers.get('a1')!;
    await a1.waitLine((l) => l.action === 'chose', 'a1 to learn the value', 60_000);
    const start = rss(a1);

    const at = c.endpoint('a1');
    const hostile = net.connect({ host: at.host, port: at.port });
    hostile.setNoDelay(true);
    await new Promise((resolve) => hostile.once('connect', resolve));
    hostile.pause(); // never read a byte of the answers
    hostile.on('error', () => undefined);
    let closed = false;
    let closedAt = 0;
    hostile.once('close', () => {
      closed = true;
      closedAt = Date.now();
    });
    const name = `${hostile.localAddress}:${hostile.localPort}`;

    // Pipeline gets as fast as the socket takes them, for at most 10 s.
    const batch = Buffer.from('{"type":"get","id":"0000"}\n'.repeat(256));
    const t0 = Date.now();
    let peak = start;
    const pump = (async () => {
      while (!closed && Date.now() - t0 < 10_000 && peak - start < 100 * MiB) {
        if (!hostile.write(batch)) await within(new Promise((r) => hostile.once('drain', r)), 50, null);
      }
    })();
    const sample = (async () => {
      while (!closed && Date.now() - t0 < 10_000 && peak - start < 100 * MiB) {
        peak = Math.max(peak, rss(a1));
        await delay(50);
      }
    })();
    // Another client, while the hostile one is at it: once the peer reads it
    // slower than it writes (its socket backs up).
    await until(() => closed || hostile.writableNeedDrain, 'the hostile client to back up', 60_000);
    const probeMs = await timedGet(at, 5000).catch(() => -1);
    await Promise.all([pump, sample]);
    // Its requests in flight are capped (src/paxos/defaults.ts), so its unread answers may
    // stay under the hard limit: then it is cut off after the soft limit's time.
    await until(() => closed, 'the peer to close the hostile connection', OUTPUT_SOFT_MS + 5000).catch(() => undefined);
    hostile.destroy();
    t.log(
      `a1 RSS ${(start / MiB).toFixed(0)} MiB at the start, peak ${(peak / MiB).toFixed(0)} MiB; another client's ` +
        `get took ${probeMs.toFixed(0)} ms; the peer closed the hostile connection ` +
        `${closed ? `after ${closedAt - t0} ms` : 'never'}`,
    );
    t.true(peak - start < 100 * MiB, `RSS grew by ${((peak - start) / MiB).toFixed(0)} MiB`);
    t.true(closed, 'the peer closed the connection of the client that does not read');
    t.true(probeMs >= 0 && probeMs < 1000, `another client's get took ${probeMs.toFixed(0)} ms`);
    const warning = await a1.waitStderr(new RegExp(name.replace(/\./g, '\\.')), 2000).catch(() => '');
    t.regex(warning, /not reading/, `a1 warns naming ${name}: ${a1.stderr.slice(-5).join(' | ')}`);
    // And a get after it is gone.
    t.true((await timedGet(at, 1000)) < 1000);
  },
);

const SECRET = 'hostile tests: a shared secret of some length';

/**
 * An attack (test/helpers/attacker.ts) at `targets`, in a process of its
 * own: `idle N` keeps N silent connections per target, reopening each one
 * closed; `storm R` opens R silent connections a second. stop() ends it and
 * resolves with how many connections it opened.
 */
function attacker(mode: 'idle' | 'storm', n: number, targets: readonly Endpoint[]): { stop(): Promise<number> } {
  const child = spawn(process.execPath, [ATTACKER, mode, String(n), ...targets.map((e) => `${e.host}:${e.port}`)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let stopping: Promise<number> | null = null;
  return {
    stop: () =>
      (stopping ??= (async () => {
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await closed;
        clearTimeout(timer);
        return Number(out.trim());
      })()),
  };
}

/**
 * Acceptors up with the secret, `attack` running at them for a second, then the proposer: how long until it decides (ms
 * from its spawn).
 */
async function decideUnder(
  t: { teardown: (f: () => Promise<void>) => void; log: (...m: string[]) => void },
  attack: (targets: Endpoint[]) => { stop(): Promise<number> },
  warmupMs: number,
): Promise<number> {
  const c = await new LiveCluster(ONE).init();
  t.teardown(() => c.close());
  const env = { PAXOS_SECRET: SECRET };
  const acceptors = ['a1', 'a2', 'a3'].map((h) => c.start(h, [], env));
  await Promise.all(acceptors.map((a) => a.waitStderr(/listening on/)));
  const cpu0 = acceptors.map((a) => a.cpuSeconds());
  const wall0 = performance.now();
  const flood = attack(['a1', 'a2', 'a3'].map((h) => c.endpoint(h)));
  t.teardown(async () => void (await flood.stop()));
  // The attack's warm-up is a time, by design: idle sockets take their slots
  // at once, a storm reaches its steady state only past the 2 s handshake deadline.
  await delay(warmupMs);
  const spawned = performance.now();
  const p1 = c.start(
    'p1',
    ['-v', 'V', ...(process.env['HOSTILE_DEBUG'] === undefined ? [] : ['--log-level', 'debug'])],
    env,
  );
  // Its start: listening, with links dialing (node's own boot, slow on a busy machine, is not the attack's doing).
  await p1.waitStderr(/listening on/);
  const t0 = performance.now();
  await p1.waitLine((l) => l.action === 'chose', 'p1 to decide', 10_000).catch(() => undefined);
  const ms = p1.log.some((l) => l.action === 'chose') ? performance.now() - t0 : Infinity;
  const opened = await flood.stop();
  const cpu = acceptors.map((a, i) => (a.cpuSeconds() - cpu0[i]!) / ((performance.now() - wall0) / 1000));
  t.log(`acceptors' CPU under attack: ${cpu.map((x) => `${(x * 100).toFixed(0)}%`).join(', ')}`);
  t.log(
    `p1 decided ${ms.toFixed(0)} ms after it was up (${(performance.now() - spawned).toFixed(0)} ms after its ` +
      `spawn); the attack opened ${opened} connections`,
  );
  if (ms >= 2000 || process.env['HOSTILE_DEBUG'] !== undefined) t.log(p1.stderr.join('\n'));
  return ms;
}

test.serial(
  '80 idle half-open connections per acceptor do not keep the proposer from deciding within 2 s',
  async (t) => {
    // Idle sockets fill their slots at once.
    const ms = await decideUnder(t, (targets) => attacker('idle', 80, targets), 500);
    t.true(ms < 2000, `decided after ${ms.toFixed(0)} ms`);
  },
);

test.serial('a storm of 1,000 connects a second does not keep the proposer from deciding within 2 s', async (t) => {
  // Past the 2 s handshake deadline, so the storm is at its steady state: as many closed as opened.
  const ms = await decideUnder(t, (targets) => attacker('storm', 1000, targets), 2500);
  t.true(ms < 2000, `decided after ${ms.toFixed(0)} ms`);
});

test.serial(
  "an idle flood bigger than the half-open budget, from the peer's own source address: the peer still gets in",
  async (t) => {
    // In-process, with a budget of 16, so the flood can be four times the budget cheaply.
    const secret = { source: 'test', key: Buffer.from(SECRET) };
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (m: string) => void warnings.push(m) };
    const inbound = await listen({ host: '127.0.0.1', port: 0 }, () => undefined, {
      codec: LAB_CODEC,
      log,
      secret,
      self: 2,
      maxHalfOpen: 16,
    });
    t.teardown(() => inbound.close());
    const at = { host: '127.0.0.1', port: (inbound.server.address() as net.AddressInfo).port };
    const flood = attacker('idle', 64, [at]);
    t.teardown(async () => void (await flood.stop()));
    await until(() => warnings.length > 0, 'the flood to pass the half-open budget', 60_000);
    const link = new PeerLink('peer2', at, { self: 1, peer: 2, secret, log: silentLogger });
    t.teardown(() => link.close());
    const t0 = performance.now();
    link.start();
    await until(() => link.isUp, 'the link to come up through the flood', 5000);
    const ms = performance.now() - t0;
    const opened = await flood.stop();
    t.log(
      `the link came up after ${ms.toFixed(0)} ms; the flood opened ${opened} connections; ${warnings.length}` +
        ` warning line(s): ${warnings[0] ?? ''}`,
    );
    t.true(ms < 2000);
    t.true(warnings.length <= 2, 'flood notices are throttled');
  },
);

test('a connection that never authenticates is closed after the 2 s handshake deadline, with a notice', async (t) => {
  const warnings: string[] = [];
  const log = { ...silentLogger, warn: (m: string) => void warnings.push(m) };
  const secret = { source: 'test', key: Buffer.from(SECRET) };
  const inbound = await listen({ host: '127.0.0.1', port: 0 }, () => undefined, {
    codec: LAB_CODEC,
    log,
    secret,
    self: 2,
  });
  t.teardown(() => inbound.close());
  const silent = net.connect({ host: '127.0.0.1', port: (inbound.server.address() as net.AddressInfo).port });
  silent.on('error', () => undefined);
  silent.resume(); // reads the challenge, answers nothing
  t.teardown(() => void silent.destroy());
  await new Promise((resolve) => silent.once('connect', resolve));
  const t0 = performance.now();
  t.is(AUTH_TIMEOUT_MS, 2000, 'the README says 2 s');
  // Closed at the deadline: 10 s is only how long this test waits for it.
  const closed = await within(new Promise((resolve) => silent.once('close', () => resolve(true))), 10_000, false);
  const ms = performance.now() - t0;
  t.true(closed, 'still open after 10 s');
  t.true(ms >= 1950, `closed after ${ms.toFixed(0)} ms`);
  t.true(
    warnings.some((w) => /no authentication within 2 s/.test(w)),
    warnings.join('; '),
  );
});

test('the half-open budget closes the oldest connection of the source holding the most', (t) => {
  const b = new HalfOpenBudget<string>(4);
  t.is(b.admit('10.0.0.9', 'peer'), null);
  for (const s of ['x1', 'x2', 'x3']) t.is(b.admit('10.6.6.6', s), null);
  t.is(b.admit('10.6.6.6', 'x4'), 'x1', 'the attacker loses its own oldest');
  t.is(b.admit('10.6.6.7', 'y1'), 'x2');
  b.release('peer');
  b.release('peer');
  t.is(b.size, 3);
  t.is(b.admit('10.0.0.9', 'peer2'), null);
  // Everyone on one address: the oldest goes.
  const one = new HalfOpenBudget<number>(2);
  one.admit('127.0.0.1', 1);
  one.admit('127.0.0.1', 2);
  t.is(one.admit('127.0.0.1', 3), 1);
});

/** Root ignores mode bits; dropping the capabilities that let it (setpriv) makes it mind them. */
const AS_ROOT = process.getuid?.() === 0;
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((f) => existsSync(f));

/**
 * Start peer a1 on `dataDir` and wait for it to exit (it must, at once; one that still runs after 60 s is killed, and
 * `code` is null).
 */
async function startOn(
  hostsfile: string,
  dataDir: string,
  port: number,
  minding: boolean,
): Promise<{ code: number | null; err: string[] }> {
  const args = [
    MAIN,
    '-h',
    hostsfile,
    '--name',
    'a1',
    '--data-dir',
    dataDir,
    '--resolve',
    `a1=127.0.0.1:${port}`,
    '--log-level',
    'info',
    '--insecure', // a replica needs it (or a secret); a lab peer takes it and is open anyway
  ];
  const [cmd, argv] =
    minding && AS_ROOT
      ? [SETPRIV!, ['--bounding-set=-dac_override,-dac_read_search,-fowner', '--', process.execPath, ...args]]
      : [process.execPath, args];
  const r = await run(cmd, argv, { env: { PAXOS_SECRET: SECRET }, timeoutMs: 60_000 });
  return { code: r.code, err: r.err.split('\n').filter((l) => l !== '') };
}

test.serial(
  'a data directory the peer cannot use: one line naming it and the fix, exit 1, no stack trace',
  async (t) => {
    const dir = tempDir('hostile-datadir');
    const hostsfile = path.join(dir, 'hostsfile');
    writeFileSync(hostsfile, 'p1:proposer1\na1:acceptor1\n');
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'not a directory\n');
    const locked = path.join(dir, 'locked');
    mkdirSync(locked, { mode: 0o555 });
    chmodSync(locked, 0o555);
    const cases: Array<[string, string, RegExp, boolean]> = [
      ['a regular file', file, /not a directory/, false],
      ['under a regular file', path.join(file, 'data'), /not a directory/, false],
    ];
    if (AS_ROOT && SETPRIV === undefined) t.log('running as root without setpriv: the permission cases are skipped');
    else {
      cases.push(['under a directory without write permission', path.join(locked, 'data'), /permission/, true]);
      cases.push(['a directory without write permission (read-only)', locked, /permission/, true]);
    }
    // A free port, above the privileged ones: the peer must fail on its data directory, not on that.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const runs = [];
    for (const [, dataDir, , minding] of cases) runs.push(await startOn(hostsfile, dataDir, port, minding));
    // A replicated-log replica checks its data directory the same way.
    const replicas = path.join(dir, 'replicas');
    writeFileSync(replicas, 'a1:replica\nb1:replica\nc1:replica\n');
    cases.push(['a replica on a regular file', file, /not a directory/, false]);
    runs.push(await startOn(replicas, file, port, false));
    for (const [i, [what]] of cases.entries())
      t.log(`${what}: exit ${runs[i]!.code}; stderr: ${runs[i]!.err.join(' | ')}`);
    for (const [i, [what, dataDir, why]] of cases.entries()) {
      const r = runs[i]!;
      const about = r.err.filter((l) => l.includes(dataDir));
      t.is(r.code, 1, `${what}: exit status (${r.err.join(' | ')})`);
      t.false(
        r.err.some((l) => /^\s+at /.test(l)),
        `${what}: no stack frames (${r.err.join(' | ')})`,
      );
      t.is(about.length, 1, `${what}: one line names ${dataDir} (${r.err.join(' | ')})`);
      t.regex(about[0] ?? '', why, what);
      t.regex(about[0] ?? '', /--data-dir/, `${what}: the line says what to do`);
    }
  },
);

test('a read-only file system is named as such, with the fix', (t) => {
  // EROFS needs a read-only mount, which a test cannot make; the message is checked here.
  const e = dataDirProblem(
    '/srv/paxos',
    Object.assign(new Error("EROFS: read-only file system, open '/srv/paxos/.write-test.1'"), { code: 'EROFS' }),
  );
  t.is(e.name, 'StateError');
  t.is(
    e.message,
    'data directory /srv/paxos is on a read-only file system; remount it read-write, or give --data-dir a ' +
      'writable directory (EROFS)',
  );
});

test.serial(
  'a forged promise at the proposal-number ceiling: the proposer says so once on stderr, and does not spin',
  async (t) => {
    const c = await new LiveCluster(ONE).init();
    t.teardown(() => c.close());
    const acceptors = ['a1', 'a2', 'a3'].map((h) => c.start(h));
    await Promise.all(acceptors.map((a) => a.waitStderr(/listening on/)));
    // Running open, anyone can send as p1: a prepare at the very ceiling.
    const forger = await new FakePeer(c, 'p1').start();
    for (const a of ['a1', 'a2', 'a3']) forger.send(a, { type: 'prepare', from: forger.id, n: MAX_PROPOSAL });
    for (const a of ['a1', 'a2', 'a3']) t.is((await forger.next('prepare_ack', a)).promised, MAX_PROPOSAL);
    await forger.close();

    const ceiling = /ceiling/;
    for (const round of ['first start', 'restart']) {
      const p1 = c.start('p1', ['-v', 'V']);
      const line = await p1.waitStderr(ceiling, 60_000).catch(() => '');
      const sent = p1.log.filter((l) => l.action === 'sent' && l.message_type === 'prepare').map((l) => l.proposal_num);
      t.log(`${round}: ${line === '' ? 'no error line' : line}; prepares sent so far: ${sent.join(', ')}`);
      t.regex(
        line,
        /2\^48|281474976710656/,
        `${round}: the error names the ceiling (${p1.stderr.slice(-3).join(' | ')})`,
      );
      // Two round timeouts later: still one line, and no more prepares.
      const prepares = (): number => p1.log.filter((l) => l.action === 'sent' && l.message_type === 'prepare').length;
      const before = prepares();
      await delay(4500); // the point: two round timeouts pass, and nothing more is sent
      t.is(p1.stderr.filter((l) => ceiling.test(l)).length, 1, `${round}: said once`);
      t.is(prepares(), before, `${round}: no prepares after it (${prepares() - before} more)`);
      t.true(
        p1.log.every((l) => l.proposal_num <= MAX_PROPOSAL),
        `${round}: no number above the ceiling was sent`,
      );
      await p1.kill9();
    }
  },
);

test('the proposer core: a promise at the ceiling makes it stuck, said once, with nothing sent', (t) => {
  const cfg = {
    self: 1,
    group: 1,
    stride: 2,
    acceptors: [2, 3, 4],
    notify: [2, 3, 4],
    sameAcceptors: new Set([1]),
    timing: DEFAULT_TICK_TIMING,
    rng: () => 0.5,
  };
  const out = new Outbox(1);
  const p = new Proposer(cfg, 0, out);
  p.propose('X');
  out.take(null);
  p.onPrepareAck({ from: 2, n: 1, promised: MAX_PROPOSAL, accepted: null, chosen: null });
  t.is(p.phase, 'backoff');
  for (let left = p.waits.backoff; left > 0; left--) p.tick();
  t.is(p.phase, 'stuck');
  const r = out.take(null);
  t.deepEqual(r.messages, [], 'no prepare');
  t.deepEqual(p.waits, { round: 0, backoff: 0, resend: 0 }, 'no timer');
  t.is(r.notes.filter((n) => n.level === 'error').length, 1);
  // A client's submit: still stuck, and not said again.
  p.propose('Y');
  t.deepEqual(out.take(null).notes, []);
  t.is(p.lastUsed, 1, 'no number past the ceiling is used, or saved');
  // A value chosen elsewhere still ends it.
  p.onChosen({ n: 3, v: 'Z' });
  t.is(p.phase, 'done');
});

test('a restart after the ceiling was hit: stuck at once, never a number past it', (t) => {
  const cfg = {
    self: 1,
    group: 1,
    stride: 1,
    acceptors: [2, 3, 4],
    notify: [2, 3, 4],
    sameAcceptors: new Set([1]),
    timing: DEFAULT_TICK_TIMING,
    rng: () => 0.5,
  };
  const out = new Outbox(1);
  const p = new Proposer(cfg, MAX_PROPOSAL, out);
  p.propose('X');
  t.is(p.phase, 'stuck');
  const r = out.take(null);
  t.is(r.messages.length, 0);
  t.regex(r.notes.find((n) => n.level === 'error')?.text ?? '', /ceiling 2\^48/);
});

/**
 * A listener whose clients get `size`-byte answers, with small output limits; and a client socket to it that never
 * reads.
 */
async function bigAnswers(
  t: { teardown: (f: () => Promise<void> | void) => void },
  size: number,
  output: OutputLimits,
  later = false,
): Promise<{ warnings: string[]; client: net.Socket; closed: Promise<void>; handled: () => number }> {
  const warnings: string[] = [];
  let handled = 0;
  const log = { ...silentLogger, warn: (m: string) => void warnings.push(m) };
  const value = 'v'.repeat(size);
  const inbound = await listen(
    { host: '127.0.0.1', port: 0 },
    {
      message: () => undefined,
      // `later`: answered after the request's line is done, as a peer answers under its state mutex.
      client: (req, reply) => {
        handled += 1;
        const answer = (): void => reply({ type: 'result', id: req.id, status: 'chosen', value, n: 1, peer: 'x' });
        if (later) queueMicrotask(answer);
        else answer();
      },
    },
    { codec: LAB_CODEC, log, self: 2, output, liveness: livenessFor(500) },
  );
  t.teardown(() => inbound.close());
  const client = net.connect({ host: '127.0.0.1', port: (inbound.server.address() as net.AddressInfo).port });
  client.setNoDelay(true);
  client.on('error', () => undefined);
  t.teardown(() => void client.destroy());
  await new Promise((resolve) => client.once('connect', resolve));
  client.pause();
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  return { warnings, client, closed, handled: () => handled };
}

/** Resolves once `f()` has not changed for `quietMs`. */
async function settled(f: () => number, quietMs = 300): Promise<number> {
  let last = f();
  for (;;) {
    await delay(quietMs);
    const now = f();
    if (now === last) return now;
    last = now;
  }
}

test('one answer bigger than the hard limit still goes out whole to a client that reads', async (t) => {
  const { client, warnings, closed } = await bigAnswers(t, 1024 * 1024, {
    softBytes: 64 * 1024,
    hardBytes: 256 * 1024,
    softMs: 5000,
  });
  client.write('{"type":"get","id":"1"}\n');
  let got = '';
  client.on('data', (d: Buffer) => (got += d.toString()));
  client.resume();
  await until(() => got.endsWith('\n'), 'the whole answer');
  t.is((JSON.parse(got) as { value: string }).value.length, 1024 * 1024);
  // And the connection lives on: a second request is read and answered.
  got = '';
  client.write('{"type":"get","id":"2"}\n');
  await until(() => got.endsWith('\n'), 'the second answer');
  t.deepEqual(warnings, []);
  t.false(
    await within(
      closed.then(() => true),
      100,
      false,
    ),
    'not closed (a window for a wrong close to show)',
  );
});

test(
  'pipelined requests, answered later, whose answers go unread pass the hard limit: closed, with a warning ' +
    'naming the client',
  async (t) => {
    const { client, warnings } = await bigAnswers(
      t,
      32 * 1024,
      { softBytes: 64 * 1024, hardBytes: 256 * 1024, softMs: 5000 },
      true,
    );
    const name = `127.0.0.1:${client.localPort}`;
    client.write('{"type":"get","id":"1"}\n'.repeat(100));
    // A client that reads nothing does not see the close either: the warning says it.
    await until(() => warnings.length > 0, 'the warning');
    t.is(warnings.length, 1);
    t.true(warnings[0]!.includes(name), warnings[0]);
    t.regex(warnings[0]!, /not reading its answers \(0\.3 MiB unread, over the 0\.3 MiB limit\)/);
  },
);

test(
  'past the soft limit the peer reads no more requests until the client reads, and again after ' + 'each drain',
  async (t) => {
    // Answers far bigger than the soft limit; requests big enough that the
    // kernel's buffers cannot hold them all, so the client's own buffer shows
    // whether the peer is still reading.
    const { client, handled } = await bigAnswers(t, 256 * 1024, {
      softBytes: 64 * 1024,
      hardBytes: 1024 * 1024 * 1024,
      softMs: 60_000,
    });
    const N = 300;
    const pad = 'p'.repeat(60_000);
    for (let i = 0; i < N; i++) client.write(`${JSON.stringify({ type: 'submit', id: String(i), value: pad })}\n`);
    const first = await settled(handled);
    t.true(first < N / 3, `answered ${first} of ${N} requests without the client reading one answer`);
    t.true(client.writableLength > 0, 'the peer stopped reading');
    // Read for a while (the peer's answers drain, and it reads again), then stop.
    let got = 0;
    const onData = (d: Buffer): void => void (got += d.length);
    client.on('data', onData);
    client.resume();
    await until(() => got > 16 * 1024 * 1024, '16 MiB of answers');
    client.pause();
    client.off('data', onData);
    const second = await settled(handled);
    t.true(second > first, 'reading let the peer go on');
    t.true(second < N, `answered ${second} of ${N}: the peer kept reading after its answers piled up again`);
    t.true(client.writableLength > 0, `the peer read every request (${client.writableLength} bytes left unsent)`);
  },
);

test('answers left unread over the soft limit for too long: closed, with a warning', async (t) => {
  // Megabytes, so the kernel's socket buffers cannot take it all off the peer's hands.
  const { client, warnings } = await bigAnswers(t, 1024 * 1024, {
    softBytes: 1024 * 1024,
    hardBytes: 256 * 1024 * 1024,
    softMs: 500,
  });
  const t0 = performance.now();
  client.write('{"type":"get","id":"1"}\n'.repeat(32));
  await until(() => warnings.length > 0, 'the warning');
  const ms = performance.now() - t0;
  t.log(`closed after ${ms.toFixed(0)} ms: ${warnings[0] ?? ''}`);
  t.true(ms >= 500, `closed after ${ms.toFixed(0)} ms`);
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /not reading its answers \(\d+\.\d MiB unread for over 0\.5 s\)/);
});

test('a paused LineReader holds the rest of its chunk, and hands it out in order on resume', (t) => {
  const lines: string[] = [];
  const r: LineReader = new LineReader(
    100,
    (l) => {
      lines.push(l);
      if (l === 'b') r.pause();
    },
    () => undefined,
  );
  r.push(Buffer.from('a\nb\nc\nd'));
  t.deepEqual(lines, ['a', 'b']);
  r.push(Buffer.from('e\nf\n'));
  t.deepEqual(lines, ['a', 'b'], 'nothing while paused');
  r.resume();
  t.deepEqual(lines, ['a', 'b', 'c', 'de', 'f']);
});

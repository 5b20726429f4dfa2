// `npm run bench`: the figures the README reports, as medians.
//
//   1. testcase 1, from the last peer's start to the proposer's `chose`,
//      over --runs runs of `paxos run testcases/1` (real processes, loopback);
//   2. a warm cluster's prepare+accept round: three real acceptor processes,
//      and this process as proposer1 driving the real core Proposer over the
//      real transport, one fresh round after another;
//   3. a peer's resident memory (RSS), read from /proc after those rounds;
//   4. the cost of durability: one FileStorage.save, and the warm round with
//      state on disk against the same round with state on tmpfs;
//   5. the replicated log: puts per second against kv3 (kv-bench.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { choice, integer, parseFlags, toolSettings } from '../src/config/flags.js';
import { parseHostsfile } from '../src/config/hostsfile.js';
import { Proposer } from '../src/core/proposer.js';
import { Outbox } from '../src/core/ready.js';
import { DEFAULT_TICK_TIMING } from '../src/core/timing.js';
import type { Message } from '../src/core/types.js';
import { silentLogger } from '../src/util/logger.js';
import { allocate } from '../src/runner/addresses.js';
import { runTestcase } from '../src/runner/run.js';
import { PeerLink } from '../src/transport/link.js';
import { listen } from '../src/transport/server.js';
import { LAB_CODEC } from '../src/wire/lab.js';
import { FileStorage } from '../src/storage/file.js';
import type { Storage } from '../src/storage/storage.js';
import { WalStorage } from '../src/storage/wal-state.js';
import { kvPutsPerSecond } from './kv-bench.js';
import { benchNodeArgs, exited } from './kv-cluster.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const MAIN = path.join(root, 'dist/src/cli/main.js');

const HELP = `Usage: npm run bench -- [--runs N] [--rounds N] [--only cold|round|kv]

Measures the figures the README reports, as medians: testcase 1's time to decision
(real processes), a warm prepare+accept round and its CPU, a peer's memory, the cost
of durability (save, fsync), and the replicated log's puts per second against kv3.

  --runs N     runs of testcase 1, N >= 1 (default 20)
  --rounds N   warm rounds timed, N >= 1 (default 500)
  --only PART  just one part: cold (testcase 1), round (save cost and warm
               rounds) or kv (puts per second) (default: all three)
  --help       print this and exit`;

const { RUNS, ROUNDS, ONLY } = toolSettings('bench', HELP, (argv) => {
  const { values } = parseFlags(argv, {
    runs: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '500' },
    // e.g. --only round: just the save cost and the warm rounds (profiling the single-decree path).
    only: { type: 'string' },
  });
  return {
    RUNS: integer('--runs', values.runs, 1),
    ROUNDS: integer('--rounds', values.rounds, 1),
    ONLY: values.only === undefined ? undefined : choice('--only', values.only, ['cold', 'round', 'kv']),
  };
});
const part = (name: string): boolean => ONLY === undefined || ONLY === name;

function stats(xs: number[]): { median: number; min: number; max: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  const median = s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median, min: s[0]!, max: s.at(-1)!, p90: at(0.9) };
}

const ms = (x: number): string => `${x.toFixed(2)} ms`;

async function coldDecision(): Promise<void> {
  const latency: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const r = await runTestcase(path.join(root, 'testcases/1'), { compare: false, timeoutMs: 30_000 });
    wall.push(performance.now() - t0);
    const proposer = r.peers.find((p) => p.service.label === 'peer1');
    if (!r.ok || proposer?.choseAt === undefined) throw new Error(`run ${i + 1} failed: ${r.failure}`);
    const lastStart = Math.max(...r.peers.map((p) => p.spawnedAt));
    latency.push(proposer.choseAt - lastStart);
  }
  const s = stats(latency);
  console.log(
    `testcase 1, last peer started -> proposer chose: median ${ms(s.median)} (min ${ms(s.min)}, max ${ms(s.max)}` +
      `) over ${RUNS} runs`,
  );
  console.log(`testcase 1, whole \`paxos run\` (spawn to all stopped): median ${ms(stats(wall).median)}`);
}

function rssKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]);
}

/**
 * CPU time (user + system) a process has used, in ms, from /proc (clock ticks of 10 ms on Linux, so read it over many
 * rounds).
 */
function cpuMs(pid: number): number {
  // Fields 14 and 15 of /proc/PID/stat, counted after the ")" that ends the command name.
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').at(-1)!.trim().split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

/** One save: FileStorage (write, fsync, rename, fsync the directory) or WalStorage (append, fdatasync). */
async function saveCost(root: string, make: (dir: string) => Storage & { release(): Promise<void> }): Promise<number> {
  const storage = make(mkdtempSync(path.join(root, 'paxos-save-')));
  await storage.load();
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await storage.save({ promised: i + 1, accepted: { n: i + 1, v: 'bench' }, lastProposal: {}, chosen: null });
    times.push(performance.now() - t0);
  }
  await storage.release();
  return stats(times).median;
}

/** Median warm round with the acceptors' data directories under `dataRoot`. */
async function warmRounds(dataRoot: string, label: string): Promise<number> {
  const dir = mkdtempSync(path.join(dataRoot, 'paxos-bench-'));
  const hostsfile = path.join(dir, 'hostsfile');
  writeFileSync(hostsfile, 'peer1:proposer1\npeer2:acceptor1\npeer3:acceptor1\npeer4:acceptor1\n');
  const cluster = parseHostsfile(readFileSync(hostsfile, 'utf8'), hostsfile);
  const alloc = await allocate(['peer1', 'peer2', 'peer3', 'peer4']);
  const resolve = [...alloc.endpoints].flatMap(([h, e]) => ['--resolve', `${h}=${e.host}:${e.port}`]);
  await alloc.beforeSpawn();

  const children: ChildProcess[] = ['peer2', 'peer3', 'peer4'].map((name) =>
    spawn(
      process.execPath,
      [
        ...benchNodeArgs(),
        MAIN,
        '-h',
        hostsfile,
        '--name',
        name,
        '--data-dir',
        path.join(dir, name),
        ...resolve,
        '--exit-on-stdin-close',
        '--log-level',
        'error',
      ],
      {
        stdio: ['pipe', 'ignore', 'inherit'],
      },
    ),
  );

  const out = new Outbox(1);
  let decided: (() => void) | null = null;
  const fresh = (lastUsed: number): Proposer =>
    new Proposer(
      {
        self: 1,
        group: 1,
        stride: cluster.stride,
        acceptors: [2, 3, 4],
        notify: [],
        sameAcceptors: new Set([1]),
        timing: DEFAULT_TICK_TIMING,
        rng: Math.random,
      },
      lastUsed,
      out,
      () => decided?.(),
    );
  let proposer = fresh(0);
  /** Send what the proposer put in its outbox. */
  const perform = (): void => {
    for (const o of out.take(null).messages) for (const to of o.to) links.get(to)!.send(o.msg);
  };
  const onMessage = (m: Message): void => {
    if (m.type === 'prepare_ack') proposer.onPrepareAck(m);
    if (m.type === 'accept_ack') proposer.onAcceptAck(m);
    perform();
  };
  const inbound = await listen(alloc.endpoints.get('peer1')!, onMessage, {
    codec: LAB_CODEC,
    log: silentLogger,
    self: 1,
  });
  const links = new Map(
    [2, 3, 4].map((id) => [
      id,
      new PeerLink(`peer${id}`, alloc.endpoints.get(`peer${id}`)!, { self: 1, peer: id, log: silentLogger }),
    ]),
  );
  for (const l of links.values()) l.start();
  await Promise.all(
    [...links.values()].map((l) => (l.isUp ? undefined : new Promise<void>((r) => l.once('up', () => r())))),
  );

  const round = async (): Promise<number> => {
    proposer = fresh(proposer.lastUsed);
    const done = new Promise<void>((r) => (decided = r));
    const t0 = performance.now();
    proposer.propose('bench');
    perform();
    await done;
    return performance.now() - t0;
  };
  for (let i = 0; i < 50; i++) await round(); // warm up JITs and connections
  const times: number[] = [];
  const cpu0 = children.map((c) => cpuMs(c.pid!));
  const own0 = process.cpuUsage();
  for (let i = 0; i < ROUNDS; i++) times.push(await round());
  const own = process.cpuUsage(own0);
  const perRound = (x: number): string => `${((x * 1000) / ROUNDS).toFixed(0)} us`;
  const acceptorCpu = children.map((c, i) => cpuMs(c.pid!) - cpu0[i]!);
  const s = stats(times);
  console.log(
    `warm round, ${label} (prepare + accept to a majority of 3 acceptors): median ${ms(s.median)} (p90 ` +
      `${ms(s.p90)}, max ${ms(s.max)}) over ${ROUNDS} rounds`,
  );
  // Two cores: a round cannot take less than about half the CPU all four processes spend on it.
  console.log(
    `  CPU per round (user + system): proposer ${perRound((own.user + own.system) / 1000)}, acceptors ` +
      `${acceptorCpu.map(perRound).join(' / ')}; all four ` +
      `${perRound((own.user + own.system) / 1000 + acceptorCpu.reduce((a, b) => a + b, 0))}`,
  );

  const rss = children.map((c) => rssKiB(c.pid!, 'VmRSS') / 1024);
  const hwm = children.map((c) => rssKiB(c.pid!, 'VmHWM') / 1024);
  console.log(
    `peer RSS (acceptor process after ${ROUNDS + 50} rounds): median ${stats(rss).median.toFixed(1)} MiB, peak ` +
      `${Math.max(...hwm).toFixed(1)} MiB`,
  );

  for (const l of links.values()) await l.close();
  await inbound.close();
  for (const c of children) c.kill('SIGTERM');
  await exited(children);
  await alloc.release();
  return s.median;
}

/** 4. save cost, and the warm round on disk and on tmpfs. */
async function durability(disk: string): Promise<void> {
  const file = await saveCost(disk, (d) => new FileStorage(d));
  const save = await saveCost(disk, (d) => new WalStorage(d));
  console.log(
    `one durable save in ${disk}: median ${ms(save)} as a log append + fdatasync (what peers do), ${ms(file)}` +
      ` as write + fsync + rename + directory fsync (state.json, before)`,
  );
  const durable = await warmRounds(disk, `state on disk (${disk})`);
  if (existsSync('/dev/shm')) {
    // tmpfs: the same code path, but fsync costs nothing, so the gap is the fsync cost.
    const shm = await warmRounds('/dev/shm', 'state on tmpfs (/dev/shm)');
    console.log(
      `fsync cost per round: ${ms(durable - shm)} (${(durable / shm).toFixed(2)}x the round without it); each ` +
        `acceptor saves twice per round, promise then accepted value`,
    );
  }
}

/** 5. the replicated log: puts per second with 16 closed-loop clients against kv3. */
async function replicatedLog(disk: string): Promise<void> {
  const kv = await kvPutsPerSecond(MAIN, { replicas: 3, clients: 16, seconds: 10, dataRoot: disk });
  console.log(
    `kv3 replicated log, 16 clients, state on disk (${disk}): ${kv.putsPerSecond.toFixed(0)} puts/s (p50 ` +
      `${ms(kv.p50Ms)}, p99 ${ms(kv.p99Ms)}, ${kv.puts} puts in 10 s)`,
  );
}

console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})`);
if (part('cold')) await coldDecision();
if (part('round')) await durability(os.tmpdir());
if (part('kv')) await replicatedLog(os.tmpdir());

// `npm run bench:kv [-- --quick] [--seconds S] [--rounds R] [--clients 1,64]`: this project's
// kv3 against a 3-member etcd, on the same machine, in the same run, with the
// same closed-loop load: 1, 16, 64 and 256 clients, 256-byte values on 1,000
// keys, a write-only mix and a 90%-read mix. Both keep their state on the
// real disk with fsync on.
//
// A fair race: each system is driven by its own best client, in a process of
// its own. etcd by its Go client (clientv3, bench/etcd-load/main.go, as etcd's
// tools/benchmark does), ours by its bench connection (bench/kv-load.ts). The
// same etcd driven by the npm package etcd3 is a second reference. The
// systems alternate over the rounds; each cell reports the median round's
// throughput, p50 and p99, and the CPU per 1,000 ops of the servers (all
// members together) and of the load generator.
//
// Puts at 64 clients have a third cell: ours with TLS on (--ca, --cert,
// --key; test certificates made in the run's temporary directory by
// scripts/test-ca.sh), a second kv3 started for that cell (and warmed up for
// a second), taking its turn in the same rotation; the summary compares it
// with ours without TLS (open, --insecure, as in every other cell).
//
// Then the watch cell: 64 watchers of the whole key prefix (so each put is
// delivered to every one of them) while 64 clients put. etcd's watchers are
// its Go client's (main.go -mode watch), ours are bench/kv-watch.ts on the
// raw wire; each in a process of its own, beside the put load's. It reports
// puts/s, events delivered per second over all watchers, each event's lag
// from its put (the values carry the put's wall-clock time), and the CPU per
// 1,000 events of the servers and of the clients (put load and watchers).
//
// etcd and its Go client come from Debian (etcd-server, golang-go,
// golang-etcd-server-dev); when missing they are installed if this runs as
// root, and named otherwise. Nothing is downloaded from anywhere else.
//
// `npm run bench:kv -- --soak 300`: ours alone, puts at 64 clients for five
// minutes, printing each replica's RSS every 10 s (memory must not grow).

import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { ConfigError } from '../src/config/errors.js';
import { integer, integerList, parseFlags, toolSettings } from '../src/config/flags.js';
import { etcdLoader, startEtcd } from './etcd-cluster.js';
import { startKvCluster, type KvCluster } from './kv-cluster.js';

const execFileP = promisify(execFile);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const MAIN = path.join(root, 'dist/src/cli/main.js');

const HELP = `Usage: npm run bench:kv -- [--quick] [--seconds S] [--rounds R] [--clients 1,16,64,256] [--watchers W]
                            [--no-etcd3]
       npm run bench:kv -- --soak S

Runs this project's kv3 against a 3-member etcd (Debian's etcd-server) on this machine,
with the same closed-loop load: 256-byte values on 1,000 keys, a write-only mix and a
90%-read mix, state on disk with fsync on. etcd is driven by its own Go client, ours by
its own; each in a process of its own. Reports throughput, p50, p99, and the CPU per
1,000 ops of the servers and of the client, for both; ratios ours/etcd. Then the watch
cell: W watchers of the whole key prefix, spread over the members, while 64 clients put;
events delivered per second over all watchers, their lag from the put, and the CPU per
1,000 events. Puts at 64 clients also run against a kv3 with TLS on (test certificates),
in the same rotation: the summary gives its puts/s beside ours without TLS.

  --quick           shorter: 2 s per cell, 1 round (default off: 8 s, 3 rounds)
  --seconds S       seconds per cell, S >= 1 (default 8, or 2 with --quick)
  --rounds R        rounds alternating the systems, R >= 1 (default 3, or 1 with --quick)
  --clients LIST    client counts, comma-separated, each >= 1 (default 1,16,64,256)
  --watchers W      watchers in the watch cell, W >= 0; 0 leaves the cell out (default 64)
  --no-etcd3        leave out the second reference (etcd driven by the npm package etcd3)
  --soak S          instead: ours alone, puts at 64 clients for S seconds, a multiple
                    of 10, printing each replica's RSS every 10 s (default: no soak)
  --help            print this and exit`;

const { SECONDS, ROUNDS, CLIENTS, WATCHERS, ETCD3, SOAK } = toolSettings('bench:kv', HELP, (argv) => {
  const { values } = parseFlags(argv, {
    quick: { type: 'boolean' },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    clients: { type: 'string' },
    watchers: { type: 'string' },
    soak: { type: 'string' },
    'no-etcd3': { type: 'boolean' },
  });
  const quick = values.quick === true;
  const soak = values.soak === undefined ? undefined : integer('--soak', values.soak, 10);
  // The soak measures in 10 s steps.
  if (soak !== undefined && soak % 10 !== 0)
    throw new ConfigError(`--soak takes seconds, a multiple of 10 (e.g. 300), not ${JSON.stringify(values.soak)}`);
  return {
    SECONDS: values.seconds === undefined ? (quick ? 2 : 8) : integer('--seconds', values.seconds, 1),
    ROUNDS: values.rounds === undefined ? (quick ? 1 : 3) : integer('--rounds', values.rounds, 1),
    CLIENTS: integerList('--clients', values.clients ?? '1,16,64,256', 1),
    WATCHERS: values.watchers === undefined ? 64 : integer('--watchers', values.watchers, 0),
    ETCD3: values['no-etcd3'] !== true,
    SOAK: soak,
  };
});
const VALUE_SIZE = 256;
const KEYS = 1000;
/** Every key the loads write starts with it (key0 .. key999): the watch cell's watchers watch it. */
const KEY_PREFIX = 'key';
/** The watch cell's put load. */
const WATCH_PUTTERS = 64;
/** The client count of the puts cell that also runs against a kv3 with TLS on. */
const TLS_CLIENTS = 64;

/**
 * Connections per client count: as the issue's etcd figures were taken.
 * Connection i goes to endpoint i mod 3, with the endpoints ordered followers
 * first, leader last, in both systems: one client talks to a follower (as
 * two clients in three would), and both pay for passing its writes on.
 */
const connectionsFor = (clients: number): number => (clients <= 1 ? 1 : clients <= 16 ? 4 : clients <= 64 ? 8 : 16);

interface System {
  readonly name: string;
  /** The servers' pids, for their CPU and RSS. */
  readonly pids: () => number[];
  /** The load generator: a command that prints one Outcome line. */
  readonly loader: (a: LoadArgs) => [string, string[]];
  /** The watchers, given how many: a command that prints a ready line, then one WatchOutcome line (kv-watch.ts). */
  readonly watcher?: (watchers: number) => [string, string[]];
}

interface LoadArgs {
  readonly clients: number;
  readonly readShare: number;
  readonly seconds: number;
  readonly seed: number;
  /** Values start with the put's wall-clock time, for the watch cell's lag. */
  readonly stamp?: boolean;
}

/** `ca`: reach the replicas with TLS, trusting this CA file (paxos only). */
const nodeLoader =
  (system: 'paxos' | 'etcd3', endpoints: readonly string[], ca?: string) =>
  (a: LoadArgs): [string, string[]] => [
    process.execPath,
    [
      path.join(root, 'dist/bench/kv-load.js'),
      ...['--system', system, '--endpoints', endpoints.join(','), '--clients', String(a.clients)],
      ...['--conns', String(connectionsFor(a.clients)), '--seconds', String(a.seconds), '--read', String(a.readShare)],
      ...['--keys', String(KEYS), '--value-size', String(VALUE_SIZE), '--seed', String(a.seed)],
      ...(a.stamp === true ? ['--stamp'] : []),
      ...(ca === undefined ? [] : ['--ca', ca]),
    ],
  ];

const nodeWatcher =
  (endpoints: readonly string[]) =>
  (watchers: number): [string, string[]] => [
    process.execPath,
    [
      path.join(root, 'dist/bench/kv-watch.js'),
      ...['--endpoints', endpoints.join(','), '--watchers', String(watchers)],
      ...['--conns', String(connectionsFor(watchers)), '--prefix', KEY_PREFIX],
    ],
  ];

const goLoader =
  (bin: string, endpoints: readonly string[]) =>
  (a: LoadArgs): [string, string[]] => [
    bin,
    [
      ...['-endpoints', endpoints.map((e) => `http://${e}`).join(','), '-clients', String(a.clients)],
      ...['-conns', String(connectionsFor(a.clients)), '-seconds', String(a.seconds), '-read', String(a.readShare)],
      ...['-keys', String(KEYS), '-value-size', String(VALUE_SIZE), '-seed', String(a.seed)],
      ...(a.stamp === true ? ['-stamp'] : []),
    ],
  ];

const goWatcher =
  (bin: string, endpoints: readonly string[]) =>
  (watchers: number): [string, string[]] => [
    bin,
    [
      ...['-mode', 'watch', '-endpoints', endpoints.map((e) => `http://${e}`).join(',')],
      ...['-watchers', String(watchers), '-conns', String(connectionsFor(watchers)), '-prefix', KEY_PREFIX],
    ],
  ];

// ---- load -------------------------------------------------------------------

/** What a load generator prints: latencies in ms, cpu in its own seconds. */
interface Outcome {
  readonly ops: number;
  readonly secs: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpu: number;
}

interface Cell {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** Seconds of CPU per 1,000 ops: all the system's servers together, and its load generator. */
  readonly serverCpuPer1k: number;
  readonly clientCpuPer1k: number;
}

function cpuSeconds(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // gone
    }
  }
  return total;
}

function peakRssMiB(pids: readonly number[]): number {
  let peak = 0;
  for (const pid of pids) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m !== null) peak = Math.max(peak, Number(m[1]) / 1024);
    } catch {
      // gone
    }
  }
  return peak;
}

/** Runs the load generator to its end: its outcome. */
async function runLoader(sys: System, a: LoadArgs): Promise<Outcome> {
  const [cmd, args] = sys.loader(a);
  const { stdout } = await execFileP(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 20 }).catch((err: unknown) => {
    throw new Error(`${sys.name}'s load generator failed: ${String(err)}`);
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Outcome;
}

async function load(sys: System, a: LoadArgs): Promise<Cell> {
  const cpu0 = cpuSeconds(sys.pids());
  const o = await runLoader(sys, a);
  const cpu = cpuSeconds(sys.pids()) - cpu0;
  return {
    perSecond: o.ops / o.secs,
    p50: o.p50,
    p99: o.p99,
    serverCpuPer1k: (cpu / o.ops) * 1000,
    clientCpuPer1k: (o.cpu / o.ops) * 1000,
  };
}

// ---- watch -----------------------------------------------------------------

/** What the watchers print at the end (kv-watch.ts, main.go -mode watch): lag in ms, cpu in their own seconds. */
interface WatchOutcome {
  /** Events received, over all watchers. */
  readonly events: number;
  /** The fewest and the most one watcher received. */
  readonly min: number;
  readonly max: number;
  /** Events whose revision went back at their watcher: repeats. */
  readonly back: number;
  /** From the first event received to the last. */
  readonly secs: number;
  readonly p50: number;
  readonly p99: number;
  /** Lag samples: events whose value carried a stamp (all of them, when all is well). */
  readonly lagged: number;
  /** Watchers that ended early (canceled, cut off). */
  readonly cut: number;
  readonly cpu: number;
}

interface WatchCell {
  readonly putsPerSecond: number;
  /** Events delivered per second, over all watchers, at most one per put per watcher. */
  readonly perSecond: number;
  /** From a put being sent to its event's arrival at a watcher. */
  readonly lagP50: number;
  readonly lagP99: number;
  /** Seconds of CPU per 1,000 events: the servers, and the clients (the put load and the watchers together). */
  readonly serverCpuPer1k: number;
  readonly clientCpuPer1k: number;
}

/**
 * One round of the watch cell: the watchers start and say they are watching;
 * then WATCH_PUTTERS clients put stamped values for `seconds`; then the
 * watchers are told how many puts were done (each watcher is due one event
 * per put) and wait for those events (at most 5 s without one).
 */
async function watchLoad(sys: System, watchers: number, seconds: number, seed: number): Promise<WatchCell> {
  const [cmd, args] = sys.watcher!(watchers);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => undefined); // it exited: its stderr and exit status say why
  const lines = createInterface({ input: child.stdout });
  const it = lines[Symbol.asyncIterator]();
  const exit = new Promise<number | null>((resolve) => child.once('close', resolve));
  const failed = (what: string): Error =>
    new Error(`${sys.name}'s watchers ${what}${stderr === '' ? '' : `: ${stderr.trim().slice(0, 2000)}`}`);
  const next = async (): Promise<string> => {
    const r = await it.next();
    if (r.done === true) throw failed(`exited (${String(await exit)}) before saying so`);
    return r.value as string;
  };
  try {
    if ((JSON.parse(await next()) as { ready?: boolean }).ready !== true) throw failed('did not say ready');
    const cpu0 = cpuSeconds(sys.pids());
    const put = await runLoader(sys, { clients: WATCH_PUTTERS, readShare: 0, seconds, seed, stamp: true });
    child.stdin.end(`stop ${put.ops}\n`);
    const w = JSON.parse(await next()) as WatchOutcome;
    const cpu = cpuSeconds(sys.pids()) - cpu0;
    if ((await exit) !== 0) throw failed(`exited ${String(await exit)}`);
    // Each put is one event at each watcher: no more can count.
    const due = put.ops * watchers;
    const events = Math.min(w.events, due);
    const warn = (why: string): void => console.log(`  WARNING: ${sys.name} watch cell: ${why}`);
    if (w.cut > 0) warn(`${w.cut} of ${watchers} watchers ended early`);
    if (w.min < put.ops) warn(`a watcher fell behind: the fewest events one got is ${w.min} of the ${put.ops} puts`);
    if (w.max > put.ops) warn(`a watcher got ${w.max} events for ${put.ops} puts (counted: at most one per put)`);
    if (w.back > 0) warn(`${w.back} events came again (their revision went back at their watcher)`);
    if (w.lagged !== w.events) warn(`${w.events - w.lagged} events carried no stamp (their lag is not counted)`);
    if (stderr !== '') warn(stderr.trim().slice(0, 500));
    return {
      putsPerSecond: put.ops / put.secs,
      perSecond: w.secs > 0 ? events / w.secs : 0,
      lagP50: w.p50,
      lagP99: w.p99,
      serverCpuPer1k: (cpu / events) * 1000,
      clientCpuPer1k: ((put.cpu + w.cpu) / events) * 1000,
    };
  } finally {
    lines.close();
    child.kill('SIGKILL');
  }
}

const median = <C extends { readonly perSecond: number }>(xs: readonly C[]): C =>
  [...xs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(xs.length / 2)]!;
const f = (x: number, d = 0): string => x.toFixed(d);
const ratio = (x: number): string => `${x.toFixed(2)}x`;

async function main(): Promise<void> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'paxos-benchkv-'));
  const goBin = etcdLoader(root);
  console.log(
    `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), state on disk in ${base}`,
  );
  console.log(
    `${SECONDS} s per cell, ${ROUNDS} rounds alternating the systems; ${VALUE_SIZE}-byte values on ${KEYS} ` +
      `keys; closed loop`,
  );
  console.log(
    "etcd is driven by its own Go client (clientv3, bench/etcd-load); 'etcd/etcd3' is the same etcd driven by " +
      'the npm package etcd3, a second reference',
  );
  const cluster = await startKvCluster(MAIN, path.join(base, 'ours'), 3);
  const ours: System = {
    name: 'paxos kv3',
    pids: cluster.pids,
    loader: nodeLoader('paxos', oursFollowersFirst(cluster)),
    watcher: nodeWatcher(oursFollowersFirst(cluster)),
  };
  const etcdCluster = await startEtcd(path.join(base, 'etcd'), goBin).catch(async (err: unknown) => {
    await cluster.stop();
    throw err;
  });
  const etcd: System = {
    name: 'etcd',
    pids: etcdCluster.pids,
    loader: goLoader(goBin, etcdCluster.endpoints),
    watcher: goWatcher(goBin, etcdCluster.endpoints),
  };
  const etcd3: System = {
    name: 'etcd/etcd3',
    pids: etcdCluster.pids,
    loader: nodeLoader('etcd3', etcdCluster.endpoints),
  };
  const systems = [ours, etcd, ...(ETCD3 ? [etcd3] : [])];
  try {
    const mixes = [
      { name: 'puts', read: 0 },
      { name: 'reads90', read: 0.9 },
    ];
    const summary: string[] = [];
    console.log('mix      clients  system        ops/s   p50 ms   p99 ms   server cpu s/1k   client cpu s/1k');
    for (const mix of mixes) {
      for (const clients of CLIENTS) {
        // Puts at 64 clients: ours with TLS too, on a kv3 of its own for this cell.
        const tls = mix.read === 0 && clients === TLS_CLIENTS ? await startTls(base) : null;
        const cellSystems = tls === null ? systems : [...systems, tls.system];
        const cells = new Map<string, Cell[]>(cellSystems.map((s) => [s.name, []]));
        try {
          for (let r = 0; r < ROUNDS; r++) {
            // Each round starts with the next system, so none is always first (or always after the same one).
            const order = cellSystems.map((_, i) => cellSystems[(i + r) % cellSystems.length]!);
            for (const sys of order) {
              const seed = r * 7919 + clients;
              cells.get(sys.name)!.push(await load(sys, { clients, readShare: mix.read, seconds: SECONDS, seed }));
            }
          }
        } finally {
          await tls?.stop();
        }
        const med = new Map(cellSystems.map((s) => [s.name, median(cells.get(s.name)!)]));
        for (const [name, c] of med) {
          console.log(
            `${mix.name.padEnd(8)} ${String(clients).padStart(7)}  ${name.padEnd(11)} ` +
              `${f(c.perSecond).padStart(7)} ${f(c.p50, 2).padStart(8)} ${f(c.p99, 2).padStart(8)} ` +
              `${f(c.serverCpuPer1k, 3).padStart(17)} ${f(c.clientCpuPer1k, 3).padStart(17)}`,
          );
        }
        const o = med.get(ours.name)!;
        const e = med.get(etcd.name)!;
        const e3 = med.get(etcd3.name);
        const line =
          `${mix.name}@${clients}: ${ratio(o.perSecond / e.perSecond)} etcd (Go client) throughput, ` +
          `p50 ${ratio(o.p50 / e.p50)}, p99 ${ratio(o.p99 / e.p99)}, server CPU/1k ops ` +
          `${ratio(o.serverCpuPer1k / e.serverCpuPer1k)}` +
          (e3 === undefined ? '' : `; etcd via etcd3: ${ratio(o.perSecond / e3.perSecond)}`);
        console.log(`  ${line}`);
        summary.push(line);
        if (tls !== null) {
          const t = med.get(tls.system.name)!;
          const tlsLine =
            `TLS: ${mix.name}@${clients} ${f(t.perSecond)}/s with TLS vs ${f(o.perSecond)}/s without ` +
            `(${f((t.perSecond / o.perSecond) * 100)}%), p99 ${f(t.p99, 1)} vs ${f(o.p99, 1)} ms, server CPU/1k ops ` +
            `${ratio(t.serverCpuPer1k / o.serverCpuPer1k)}`;
          console.log(`  ${tlsLine}`);
          summary.push(tlsLine);
        }
      }
    }
    const peakRss = (): string =>
      `paxos kv3 ${f(peakRssMiB(ours.pids()), 1)} MiB, etcd ${f(peakRssMiB(etcd.pids()), 1)} MiB`;
    console.log(`peak RSS per replica: ${peakRss()}`);
    if (WATCHERS > 0) {
      summary.push(await watchCell([ours, etcd], WATCHERS));
      console.log(`peak RSS per replica, the watch cell included: ${peakRss()}`);
    }
    console.log(
      'summary (ratios are ours/etcd: throughput above 1 is ours faster; p50, p99 and CPU below 1 are ours lower):',
    );
    for (const l of summary) console.log(`  ${l}`);
  } finally {
    await cluster.stop();
    await etcdCluster.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

/**
 * Ours with TLS on, for the puts@64 cell: test certificates for peer1..3 made now under `base` by
 * scripts/test-ca.sh, a kv3 given --ca, --cert and --key, and a second of puts at 64 clients to warm it up (the
 * others are warm from the cells before).
 */
async function startTls(base: string): Promise<{ system: System; stop: () => Promise<void> }> {
  const certs = path.join(base, 'certs');
  execFileSync('bash', [path.join(root, 'scripts/test-ca.sh'), certs, 'peer1', 'peer2', 'peer3'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const ca = path.join(certs, 'ca.crt');
  const flags = (h: string): string[] => [
    ...['--ca', ca, '--cert', path.join(certs, `${h}.crt`), '--key', path.join(certs, `${h}.key`)],
  ];
  const cluster = await startKvCluster(MAIN, path.join(base, 'ours-tls'), 3, {
    tls: { flags, ca: readFileSync(ca) },
  });
  const system: System = {
    name: 'paxos TLS',
    pids: cluster.pids,
    loader: nodeLoader('paxos', oursFollowersFirst(cluster), ca),
  };
  try {
    await runLoader(system, { clients: TLS_CLIENTS, readShare: 0, seconds: 1, seed: 1 });
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return { system, stop: () => cluster.stop() };
}

/** The watch cell, over the rounds: its table, and its summary line. */
async function watchCell(systems: readonly [System, System], watchers: number): Promise<string> {
  const [ours, etcd] = systems;
  console.log(
    `watch: ${watchers} watchers of the prefix '${KEY_PREFIX}' (every key; ${connectionsFor(watchers)} ` +
      `connections) while ${WATCH_PUTTERS} clients put; events/s over all watchers; lag from put to event`,
  );
  console.log(
    'cell      system        puts/s   events/s  lag p50 ms  lag p99 ms   server cpu s/1k ev   client cpu s/1k ev',
  );
  const cells = new Map<string, WatchCell[]>(systems.map((s) => [s.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = systems.map((_, i) => systems[(i + r) % systems.length]!);
    for (const sys of order) cells.get(sys.name)!.push(await watchLoad(sys, watchers, SECONDS, r * 7919 + 1));
  }
  const med = new Map(systems.map((s) => [s.name, median(cells.get(s.name)!)]));
  for (const [name, c] of med) {
    console.log(
      `${`watch@${watchers}`.padEnd(9)} ${name.padEnd(11)} ${f(c.putsPerSecond).padStart(8)} ` +
        `${f(c.perSecond).padStart(10)} ${f(c.lagP50, 2).padStart(11)} ${f(c.lagP99, 2).padStart(11)} ` +
        `${f(c.serverCpuPer1k, 4).padStart(20)} ${f(c.clientCpuPer1k, 4).padStart(20)}`,
    );
  }
  const o = med.get(ours.name)!;
  const e = med.get(etcd.name)!;
  const line =
    `watch@${watchers}: ${ratio(o.perSecond / e.perSecond)} etcd (Go client) events/s ` +
    `(${f(o.perSecond)} vs ${f(e.perSecond)}), puts/s ${ratio(o.putsPerSecond / e.putsPerSecond)}, ` +
    `lag p50 ${ratio(o.lagP50 / e.lagP50)}, p99 ${ratio(o.lagP99 / e.lagP99)}, server CPU/1k events ` +
    `${ratio(o.serverCpuPer1k / e.serverCpuPer1k)}, client CPU/1k events ${ratio(o.clientCpuPer1k / e.clientCpuPer1k)}`;
  console.log(`  ${line}`);
  return line;
}

/** kv3's client endpoints, followers first, the leader last, as etcd's are. */
function oursFollowersFirst(cluster: KvCluster): string[] {
  const { hosts, leader } = cluster;
  return [...hosts.filter((h) => h !== leader), leader].map((h) => {
    const e = cluster.endpoints.get(h)!;
    return `${e.host}:${e.port}`;
  });
}

/** `--soak S`: ours alone, puts at 64 clients for S seconds, RSS per replica every 10 s. */
async function soak(seconds: number): Promise<void> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'paxos-benchkv-'));
  const cluster = await startKvCluster(MAIN, path.join(base, 'ours'), 3);
  const ours: System = {
    name: 'paxos kv3',
    pids: cluster.pids,
    loader: nodeLoader('paxos', oursFollowersFirst(cluster)),
  };
  const rss = (): number[] =>
    ours.pids().map((pid) => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m === null ? NaN : Number(m[1]) / 1024;
    });
  try {
    console.log(`soak: paxos kv3, puts at 64 clients (8 connections) for ${seconds} s, state on disk in ${base}`);
    console.log(
      `  t=0 s: RSS per replica ${rss()
        .map((x) => f(x, 1))
        .join(' / ')} MiB`,
    );
    for (let t = 10; t <= seconds; t += 10) {
      const c = await load(ours, { clients: 64, readShare: 0, seconds: 10, seed: t });
      console.log(
        `  t=${t} s: ${f(c.perSecond)} puts/s, p99 ${f(c.p99, 1)} ms; RSS per replica ${rss()
          .map((x) => f(x, 1))
          .join(' / ')} MiB`,
      );
    }
    console.log(`peak RSS per replica over the soak: ${f(peakRssMiB(ours.pids()), 1)} MiB`);
  } finally {
    await cluster.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

if (SOAK !== undefined) await soak(SOAK);
else await main();

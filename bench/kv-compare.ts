// `npm run bench:kv [-- --quick] [--seconds S] [--rounds R] [--clients 1,64]`: this project's
// kv3 against a 3-node etcd, on the same machine, in the same run, with the
// same closed-loop load: 1, 16, 64 and 256 clients, 256-byte values on 1,000
// keys, a write-only mix and a 90%-read mix. Both keep their state on the
// real disk with fsync on. The systems alternate over the rounds; each cell
// reports the median round's throughput, p50 and p99, and ours/etcd.
//
// etcd comes from Debian's etcd-server package; if it is missing, this says
// what to install (apt-get install etcd-server) and installs it when run as
// root. Nothing is downloaded from anywhere else.
//
// `npm run bench:kv -- --soak 300`: ours alone, puts at 64 clients for five
// minutes, printing each replica's RSS every 10 s (memory must not grow).

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import { ConfigError } from '../src/config/errors.js';
import { integer, integerList, parseFlags, toolSettings } from '../src/config/flags.js';
import { exited, startKvCluster } from './kv-cluster.js';
import { KvConn } from './kv-conn.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const MAIN = path.join(root, 'dist/src/cli/main.js');

const HELP = `Usage: npm run bench:kv -- [--quick] [--seconds S] [--rounds R] [--clients 1,16,64,256]
       npm run bench:kv -- --soak S

Runs this project's kv3 against a 3-node etcd (Debian's etcd-server) on this machine,
with the same closed-loop load: 256-byte values on 1,000 keys, a write-only mix and a
90%-read mix, state on disk with fsync on; reports throughput, p50 and p99, ours/etcd.

  --quick           shorter: 2 s per cell, 1 round (default off: 8 s, 3 rounds)
  --seconds S       seconds per cell, S >= 1 (default 8, or 2 with --quick)
  --rounds R        rounds alternating the systems, R >= 1 (default 3, or 1 with --quick)
  --clients LIST    client counts, comma-separated, each >= 1 (default 1,16,64,256)
  --soak S          instead: ours alone, puts at 64 clients for S seconds, a multiple
                    of 10, printing each replica's RSS every 10 s (default: no soak)
  --help            print this and exit`;

const { SECONDS, ROUNDS, CLIENTS, SOAK } = toolSettings('bench:kv', HELP, (argv) => {
  const { values } = parseFlags(argv, {
    quick: { type: 'boolean' },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    clients: { type: 'string' },
    soak: { type: 'string' },
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
    SOAK: soak,
  };
});
const VALUE = 'v'.repeat(256);
const KEYS = 1000;

/**
 * Connections per client count: as the etcd figures were taken.
 * Connection i goes to endpoint i mod 3, with the endpoints ordered followers
 * first, leader last, in both systems: one client talks to a follower (as
 * two clients in three would), and both pay for passing its writes on.
 */
const connectionsFor = (clients: number): number => (clients <= 1 ? 1 : clients <= 16 ? 4 : clients <= 64 ? 8 : 16);

interface System {
  readonly name: string;
  readonly pids: () => number[];
  /** A function per client: one op (write or read of key k), resolved when acknowledged. */
  open(connections: number): Promise<{
    put: (c: number, k: string) => Promise<void>;
    get: (c: number, k: string) => Promise<void>;
    close: () => Promise<void>;
  }>;
  stop(): Promise<void>;
}

// ---- this project: kv3 ------------------------------------------------------

async function startOurs(dir: string): Promise<System> {
  const cluster = await startKvCluster(MAIN, dir, 3);
  const { hosts, leader } = cluster;
  const eps = [...hosts.filter((h) => h !== leader), leader].map((h) => cluster.endpoints.get(h)!);
  let session = 0;
  return {
    name: 'paxos kv3',
    pids: cluster.pids,
    async open(connections) {
      const muxes = await Promise.all(Array.from({ length: connections }, (_, i) => KvConn.open(eps[i % eps.length]!)));
      const seqs = new Map<number, number>();
      const run = session++;
      const op = async (c: number, cmd: (id: string, s: number) => object): Promise<void> => {
        const s = (seqs.get(c) ?? 0) + 1;
        seqs.set(c, s);
        const r = await muxes[c % muxes.length]!.request({ type: 'kv', cmd: cmd(`b${run}-${c}`, s) });
        if (r.status !== 'done') throw new Error(`kv3 answered ${r.status}`);
      };
      return {
        put: (c, k) => op(c, (id, s) => ({ o: 'put', c: id, s, k, v: VALUE })),
        get: (c, k) => op(c, (id, s) => ({ o: 'get', c: id, s, k })),
        close: async () => muxes.forEach((m) => m.close()),
      };
    },
    stop: cluster.stop,
  };
}

// ---- etcd -------------------------------------------------------------------

function etcdBinary(): string {
  for (const p of ['/usr/bin/etcd', '/usr/local/bin/etcd']) if (existsSync(p)) return p;
  if (process.getuid?.() === 0) {
    process.stderr.write("bench:kv: etcd is missing; installing Debian's etcd-server\n");
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', 'etcd-server'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (existsSync('/usr/bin/etcd')) return '/usr/bin/etcd';
  }
  throw new Error(
    'etcd is not installed: run `apt-get install etcd-server` (Debian) as root, then npm run bench:kv again',
  );
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function startEtcd(dir: string): Promise<System> {
  const bin = etcdBinary();
  const names = ['e1', 'e2', 'e3'];
  const client = await Promise.all(names.map(() => freePort()));
  const peer = await Promise.all(names.map(() => freePort()));
  const cluster = names.map((n, i) => `${n}=http://127.0.0.1:${peer[i]}`).join(',');
  const children = names.map((n, i) =>
    spawn(
      bin,
      [
        '--name',
        n,
        '--data-dir',
        path.join(dir, n),
        '--listen-client-urls',
        `http://127.0.0.1:${client[i]}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${client[i]}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${peer[i]}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${peer[i]}`,
        '--initial-cluster',
        cluster,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        `bench-${process.pid}`,
        '--log-level',
        'error',
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    ),
  );
  const urls = client.map((p) => `http://127.0.0.1:${p}`);
  for (let i = 0; ; i++) {
    const c = new Etcd3({ hosts: urls });
    const ok = await c
      .put('warm')
      .value('up')
      .then(
        () => true,
        () => false,
      );
    c.close();
    if (ok) break;
    if (i > 100) throw new Error('etcd did not come up within 10 s');
    await delay(100);
  }
  // Followers first, the leader last, as for ours.
  const isLeader = await Promise.all(
    urls.map(async (u) => {
      const c = new Etcd3({ hosts: [u] });
      const s = await c.maintenance.status();
      c.close();
      return s.header.member_id === s.leader;
    }),
  );
  const hosts = [...urls.filter((_, i) => !isLeader[i]), ...urls.filter((_, i) => isLeader[i])];
  return {
    name: 'etcd',
    pids: () => children.map((c) => c.pid!),
    async open(connections) {
      // One client object per connection; each spreads over the three endpoints as ours do.
      const cs = Array.from({ length: connections }, (_, i) => new Etcd3({ hosts: [hosts[i % 3]!] }));
      return {
        put: async (c, k) => void (await cs[c % cs.length]!.put(k).value(VALUE)),
        get: async (c, k) => void (await cs[c % cs.length]!.get(k).string()),
        close: async () => cs.forEach((x) => x.close()),
      };
    },
    async stop() {
      for (const c of children) c.kill('SIGKILL');
      await exited(children);
    },
  };
}

// ---- load -------------------------------------------------------------------

interface Cell {
  readonly ops: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpuPer1k: number;
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

async function load(sys: System, clients: number, readShare: number, seconds: number, seed: number): Promise<Cell> {
  const conn = await sys.open(connectionsFor(clients));
  const lat: number[] = [];
  let x = seed >>> 0;
  const rand = (): number => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return x / 4294967296;
  };
  const cpu0 = cpuSeconds(sys.pids());
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < end) {
        const k = `key${Math.floor(rand() * KEYS)}`;
        const t = performance.now();
        await (rand() < readShare ? conn.get(c, k) : conn.put(c, k));
        lat.push(performance.now() - t);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(sys.pids()) - cpu0;
  await conn.close();
  lat.sort((a, b) => a - b);
  return {
    ops: lat.length,
    perSecond: lat.length / secs,
    p50: lat[Math.floor(lat.length / 2)]!,
    p99: lat[Math.floor(lat.length * 0.99)]!,
    cpuPer1k: (cpu / lat.length) * 1000,
  };
}

const median = (xs: readonly Cell[]): Cell =>
  [...xs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(xs.length / 2)]!;
const f = (x: number, d = 0): string => x.toFixed(d);

async function main(): Promise<void> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'paxos-benchkv-'));
  console.log(
    `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), state on disk in ${base}`,
  );
  console.log(
    `${SECONDS} s per cell, ${ROUNDS} rounds alternating the systems; 256-byte values on ${KEYS} keys; closed loop`,
  );
  const ours = await startOurs(path.join(base, 'ours'));
  const etcd = await startEtcd(path.join(base, 'etcd'));
  try {
    const mixes = [
      { name: 'puts', read: 0 },
      { name: 'reads90', read: 0.9 },
    ];
    const summary: string[] = [];
    console.log('mix      clients  system      ops/s     p50 ms   p99 ms   cpu s/1k ops   ratio ours/etcd');
    for (const mix of mixes) {
      for (const clients of CLIENTS) {
        const cells = new Map<string, Cell[]>([
          [ours.name, []],
          [etcd.name, []],
        ]);
        for (let r = 0; r < ROUNDS; r++) {
          const order = r % 2 === 0 ? [ours, etcd] : [etcd, ours];
          for (const sys of order)
            cells.get(sys.name)!.push(await load(sys, clients, mix.read, SECONDS, r * 7919 + clients));
        }
        const o = median(cells.get(ours.name)!);
        const e = median(cells.get(etcd.name)!);
        for (const [name, c] of [
          [ours.name, o],
          [etcd.name, e],
        ] as const) {
          console.log(
            `${mix.name.padEnd(8)} ${String(clients).padStart(7)}  ${name.padEnd(10)} ${f(c.perSecond).padStart(7)} ${f(c.p50, 2).padStart(9)} ${f(c.p99, 2).padStart(8)} ${f(c.cpuPer1k, 3).padStart(12)}`,
          );
        }
        const line = `${mix.name}@${clients}: ${(o.perSecond / e.perSecond).toFixed(2)}x etcd throughput, p50 ${(o.p50 / e.p50).toFixed(2)}x, p99 ${(o.p99 / e.p99).toFixed(2)}x`;
        console.log(`${''.padEnd(47)}${line}`);
        summary.push(line);
      }
    }
    console.log(
      `peak RSS per replica: paxos kv3 ${f(peakRssMiB(ours.pids()), 1)} MiB, etcd ${f(peakRssMiB(etcd.pids()), 1)} MiB`,
    );
    console.log('summary:');
    for (const l of summary) console.log(`  ${l}`);
  } finally {
    await ours.stop();
    await etcd.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

/** `--soak S`: ours alone, puts at 64 clients for S seconds, RSS per replica every 10 s. */
async function soak(seconds: number): Promise<void> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'paxos-benchkv-'));
  const ours = await startOurs(path.join(base, 'ours'));
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
      const c = await load(ours, 64, 0, 10, t);
      console.log(
        `  t=${t} s: ${f(c.perSecond)} puts/s, p99 ${f(c.p99, 1)} ms; RSS per replica ${rss()
          .map((x) => f(x, 1))
          .join(' / ')} MiB`,
      );
    }
    console.log(`peak RSS per replica over the soak: ${f(peakRssMiB(ours.pids()), 1)} MiB`);
  } finally {
    await ours.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

if (SOAK !== undefined) await soak(SOAK);
else await main();

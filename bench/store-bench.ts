// A big store's cost: `npm run bench:store -- [--keys N] [--value-bytes B] [--replicas R] [--main PATH]`.
//
// 1. Real replicas (PATH: the CLI to run, default this build's; give an older
//    build's dist/src/cli/main.js to compare): load N keys of B-byte values
//    through the leader, while a probe on every replica measures how long
//    it takes to answer a ping (a ping is answered on the event loop, so the
//    longest wait is the longest event-loop pause, snapshots included). Then
//    each replica's RSS and peak RSS (from /proc), and how long a dump takes.
// 2. In this process: the store alone, its heap per key (run with
//    --expose-gc, as the npm script does), and what a snapshot costs: the
//    frozen view, the lines for the file, the sorted replica file.

import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { integer, parseFlags, toolSettings } from '../src/config/flags.js';
import { checkCommand } from '../src/sm/command.js';
import { KvStore } from '../src/sm/kv.js';
import { introduce } from '../src/transport/auth.js';
import { kvRequest, newRequestId } from '../src/client/kv.js';
import type { Endpoint } from '../src/transport/link.js';
import { KvConn } from './kv-conn.js';
import { startKvCluster } from './kv-cluster.js';

const HELP = `Usage: npm run bench:store -- [--keys N] [--value-bytes B] [--replicas R] [--main PATH]

A big store's cost: loads N keys of B-byte values into real replicas while probing
each replica's longest event-loop pause, then reports RSS and how long a dump takes;
then, in this process, the store's heap per key and what a snapshot costs.

  --keys N         keys to load, N >= 1 (default 200000)
  --value-bytes B  bytes per value, B >= 1 (default 100)
  --replicas R     replicas, R >= 1 (default 3)
  --main PATH      the CLI to run, e.g. an older build's dist/src/cli/main.js
                   (default: this build's)
  --help           print this and exit`;

const { KEYS, VALUE_BYTES, REPLICAS, MAIN } = toolSettings('bench:store', HELP, (argv) => {
  const { values } = parseFlags(argv, {
    keys: { type: 'string', default: '200000' },
    'value-bytes': { type: 'string', default: '100' },
    replicas: { type: 'string', default: '3' },
    main: { type: 'string' },
  });
  return {
    KEYS: integer('--keys', values.keys, 1),
    VALUE_BYTES: integer('--value-bytes', values['value-bytes'], 1),
    REPLICAS: integer('--replicas', values.replicas, 1),
    MAIN: values.main ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js'),
  };
});
/** Puts in flight per connection, and connections. */
const WINDOW = 256;
const CONNS = 4;

const keyOf = (i: number): string => `key-${String(i).padStart(7, '0')}`;
const valueOf = (i: number): string => `${i}:`.padEnd(VALUE_BYTES, 'v');
const mib = (b: number): string => (b / 1024 / 1024).toFixed(0);

/** Pings `at` one at a time, 5 ms apart, until stopped; the longest and the 99th percentile wait for the pong. */
async function probe(at: Endpoint, stop: () => boolean): Promise<{ max: number; p99: number }> {
  const socket = net.connect({ host: at.host, port: at.port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const intro = await introduce(socket, { from: 0, to: 0, secret: null, timeoutMs: 5000 });
  if (!intro.ok) throw new Error(intro.why);
  const waits: number[] = [];
  let pong: (() => void) | null = null;
  socket.on('data', (d: Buffer) => {
    if (d.includes('pong')) pong?.();
  });
  while (!stop()) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      pong = resolve;
      socket.write('{"type":"ping"}\n');
    });
    waits.push(performance.now() - t0);
    await delay(5);
  }
  socket.destroy();
  waits.sort((a, b) => a - b);
  return { max: waits.at(-1) ?? 0, p99: waits[Math.floor(waits.length * 0.99)] ?? 0 };
}

function memOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

async function cluster(): Promise<void> {
  const dir = path.join(os.tmpdir(), `paxos-store-bench-${process.pid}`);
  const c = await startKvCluster(MAIN, dir, REPLICAS, { logs: true });
  try {
    let loading = true;
    const probes = c.hosts.map((h) => probe(c.endpoints.get(h)!, () => !loading));
    const conns = await Promise.all(Array.from({ length: CONNS }, () => KvConn.open(c.endpoints.get(c.leader)!)));
    const t0 = performance.now();
    let next = 0;
    let refused = 0;
    await Promise.all(
      conns.flatMap((conn) =>
        Array.from({ length: WINDOW }, async () => {
          while (next < KEYS) {
            const i = next++;
            const r = await conn.request({
              type: 'kv',
              cmd: { o: 'put', c: `b-${i}`, s: 1, k: keyOf(i), v: valueOf(i) },
            });
            if (r.status !== 'done') refused += 1;
          }
        }),
      ),
    );
    const loadMs = performance.now() - t0;
    // A quiet moment after the load: the last snapshot finishes.
    await delay(3000);
    loading = false;
    const pauses = await Promise.all(probes);
    for (const conn of conns) conn.close();
    console.log(`main: ${MAIN}`);
    console.log(
      `loaded ${KEYS} keys x ${VALUE_BYTES} B in ${(loadMs / 1000).toFixed(1)} s (` +
        `${Math.round(KEYS / (loadMs / 1000))}/s, ${refused} not done)`,
    );
    c.pids().forEach((pid, i) => {
      const m = memOf(pid);
      const p = pauses[i]!;
      console.log(
        `${c.hosts[i]}${c.hosts[i] === c.leader ? ' (leader)' : ''}: RSS ${mib(m.rss)} MiB, peak RSS ` +
          `${mib(m.peak)} MiB; ping wait during the load: max ${p.max.toFixed(0)} ms, p99 ${p.p99.toFixed(0)} ms`,
      );
    });
    // What the replicas say of their snapshots (this build: view time, event-loop pause, heap).
    for (const h of c.hosts) {
      const said = readFileSync(path.join(dir, `${h}.log`), 'utf8')
        .split('\n')
        .filter((l) => /snapshot at slot/.test(l));
      const pauses = said
        .map((l) => Number(/longest event-loop pause since the last snapshot (\d+) ms/.exec(l)?.[1] ?? NaN))
        .filter((x) => !Number.isNaN(x));
      const longest =
        pauses.length > 0 ? `, longest event-loop pause between two (its own monitor): ${Math.max(...pauses)} ms` : '';
      const last = said.at(-1)?.replace(/^.*?snapshot at/, 'snapshot at') ?? '(none)';
      console.log(`${h}: ${said.length} snapshots${longest}; last: ${last}`);
    }
    const t1 = performance.now();
    const d = await kvRequest(c.endpoints.get(c.leader)!, { type: 'dump', id: newRequestId() }, null, 30_000);
    const dumped =
      d.kind === 'reply' && d.result.status === 'dump'
        ? `${d.result.data.length} keys`
        : `failed: ${d.kind === 'reply' ? d.result.status : d.why}`;
    console.log(`dump of the leader: ${dumped} in ${(performance.now() - t1).toFixed(0)} ms`);
  } finally {
    await c.stop();
  }
}

function inProcess(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const kv = new KvStore();
  const batch = 100;
  for (let i = 0; i < KEYS; i += batch) {
    const cmds = [];
    for (let j = i; j < Math.min(KEYS, i + batch); j++) {
      const c = checkCommand({ o: 'put', c: `b-${j}`, s: 1, k: keyOf(j), v: valueOf(j) });
      if (c.ok) cmds.push(c.value);
    }
    kv.applyBatch(cmds, kv.appliedIndex + 1);
  }
  gc?.();
  const heap = process.memoryUsage().heapUsed - heap0;
  console.log(
    `in-process store of ${KEYS} keys (${mib(kv.storeBytes)} MiB of keys and values, ${kv.sessionCount}` +
      ` sessions): heap ${mib(heap)} MiB, ${Math.round(heap / KEYS)} B per key` +
      `${gc === undefined ? ' (no --expose-gc: not collected first)' : ''}`,
  );
  const time = (what: string, f: () => number): void => {
    const t0 = performance.now();
    const n = f();
    console.log(`  ${what}: ${(performance.now() - t0).toFixed(1)} ms${n > 0 ? ` (${mib(n)} MiB)` : ''}`);
  };
  time(
    'before: snapshot() as one JSON document, and toReplicaFile(), each in one piece',
    () => new TextDecoder().decode(kv.snapshot()).length + kv.toReplicaFile().length,
  );
  let view = kv.view();
  view.close();
  time('view() (the frozen copy taken on the event loop)', () => ((view = kv.view()), 0));
  time('all snapshot lines (spread over the file writes)', () => {
    let n = 0;
    for (const l of view.lines()) n += l.length;
    return n;
  });
  time('all chunks for a follower (spread over the transfer)', () => {
    let n = 0;
    for (const p of view.pieces(128 * 1024)) n += JSON.stringify(p).length;
    return n;
  });
  let longest = 0;
  time('the replica file, sorted in runs and merged', () => {
    let n = 0;
    let t = performance.now();
    for (const l of view.replicaFileLines()) {
      n += l.length;
      const now = performance.now();
      longest = Math.max(longest, now - t);
      t = now;
    }
    return n;
  });
  console.log(`  (its longest step between two pieces: ${longest.toFixed(1)} ms)`);
  view.close();
}

await cluster();
inProcess();

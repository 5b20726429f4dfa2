// Puts per second against a replicated-log cluster of real processes:
// `replicas` replicas on loopback with their state on disk, and `clients`
// closed-loop clients, each on its own connection to the leader, each
// sending its next put as soon as the last one is applied.

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KvConn } from './kv-conn.js';
import { startKvCluster } from './kv-cluster.js';

export interface KvBenchResult {
  readonly putsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly puts: number;
}

export async function kvPutsPerSecond(
  main: string,
  opts: { replicas: number; clients: number; seconds: number; dataRoot: string; valueBytes?: number },
): Promise<KvBenchResult> {
  const dir = mkdtempSync(path.join(opts.dataRoot, 'paxos-kvbench-'));
  const cluster = await startKvCluster(main, dir, opts.replicas).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  try {
    const value = 'x'.repeat(opts.valueBytes ?? 100);
    const conns = await Promise.all(
      Array.from({ length: opts.clients }, () => KvConn.open(cluster.endpoints.get(cluster.leader)!)),
    );
    const latencies: number[] = [];
    let stop = false;
    const t0 = performance.now();
    await Promise.all(
      conns.map(async (c, i) => {
        for (let seq = 1; !stop; seq++) {
          const t = performance.now();
          const r = await c.request({
            type: 'kv',
            cmd: { o: 'put', c: `bench-${i}`, s: seq, k: `key${(seq * 16 + i) % 1000}`, v: value },
          });
          if (r.status !== 'done') throw new Error(`put answered ${r.status}`);
          latencies.push(performance.now() - t);
          if (performance.now() - t0 > opts.seconds * 1000) stop = true;
        }
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    for (const c of conns) c.close();
    latencies.sort((a, b) => a - b);
    return {
      putsPerSecond: latencies.length / secs,
      p50Ms: latencies[Math.floor(latencies.length * 0.5)] ?? NaN,
      p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? NaN,
      puts: latencies.length,
    };
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// `node dist/bench/kv-bench.js [SECONDS] [CLIENTS]`: just this figure.
// (By exact file name: bench.js, which imports this one, ends with "bench.js" too.)
if (
  process.argv[1] !== undefined &&
  path.basename(new URL(import.meta.url).pathname) === path.basename(process.argv[1])
) {
  const main = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');
  const clients = Number(process.argv[3] ?? 16);
  const r = await kvPutsPerSecond(main, {
    replicas: 3,
    clients,
    seconds: Number(process.argv[2] ?? 5),
    dataRoot: os.tmpdir(),
  });
  console.log(
    `kv3, ${clients} clients, state on disk: ${r.putsPerSecond.toFixed(0)} puts/s (p50 ${r.p50Ms.toFixed(2)}` +
      ` ms, p99 ${r.p99Ms.toFixed(2)} ms, ${r.puts} puts)`,
  );
}

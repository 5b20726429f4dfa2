// A replicated-log cluster of real processes for the benchmarks (kv-bench.ts,
// kv-compare.ts): `replicas` replicas on loopback with their state on disk
// under `dir`, up once one of them names an elected leader.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { allocate } from '../src/runner/addresses.js';
import type { Endpoint } from '../src/transport/link.js';
import { KvConn } from './kv-conn.js';
import type { ClientTls } from '../src/config/tls-files.js';
import { REPLICA_NODE_ARGS } from '../src/runner/node-args.js';

export interface KvCluster {
  /** peer1, peer2, ... */
  readonly hosts: readonly string[];
  readonly endpoints: ReadonlyMap<string, Endpoint>;
  readonly leader: string;
  readonly pids: () => number[];
  stop(): Promise<void>;
}

/**
 * `logs`: keep each replica's stderr, at --log-level info, in DIR/HOST.log.
 * `tls`: each replica's --ca, --cert and --key (it then runs without --insecure), and the CA's PEM for the
 * bench's own connections.
 */
export async function startKvCluster(
  main: string,
  dir: string,
  replicas: number,
  opts: {
    readonly logs?: boolean;
    readonly tls?: { readonly flags: (host: string) => string[]; readonly ca: Buffer };
  } = {},
): Promise<KvCluster> {
  const hosts = Array.from({ length: replicas }, (_, i) => `peer${i + 1}`);
  mkdirSync(dir, { recursive: true });
  const hostsfile = path.join(dir, 'hostsfile');
  writeFileSync(hostsfile, hosts.map((h) => `${h}:replica\n`).join(''));
  const alloc = await allocate(hosts, 'ports');
  await alloc.beforeSpawn();
  const resolve = [...alloc.endpoints].flatMap(([h, e]) => ['--resolve', `${h}=${e.host}:${e.port}`]);
  const extra = benchNodeArgs();
  const children: ChildProcess[] = hosts.map((h) =>
    spawn(
      process.execPath,
      [
        ...REPLICA_NODE_ARGS,
        ...extra,
        main,
        '-h',
        hostsfile,
        '--name',
        h,
        '--data-dir',
        path.join(dir, h),
        ...resolve,
        '--no-message-lines',
        // On loopback; the benchmark's clients speak open, or TLS without a secret.
        ...(opts.tls === undefined ? ['--insecure'] : opts.tls.flags(h)),
        '--exit-on-stdin-close',
        ...(opts.logs === true ? ['--log-level', 'info'] : []),
      ],
      { stdio: ['pipe', 'ignore', opts.logs === true ? openSync(path.join(dir, `${h}.log`), 'w') : 'ignore'] },
    ),
  );
  const stop = async (): Promise<void> => {
    // SIGTERM: a clean exit (and a profile written, when profiling).
    for (const c of children) c.kill('SIGTERM');
    await exited(children);
    await alloc.release();
  };
  try {
    const leader = await waitForLeader(
      alloc.endpoints.get(hosts[0]!)!,
      opts.tls === undefined ? null : { ca: opts.tls.ca },
    );
    return { hosts, endpoints: alloc.endpoints, leader, pids: () => children.map((c) => c.pid!), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * PAXOS_BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": node flags for the peers a bench starts (to
 * profile them).
 */
export function benchNodeArgs(): string[] {
  return (process.env['PAXOS_BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
}

/** Resolves once every child has exited. */
export async function exited(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r))),
    ),
  );
}

/** A put that gets applied means a leader is elected; a dump then names it. */
async function waitForLeader(at: Endpoint, tls: ClientTls | null): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const m = await KvConn.open(at, tls).catch(() => null);
    // A put to a replica still starting may never be answered: give up on it after 1 s.
    const r =
      m === null
        ? null
        : await Promise.race([
            m.request({ type: 'kv', cmd: { o: 'put', c: 'bench-warmup', s: 1, k: 'warm', v: 'up' } }),
            delay(1000).then(() => null),
          ]);
    const d = r?.status === 'done' ? await m!.request({ type: 'dump' }) : null;
    m?.close();
    if (d?.status === 'dump' && d.leader !== undefined && d.leader !== '') return d.leader;
    await delay(100);
  }
  throw new Error('kv: no leader within 10 s');
}

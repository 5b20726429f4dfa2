// A kv3 cluster of real replica processes for a test: started, its
// PAXOS_ENDPOINTS for the CLI, and a connected client of the library; all
// stopped when the test ends.

import { randomBytes } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { connect, type KvClient } from '../../src/client/api.js';
import { LiveCluster, type Proc } from './procs.js';

export const KV3 = 'peer1:replica\npeer2:replica\npeer3:replica\n';
export const HOSTS = ['peer1', 'peer2', 'peer3'];

export interface Kv3 {
  readonly live: LiveCluster;
  /** The replicas' processes, in HOSTS order. */
  readonly procs: readonly Proc[];
  /** PAXOS_ENDPOINTS and PAXOS_SECRET for commands run against it. */
  readonly env: { PAXOS_ENDPOINTS: string; PAXOS_SECRET: string };
  /** A library client, closed at the test's end. Generous timeout: a busy machine elects slowly. */
  readonly kv: KvClient;
}

export function endpointsOf(live: LiveCluster): string {
  return HOSTS.map((h) => `${h}=${live.endpoint(h).host}:${live.endpoint(h).port}`).join(',');
}

/**
 * Runs secure, as a replica does by default: a fresh shared secret for the
 * replicas, the library client and the CLI (so every line carries a MAC).
 */
export async function startKv3(t: ExecutionContext): Promise<Kv3> {
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  const secret = randomBytes(24).toString('hex');
  const procs = HOSTS.map((h) => live.start(h, [], { PAXOS_SECRET: secret }));
  const kv = await connect({ endpoints: endpointsOf(live), secret, timeoutMs: 60_000, concurrency: 8 });
  t.teardown(() => kv.close());
  return { live, procs, env: { PAXOS_ENDPOINTS: endpointsOf(live), PAXOS_SECRET: secret }, kv };
}

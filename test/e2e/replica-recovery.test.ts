// A replica whose disk is wiped, or whose log holds a corrupt record, never
// votes with the memory it lost (src/log/recovery.ts, docs/recovery.md). The
// two reproductions of the fault probe, on real processes:
//   1. A leads, C is killed, `put x v1` is acknowledged (it lives on A and
//      B), A is killed, B comes back on an EMPTY data directory, C restarts;
//   2. the same, but B comes back with one byte flipped inside its vote for x.
// Before recovery existed, B voted at once, B and C chose something else for
// x's slot, and after A returned every replica agreed that x was absent.
// Now B waits for A, and x survives on every replica.

import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { LiveCluster, type Proc } from '../helpers/procs.js';
import { cmd, kvAsk } from '../helpers/kv.js';
import type { KvResult } from '../../src/wire/kv.js';

const KV3 = 'peer1:replica\npeer2:replica\npeer3:replica\n';
const HOSTS = ['peer1', 'peer2', 'peer3'] as const;
/** Generous: two busy cores, three processes, restarts. */
const LONG = 60_000;

type Dump = Extract<KvResult, { status: 'dump' }>;

async function dump(live: LiveCluster, host: string): Promise<Dump | null> {
  const r = await kvAsk(live.endpoint(host), { type: 'dump' }, 2000);
  return r?.status === 'dump' ? r : null;
}

/** The leader every running replica of `hosts` agrees on. */
async function leaderOf(live: LiveCluster, hosts: readonly string[]): Promise<string> {
  const deadline = Date.now() + LONG;
  while (Date.now() < deadline) {
    const ds = await Promise.all(hosts.map((h) => dump(live, h)));
    const l = ds[0]?.leader;
    if (l !== undefined && l !== '' && ds.every((d) => d?.leader === l)) return l;
    await delay(50);
  }
  throw new Error(`no leader that ${hosts.join(', ')} agree on within ${LONG} ms`);
}

async function mustPut(live: LiveCluster, host: string, key: string, value: string): Promise<number> {
  const body = cmd('put', key, value);
  const deadline = Date.now() + LONG;
  while (Date.now() < deadline) {
    const r = await kvAsk(live.endpoint(host), body, 3000);
    if (r?.status === 'done') return r.slot;
    await delay(100);
  }
  throw new Error(`${host} never applied the put of ${key}`);
}

/** Wait until every replica's store holds key = value, and return their dumps. */
async function everywhere(t: ExecutionContext, live: LiveCluster, key: string, value: string): Promise<void> {
  const deadline = Date.now() + LONG;
  let last: Array<Dump | null> = [];
  while (Date.now() < deadline) {
    last = await Promise.all(HOSTS.map((h) => dump(live, h)));
    if (
      last.every((d) => d !== null && d.recovering === undefined && d.data.some(([k, v]) => k === key && v === value))
    ) {
      t.pass(`${key} = ${value} on every replica`);
      return;
    }
    await delay(100);
  }
  const seen = last.map(
    (d) =>
      d && {
        peer: d.peer,
        applied: d.applied,
        recovering: d.recovering,
        [key]: d.data.find(([k]) => k === key)?.[1] ?? null,
      },
  );
  t.fail(`${key} = ${value} is not on every replica: ${JSON.stringify(seen)}`);
}

/**
 * Steps 1-4 of the probe: returns A (the old leader, now down), B (to be
 * damaged, now down) and C (down), with `put x v1` acknowledged at A.
 */
async function probe(
  t: ExecutionContext,
  live: LiveCluster,
  procs: Map<string, Proc>,
  value: string,
): Promise<{ A: string; B: string; C: string; slot: number }> {
  for (const h of HOSTS) procs.set(h, live.start(h));
  const A = await leaderOf(live, HOSTS);
  const [B, C] = HOSTS.filter((h) => h !== A) as [string, string];
  // A write first, so the log is not empty and A has led a slot.
  await mustPut(live, A, 'warm', 'up');
  await procs.get(C)!.kill9();
  const slot = await mustPut(live, A, 'x', value);
  t.log(`leader ${A}; ${C} killed; put x acknowledged at slot ${slot} by ${A}, so it lives on ${A} and ${B}`);
  await procs.get(A)!.kill9();
  await procs.get(B)!.kill9();
  return { A, B, C, slot };
}

/** Steps 5-7: restart the damaged B and C; B must wait for A; then A returns and x is everywhere. */
async function afterDamage(
  t: ExecutionContext,
  live: LiveCluster,
  procs: Map<string, Proc>,
  A: string,
  B: string,
  C: string,
): Promise<void> {
  const b = live.start(B);
  procs.set(B, b);
  procs.set(C, live.start(C));
  await b.waitStderr(/recovering \(/, LONG);
  // Without A, B votes for nothing: no write or read can complete, and B says it is recovering.
  const d = await (async () => {
    const deadline = Date.now() + LONG;
    while (Date.now() < deadline) {
      const r = await dump(live, B);
      if (r !== null) return r;
      await delay(50);
    }
    return null;
  })();
  t.truthy(d?.recovering, `${B}'s dump says it is recovering`);
  t.regex(d?.recovering ?? '', new RegExp(`waiting for [^;]*${A}`), `${B} waits for ${A}`);
  const refused = await kvAsk(live.endpoint(B), cmd('get', 'x'), 2000);
  t.is(refused?.status, 'not_ready', `${B} answers clients "not ready"`);
  procs.set(A, live.start(A));
  await b.waitStderr(/recovered from the other replicas: voting again/, LONG);
  await everywhere(t, live, 'x', 'v1-acknowledged');
}

test.serial(
  'a replica restarted on an empty data directory waits for every other replica, and the acknowledged write survives',
  async (t) => {
    const live = await new LiveCluster(KV3).init();
    t.teardown(() => live.close());
    const procs = new Map<string, Proc>();
    const { A, B, C } = await probe(t, live, procs, 'v1-acknowledged');
    // A replaced disk.
    renameSync(live.dataDir(B), `${live.dataDir(B)}.lost`);
    await afterDamage(t, live, procs, A, B, C);
  },
);

test.serial(
  'a replica whose vote for the write has one byte flipped recovers instead of cutting its log, and the write survives',
  async (t) => {
    const live = await new LiveCluster(KV3).init();
    t.teardown(() => live.close());
    const procs = new Map<string, Proc>();
    const { A, B, C } = await probe(t, live, procs, 'v1-acknowledged');
    // Flip one byte inside B's vote for x: the value's text in its log.
    const logDir = path.join(live.dataDir(B), 'log');
    const seg = readdirSync(logDir)
      .filter((n) => n.endsWith('.wal'))
      .sort()
      .at(-1)!;
    const file = path.join(logDir, seg);
    const bytes = readFileSync(file);
    const at = bytes.lastIndexOf('v1-acknowledged');
    t.true(at > 0, `${B}'s log holds its vote for x`);
    bytes[at + 3] = bytes[at + 3]! ^ 0x01;
    writeFileSync(file, bytes);
    await afterDamage(t, live, procs, A, B, C);
    // The damaged log was kept for inspection, not cut off.
    t.true(
      readdirSync(live.dataDir(B)).some((n) => n.includes('damaged')) ||
        readdirSync(path.dirname(logDir)).some((n) => n.includes('damaged')),
      'the damaged files are kept',
    );
    t.true(
      procs.get(B)!.stderr.some((l) => /corrupt/.test(l)),
      `${B} says its log is corrupt`,
    );
  },
);

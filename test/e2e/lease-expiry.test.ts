// Leases on real replicas, over the wire (src/sm/lease.ts,
// src/node/lease-clock.ts): a lease nobody keeps alive expires and takes its
// key with it on every replica; one kept alive survives the leader's death,
// because the new leader gives every lease its TTL and an extension first.

import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { LiveCluster, type Proc } from '../helpers/procs.js';
import { kvAsk } from '../helpers/kv.js';
import type { KvResult } from '../../src/wire/kv.js';

const HOSTS = ['peer1', 'peer2', 'peer3'] as const;
const HOSTS5 = ['peer1', 'peer2', 'peer3', 'peer4', 'peer5'] as const;
const hostsfile = (hosts: readonly string[]): string => hosts.map((h) => `${h}:replica\n`).join('');
/** Generous: two busy cores, three processes, a restart. */
const LONG = 60_000;

type Dump = Extract<KvResult, { status: 'dump' }>;

/** A client session of its own: commands sent with increasing seqs, each retried at every replica until applied. */
class Session {
  private readonly id = `t-${randomBytes(6).toString('hex')}`;
  private seq = 0;
  constructor(
    private readonly live: LiveCluster,
    private readonly up: () => readonly string[],
  ) {}

  async send(cmd: Record<string, unknown>, within = LONG): Promise<Extract<KvResult, { status: 'done' }>> {
    this.seq += 1;
    const body = { type: 'kv', cmd: { ...cmd, c: this.id, s: this.seq } };
    const deadline = Date.now() + within;
    for (let i = 0; Date.now() < deadline; i++) {
      const hosts = this.up();
      const r = await kvAsk(this.live.endpoint(hosts[i % hosts.length]!), body, 2000);
      if (r?.status === 'done') return r;
      await delay(50);
    }
    throw new Error(`${JSON.stringify(cmd)} was not applied within ${within} ms`);
  }
}

async function dump(live: LiveCluster, host: string): Promise<Dump | null> {
  const r = await kvAsk(live.endpoint(host), { type: 'dump' }, 2000);
  return r?.status === 'dump' ? r : null;
}

/** Wait until every replica of `hosts` has (or has not) the key; true if so within LONG. */
async function keyEverywhere(
  live: LiveCluster,
  hosts: readonly string[],
  key: string,
  present: boolean,
): Promise<boolean> {
  const deadline = Date.now() + LONG;
  while (Date.now() < deadline) {
    const ds = await Promise.all(hosts.map((h) => dump(live, h)));
    if (ds.every((d) => d !== null && d.data.some(([k]) => k === key) === present)) return true;
    await delay(100);
  }
  return false;
}

async function start(
  t: ExecutionContext,
  hosts: readonly string[] = HOSTS,
): Promise<{ live: LiveCluster; procs: Map<string, Proc> }> {
  const live = await new LiveCluster(hostsfile(hosts)).init();
  t.teardown(() => live.close());
  return { live, procs: new Map(hosts.map((h) => [h, live.start(h)])) };
}

for (const hosts of [HOSTS, HOSTS5])
  test.serial(
    `kv${hosts.length}: a lease not kept alive expires, and its key goes from every replica; a revoked one at once`,
    async (t) => {
      const { live } = await start(t, hosts);
      const s = new Session(live, () => hosts);
      const g = await s.send({ o: 'grant', t: 1 });
      t.is(g.result['r'], 'lease');
      const id = g.result['id'] as number;
      t.deepEqual((await s.send({ o: 'put', k: 'svc/a', v: 'up', l: id })).result, { r: 'ok' });
      t.true(await keyEverywhere(live, hosts, 'svc/a', true));
      t.true(await keyEverywhere(live, hosts, 'svc/a', false), 'expired: svc/a deleted on every replica');
      t.deepEqual((await s.send({ o: 'keep', id })).result, { r: 'nolease', id });
      t.deepEqual((await s.send({ o: 'put', k: 'svc/b', v: 'up', l: id })).result, { r: 'nolease', id });

      const g2 = await s.send({ o: 'grant', t: 3600 });
      const id2 = g2.result['id'] as number;
      t.true(id2 > id, 'lease ids are never reused');
      await s.send({ o: 'put', k: 'svc/c', v: 'up', l: id2 });
      t.deepEqual((await s.send({ o: 'leases' })).result, { r: 'leases', ls: [[id2, 3600, 1]] });
      t.deepEqual((await s.send({ o: 'revoke', id: id2 })).result, { r: 'ok' });
      t.true(await keyEverywhere(live, hosts, 'svc/c', false));
    },
  );

test.serial('a lease kept alive outlives its TTL and the leader: the new one extends it first', async (t) => {
  const { live, procs } = await start(t);
  const down = new Set<string>();
  const up = (): string[] => HOSTS.filter((h) => !down.has(h));
  const s = new Session(live, up);
  const ttl = 3;
  const g = await s.send({ o: 'grant', t: ttl });
  const id = g.result['id'] as number;
  await s.send({ o: 'put', k: 'lock/x', v: 'me', l: id });
  // Keep it alive every second, for 4 TTLs, killing the leader after one.
  const answers: string[] = [];
  const until = Date.now() + 4 * ttl * 1000;
  let killed = '';
  while (Date.now() < until) {
    const r = await s.send({ o: 'keep', id });
    answers.push(r.result['r'] as string);
    if (killed === '' && Date.now() > until - 3 * ttl * 1000) {
      const leader = (await dump(live, up()[0]!))?.leader ?? '';
      if (leader !== '') {
        killed = leader;
        down.add(leader);
        procs.get(leader)?.child.kill('SIGKILL');
      }
    }
    await delay(1000);
  }
  t.not(killed, '', 'a leader was killed while the lease was kept alive');
  t.deepEqual([...new Set(answers)], ['lease'], 'every keepalive renewed the lease');
  t.true(await keyEverywhere(live, up(), 'lock/x', true), 'its key is still there');
  // Left alone now, it expires under the new leader.
  t.true(await keyEverywhere(live, up(), 'lock/x', false));
});

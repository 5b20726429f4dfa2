// Membership changes with real replica processes (docs/membership.md): a
// cluster grows from 3 to 5 while a client writes, a member whose disk was
// wiped is replaced (member remove, member add) while it writes, and a
// removed leader steps down and exits. No acknowledged write may be lost,
// and no write may fail.

import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { connect, type KvClient } from '../../src/client/api.js';
import { paxos, within } from '../helpers/cli.js';
import { LiveCluster, until, type Proc } from '../helpers/procs.js';
import { HOSTS, KV3 } from '../helpers/kv3.js';

interface Cluster {
  readonly live: LiveCluster;
  readonly procs: Map<string, Proc>;
  readonly secret: string;
  readonly kv: KvClient;
  /** PAXOS_ENDPOINTS over every name with an address (the hostsfile's and the extra ones). */
  readonly env: { PAXOS_ENDPOINTS: string; PAXOS_SECRET: string };
}

async function cluster(t: ExecutionContext, extra: readonly string[]): Promise<Cluster> {
  const live = await new LiveCluster(KV3, extra).init();
  t.teardown(() => live.close());
  const secret = randomBytes(24).toString('hex');
  const procs = new Map(HOSTS.map((h) => [h, live.start(h, [], { PAXOS_SECRET: secret })]));
  const all = [...HOSTS, ...extra];
  const endpoints = all.map((h) => `${h}=${live.endpoint(h).host}:${live.endpoint(h).port}`).join(',');
  const kv = await connect({ endpoints, secret, timeoutMs: 60_000, concurrency: 4 });
  t.teardown(() => kv.close());
  return { live, procs, secret, kv, env: { PAXOS_ENDPOINTS: endpoints, PAXOS_SECRET: secret } };
}

/** A client writing distinct keys one after another until stopped: what was acknowledged, and what failed. */
function writer(kv: KvClient, prefix: string): { stop: () => Promise<void>; acked: string[]; failed: string[] } {
  const acked: string[] = [];
  const failed: string[] = [];
  let running = true;
  const done = (async () => {
    for (let i = 0; running; i++) {
      const key = `${prefix}/${i}`;
      try {
        await kv.put(key, `v${i}`);
        acked.push(key);
      } catch (err) {
        failed.push(`${key}: ${(err as Error).message}`);
      }
    }
  })();
  return {
    acked,
    failed,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

async function member(c: Cluster, args: readonly string[]): Promise<string> {
  const r = await paxos(['member', ...args, '--timeout', '120'], { env: c.env, timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`paxos member ${args.join(' ')} exited ${r.code}: ${r.err}${r.out}`);
  return r.out;
}

/** Add `name` at its address, start it with --join, and promote it once it has caught up. */
async function grow(c: Cluster, name: string): Promise<void> {
  const at = c.live.endpoint(name);
  await member(c, ['add', `${name}=${at.host}:${at.port}`]);
  c.procs.set(name, c.live.start(name, ['--join'], { PAXOS_SECRET: c.secret }));
  await member(c, ['promote', name]);
}

async function checkAcked(t: ExecutionContext, kv: KvClient, acked: readonly string[]): Promise<void> {
  for (const key of acked) t.is(await kv.get(key), `v${key.split('/').pop()}`, `${key} was acknowledged`);
}

test.serial('grow 3 -> 5 under load: no write fails or is lost, and the new members vote', async (t) => {
  const c = await cluster(t, ['peer4', 'peer5']);
  await c.kv.put('before', 'x');
  const w = writer(c.kv, 'grow');
  const t0 = Date.now();
  await grow(c, 'peer4');
  await grow(c, 'peer5');
  const grewMs = Date.now() - t0;
  await until(() => w.acked.length > 20, 'writes after the growth');
  await w.stop();
  t.log(`grew 3 -> 5 in ${(grewMs / 1000).toFixed(1)} s under load; ${w.acked.length} writes acknowledged meanwhile`);
  t.deepEqual(w.failed, []);
  const list = await member(c, ['list']);
  t.is(list.split('\n').filter((l) => l.endsWith('\tvoter')).length, 5, list);
  await checkAcked(t, c.kv, w.acked);
  // With 2 of the first 3 gone, only the new members make a majority of 5.
  for (const h of ['peer1', 'peer2']) await c.procs.get(h)!.kill9();
  await c.kv.put('after', 'y');
  t.is(await c.kv.get('before'), 'x');
  t.is(await c.kv.get('after'), 'y');
});

test.serial(
  'replace a member whose disk was wiped, with member remove and add, while the cluster takes writes',
  async (t) => {
    const c = await cluster(t, ['peer4']);
    const w = writer(c.kv, 'replace');
    await until(() => w.acked.length > 10, 'first writes');
    await c.procs.get('peer3')!.kill9();
    rmSync(c.live.dataDir('peer3'), { recursive: true, force: true });
    await member(c, ['remove', 'peer3']);
    await grow(c, 'peer4');
    await until(() => w.acked.length > 60, 'writes after the replacement');
    await w.stop();
    t.deepEqual(w.failed, []);
    const list = await member(c, ['list']);
    t.false(list.includes('\tpeer3\t'), list);
    t.regex(list, /\tpeer4\t.*\tvoter/);
    await checkAcked(t, c.kv, w.acked);
    // peer4 holds the data: with peer1 gone, peer2 and peer4 are the majority.
    await c.procs.get('peer1')!.kill9();
    t.is(await c.kv.get(w.acked.at(-1)!), `v${w.acked.at(-1)!.split('/').pop()}`);
    await c.kv.put('after', 'z');
  },
);

test.serial('removing the leader: it steps down and exits 0, and the others go on', async (t) => {
  const c = await cluster(t, []);
  await c.kv.put('a', '1');
  const status = await paxos(['status', '--json'], { env: c.env });
  const rows = JSON.parse(status.out) as Array<{ member: string; role: string }>;
  const leader = rows.find((r) => r.role === 'leader')!.member;
  await member(c, ['remove', leader]);
  const exit = await within(c.procs.get(leader)!.closed, 60_000, null);
  if (exit === null) t.log(c.procs.get(leader)!.stderr.join('\n'), (await paxos(['status'], { env: c.env })).out);
  t.is(exit?.code, 0);
  t.true(c.procs.get(leader)!.stderr.some((l) => /removed from the cluster/.test(l)));
  await c.kv.put('b', '2');
  t.is(await c.kv.get('a'), '1');
  const list = await member(c, ['list']);
  t.is(list.trim().split('\n').length, 2, list);
});

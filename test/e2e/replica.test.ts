// Replicated-log replicas as real processes: writes and reads through any
// replica, a leader killed and replaced, a restarted replica catching up
// and its replica file matching the others.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import test from 'ava';
import { LiveCluster, type Proc } from '../helpers/procs.js';
import { cmd, kvAsk } from '../helpers/kv.js';
import type { KvResult } from '../../src/wire/kv.js';

const KV3 = 'peer1:replica\npeer2:replica\npeer3:replica\n';

async function leaderOf(live: LiveCluster, hosts: readonly string[]): Promise<string> {
  let leader = '';
  for (let i = 0; i < 200 && leader === ''; i++) {
    for (const h of hosts) {
      const r = await kvAsk(live.endpoint(h), { type: 'dump' }, 1000);
      if (r?.status === 'dump' && r.leader !== undefined && r.leader !== '' && hosts.includes(r.leader))
        leader = r.leader;
    }
  }
  return leader;
}

async function must(
  live: LiveCluster,
  host: string,
  body: Record<string, unknown>,
): Promise<Extract<KvResult, { status: 'done' }>> {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
    const r = await kvAsk(live.endpoint(host), body, 3000);
    if (r?.status === 'done') return r;
    await delay(100); // no leader yet: one is being elected; ask again
  }
  throw new Error(`${host} never applied ${JSON.stringify(body)}`);
}

test(
  'kv3: put through one replica, get through another; a killed leader is replaced and the restarted one ' +
    'catches up with an identical replica file',
  async (t) => {
    const live = await new LiveCluster(KV3).init();
    t.teardown(() => live.close());
    const procs = new Map<string, Proc>();
    for (const h of ['peer1', 'peer2', 'peer3']) procs.set(h, live.start(h));
    const put = await must(live, 'peer1', cmd('put', 'greeting', 'hello'));
    t.deepEqual(put.result, { r: 'ok' });
    const got = await must(live, 'peer3', cmd('get', 'greeting'));
    t.deepEqual(got.result, { r: 'ok', v: 'hello', rev: [put.slot, put.slot, 1] });
    t.true(got.slot > put.slot, 'the read went through the log, after the write');

    const leader = await leaderOf(live, ['peer1', 'peer2', 'peer3']);
    t.not(leader, '');
    await procs.get(leader)!.kill9();
    const others = ['peer1', 'peer2', 'peer3'].filter((h) => h !== leader);
    const t0 = Date.now();
    const second = await must(live, others[0]!, cmd('put', 'greeting', 'world'));
    t.log(`write after killing leader ${leader} took ${Date.now() - t0} ms`);
    t.deepEqual(second.result, { r: 'ok', p: 'hello' });

    procs.set(leader, live.start(leader));
    const r = await must(live, leader, cmd('get', 'greeting'));
    t.deepEqual(r.result, { r: 'ok', v: 'world', rev: [put.slot, second.slot, 2] });
    // Clean shutdown brings every replica file up to date; they must match.
    for (const [, p] of procs) if (p.exit === null) await p.signal('SIGTERM');
    const file = (h: string): string => readFileSync(path.join(live.dataDir(h), 'store.jsonl'), 'utf8');
    // The first line says how far each applied (a no-op slot more or less); the keys must match.
    const files = ['peer1', 'peer2', 'peer3'].map((h) => file(h).split('\n').slice(1).join('\n'));
    t.is(files[0], files[1]);
    t.is(files[1], files[2]);
    t.regex(files[0]!, /"key":"greeting","value":"world"/);
  },
);

test('kv3: a replica that was down while the others compacted their logs catches up from a snapshot', async (t) => {
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  const flags = ['--snapshot-every', '20', '--no-message-lines'];
  const procs = new Map<string, Proc>(['peer1', 'peer2', 'peer3'].map((h) => [h, live.start(h, flags)]));
  await must(live, 'peer1', cmd('put', 'k0', 'v0'));
  await procs.get('peer3')!.kill9();
  // Well past what the others keep behind their snapshots (20 / 10 = 2 slots).
  for (let i = 1; i <= 60; i++) await must(live, i % 2 === 0 ? 'peer1' : 'peer2', cmd('put', `k${i % 5}`, `v${i}`));
  procs.set('peer3', live.start('peer3', flags));
  const r = await must(live, 'peer3', cmd('get', 'k0'));
  t.like(r.result, { r: 'ok', v: 'v60' });
  t.is((r.result['rev'] as number[])[2], 13, 'the version counts the 13 puts of k0, across the snapshot');
  t.true(
    procs.get('peer3')!.stderr.some((l) => /installed a snapshot at slot \d+/.test(l)),
    ['peer1', 'peer2', 'peer3'].map((h) => procs.get(h)!.stderr.join('\n')).join('\n'),
  );
  t.true(
    ['peer1', 'peer2'].some((h) => procs.get(h)!.stderr.some((l) => /sent our snapshot/.test(l))),
    'a peer sent its snapshot',
  );
});

test(
  'kv3: exactly once: the same (client, seq) sent again, to another replica, is not applied again and gets the ' +
    'first answer',
  async (t) => {
    const live = await new LiveCluster(KV3).init();
    t.teardown(() => live.close());
    for (const h of ['peer1', 'peer2', 'peer3']) live.start(h, ['--no-message-lines']);
    // A cas from absent: applied twice, the second would be a mismatch.
    const once = { type: 'kv', cmd: { o: 'cas', c: 'retrying-client', s: 1, k: 'lock', e: null, v: 'mine' } };
    const first = await must(live, 'peer1', once);
    t.deepEqual(first.result, { r: 'ok' });
    const again = await must(live, 'peer3', once);
    t.deepEqual(again.result, { r: 'ok' }, 'the retry gets the original answer, not a mismatch');
    // Answered with the slot that applied it, whichever slot the retry itself took: its changes' revision.
    t.is(again.slot, first.slot);
    const other = await must(live, 'peer2', cmd('cas', 'lock', 'theirs', null));
    t.deepEqual(other.result, { r: 'mismatch', cur: 'mine' }, 'and the key holds the one value it was set to');
  },
);

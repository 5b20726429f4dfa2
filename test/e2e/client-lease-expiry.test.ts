// Lease expiry as the client library and the CLI see it, on a real kv3
// (the leader's lease clock, src/node/lease-clock.ts): a lease nobody keeps
// alive expires, and its key is deleted (a watcher sees it), not before
// its TTL; a Lease kept alive by the library outlives its TTL many times;
// a lock whose holder was killed passes to the next in line once its lease
// expires; and a Lease whose keepalives cannot get through is given up
// (its signal aborts, 'expired') once its TTL has run out.

import test from 'ava';
import type { WatchEvent } from 'paxos-prj4/client';
import { paxos, startPaxos, until, within } from '../helpers/cli.js';
import { startKv3 } from '../helpers/kv3.js';

test.serial(
  'a lease not kept alive expires, and its key goes; one kept alive by kv.lease() outlives its TTL',
  async (t) => {
    const { kv, env } = await startKv3(t);
    await kv.put('warmup', 'x'); // a leader is elected and serving

    const kept = await kv.lease(2);
    await kv.put('kept/k', 'stays', { lease: kept });

    const sent = Date.now();
    const granted = await paxos(['lease', 'grant', '2'], { env });
    t.is(granted.code, 0, granted.err);
    const id = Number(granted.out);
    const put = await paxos(['put', 'gone/k', 'v', '--lease', String(id)], { env });
    t.is(put.code, 0, put.err);
    const w = kv.watch({ key: 'gone/k' });
    let deleted: { at: number; e: WatchEvent } | undefined;
    const watching = (async () => {
      for await (const e of w)
        if (e.type === 'delete') {
          deleted = { at: Date.now(), e };
          return;
        }
    })();
    // Generous: TTL + an election's worth, on two busy cores, is well within this.
    t.not(await within(watching, 60_000, 'timeout'), 'timeout', 'the expired lease took its key');
    w.close();
    const ms = deleted!.at - sent;
    t.log(`the 2 s lease's key was deleted ${ms} ms after the grant was sent`);
    t.true(ms >= 2000, `not before its TTL: ${ms} ms`);
    t.is(await kv.get('gone/k'), null);
    t.false((await kv.leases()).some((l) => l.id === id));
    const keep = await paxos(['lease', 'keepalive', String(id), '--once'], { env });
    t.is(keep.code, 1, keep.err);
    t.regex(keep.err, new RegExp(`lease ${id} does not exist`));

    // Meanwhile the lease kv.lease() keeps alive is still there, with its key, well past its TTL.
    await until(() => Date.now() - sent > 3 * 2000, 'three TTLs to pass');
    t.true(kept.alive, kept.signal.reason instanceof Error ? kept.signal.reason.message : '');
    t.true(kept.renewals >= 3, `renewals: ${kept.renewals}`);
    t.is(await kv.get('kept/k'), 'stays');
    t.true(await kept.revoke());
    t.is(await kv.get('kept/k'), null);
  },
);

test.serial('a killed lock holder: the next in line gets the lock once its lease expires', async (t) => {
  const { kv, env } = await startKv3(t);
  const first = startPaxos(
    ['lock', 'job', '--ttl', '2', '--verbose', '--', process.execPath, '-e', 'setInterval(() => {}, 1000)'],
    { env, group: true },
  );
  t.teardown(() => first.kill());
  await first.waitFor(/holding job \(key job\//);
  const second = startPaxos(
    ['lock', 'job', '--ttl', '2', '--verbose', '--', process.execPath, '-e', 'console.log("second ran")'],
    { env },
  );
  t.teardown(() => second.kill());
  await until(async () => (await kv.range({ prefix: 'job/' })).count === 2, 'the second to wait in line');
  t.false(second.out.includes('second ran'));
  await first.kill(); // SIGKILL, to its whole group: nobody revokes its lease
  const ended = await within(second.ended, 120_000, null);
  t.not(ended, null, 'the second got the lock and ran');
  t.is(ended!.code, 0, ended!.err);
  t.regex(ended!.out, /second ran/);
  await until(async () => (await kv.leases()).length === 0, 'every lease gone');
});

test.serial('a Lease whose keepalives cannot get through is given up once its TTL runs out', async (t) => {
  const { kv, procs } = await startKv3(t);
  const lease = await kv.lease(3);
  await until(() => lease.renewals >= 1, 'a first renewal');
  // Every replica stops: no keepalive can get through.
  const stopped = Date.now();
  await Promise.all(procs.map((p) => p.kill9()));
  const lost = await within(lease.lost, 60_000, null);
  t.not(lost, null, 'the lease was given up');
  t.is(lost!.reason, 'expired');
  t.regex(lost!.message, /no keepalive succeeded within its TTL of 3 s/);
  t.true(lease.signal.aborted);
  t.log(`given up ${Date.now() - stopped} ms after the replicas stopped`);
  // Its own deadline, not a call's timeout (60 s here): within its TTL of the last renewal, and some slack.
  t.true(Date.now() - stopped <= 3000 + 5000, 'given up at its TTL');
});

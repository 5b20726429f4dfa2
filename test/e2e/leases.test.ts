// Leases on a real kv3, through `paxos lease ...` and the client library:
// grant, keepalive (once, and until Ctrl-C), list, put --lease, revoke
// (which deletes the lease's keys, and a watcher sees each delete), a put,
// keepalive or transaction on a lease that is gone (nolease: exit 1,
// LeaseNotFoundError, nothing changed), a Lease that keeps itself alive,
// and bad input (exit 2, one line, nothing applied).

import test from 'ava';
import { DefiniteError, LeaseNotFoundError, type WatchEvent } from 'paxos-prj4/client';
import { paxos, startPaxos, within } from '../helpers/cli.js';
import { startKv3 } from '../helpers/kv3.js';

test.serial('lease grant, keepalive, list, put --lease, revoke deletes its keys (watched), then nolease', async (t) => {
  const { kv, env } = await startKv3(t);
  const granted = await paxos(['lease', 'grant', '30'], { env });
  t.is(granted.code, 0, granted.err);
  t.regex(granted.out, /^\d+\n$/);
  const id = Number(granted.out);
  const once = await paxos(['lease', 'keepalive', String(id), '--once'], { env });
  t.is(once.code, 0, once.err);
  t.regex(once.out, new RegExp(`^lease ${id} kept alive, TTL 30 s \\(slot \\d+, via peer\\d\\)\n$`));

  const put = await paxos(['put', 'svc/a', 'one', '--lease', String(id)], { env });
  t.is(put.code, 0, put.err);
  t.regex(put.out, new RegExp(`^ok: "svc/a" = "one" with lease ${id} `));
  await kv.put('svc/b', 'two', { lease: id });
  await kv.put('svc/plain', 'stays'); // no lease: revoking leaves it
  const list = await paxos(['lease', 'list', '--json'], { env });
  t.is(list.code, 0, list.err);
  t.deepEqual((JSON.parse(list.out) as { leases: unknown[] }).leases, [{ id, ttl: 30, keys: 2 }]);
  t.deepEqual(await kv.leases(), [{ id, ttl: 30, keys: 2 }]);
  const text = await paxos(['lease', 'list'], { env });
  t.is(text.out, `${id}\t30\t2\n`);

  // Revoke: both keys go in one slot, and a watcher sees both deletes.
  const w = kv.watch({ prefix: 'svc/' });
  const seen: WatchEvent[] = [];
  const deletes = (async () => {
    for await (const e of w) {
      seen.push(e);
      if (seen.filter((x) => x.type === 'delete').length === 2) return;
    }
  })();
  // The watch is registered before the revoke is sent: wait until a replica serves it.
  await kv.put('svc/marker', 'x');
  await within(
    (async () => {
      while (!seen.some((e) => e.key === 'svc/marker')) await new Promise((r) => setTimeout(r, 20));
    })(),
    60_000,
    null,
  );
  const revoked = await paxos(['lease', 'revoke', String(id)], { env });
  t.is(revoked.code, 0, revoked.err);
  t.regex(revoked.out, new RegExp(`^ok: revoked lease ${id}; its keys are deleted`));
  t.not(await within(deletes, 60_000, 'timeout'), 'timeout', 'the watcher saw both deletes');
  w.close();
  const dels = seen.filter((e) => e.type === 'delete');
  t.deepEqual(
    dels.map((e) => e.key),
    ['svc/a', 'svc/b'],
  );
  t.is(dels[0]!.rev, dels[1]!.rev, 'one slot deletes them both');
  t.is(await kv.get('svc/a'), null);
  t.is(await kv.get('svc/plain'), 'stays');
  t.deepEqual(await kv.leases(), []);

  // The lease is gone: a put with it changes nothing, and says so (exit 1).
  const late = await paxos(['put', 'svc/c', 'three', '--lease', String(id)], { env });
  t.is(late.code, 1, late.err);
  t.regex(late.out, new RegExp(`lease ${id} does not exist .*nothing was changed`));
  t.is(await kv.get('svc/c'), null);
  const lateJson = await paxos(['put', 'svc/c', 'three', '--lease', String(id), '--json'], { env });
  t.like(JSON.parse(lateJson.out) as Record<string, unknown>, { outcome: 'fail', status: 'nolease', lease: id });
  for (const args of [
    ['keepalive', String(id)],
    ['keepalive', String(id), '--once'],
    ['revoke', String(id)],
  ]) {
    const r = await paxos(['lease', ...args], { env });
    t.is(r.code, 1, `lease ${args.join(' ')}: ${r.err}`);
    t.regex(r.err, new RegExp(`^paxos lease \\w+: lease ${id} does not exist`));
  }
  // The library: typed errors, nothing changed.
  const e1 = await t.throwsAsync(kv.put('svc/d', 'x', { lease: id }));
  t.true(e1 instanceof LeaseNotFoundError);
  t.true(e1 instanceof DefiniteError);
  t.is((e1 as LeaseNotFoundError).id, id);
  t.is((e1 as LeaseNotFoundError).reason, 'nolease');
  t.true((await t.throwsAsync(kv.leaseKeepAlive(id))) instanceof LeaseNotFoundError);
  t.true((await t.throwsAsync(kv.leaseRevoke(id))) instanceof LeaseNotFoundError);
  const txn = kv
    .txn()
    .then({ op: 'put', key: 'svc/e', value: 'x' }, { op: 'put', key: 'svc/f', value: 'y', lease: id })
    .commit();
  t.true((await t.throwsAsync(txn)) instanceof LeaseNotFoundError);
  t.is(await kv.get('svc/e'), null, 'a transaction that names a gone lease applies nothing');

  // A transaction that puts with a live lease: its key goes with the lease.
  const g = await kv.leaseGrant(60);
  const r = await kv
    .txn()
    .if('txn/k', 'create', '=', 0)
    .then({ op: 'put', key: 'txn/k', value: 'v', lease: g.id })
    .commit();
  t.true(r.succeeded);
  t.deepEqual(await kv.leases(), [{ id: g.id, ttl: 60, keys: 1 }]);
  await kv.leaseRevoke(g.id);
  t.is(await kv.get('txn/k'), null);
});

test.serial('lease keepalive renews every TTL/3 until Ctrl-C; a Lease keeps itself alive; revoke()', async (t) => {
  const { kv, env } = await startKv3(t);
  const { id } = await kv.leaseGrant(3);
  const job = startPaxos(['lease', 'keepalive', String(id)], { env });
  t.teardown(() => job.kill());
  // The first renewal at once, then one every second: wait for the fourth line.
  await job.waitFor(new RegExp(`(lease ${id} kept alive, TTL 3 s.*\n){4}`));
  job.interrupt();
  const ended = await job.ended;
  t.is(ended.code, 0, ended.err);
  t.regex(ended.err, /^$/, 'nothing on stderr: Ctrl-C is how it ends');

  // The library's Lease: renewals in the background; revoke() deletes its keys and ends it.
  const renewed: number[] = [];
  const lease = await kv.lease(3, { onKeepAlive: (ttl) => renewed.push(ttl) });
  await kv.put('held/x', '1', { lease });
  await within(
    (async () => {
      while (lease.renewals < 3) await new Promise((r) => setTimeout(r, 50));
    })(),
    60_000,
    null,
  );
  t.true(lease.renewals >= 3, `renewals: ${lease.renewals}`);
  t.true(renewed.every((x) => x === 3));
  t.true(lease.alive);
  t.false(lease.signal.aborted);
  t.true(await lease.revoke());
  t.true(lease.signal.aborted);
  t.like((await lease.lost) as unknown as Record<string, unknown>, { reason: 'revoked', id: lease.id });
  t.is(await kv.get('held/x'), null);
  t.false(await lease.revoke(), 'revoked already: false, not an error');

  // A Lease revoked by someone else: the next keepalive hears nolease, and the signal says so.
  const other = await kv.lease(3);
  await kv.leaseRevoke(other.id);
  const lost = await within(other.lost, 60_000, null);
  t.like(lost as unknown as Record<string, unknown>, { reason: 'nolease', id: other.id });
});

test('bad input: a TTL of 0, below, fractional or over the max, a bad lease id, no NAME or CMD: exit 2', async (t) => {
  // No cluster: each must fail on its command line, before anything is sent; the endpoints are never reached.
  const env = { PAXOS_ENDPOINTS: 'peer1=127.0.0.1:1' };
  const cases: Array<[string[], RegExp]> = [
    [['lease', 'grant', '0'], /TTL must be a whole number of seconds from 1 to 31536000; got "0"/],
    [['lease', 'grant', '-5'], /must be a whole number from 1 up; got "-5"/],
    [['lease', 'grant', '1.5'], /TTL must be a whole number of seconds .*got "1\.5"/],
    [['lease', 'grant', '31536001'], /TTL must be a whole number of seconds from 1 to 31536000/],
    [['lease', 'grant', 'ten'], /TTL must be a whole number/],
    [['lease', 'grant'], /lease grant takes one argument/],
    [['lease', 'keepalive', '0'], /ID must be a lease id, a whole number from 1 up/],
    [['lease', 'revoke', 'abc'], /ID must be a lease id/],
    [['lease', 'revoke', '-2'], /got "-2"/],
    [['lease', 'list', '7'], /lease list takes no arguments/],
    [['lease', 'grant', '10', '--once'], /--once is for lease keepalive only/],
    [['lease'], /lease needs one of grant, keepalive, revoke, list/],
    [['put', 'k', 'v', '--lease', '0'], /--lease must be a lease id/],
    [['put', 'k', 'v', '--lease', 'x1'], /--lease must be a lease id/],
    [['put', 'k', 'v', '--lease=-1'], /--lease must be a lease id/],
    [['del', 'k', '--lease', '3'], /--lease is for put only/],
    [['lock'], /lock needs a NAME/],
    [['lock', 'jobs'], /lock needs a command to run/],
    [['lock', 'jobs', '--'], /lock needs a command to run/],
    [['lock', 'jobs', '--ttl', '0', '--', 'true'], /--ttl must be a whole number of seconds/],
    [['lock', 'jobs', '--ttl', '-3', '--', 'true'], /--ttl must be a whole number from 1 up/],
    [['lock', 'a', 'b', '--', 'true'], /lock takes one NAME/],
    [['elect'], /elect needs a NAME/],
    [['elect', 'db'], /elect takes NAME and VALUE/],
    [['elect', 'db', 'v', '--ttl', '2.5'], /--ttl must be a whole number/],
    [['elect', 'db', 'v', '--listen'], /--listen takes no VALUE/],
  ];
  for (const [args, want] of cases) {
    const r = await paxos(args, { env });
    t.is(r.code, 2, `paxos ${args.join(' ')}: ${r.err}`);
    t.regex(r.err, want, args.join(' '));
    t.is(r.err.trimEnd().split('\n').length, 1, `one line: ${r.err}`);
    t.is(r.out, '');
  }
});

test.serial('help: lease, lock and elect each have one, and paxos --help lists them', async (t) => {
  for (const verb of ['lease', 'lock', 'elect']) {
    const r = await paxos([verb, '--help']);
    t.is(r.code, 0);
    t.regex(r.out, new RegExp(`^Usage: paxos ${verb} `));
  }
  const put = await paxos(['put', '--help']);
  t.regex(put.out, /--lease ID/);
  const top = await paxos(['--help']);
  t.regex(top.out, /paxos lease grant TTL/);
  t.regex(top.out, /paxos lock NAME .*-- CMD/);
  t.regex(top.out, /paxos elect NAME VALUE/);
});

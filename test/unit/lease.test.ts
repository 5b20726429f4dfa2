import test from 'ava';
import { checkClientCommand, checkCommand, decodeResult, encodeResult, type Command } from '../../src/sm/command.js';
import { KvBuilder } from '../../src/sm/kv-builder.js';
import { KvStore, SnapshotError } from '../../src/sm/kv.js';
import { LeaseClock } from '../../src/node/lease-clock.js';
import { MAX_LEASES, type LeaseChange } from '../../src/sm/lease.js';

const c = 'cli';
let seq = 0;
const at = (kv: KvStore, cmd: Command): ReturnType<KvStore['apply']> => kv.apply(cmd, kv.appliedIndex + 1);
const grant = (ttl: number): Command => ({ op: 'grant', client: c, seq: ++seq, ttl });
const keep = (id: number): Command => ({ op: 'keep', client: c, seq: ++seq, id });
const revoke = (id: number): Command => ({ op: 'revoke', client: c, seq: ++seq, id });
const put = (key: string, value: string, lease?: number): Command => ({
  op: 'put',
  client: c,
  seq: ++seq,
  key,
  value,
  ...(lease === undefined ? {} : { lease }),
});
const list = (): Command => ({ op: 'leases', client: c, seq: ++seq });

test.beforeEach(() => {
  seq = 0;
});

test.serial(
  'leases: grant counts ids out; a keepalive renews at its slot; revoke deletes the keys put with it',
  (t) => {
    const kv = new KvStore();
    const changes: string[] = [];
    const leases: LeaseChange[] = [];
    kv.onChange = (ch) => changes.push(`${ch.rev}:${ch.key}=${ch.value}`);
    kv.onLease = (l) => leases.push(l);
    t.deepEqual(at(kv, grant(10)), { status: 'lease', id: 1, ttl: 10 });
    t.deepEqual(at(kv, grant(5)), { status: 'lease', id: 2, ttl: 5 });
    t.deepEqual(at(kv, put('a', '1', 1)), { status: 'ok' });
    t.deepEqual(at(kv, put('b', '1', 1)), { status: 'ok' });
    t.deepEqual(at(kv, put('c', '1', 2)), { status: 'ok' });
    t.is(kv.entry('a')?.lease, 1);
    // A put without a lease detaches the key, as etcd's does.
    at(kv, put('b', '2'));
    t.is(kv.entry('b')?.lease, undefined);
    t.deepEqual(at(kv, list()), {
      status: 'leases',
      leases: [
        [1, 10, 1],
        [2, 5, 1],
      ],
    });
    t.deepEqual(at(kv, keep(1)), { status: 'lease', id: 1, ttl: 10 });
    t.is(kv.lease(1)?.renewed, kv.appliedIndex);
    changes.length = 0;
    t.deepEqual(at(kv, revoke(1)), { status: 'ok' });
    t.deepEqual(changes, [`${kv.appliedIndex}:a=null`], 'only a: b left the lease');
    t.is(kv.read('b'), '2');
    t.deepEqual(at(kv, keep(1)), { status: 'nolease', id: 1 });
    t.deepEqual(at(kv, revoke(1)), { status: 'nolease', id: 1 });
    t.deepEqual(at(kv, put('d', '1', 1)), { status: 'nolease', id: 1 }, 'a put with a lease that is gone');
    t.is(kv.read('d'), null);
    // Ids are never reused.
    t.deepEqual(at(kv, grant(3)), { status: 'lease', id: 3, ttl: 3 });
    t.deepEqual(
      leases.map((l) => ('gone' in l ? `-${l.id}` : `+${l.id}@${l.renewed}`)),
      ['+1@1', '+2@2', '+1@8', '-1', '+3@13'],
    );
  },
);

test.serial('leases: an expire takes effect only if the lease was not renewed since the slot it names', (t) => {
  const kv = new KvStore();
  at(kv, grant(10)); // slot 1
  at(kv, put('k', 'v', 1)); // slot 2
  at(kv, keep(1)); // slot 3: renewed
  t.deepEqual(at(kv, { op: 'expire', id: 1, at: 1 }), { status: 'ok' });
  t.is(kv.read('k'), 'v', 'renewed at 3 after the leader saw 1: not expired');
  at(kv, { op: 'expire', id: 1, at: 3 });
  t.is(kv.read('k'), null);
  t.is(kv.lease(1), undefined);
  at(kv, { op: 'expire', id: 1, at: 3 });
  at(kv, { op: 'expire', id: 9, at: 3 });
  t.is(kv.sessionCount, 1, 'an expire has no session');
});

test.serial('leases: a transaction that puts with a lease that is gone runs nothing', (t) => {
  const kv = new KvStore();
  at(kv, grant(10));
  const txn = (lease: number): Command => ({
    op: 'txn',
    client: c,
    seq: ++seq,
    compares: [],
    success: [
      { op: 'put', key: 'x', value: '1' },
      { op: 'put', key: 'y', value: '1', lease },
    ],
    failure: [],
  });
  t.deepEqual(at(kv, txn(7)), { status: 'nolease', id: 7 });
  t.is(kv.read('x'), null);
  t.is(at(kv, txn(1)).status, 'txn');
  t.is(kv.entry('y')?.lease, 1);
  at(kv, revoke(1));
  t.is(kv.read('y'), null);
  t.is(kv.read('x'), '1');
});

test.serial('leases: bad lease commands are refused where they arrive, and a client cannot send an expire', (t) => {
  const why = (raw: unknown): string => {
    const d = checkClientCommand(raw);
    return d.ok ? 'ok' : d.why;
  };
  t.regex(why({ o: 'grant', c, s: 1, t: 0 }), /TTL must be a whole number of seconds from 1/);
  t.regex(why({ o: 'grant', c, s: 1, t: 1.5 }), /TTL/);
  t.regex(why({ o: 'grant', c, s: 1, t: 10 ** 9 }), /TTL/);
  t.regex(why({ o: 'keep', c, s: 1, id: 0 }), /"id" must be a lease id/);
  t.regex(why({ o: 'revoke', c, s: 1 }), /"id" must be a lease id/);
  t.regex(why({ o: 'put', c, s: 1, k: 'a', v: 'b', l: -1 }), /"l" \(lease\) must be a lease id/);
  t.regex(why({ o: 'expire', id: 1, at: 1 }), /only the leader expires a lease/);
  t.true(checkCommand({ o: 'expire', id: 1, at: 1 }).ok, 'from a peer, it is a command like any other');
  for (const r of [
    { status: 'lease', id: 3, ttl: 9 },
    { status: 'nolease', id: 3 },
    { status: 'leases', leases: [[3, 9, 0]] },
  ] as const)
    t.deepEqual(decodeResult(encodeResult(r)), { ok: true, value: r });
});

test.serial('leases: snapshots (one document, lines, pieces) keep the leases, their keys and the next id', (t) => {
  const kv = new KvStore();
  at(kv, grant(10));
  at(kv, grant(20));
  at(kv, revoke(1));
  at(kv, grant(30));
  at(kv, put('a', '1', 2));
  at(kv, put('b', '1', 3));
  at(kv, put('c', '1'));
  const doc = kv.snapshot();
  const back = KvStore.restore(doc);
  t.deepEqual(back.snapshot(), doc);
  t.deepEqual(back.leaseLines(), [
    [2, 20, 2],
    [3, 30, 4],
  ]);
  const view = kv.view();
  const fromLines = KvBuilder.fromLines([...view.lines()].map((l) => l.slice(0, -1)));
  t.deepEqual(fromLines.snapshot(), doc);
  const b = new KvBuilder(view.applied, view.leases.next);
  for (const p of view.pieces(30)) {
    for (const e of p.entries) b.entry(e);
    for (const l of p.leases) b.lease(l);
    for (const s of p.sessions) b.session(s);
  }
  const built = b.build();
  t.deepEqual(built.snapshot(), doc);
  view.close();
  // The next lease of the rebuilt store is 4, not a reused 1, and revoking 2 deletes a there too.
  t.deepEqual(at(built, grant(5)), { status: 'lease', id: 4, ttl: 5 });
  at(built, revoke(2));
  t.is(built.read('a'), null);
  // A key naming a lease the snapshot does not hold is refused.
  const bad = new KvBuilder(3, 5);
  bad.entry(['k', 'v', 1, 1, 1, 4]);
  t.throws(() => bad.build(), { instanceOf: SnapshotError, message: /names lease 4, which it does not hold/ });
  const reused = new KvBuilder(3, 2);
  reused.lease([2, 10, 1]);
  t.throws(() => reused.build(), { instanceOf: SnapshotError, message: /below "nextLease"/ });
});

test.serial(
  'lease clock: a leader expires a lease a TTL after its last renewal; a new leader first extends every lease',
  (t) => {
    const clock = new LeaseClock(1000);
    clock.changed({ id: 1, ttl: 2, renewed: 5 }, 0);
    t.deepEqual(clock.due(5000), [], 'a follower proposes nothing');
    clock.leads(true, 500);
    t.deepEqual(clock.due(3400), [], 'promoted at 500: 500 + 1000 + 2000');
    t.deepEqual(clock.due(3500), [{ id: 1, at: 5 }]);
    t.deepEqual(clock.due(3600), [], 'proposed once');
    t.deepEqual(clock.due(4500), [{ id: 1, at: 5 }], 'again after the extension, in case it was lost');
    clock.changed({ id: 1, ttl: 2, renewed: 9 }, 4000);
    t.deepEqual(clock.due(5999), []);
    t.deepEqual(clock.due(6000), [{ id: 1, at: 9 }]);
    clock.changed({ id: 1, gone: true }, 6100);
    t.deepEqual(clock.due(9000), []);
    t.is(clock.size, 0);

    // Without the extension (the simulator's control), a new leader expires at once a lease it applied long ago.
    const broken = new LeaseClock(1000, false);
    broken.changed({ id: 1, ttl: 2, renewed: 5 }, 0);
    broken.leads(true, 2500);
    t.deepEqual(broken.due(2500), [{ id: 1, at: 5 }]);
  },
);

test.serial('leases: a retried keepalive or grant is answered from its session, not applied again', (t) => {
  const kv = new KvStore();
  const g: Command = { op: 'grant', client: 'r', seq: 1, ttl: 5 };
  t.deepEqual(kv.apply(g, 1), { status: 'lease', id: 1, ttl: 5 });
  t.deepEqual(kv.apply(g, 2), { status: 'lease', id: 1, ttl: 5 }, 'the same lease, not a second one');
  const k: Command = { op: 'keep', client: 'r', seq: 2, id: 1 };
  kv.apply(k, 3);
  kv.apply(k, 4);
  t.is(kv.lease(1)?.renewed, 3, 'renewed at the slot that applied it first');
  t.deepEqual(kv.leaseLines(), [[1, 5, 3]]);
  t.deepEqual(kv.apply({ op: 'grant', client: 'r', seq: 3, ttl: 5 }, 5), { status: 'lease', id: 2, ttl: 5 });
});

test.serial('leases: past MAX_LEASES a grant is refused, nothing changed; a revoke makes room', (t) => {
  const kv = new KvStore();
  let slot = 0;
  for (let i = 1; i <= MAX_LEASES; i++) kv.apply({ op: 'grant', client: `g${i}`, seq: 1, ttl: 60 }, ++slot);
  t.deepEqual(kv.apply({ op: 'grant', client: 'x', seq: 1, ttl: 60 }, ++slot), { status: 'toomany', max: MAX_LEASES });
  t.is(kv.leaseLines().length, MAX_LEASES);
  kv.apply({ op: 'revoke', client: 'x', seq: 2, id: 7 }, ++slot);
  t.deepEqual(kv.apply({ op: 'grant', client: 'x', seq: 3, ttl: 60 }, slot + 1), {
    status: 'lease',
    id: MAX_LEASES + 1,
    ttl: 60,
  });
  t.deepEqual(decodeResult(encodeResult({ status: 'toomany', max: 5 })), {
    ok: true,
    value: { status: 'toomany', max: 5 },
  });
});

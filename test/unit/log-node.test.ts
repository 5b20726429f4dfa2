// Focused tests of the replicated log's pure core (LogNode): messages are
// handed over by hand, so each test drives exactly the exchange it is about.

import test from 'ava';
import type { PeerId } from '../../src/paxos/ids.js';
import { BALLOT_STRIDE, ballotOwner, nextBallot } from '../../src/log/ballot.js';
import { Net, TIMING } from '../helpers/log-net.js';
import {
  EMPTY_RECOVERED,
  replay,
  type Batch,
  type LogMessage,
  type Ready,
  type StateSnapshot,
} from '../../src/log/types.js';

/** A stand-in for a shell's store: the core only passes it along. */
const store = (appliedIndex: number): StateSnapshot => ({ appliedIndex });

type Msg<T extends LogMessage['type']> = Extract<LogMessage, { type: T }>;

function cmd(c: string, s: number, v = `${c}${s}`): Record<string, unknown> {
  return { o: 'put', c, s, k: 'k', v };
}

test('ballots: owned round-robin, the next one is above what was seen and owned by self', (t) => {
  // One stride for every cluster size, since members come and go (BALLOT_STRIDE).
  t.is(ballotOwner(1), 1);
  t.is(ballotOwner(BALLOT_STRIDE + 2), 2);
  t.is(ballotOwner(3 * BALLOT_STRIDE), BALLOT_STRIDE);
  for (const seen of [0, 1, 2, 3, 7, 8, 100, 5000])
    for (const self of [1, 2, 3, 17]) {
      const b = nextBallot(seen, self);
      t.true(b > seen);
      t.is(ballotOwner(b), self);
      t.true(b - seen <= BALLOT_STRIDE, 'and the smallest such');
    }
});

test(
  'election with 3 replicas: a timeout makes a candidate, a quorum of acks a leader, its heartbeats ' + 'followers',
  (t) => {
    const net = new Net(3);
    net.tick(1, TIMING.electionTicks - 1);
    t.is(net.node(1).role, 'follower');
    net.tick(1);
    t.is(net.node(1).role, 'candidate');
    const b = net.node(1).currentBallot;
    t.is(ballotOwner(b), 1);
    // Its own promise is on disk before the prepare goes out.
    t.deepEqual(net.records.get(1)!.at(-1), { t: 'p', n: b });
    const prepares = net.take((_f, _t, m) => m.type === 'prepare');
    t.deepEqual(prepares.map((p) => p.to).sort(), [2, 3]);
    // One ack is a quorum of 3 with its own promise.
    net.step(2, prepares[0]!.msg);
    net.deliver((f, to) => f === 2 && to === 1);
    t.is(net.node(1).role, 'leader');
    t.is(net.node(1).leader, 1);
    t.is(net.node(2).promise, b);
    net.tick(1, TIMING.heartbeatTicks);
    net.deliver();
    t.is(net.node(2).leader, 1);
    t.is(net.node(3).leader, 1);
    t.is(net.node(3).role, 'follower');
  },
);

test('a rejected candidate steps down; a prepare below the promise is answered with the promise', (t) => {
  const net = new Net(3);
  net.step(2, { type: 'prepare', from: 3, n: 9, slot: 1, life: 99 });
  net.take(() => true);
  net.tick(1, TIMING.electionTicks);
  const b = net.node(1).currentBallot;
  t.true(b < 9);
  const [prepare] = net.take((_f, to, m) => to === 2 && m.type === 'prepare');
  net.step(2, prepare!.msg);
  const [ack] = net.take((f, to) => f === 2 && to === 1);
  t.like(ack!.msg, { type: 'prepare_ack', n: b, promised: 9, votes: [] });
  net.step(1, ack!.msg);
  t.is(net.node(1).role, 'follower');
});

test('a new leader adopts, per slot, the highest-ballot vote a quorum reports, and fills holes with no-ops', (t) => {
  // Replica 1 of 5 has promised ballot 8 before (a restart): it stands at its next ballot above, 1 + BALLOT_STRIDE.
  const net = new Net(5, TIMING, (id) => (id === 1 ? { ...EMPTY_RECOVERED, promised: 8 } : EMPTY_RECOVERED));
  net.tick(1, TIMING.electionTicks);
  const b = net.node(1).currentBallot;
  t.is(b, 1 + BALLOT_STRIDE);
  net.take(() => true);
  const A: Batch = [cmd('a', 1)];
  const B: Batch = [cmd('b', 1)];
  const C: Batch = [cmd('c', 1)];
  const D: Batch = [cmd('d', 1)];
  net.step(1, {
    type: 'prepare_ack',
    life: net.node(1).life,
    from: 2,
    n: b,
    slot: 1,
    promised: b,
    base: 1,
    votes: [
      { s: 1, n: 2, v: A },
      { s: 4, n: 7, v: C },
      { s: 5, n: 3, v: D },
    ],
  });
  t.is(net.node(1).role, 'candidate', 'one ack and its own promise are not a quorum of 5');
  net.step(1, {
    type: 'prepare_ack',
    life: net.node(1).life,
    from: 3,
    n: b,
    slot: 1,
    promised: b,
    base: 1,
    votes: [
      { s: 1, n: 8, v: B },
      { s: 5, n: 4, v: A },
    ],
  });
  t.is(net.node(1).role, 'leader');
  const accepts = new Map(
    net
      .take((_f, to, m) => to === 2 && m.type === 'accept')
      .map((x) => [(x.msg as Msg<'accept'>).slot, x.msg as Msg<'accept'>]),
  );
  t.deepEqual([...accepts.keys()].sort(), [1, 2, 3, 4, 5]);
  t.deepEqual(accepts.get(1)!.v, B, 'slot 1: ballot 8 beats ballot 2');
  t.deepEqual(accepts.get(2)!.v, [], 'slot 2: a hole, a no-op');
  t.deepEqual(accepts.get(3)!.v, [], 'slot 3: a hole, a no-op');
  t.deepEqual(accepts.get(4)!.v, C);
  t.deepEqual(accepts.get(5)!.v, A, 'slot 5: ballot 4 beats ballot 3');
  for (const a of accepts.values()) t.is(a.n, b);
  // New commands go after the adopted slots.
  net.propose(1, [cmd('e', 1)]);
  const [next] = net.take((_f, to, m) => to === 2 && m.type === 'accept');
  t.like(next!.msg, { slot: 6 });
});

test('a value a quorum member knows chosen beats any vote, and is learned, not proposed', (t) => {
  const net = new Net(3);
  net.tick(1, TIMING.electionTicks);
  const b = net.node(1).currentBallot;
  net.take(() => true);
  const X: Batch = [cmd('x', 1)];
  const Y: Batch = [cmd('y', 1)];
  // Slot 1: replica 1 itself voted Y at a higher ballot than X's; replica 2 knows X chosen.
  net.step(1, {
    type: 'prepare_ack',
    life: net.node(1).life,
    from: 2,
    n: b,
    slot: 1,
    promised: b,
    base: 1,
    votes: [
      { s: 1, n: 0, v: X, chosen: true },
      { s: 2, n: 1, v: Y },
    ],
  });
  t.is(net.node(1).role, 'leader');
  t.is(net.learned.get(1)!.get(1), JSON.stringify(X));
  const accepts = net.take((_f, to, m) => to === 2 && m.type === 'accept').map((x) => x.msg as Msg<'accept'>);
  t.deepEqual(
    accepts.map((a) => a.slot),
    [2],
  );
  t.is(accepts[0]!.commit, 2, 'and tells followers slot 1 is chosen');
});

test('acks for another ballot are not counted', (t) => {
  const net = new Net(5);
  const b = net.elect(1);
  net.propose(1, [cmd('a', 1)]);
  const slot = (net.take((_f, to, m) => to === 2 && m.type === 'accept')[0]!.msg as Msg<'accept'>).slot;
  net.take(() => true);
  // Acks from 2 and 3 at an older ballot of replica 1, and a repeated ack from 2.
  net.step(1, { type: 'accept_ack', from: 2, n: b - 5, slot, promised: b - 5 });
  net.step(1, { type: 'accept_ack', from: 3, n: b - 5, slot, promised: b - 5 });
  t.is(net.node(1).commit, slot, 'not chosen on acks for another ballot');
  net.step(1, { type: 'accept_ack', from: 2, n: b, slot, promised: b });
  net.step(1, { type: 'accept_ack', from: 2, n: b, slot, promised: b });
  t.is(net.node(1).commit, slot, 'the same acceptor twice is one ack');
  net.step(1, { type: 'accept_ack', from: 3, n: b, slot, promised: b });
  t.is(net.node(1).commit, slot + 1, 'three acks at its ballot: chosen');
  t.true(net.learned.get(1)!.has(slot));
});

test('prepare acks for another ballot are not counted', (t) => {
  const net = new Net(5);
  net.tick(1, TIMING.electionTicks);
  const b = net.node(1).currentBallot;
  net.take(() => true);
  for (const from of [2, 3, 4])
    net.step(1, {
      type: 'prepare_ack',
      life: net.node(1).life,
      from,
      n: b + 5,
      slot: 1,
      promised: b + 5,
      base: 1,
      votes: [],
    });
  t.is(net.node(1).role, 'candidate');
  net.step(1, { type: 'prepare_ack', life: net.node(1).life, from: 2, n: b, slot: 1, promised: b, base: 1, votes: [] });
  net.step(1, { type: 'prepare_ack', life: net.node(1).life, from: 2, n: b, slot: 1, promised: b, base: 1, votes: [] });
  t.is(net.node(1).role, 'candidate', 'one acceptor counts once');
  net.step(1, { type: 'prepare_ack', life: net.node(1).life, from: 3, n: b, slot: 1, promised: b, base: 1, votes: [] });
  t.is(net.node(1).role, 'leader');
});

test('an acceptor rejects an accept below its promise and accepts one equal to it', (t) => {
  const net = new Net(3);
  net.step(2, { type: 'prepare', from: 3, n: 6, slot: 1, life: 99 });
  net.take(() => true);
  const before = net.records.get(2)!.length;
  net.step(2, { type: 'accept', from: 1, n: 4, slot: 1, v: [cmd('a', 1)], commit: 1 });
  t.is(net.records.get(2)!.length, before, 'no vote written');
  const [nack] = net.take(() => true);
  t.like(nack!.msg, { type: 'accept_ack', n: 4, promised: 6 });
  net.step(2, { type: 'accept', from: 3, n: 6, slot: 1, v: [cmd('b', 1)], commit: 1 });
  // Its vote, then (3 replicas: the leader voted too) that the slot is chosen.
  t.deepEqual(net.records.get(2)!.slice(-2), [
    { t: 'v', s: 1, n: 6, v: [cmd('b', 1)] },
    { t: 'c', s: 1 },
  ]);
  const [ack] = net.take(() => true);
  t.like(ack!.msg, { type: 'accept_ack', n: 6, promised: 6 });
  // And a higher one raises the promise, durably.
  net.step(2, { type: 'accept', from: 1, n: 7, slot: 2, v: [], commit: 1 });
  t.is(net.node(2).promise, 7);
  t.true(net.records.get(2)!.some((r) => r.t === 'p' && r.n === 7));
});

test('after a restart (replay of its records) a replica stands above every promise it made', (t) => {
  const net = new Net(3);
  net.step(2, { type: 'prepare', from: 3, n: 9, slot: 1, life: 99 });
  net.step(2, { type: 'accept', from: 1, n: 10, slot: 1, v: [cmd('a', 1)], commit: 1 });
  net.tick(2, TIMING.electionTicks);
  const first = net.node(2).currentBallot;
  t.true(first > 10);
  net.take(() => true);
  // Crash and restart from the records.
  const rec = replay(net.records.get(2)!);
  t.is(rec.promised, first, 'its own ballot was a durable promise');
  t.deepEqual(rec.votes.get(1), { n: 10, v: [cmd('a', 1)] });
  const node = net.boot(2, rec);
  t.is(node.promise, first);
  net.tick(2, TIMING.electionTicks);
  t.is(node.role, 'candidate');
  t.true(node.currentBallot > first, `${node.currentBallot} > ${first}`);
  t.is(ballotOwner(node.currentBallot), 2);
});

test(
  'replay: a "c" record takes the latest vote before it; "e" carries its value; the snapshot hides slots at or ' +
    'below it',
  (t) => {
    const A: Batch = [cmd('a', 1)];
    const B: Batch = [cmd('b', 1)];
    const rec = replay(
      [
        { t: 'p', n: 4 },
        { t: 'v', s: 3, n: 2, v: A },
        { t: 'v', s: 3, n: 4, v: B },
        { t: 'c', s: 3 },
        { t: 'e', s: 4, v: A },
        { t: 'v', s: 2, n: 4, v: A },
        { t: 'c', s: 2 },
        { t: 'p', n: 3 },
      ],
      2,
    );
    t.is(rec.promised, 4, 'a promise never goes down');
    t.deepEqual(
      [...rec.chosen],
      [
        [3, B],
        [4, A],
      ],
    );
    t.false(rec.votes.has(2));
    t.is(rec.snapshotIndex, 2);
  },
);

test(
  "3 replicas: the leader's accept leaves after its own vote is durable, a follower's vote makes the slot " +
    'chosen there, and no chose is sent; 5 replicas: the accept leaves early, and a chose follows',
  (t) => {
    for (const n of [3, 5]) {
      const net = new Net(n);
      net.elect(1);
      net.take(() => true);
      net.node(1).propose([cmd('a', 1)]);
      const [r] = net.drain(1);
      const accepts = (xs: Ready['early']): number => xs.filter((o) => o.msg.type === 'accept').length;
      t.deepEqual([accepts(r!.early), accepts(r!.messages)], n === 3 ? [0, 1] : [1, 0], `${n} replicas`);
      t.true(r!.records.some((x) => x.t === 'v'));
      let choses = 0;
      net.deliver((_f, _to, m) => {
        if (m.type === 'chose') choses += 1;
        return true;
      });
      t.is(net.node(2).commit, 2, `${n} replicas: slot 1 chosen at replica 2`);
      t.is(choses > 0, n === 5, `${n} replicas: ${choses} chose messages`);
    }
  },
);

for (const n of [3, 5])
  test(`${n} replicas: a slot is never applied before every earlier slot`, (t) => {
    const net = new Net(n);
    const b = net.elect(1);
    net.take(() => true);
    const X: Batch = [cmd('x', 1)];
    const Y: Batch = [cmd('y', 1)];
    const Z: Batch = [cmd('z', 1)];
    // Follower 2 learns slot 3 and 2 chosen first: with 3 replicas, by its votes (the leader voted too);
    // with 5, by the leader's chose messages.
    const learn = (slot: number, v: Batch): void => {
      if (n === 3) net.step(2, { type: 'accept', from: 1, n: b, slot, v, commit: 1 });
      else net.step(2, { type: 'chose', from: 1, n: b, slot });
    };
    if (n === 5)
      for (const [slot, v] of [
        [1, X],
        [2, Y],
        [3, Z],
      ] as const)
        net.step(2, { type: 'accept', from: 1, n: b, slot, v, commit: 1 });
    learn(3, Z);
    learn(2, Y);
    t.deepEqual(net.applied.get(2), []);
    t.is(net.node(2).commit, 1);
    learn(1, X);
    t.deepEqual(net.applied.get(2), [1, 2, 3]);
    t.is(net.node(2).commit, 4);
    t.is(net.node(2).applied, 3);
  });

test('a follower that hears a commit for slots it holds no vote for fetches them, and applies in order', (t) => {
  const net = new Net(3, { ...TIMING, maxEntries: 2 });
  const b = net.elect(1);
  for (let i = 1; i <= 5; i++) net.propose(1, [cmd('a', i)]);
  // Only replica 2 takes part; 3 hears nothing.
  net.deliver((f, to) => f !== 3 && to !== 3);
  t.is(net.node(1).commit, 6);
  t.deepEqual(net.applied.get(3), []);
  net.tick(1, TIMING.heartbeatTicks);
  const [hb] = net.take((_f, to, m) => to === 3 && m.type === 'heartbeat');
  t.like(hb!.msg, { n: b, commit: 6 });
  net.take(() => true);
  net.step(3, hb!.msg);
  const fetches = net.mail.filter((m) => m.from === 3 && m.msg.type === 'fetch');
  t.deepEqual(
    fetches.map((f) => [f.to, (f.msg as Msg<'fetch'>).slot]),
    [[1, 1]],
  );
  // Entries come two at a time: three rounds.
  net.deliver((f, to, m) => (f === 3 && m.type === 'fetch') || (to === 3 && m.type === 'entries'));
  t.deepEqual(net.applied.get(3), [1, 2, 3, 4, 5]);
  for (let s = 1; s <= 5; s++) t.is(net.learned.get(3)!.get(s), net.learned.get(1)!.get(s));
  // Learned from a peer: written as values ("e"), so a restart finds them.
  t.is(net.records.get(3)!.filter((r) => r.t === 'e').length, 5);
});

test('a follower behind the compacted log catches up by snapshot, then by entries', (t) => {
  const net = new Net(3);
  net.elect(1);
  for (let i = 1; i <= 6; i++) net.propose(1, [cmd('a', i)]);
  net.deliver((f, to) => f !== 3 && to !== 3);
  // The leader snapshots at slot 4 and keeps nothing before it.
  net.node(1).compact(4, 5);
  t.is(net.node(1).chosenAt(4), undefined);
  t.truthy(net.node(1).chosenAt(5));
  net.step(1, { type: 'fetch', from: 3, slot: 1 });
  t.deepEqual(net.sendSnapshotTo.get(1), [3]);
  t.false(
    net.mail.some((m) => m.msg.type === 'entries'),
    'no entries below the log start',
  );
  // The shell sends the store at its applied slot (here 6: it applied all).
  net.take(() => true);
  net.tick(1, TIMING.heartbeatTicks);
  net.deliver((f, to, m) => to === 3 && m.type === 'heartbeat');
  net.take((f, to, m) => f === 3 && m.type === 'fetch');
  net.step(3, { type: 'snapshot', from: 1, index: 4, data: store(4) });
  t.deepEqual(net.snapshots.get(3), [{ index: 4, data: store(4) }]);
  t.is(net.node(3).applied, 4);
  t.is(net.node(3).commit, 5);
  // Then slots 5 and 6 from the log.
  net.deliver((f, to, m) => (f === 3 && m.type === 'fetch') || (to === 3 && m.type === 'entries'));
  t.deepEqual(net.applied.get(3), [-4, 5, 6]);
  // A snapshot older than what it has is ignored.
  net.step(3, { type: 'snapshot', from: 1, index: 3, data: store(3) });
  t.is(net.snapshots.get(3)!.length, 1);
  // And a restart from its records (on top of the snapshot) finds slots 5 and 6 again.
  const node = net.boot(3, replay(net.records.get(3)!, 4));
  t.is(node.applied, 6);
  t.deepEqual(net.applied.get(3), [5, 6]);
});

test('a candidate that is behind a quorum member compacted log catches up instead of leading', (t) => {
  const net = new Net(3);
  net.tick(1, TIMING.electionTicks);
  const b = net.node(1).currentBallot;
  net.take(() => true);
  net.step(1, {
    type: 'prepare_ack',
    life: net.node(1).life,
    from: 2,
    n: b,
    slot: 1,
    promised: b,
    base: 10,
    votes: [],
  });
  t.is(net.node(1).role, 'follower');
  t.like(net.mail.find((m) => m.from === 1)?.msg, { type: 'fetch', slot: 1 });
});

test('batching: with the window full, waiting commands share the next slot', (t) => {
  const net = new Net(3, { ...TIMING, window: 1, maxBatch: 3 });
  net.elect(1);
  net.take(() => true);
  net.propose(1, [cmd('a', 1)]);
  net.propose(1, [cmd('b', 1)]);
  net.propose(1, [cmd('c', 1)]);
  net.propose(1, [cmd('d', 1)]);
  net.propose(1, [cmd('e', 1)]);
  const first = net.mail.filter((m) => m.to === 2 && m.msg.type === 'accept').map((m) => m.msg as Msg<'accept'>);
  t.deepEqual(
    first.map((a) => [a.slot, a.v.length]),
    [[1, 1]],
    'one slot in flight',
  );
  net.deliver((f, to) => to !== 3 && f !== 3);
  const slots = [...net.learned.get(1)!].map(([s, v]) => [
    s,
    (JSON.parse(v) as unknown[]).map((c) => (c as { c: string }).c).join(''),
  ]);
  t.deepEqual(slots, [
    [1, 'a'],
    [2, 'bcd'],
    [3, 'e'],
  ]);
});

test('a follower forwards commands to the leader it knows; with none known they are unplaced', (t) => {
  const net = new Net(3);
  net.propose(2, [cmd('a', 1)]);
  t.deepEqual(net.unplaced.get(2), [cmd('a', 1)]);
  net.elect(1);
  net.tick(1, TIMING.heartbeatTicks);
  net.deliver();
  t.is(net.node(2).leader, 1);
  net.propose(2, [cmd('b', 1)]);
  const [fw] = net.take((f, to, m) => f === 2 && m.type === 'forward');
  t.is(fw!.to, 1);
  t.deepEqual((fw!.msg as Msg<'forward'>).cmds, [cmd('b', 1)]);
  net.step(1, fw!.msg);
  net.deliver();
  t.is(net.learned.get(2)!.get(1), JSON.stringify([cmd('b', 1)]));
});

test(
  'a candidate hands new commands and reads back at once; commands pending from its leadership stay and ' + 'get slots',
  (t) => {
    // Alone (its prepares lost), replica 2 stands: it knows no leader.
    const lone = new Net(3);
    lone.tick(2, TIMING.electionTicks);
    lone.take(() => true);
    t.is(lone.node(2).role, 'candidate');
    lone.propose(2, [cmd('a', 1)]);
    t.deepEqual(lone.unplaced.get(2), [cmd('a', 1)], 'a new command comes back unplaced, not parked');
    lone.node(2).read([5]);
    lone.drain(2);
    t.deepEqual(lone.unreadable.get(2), [5], 'and a read comes back unreadable');

    // A leader with its window full holds a command pending, then meets a
    // higher promise and stands again (rescout): that command stays.
    const net = new Net(3, { ...TIMING, window: 1 });
    const b1 = net.elect(1);
    net.take(() => true);
    net.propose(1, [cmd('b', 1)]);
    net.propose(1, [cmd('c', 1)]);
    const [accept] = net.take((_f, to, m) => to === 2 && m.type === 'accept');
    net.take(() => true);
    net.step(1, { type: 'accept_ack', from: 2, n: b1, slot: (accept!.msg as Msg<'accept'>).slot, promised: b1 + 30 });
    t.is(net.node(1).role, 'candidate');
    net.propose(1, [cmd('d', 1)]);
    t.deepEqual(net.unplaced.get(1), [cmd('d', 1)], 'only the new command comes back');
    // It wins at its new ballot: the command it held gets a slot.
    net.deliver();
    for (let i = 0; i < 5 && ![...net.learned.get(1)!.values()].some((v) => v.includes('"c"')); i++) {
      net.tick(1);
      net.deliver();
    }
    t.is(net.node(1).role, 'leader');
    t.true(
      [...net.learned.get(1)!.values()].some((v) => v.includes('"c":"c"')),
      `learned ${JSON.stringify([...net.learned.get(1)!])}`,
    );
    t.false([...net.learned.get(1)!.values()].some((v) => v.includes('"c":"d"')));
  },
);

test('a leader that learns slots from a catch-up reply does not make followers learn its own losing proposal', (t) => {
  // Five replicas. Replica 1 leads at ballot 1 and proposes Y for slot 1;
  // only replica 4 gets it. Replicas 2, 3, 5 elect 2, which chooses X for
  // slot 1. A late `entries` reply (to a fetch 1 sent while it was behind)
  // tells 1 that slot 1 holds X. If 1 went on leading at ballot 1, its
  // commit would tell 4 that slot 1 is chosen, and 4 holds a vote at
  // ballot 1 for slot 1: Y.
  const net = new Net(5);
  net.tick(1, TIMING.electionTicks);
  net.deliver((f, to) => (f === 1 && (to === 2 || to === 3)) || to === 1);
  t.is(net.node(1).role, 'leader');
  net.mail = [];
  const X: Batch = [cmd('x', 1)];
  const Y: Batch = [cmd('y', 1)];
  net.propose(1, [...Y]);
  net.deliver((f, to) => f === 1 && to === 4);
  net.mail = [];
  const side = (id: PeerId): boolean => id === 2 || id === 3 || id === 5;
  net.tick(2, 2 * TIMING.electionTicks);
  net.deliver((f, to) => side(f) && side(to));
  t.is(net.node(2).role, 'leader');
  net.propose(2, [...X]);
  net.deliver((f, to) => side(f) && side(to));
  t.is(net.learned.get(2)!.get(1), JSON.stringify(X));
  net.mail = [];
  net.step(1, { type: 'entries', from: 3, start: 1, values: [X] });
  t.is(net.learned.get(1)!.get(1), JSON.stringify(X));
  net.tick(1, 2 * TIMING.heartbeatTicks);
  net.deliver((f, to) => (f === 1 && to === 4) || (f === 4 && to === 1));
  const four = net.learned.get(4)!.get(1);
  t.true(four === undefined || four === JSON.stringify(X), `replica 4 learned ${four} for slot 1, which holds X`);
});

test('a leader or candidate that installs a snapshot stops leading at its ballot', (t) => {
  const net = new Net(3);
  net.elect(1);
  t.is(net.node(1).role, 'leader');
  net.mail = [];
  net.step(1, { type: 'snapshot', from: 2, index: 7, data: store(7) });
  t.is(net.node(1).role, 'follower');
  t.is(net.node(1).commit, 8);
  t.deepEqual(net.snapshots.get(1), [{ index: 7, data: store(7) }]);
  // Entries with nothing new leave a leader alone.
  const b = net.elect(1);
  net.step(1, { type: 'entries', from: 2, start: 3, values: [[cmd('old', 1)]] });
  t.is(net.node(1).role, 'leader');
  t.is(net.node(1).currentBallot, b);
});

// ---- reads by index ---------------------------------------------------------

for (const n of [3, 5])
  test(
    `${n} replicas: a read at the leader waits for a quorum to ack a heartbeat sent after it; its index is ` +
      (n === 3
        ? 'the last slot proposed (a follower may have applied it)'
        : 'the last slot chosen, not the writes still in flight'),
    (t) => {
      const net = new Net(n);
      const b = net.elect(1);
      net.propose(1, [cmd('a', 1)]);
      net.deliver();
      // Slot 2 is proposed; its accepts are still in the mail.
      net.propose(1, [cmd('a', 2)]);
      const accepts = net.take((_f, _t, m) => m.type === 'accept');
      t.is(accepts.length, n - 1);
      net.node(1).read([7]);
      net.drain(1);
      t.deepEqual(net.reads.get(1), [], 'not before the round');
      const hb = net.take((_f, _t, m) => m.type === 'heartbeat');
      t.is(hb.length, n - 1);
      const r = (hb[0]!.msg as Msg<'heartbeat'>).r;
      t.true(r !== undefined);
      // An ack to a plain heartbeat, or to another round, does not count.
      for (let from = 2; from <= n; from++) {
        net.step(1, { type: 'heartbeat_ack', from, n: b });
        net.step(1, { type: 'heartbeat_ack', from, n: b, r: r! - 1 });
      }
      t.deepEqual(net.reads.get(1), []);
      // A quorum (the leader and replica 2, and 3 of 5) at this round and ballot does.
      for (let to = 2; to <= Math.floor(n / 2) + 1; to++) {
        t.deepEqual(net.reads.get(1), []);
        net.step(to, hb.find((h) => h.to === to)!.msg);
        net.deliver((f, dst, m) => f === to && dst === 1 && m.type === 'heartbeat_ack');
      }
      // With 3 replicas, a follower that votes for slot 2 applies it at once, and may answer its client:
      // the read waits for it. With 5, no client was answered for slot 2 yet.
      t.deepEqual(net.reads.get(1), [{ id: 7, index: n === 3 ? 2 : 1 }]);
    },
  );

test(
  "5 replicas: a new leader's reads wait for the slots phase 1 adopted until they are chosen again: one may " +
    'have been chosen, and answered, under the old ballot',
  (t) => {
    const net = new Net(5);
    const b = net.elect(1);
    net.propose(1, [cmd('a', 1)]);
    net.deliver();
    // Slot 2 is chosen with the votes of 1, 2 and 3, and applied (answered) at replica 1; nobody else hears.
    net.propose(1, [cmd('a', 2)]);
    net.deliver(
      (f, to, m) =>
        (f === 1 && (to === 2 || to === 3) && m.type === 'accept') ||
        ((f === 2 || f === 3) && to === 1 && m.type === 'accept_ack'),
    );
    t.deepEqual(net.applied.get(1), [1, 2]);
    net.mail = [];
    // Replica 4 stands, and wins with 3 and 5: 3 reports its vote in slot 2, not known chosen.
    net.tick(4, TIMING.electionTicks);
    const b4 = net.node(4).currentBallot;
    const prepare = net.take((f, _to, m) => f === 4 && m.type === 'prepare')[0]!.msg as Msg<'prepare'>;
    t.is(prepare.slot, 2);
    for (const [from, votes] of [
      [5, []],
      [3, [{ s: 2, n: b, v: [cmd('a', 2)] }]],
    ] as const) {
      const ack = { type: 'prepare_ack', life: prepare.life, from, n: b4, slot: prepare.slot, promised: b4 };
      net.step(4, { ...ack, base: 1, votes } as Msg<'prepare_ack'>);
    }
    t.is(net.node(4).role, 'leader');
    // Replica 4 adopted the vote in slot 2 and proposes it again; its accepts are still in the mail.
    t.true(net.mail.some((m) => m.msg.type === 'accept' && m.msg.slot === 2));
    t.is(net.node(4).commit, 2);
    net.node(4).read([9]);
    net.drain(4);
    const hb = net.take((f, _to, m) => f === 4 && m.type === 'heartbeat' && m.r !== undefined);
    for (const to of [3, 5]) {
      net.step(to, hb.find((h) => h.to === to)!.msg);
      net.deliver((f, dst, m) => f === to && dst === 4 && m.type === 'heartbeat_ack');
    }
    t.deepEqual(net.reads.get(4), [{ id: 9, index: 2 }], 'index 2: slot 2 was a write answered under ballot b');
  },
);

test(
  'a read arriving during a round waits for the next one; a lost round is asked again by the next ' + 'heartbeat',
  (t) => {
    const net = new Net(3);
    net.elect(1);
    net.node(1).read([1]);
    net.drain(1);
    net.take(() => true); // the round's heartbeats are lost
    net.node(1).read([2]);
    net.drain(1);
    t.deepEqual(
      net.take(() => true),
      [],
      'one round at a time',
    );
    net.tick(1, TIMING.heartbeatTicks);
    const hb = net.take((_f, _t, m) => m.type === 'heartbeat');
    t.true(
      hb.every((h) => (h.msg as Msg<'heartbeat'>).r !== undefined),
      'the periodic heartbeat carries the round',
    );
    net.step(2, hb[0]!.msg);
    net.deliver((_f, _t, m) => m.type === 'heartbeat_ack');
    t.deepEqual(
      net.reads.get(1)!.map((x) => x.id),
      [1],
    );
    // The next round, for read 2, started as soon as the first was confirmed
    // (its heartbeats were dropped above; the periodic one asks again).
    net.tick(1, TIMING.heartbeatTicks);
    net.deliver();
    t.deepEqual(
      net.reads.get(1)!.map((x) => x.id),
      [1, 2],
    );
  },
);

test('a deposed leader does not answer reads: the acks carry the higher promise and it runs phase 1 again', (t) => {
  const net = new Net(3);
  const b1 = net.elect(1);
  net.propose(1, [cmd('a', 1)]);
  net.deliver();
  // Replica 1 is cut off; 2 or 3 leads without it and chooses a new write.
  const cut = (f: PeerId, to: PeerId): boolean => f !== 1 && to !== 1;
  for (let i = 0; i < 4 * TIMING.electionTicks && net.node(2).role !== 'leader' && net.node(3).role !== 'leader'; i++) {
    net.tick(2);
    net.tick(3);
    net.deliver(cut);
  }
  const other = net.node(2).role === 'leader' ? 2 : 3;
  t.is(net.node(other).role, 'leader');
  net.propose(other, [cmd('b', 1)]);
  net.deliver(cut);
  t.is(net.applied.get(other)!.at(-1), 2);
  // Replica 1 still believes it leads at b1, with slot 2 unknown to it.
  t.is(net.node(1).role, 'leader');
  t.is(net.node(1).currentBallot, b1);
  net.node(1).read([9]);
  net.drain(1);
  net.deliver((f, to, m) => (f === 1 || to === 1) && (m.type === 'heartbeat' || m.type === 'heartbeat_ack'));
  t.deepEqual(net.reads.get(1), [], 'no quorum follows ballot b1 any more');
  t.not(net.node(1).role, 'leader');
  // Once everyone talks again the read is answered, at an index that covers slot 2.
  for (let i = 0; i < 40 && net.reads.get(1)!.length === 0; i++) {
    net.tick(1);
    net.tick(2);
    net.tick(3);
    net.deliver();
  }
  const roles = [1, 2, 3].map((id) => `${net.node(id).role}@${net.node(id).currentBallot}/${net.node(id).leader}`);
  t.is(net.reads.get(1)!.length, 1, `roles ${roles.join(' ')}`);
  t.true(net.reads.get(1)![0]!.index >= 2);
});

test('a follower asks the leader for the index and answers itself; with no leader known it cannot', (t) => {
  const net = new Net(3);
  net.node(2).read([5]);
  net.drain(2);
  t.deepEqual(net.unreadable.get(2), [5]);
  net.elect(1);
  net.tick(1, TIMING.heartbeatTicks);
  net.deliver();
  net.propose(1, [cmd('a', 1)]);
  net.deliver();
  net.node(2).read([6, 7]);
  net.drain(2);
  const ask = net.take((_f, _t, m) => m.type === 'read_index');
  t.deepEqual(
    ask.map((a) => [a.from, a.to, (a.msg as Msg<'read_index'>).ids]),
    [[2, 1, [6, 7]]],
  );
  net.step(1, ask[0]!.msg);
  net.deliver();
  t.deepEqual(net.reads.get(2), [
    { id: 6, index: 1 },
    { id: 7, index: 1 },
  ]);
  t.deepEqual(net.reads.get(1), [], 'the leader answers the follower, not itself');
  // Not answered (lost on the way): asked again after resendTicks.
  net.node(2).read([8]);
  net.drain(2);
  t.is(net.take((_f, _t, m) => m.type === 'read_index').length, 1);
  const asks: number[][] = [];
  for (let i = 0; i < TIMING.resendTicks; i++) {
    net.tick(1);
    net.tick(2);
    asks.push(...net.take((_f, _t, m) => m.type === 'read_index').map((a) => [...(a.msg as Msg<'read_index'>).ids]));
    net.deliver();
  }
  t.deepEqual(asks, [[8]]);
  t.deepEqual(
    net.reads.get(2)!.map((x) => x.id),
    [6, 7],
  );
});

test('compaction keeps at most keepBytes of chosen values behind the snapshot', (t) => {
  const net = new Net(3);
  net.elect(1);
  for (let i = 1; i <= 10; i++) net.propose(1, [cmd('a', i, 'x'.repeat(100))]);
  net.deliver();
  t.is(net.node(1).applied, 10);
  const size = JSON.stringify([cmd('a', 1, 'x'.repeat(100))]).length;
  // Asked to keep 8 slots behind slot 10, but only about 3 slots' worth of bytes.
  net.node(1).compact(10, 3, 3 * size + 1);
  for (let s = 1; s <= 7; s++) t.is(net.node(1).chosenAt(s), undefined, `slot ${s} is gone`);
  for (let s = 8; s <= 10; s++) t.truthy(net.node(1).chosenAt(s), `slot ${s} is kept`);
  // Without a byte limit, the slot count decides, as before.
  net.node(2).compact(10, 3);
  t.is(net.node(2).chosenAt(2), undefined);
  t.truthy(net.node(2).chosenAt(3));
});

for (const n of [3, 5])
  test(
    `${n} replicas: a restarted follower whose read ids start again at 1 is not answered for its earlier life ` +
      (n === 3 ? "(the leader's answer at once)" : '(a round confirmed by heartbeat acks)'),
    (t) => {
      const net = new Net(n);
      const b = net.elect(1);
      net.tick(1, TIMING.heartbeatTicks);
      net.deliver();
      net.propose(1, [cmd('a', 1)]);
      net.deliver();
      t.deepEqual(net.applied.get(2), [1]);
      // Life 1 of replica 2: read id 1 goes to the leader. With 3 replicas it answers at once (index 1);
      // with 5 it starts a round.
      net.node(2).read([1]);
      net.drain(2);
      const [ask] = net.take((_f, _t, m) => m.type === 'read_index');
      net.step(1, ask!.msg);
      const old = net.take((_f, _t, m) => m.type === 'read_index_ack');
      const hbs = net.take((_f, _t, m) => m.type === 'heartbeat' && (m as Msg<'heartbeat'>).r !== undefined);
      t.deepEqual([old.length, hbs.length], n === 3 ? [1, 0] : [0, 4]);
      // A write W is chosen without replica 2 and acknowledged at the leader (slot 2); replica 2 misses it.
      net.propose(1, [cmd('w', 1)]);
      net.deliver((_f, to) => to !== 2);
      t.deepEqual(net.applied.get(1), [1, 2], 'W applied (acknowledged) at the leader');
      net.take(() => true); // anything still addressed to replica 2 is lost with its old life
      // Replica 2 restarts from its records; its shell counts read ids from 1 again (ReplicaDaemon.readIds).
      net.boot(2, replay(net.records.get(2)!));
      net.step(2, { type: 'heartbeat', from: 1, n: b, commit: 2 }); // follows the leader again (an ordinary heartbeat)
      net.take((f) => f === 2);
      // The new life's first read, invoked after W was acknowledged, also gets id 1.
      net.node(2).read([1]);
      net.drain(2);
      net.take((_f, _t, m) => m.type === 'read_index'); // its own ask is slow
      // The old answer arrives late, or the old round's heartbeats reach 3 and 4 and their acks confirm it:
      // the answer carries id 1, index 1.
      for (const o of old) net.step(2, o.msg);
      for (const h of hbs) if (h.to === 3 || h.to === 4) net.step(h.to, h.msg);
      net.deliver();
      t.deepEqual(net.reads.get(2), [], 'the answer names the earlier life: ignored');
      // Its own ask, when it arrives, gets an index that covers W.
      net.node(2).read([2]);
      net.drain(2);
      net.deliver();
      t.true(
        net.reads.get(2)!.every((r) => r.index >= 2),
        JSON.stringify(net.reads.get(2)),
      );
      t.is(net.reads.get(2)!.length, 1);
    },
  );

test(
  "with 3 replicas a follower takes the leader's read index at once only while it has promised no higher " +
    'ballot: the two of them are the quorum',
  (t) => {
    const net = new Net(3);
    const b = net.elect(1);
    net.propose(1, [cmd('a', 1)]);
    net.deliver();
    net.node(2).read([4]);
    net.drain(2);
    net.step(1, net.take((_f, _t, m) => m.type === 'read_index')[0]!.msg);
    t.is(net.mail.filter((m) => m.msg.type === 'heartbeat').length, 0, 'no round');
    const [ack] = net.take((_f, _t, m) => m.type === 'read_index_ack');
    t.is((ack!.msg as Msg<'read_index_ack'>).n, b);
    // Before the answer arrives, replica 2 promises a higher ballot of replica 3's (by its accept).
    const b3 = nextBallot(b, 3);
    net.step(2, { type: 'accept', from: 3, n: b3, slot: 9, v: [], commit: 0 });
    t.is(net.node(2).promise, b3);
    net.step(2, ack!.msg);
    t.deepEqual(net.reads.get(2), [], 'not taken: a leader above ballot b may have chosen a write');
  },
);

test(
  'an ack to a heartbeat from an earlier life of the leader, answered with a promise equal to its new ballot, ' +
    'confirms no read round',
  (t) => {
    const net = new Net(3);
    net.elect(1);
    net.tick(1, TIMING.heartbeatTicks);
    net.deliver();
    net.propose(1, [cmd('a', 1)]);
    net.deliver();
    // Life 1 of the leader starts read round r=1; its heartbeat to 2 is delayed.
    net.node(1).read([1]);
    net.drain(1);
    const [oldHb] = net.take((_f, to, m) => to === 2 && m.type === 'heartbeat' && (m as Msg<'heartbeat'>).r === 1);
    net.take(() => true);
    // Replica 1 restarts and is elected again at a higher ballot b2 (round counter back to 0).
    net.boot(1, replay(net.records.get(1)!));
    const b2 = net.elect(1);
    net.tick(1, TIMING.heartbeatTicks);
    net.deliver();
    // The delayed heartbeat (life 1, r=1) reaches 2, which answers with its promise b2 and echoes r=1.
    net.step(2, oldHb!.msg);
    const [staleAck] = net.take((f, to, m) => f === 2 && to === 1 && m.type === 'heartbeat_ack');
    t.like(staleAck!.msg, { n: b2 });
    t.is((staleAck!.msg as Msg<'heartbeat_ack'>).r, undefined, 'a rejection echoes no round');
    // Replica 1 is cut off; 2 and 3 elect 3, which chooses and applies W (acknowledged).
    const cut = (f: PeerId, to: PeerId): boolean => f !== 1 && to !== 1;
    for (let i = 0; i < 40 && net.node(3).role !== 'leader'; i++) {
      net.tick(3);
      net.tick(2);
      net.deliver(cut);
    }
    t.is(net.node(3).role, 'leader');
    net.take((f, to) => !cut(f, to));
    net.propose(3, [cmd('w', 1)]);
    net.deliver(cut);
    const wSlot = Math.max(...net.applied.get(3)!);
    t.true(net.learned.get(3)!.get(wSlot)!.includes('"w"'), 'W chosen and applied at the new leader');
    t.is(net.node(1).role, 'leader', 'replica 1 does not know yet');
    // A read arrives at replica 1 after W was acknowledged: round r=1 of life 2; its heartbeats are lost.
    net.node(1).read([7]);
    net.drain(1);
    net.take(() => true);
    // The stale ack arrives: it confirms nothing.
    net.step(1, staleAck!.msg);
    t.is(
      net.reads.get(1)!.find((x) => x.id === 7),
      undefined,
      'read 7 is not confirmed: no replica heard its round',
    );
  },
);

// ---- recovery of a replica that lost its disk (src/log/recovery.ts) ---------

/** Three replicas; 1 leads and has `slots` chosen; 3 is then wiped and boots recovering. */
function wipedThird(slots: number): { net: Net; b: number } {
  const net = new Net(3);
  const b = net.elect(1);
  for (let i = 1; i <= slots; i++) {
    net.propose(1, [cmd('a', i)]);
    net.deliver();
  }
  net.boot(3, EMPTY_RECOVERED, true);
  return { net, b };
}

test('a recovering replica asks every other replica, and votes for nothing meanwhile', (t) => {
  const { net, b } = wipedThird(2);
  const before = net.records.get(3)!.length; // its earlier life's, on the disk it lost
  const asks = net.take((f, _to, m) => f === 3 && m.type === 'recover');
  t.deepEqual(asks.map((a) => a.to).sort(), [1, 2]);
  t.is(net.node(3).recovering, 'asking');
  // Neither a prepare nor an accept nor a heartbeat gets an answer: any of them would vouch for a promise it lost.
  net.step(3, { type: 'prepare', from: 2, n: b + 1, slot: 1, life: 5 });
  net.step(3, { type: 'accept', from: 1, n: b, slot: 3, v: [cmd('z', 1)], commit: 3 });
  net.step(3, { type: 'heartbeat', from: 1, n: b, commit: 3, r: 1 });
  t.deepEqual(
    net.take((f) => f === 3),
    [],
  );
  t.is(net.node(3).promise, 0);
  t.false(
    net.records
      .get(3)!
      .slice(before)
      .some((r) => r.t === 'v' || r.t === 'p'),
    'no vote and no promise written',
  );
  // Clients are turned away, not parked.
  net.propose(3, [cmd('c', 1)]);
  t.is(net.unplaced.get(3)!.length, 1);
  // Nor does it stand for election.
  net.tick(3, TIMING.electionTicks * 3);
  t.is(net.node(3).role, 'follower');
});

test('a majority of answers is not enough: it waits for every other replica', (t) => {
  const { net } = wipedThird(2);
  const asks = net.take((f, _to, m) => f === 3 && m.type === 'recover');
  // Only replica 2 (a majority, counting itself) answers.
  net.step(2, asks.find((a) => a.to === 2)!.msg);
  net.deliver((f, to, m) => f === 2 && to === 3 && m.type === 'recover_ack');
  t.is(net.node(3).recovering, 'asking');
  t.deepEqual(net.node(3).recoveryMissing, [1]);
  // It asks again, only those that have not answered.
  net.tick(3, TIMING.resendTicks);
  t.deepEqual(
    net.take((f, _to, m) => f === 3 && m.type === 'recover').map((a) => a.to),
    [1],
  );
});

test(
  'recovered: the highest promise, the highest-ballot vote per slot and the chosen values, then it ' + 'votes again',
  (t) => {
    const { net, b } = wipedThird(3);
    // Slot 4 is voted for by the leader only (its accepts are lost): not chosen, but a vote to adopt.
    net.propose(1, [cmd('only-on-1', 1)]);
    net.take((f, _to, m) => f === 1 && m.type === 'accept');
    net.deliver();
    const n3 = net.node(3);
    t.is(n3.recovering, null, 'every replica answered and it caught up');
    t.is(net.rejoined.get(3), 1);
    t.true(n3.promise >= b, `promise ${n3.promise} covers ballot ${b}`);
    t.is(n3.commit, 4, 'slots 1-3 learned');
    t.true(
      net.records.get(3)!.some((r) => r.t === 'v' && r.s === 4 && r.n === b),
      'the vote for slot 4 is written as its own',
    );
    // It votes again: the leader's resent accept is acked.
    net.tick(1, TIMING.resendTicks);
    const [accept] = net.take((f, to, m) => f === 1 && to === 3 && m.type === 'accept');
    net.step(3, accept!.msg);
    t.like(net.take((f, _to, m) => f === 3 && m.type === 'accept_ack')[0]?.msg, {
      type: 'accept_ack',
      n: b,
      slot: 4,
      promised: b,
    });
  },
);

test('a prepare_ack that echoes an earlier life of the candidate is not counted', (t) => {
  const net = new Net(3);
  net.tick(1, TIMING.electionTicks);
  const b = net.node(1).currentBallot;
  net.take(() => true);
  net.step(1, {
    type: 'prepare_ack',
    from: 2,
    n: b,
    slot: 1,
    life: net.node(1).life + 1000,
    promised: b,
    base: 1,
    votes: [],
  });
  t.is(net.node(1).role, 'candidate', 'an ack to a prepare of another life');
  net.step(1, { type: 'prepare_ack', from: 2, n: b, slot: 1, life: net.node(1).life, promised: b, base: 1, votes: [] });
  t.is(net.node(1).role, 'leader');
});

test('negative control: with answers from a majority only (recoverAnswers), recovery ends early', (t) => {
  const net = new Net(3);
  net.elect(1);
  net.boot(3, EMPTY_RECOVERED, true, { recoverAnswers: 1 });
  const asks = net.take((f, _to, m) => f === 3 && m.type === 'recover');
  net.step(2, asks.find((a) => a.to === 2)!.msg);
  net.deliver((f, to, m) => f === 2 && to === 3 && m.type === 'recover_ack');
  t.is(net.node(3).recovering, null, 'the broken variant votes on one answer');
});

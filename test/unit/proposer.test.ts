import test from 'ava';
import { highestAccepted, Proposer, type ProposerConfig } from '../../src/core/proposer.js';
import { Outbox, type LabReady } from '../../src/core/ready.js';
import { DEFAULT_TICK_TIMING } from '../../src/core/timing.js';
import type { Accepted, Message } from '../../src/core/types.js';

function config(over: Partial<ProposerConfig> = {}): ProposerConfig {
  return {
    self: 1,
    group: 1,
    stride: 2,
    acceptors: [2, 3, 4],
    notify: [2, 3, 4, 5],
    sameAcceptors: new Set([1, 2]),
    timing: DEFAULT_TICK_TIMING,
    rng: () => 0.5,
    ...over,
  };
}

/** A proposer, and `take` for what it put in its outbox since the last take. */
function make(over: Partial<ProposerConfig> = {}, lastUsed = 0): { p: Proposer; take: () => LabReady } {
  const out = new Outbox(over.self ?? 1);
  return { p: new Proposer(config(over), lastUsed, out), take: () => out.take(null) };
}

const sends = (r: LabReady): Array<{ to: readonly number[]; msg: Message }> =>
  r.messages.map((o) => ({ to: o.to, msg: o.msg }));
const ack = (
  from: number,
  n: number,
  promised: number,
  accepted: Accepted | null = null,
  chosen: Accepted | null = null,
) => ({
  from,
  n,
  promised,
  accepted,
  chosen,
});

/** Tick `p` until its `which` wait ends. */
function expire(p: Proposer, which: 'round' | 'backoff' | 'resend'): void {
  for (let left = p.waits[which]; left > 0; left--) p.tick();
}

test("proposer K's first number is K, sent as one prepare to the group's acceptors", (t) => {
  const { p, take } = make({ group: 2, self: 5 });
  p.propose('Y');
  t.deepEqual(sends(take()), [{ to: [2, 3, 4], msg: { type: 'prepare', from: 5, n: 2 } }]);
  t.is(p.lastUsed, 2);
  t.is(p.phase, 'preparing');
  t.is(p.waits.round, DEFAULT_TICK_TIMING.roundTicks, 'the round timer runs: 2 s in ticks of 10 ms');
  t.is(p.waits.round, 200);
});

test('after a restart the next number is above the last one used', (t) => {
  const { p, take } = make({}, 5); // used 5 before the crash; numbers 1, 3, 5, 7...
  p.propose('X');
  t.deepEqual(sends(take())[0]?.msg, { type: 'prepare', from: 1, n: 7 });
});

test('a majority of promises with nothing accepted: accept with our own value', (t) => {
  const { p, take } = make();
  p.propose('X');
  take();
  p.onPrepareAck(ack(2, 1, 1));
  t.deepEqual(sends(take()), [], 'one promise of three is not a majority');
  p.onPrepareAck(ack(3, 1, 1));
  t.deepEqual(sends(take()), [{ to: [2, 3, 4], msg: { type: 'accept', from: 1, n: 1, v: 'X' } }]);
  t.is(p.phase, 'accepting');
});

test('adopts the value with the highest accepted number among the promises', (t) => {
  const { p, take } = make({ acceptors: [2, 3, 4, 6, 7] }, 4); // n = 5
  p.propose('MINE');
  p.onPrepareAck(ack(2, 5, 5, { n: 1, v: 'LOW' }));
  p.onPrepareAck(ack(3, 5, 5, { n: 4, v: 'HIGH' }));
  take();
  p.onPrepareAck(ack(4, 5, 5, { n: 2, v: 'MID' }));
  t.deepEqual(sends(take())[0]?.msg, { type: 'accept', from: 1, n: 5, v: 'HIGH' });
});

test('adopts an accepted value even when only one promise carries it', (t) => {
  const { p, take } = make();
  p.propose('MINE');
  p.onPrepareAck(ack(2, 1, 1, null));
  take();
  p.onPrepareAck(ack(3, 1, 1, { n: 1, v: 'THEIRS' }));
  t.deepEqual(sends(take())[0]?.msg, { type: 'accept', from: 1, n: 1, v: 'THEIRS' });
});

test('acks for another proposal number are never counted', (t) => {
  const { p, take } = make({}, 2); // n = 3
  p.propose('X');
  take();
  p.onPrepareAck(ack(2, 1, 1));
  p.onPrepareAck(ack(3, 1, 1));
  t.deepEqual(sends(take()), []);
  t.is(p.phase, 'preparing', 'two acks answering prepare 1 must not make a quorum for prepare 3');
  p.onPrepareAck(ack(2, 3, 3));
  t.deepEqual(sends(take()), []);
  p.onPrepareAck(ack(4, 3, 3));
  t.is(sends(take())[0]?.msg.type, 'accept');
});

test('a duplicate ack from one acceptor counts once', (t) => {
  const { p, take } = make();
  p.propose('X');
  p.onPrepareAck(ack(2, 1, 1));
  take();
  p.onPrepareAck(ack(2, 1, 1));
  t.deepEqual(sends(take()), []);
  t.is(p.phase, 'preparing');
});

test('a prepare rejection backs off, then retries above the promise it saw', (t) => {
  const { p, take } = make();
  p.propose('X');
  take();
  p.onPrepareAck(ack(2, 1, 6)); // acceptor 2 promised 6 > 1
  t.is(p.phase, 'backoff');
  t.deepEqual(sends(take()), []);
  t.is(p.waits.round, 0, 'the round timer is off');
  t.true(p.waits.backoff > 0, 'and the backoff runs');
  expire(p, 'backoff');
  t.deepEqual(sends(take())[0]?.msg, { type: 'prepare', from: 1, n: 7 });
  t.is(p.lastUsed, 7);
});

test('an accept rejection (promise above n in accept_ack) starts a new round', (t) => {
  const { p, take } = make();
  p.propose('X');
  p.onPrepareAck(ack(2, 1, 1));
  p.onPrepareAck(ack(3, 1, 1));
  p.onAcceptAck(ack(2, 1, 1, { n: 1, v: 'X' }));
  take();
  p.onAcceptAck(ack(3, 1, 4, { n: 4, v: 'Z' }));
  t.is(p.phase, 'backoff');
  t.deepEqual(take().learned, [], 'one good ack plus a rejection is not a majority');
  expire(p, 'backoff');
  t.deepEqual(sends(take())[0]?.msg, { type: 'prepare', from: 1, n: 5 });
});

test('a majority of accept_acks for n: print chose, then tell acceptors and learners', (t) => {
  const { p, take } = make();
  p.propose('X');
  p.onPrepareAck(ack(2, 1, 1));
  p.onPrepareAck(ack(3, 1, 1));
  take();
  p.onAcceptAck(ack(4, 1, 1, { n: 1, v: 'X' }));
  t.deepEqual(sends(take()), []);
  p.onAcceptAck(ack(2, 1, 1, { n: 1, v: 'X' }));
  const out = take();
  t.deepEqual(out.learned, [{ n: 1, v: 'X' }]);
  t.deepEqual(sends(out), [{ to: [2, 3, 4, 5], msg: { type: 'chose', from: 1, n: 1, v: 'X' } }]);
  t.deepEqual(
    out.lines.map((l) => JSON.parse(l).action),
    ['chose', 'sent'],
    'chose is printed before the chose message is sent',
  );
  t.is(p.phase, 'done');
  t.deepEqual(p.chosen, { n: 1, v: 'X' });
  p.onAcceptAck(ack(3, 1, 1, { n: 1, v: 'X' }));
  t.deepEqual(sends(take()), [], 'a late ack changes nothing');
});

test('accept_acks from an older round do not complete the current one', (t) => {
  const { p } = make();
  p.propose('X');
  p.onPrepareAck(ack(2, 1, 3)); // rejected: someone promised 3
  expire(p, 'backoff'); // n = 5 now
  p.onPrepareAck(ack(2, 5, 5));
  p.onPrepareAck(ack(3, 5, 5));
  p.onAcceptAck(ack(2, 1, 1, { n: 1, v: 'X' }));
  p.onAcceptAck(ack(3, 1, 1, { n: 1, v: 'X' }));
  t.is(p.phase, 'accepting');
});

test('a round that times out suspects the silent acceptors, backs off and retries with a higher number', (t) => {
  const { p, take } = make();
  p.propose('X');
  p.onPrepareAck(ack(2, 1, 1));
  take();
  for (let i = 1; i < DEFAULT_TICK_TIMING.roundTicks; i++) p.tick();
  t.is(p.phase, 'preparing', 'not a tick early');
  p.tick();
  t.is(p.phase, 'backoff');
  t.deepEqual(take().suspect, [3, 4]);
  expire(p, 'backoff');
  t.deepEqual(sends(take())[0]?.msg, { type: 'prepare', from: 1, n: 3 });
});

test('waits that are over, or not running, do nothing', (t) => {
  const { p, take } = make();
  for (let i = 0; i < 1000; i++) p.tick();
  t.is(p.phase, 'idle', 'an idle proposer has no waits');
  t.true(take().messages.length === 0);
  p.propose('X');
  take();
  p.onPrepareAck(ack(2, 1, 1));
  p.onPrepareAck(ack(3, 1, 1));
  p.onAcceptAck(ack(2, 1, 1, { n: 1, v: 'X' }));
  p.onAcceptAck(ack(3, 1, 1, { n: 1, v: 'X' }));
  take();
  t.is(p.waits.round, 0, 'a won round ends its timer');
  t.is(p.waits.backoff, 0);
});

test('backoff grows with each failure and stays randomized within [d/2, d] (in ticks of 10 ms)', (t) => {
  const waits = (rng: number): number[] => {
    const { p } = make({ rng: () => rng });
    p.propose('X');
    const out: number[] = [];
    for (let i = 0; i < 8; i++) {
      expire(p, 'round');
      out.push(p.waits.backoff);
      expire(p, 'backoff');
    }
    return out;
  };
  t.deepEqual(waits(0), [3, 5, 10, 20, 40, 80, 100, 100]);
  t.deepEqual(waits(0.999999), [5, 10, 20, 40, 80, 160, 200, 200]);
});

test('learning a chosen value stops the proposer', (t) => {
  const { p, take } = make();
  p.propose('X');
  take();
  p.onChosen({ n: 2, v: 'Y' });
  t.is(p.phase, 'done');
  t.deepEqual(p.chosen, { n: 2, v: 'Y' });
  t.deepEqual(sends(take()), []);
  expire(p, 'round');
  t.deepEqual(take().messages, []);
  p.propose('X');
  t.deepEqual(take().messages, [], 'a done proposer does not start again');
});

test('a promise below n in an ack is not counted as a promise', (t) => {
  const { p } = make({}, 2); // n = 3
  p.propose('X');
  p.onPrepareAck(ack(2, 3, 1));
  p.onPrepareAck(ack(3, 3, 1));
  t.is(p.phase, 'preparing');
});

test('highestAccepted picks the highest number and ignores empty replies', (t) => {
  t.is(highestAccepted([null, null]), null);
  t.deepEqual(highestAccepted([{ n: 2, v: 'a' }, null, { n: 7, v: 'b' }, { n: 3, v: 'c' }]), { n: 7, v: 'b' });
});

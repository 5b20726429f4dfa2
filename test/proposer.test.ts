import test from 'ava';
import { DEFAULT_TIMING, highestAccepted, Proposer, type ProposerConfig } from '../src/core/proposer.js';
import type { Accepted, Effect, Message } from '../src/core/types.js';

function config(over: Partial<ProposerConfig> = {}): ProposerConfig {
  return {
    self: 1,
    group: 1,
    stride: 2,
    acceptors: [2, 3, 4],
    notify: [2, 3, 4, 5],
    sameAcceptors: new Set([1, 2]),
    timing: DEFAULT_TIMING,
    rng: () => 0.5,
    ...over,
  };
}

const sends = (effects: Effect[]): Array<{ to: readonly number[]; msg: Message }> =>
  effects.flatMap((e) => (e.kind === 'send' ? [{ to: e.to, msg: e.msg }] : []));
const timers = (effects: Effect[]): string[] => effects.flatMap((e) => (e.kind === 'setTimer' ? [e.id] : []));
const ack = (from: number, n: number, promised: number, accepted: Accepted | null = null, chosen: Accepted | null = null) => ({
  from,
  n,
  promised,
  accepted,
  chosen,
});

test("proposer K's first number is K, sent as one prepare to the group's acceptors", (t) => {
  const p = new Proposer(config({ group: 2, self: 5 }), 0);
  const out = p.propose('Y');
  t.deepEqual(sends(out), [{ to: [2, 3, 4], msg: { type: 'prepare', from: 5, n: 2 } }]);
  t.is(p.lastUsed, 2);
  t.is(p.phase, 'preparing');
  t.deepEqual(timers(out), ['round/2']);
});

test('after a restart the next number is above the last one used', (t) => {
  const p = new Proposer(config(), 5); // used 5 before the crash; numbers 1, 3, 5, 7...
  t.deepEqual(sends(p.propose('X'))[0]?.msg, { type: 'prepare', from: 1, n: 7 });
});

test('a majority of promises with nothing accepted: accept with our own value', (t) => {
  const p = new Proposer(config(), 0);
  p.propose('X');
  t.deepEqual(p.onPrepareAck(ack(2, 1, 1)), [], 'one promise of three is not a majority');
  const out = p.onPrepareAck(ack(3, 1, 1));
  t.deepEqual(sends(out), [{ to: [2, 3, 4], msg: { type: 'accept', from: 1, n: 1, v: 'X' } }]);
  t.is(p.phase, 'accepting');
});

test('adopts the value with the highest accepted number among the promises', (t) => {
  const p = new Proposer(config({ acceptors: [2, 3, 4, 6, 7] }), 4); // n = 5
  p.propose('MINE');
  p.onPrepareAck(ack(2, 5, 5, { n: 1, v: 'LOW' }));
  p.onPrepareAck(ack(3, 5, 5, { n: 4, v: 'HIGH' }));
  const out = p.onPrepareAck(ack(4, 5, 5, { n: 2, v: 'MID' }));
  t.deepEqual(sends(out)[0]?.msg, { type: 'accept', from: 1, n: 5, v: 'HIGH' });
});

test('adopts an accepted value even when only one promise carries it', (t) => {
  const p = new Proposer(config(), 0);
  p.propose('MINE');
  p.onPrepareAck(ack(2, 1, 1, null));
  const out = p.onPrepareAck(ack(3, 1, 1, { n: 1, v: 'THEIRS' }));
  t.deepEqual(sends(out)[0]?.msg, { type: 'accept', from: 1, n: 1, v: 'THEIRS' });
});

test('acks for another proposal number are never counted', (t) => {
  const p = new Proposer(config(), 2); // n = 3
  p.propose('X');
  t.deepEqual(p.onPrepareAck(ack(2, 1, 1)), []);
  t.deepEqual(p.onPrepareAck(ack(3, 1, 1)), []);
  t.is(p.phase, 'preparing', 'two acks answering prepare 1 must not make a quorum for prepare 3');
  t.deepEqual(p.onPrepareAck(ack(2, 3, 3)), []);
  t.is(sends(p.onPrepareAck(ack(4, 3, 3)))[0]?.msg.type, 'accept');
});

test('a duplicate ack from one acceptor counts once', (t) => {
  const p = new Proposer(config(), 0);
  p.propose('X');
  p.onPrepareAck(ack(2, 1, 1));
  t.deepEqual(p.onPrepareAck(ack(2, 1, 1)), []);
  t.is(p.phase, 'preparing');
});

test('a prepare rejection backs off, then retries above the promise it saw', (t) => {
  const p = new Proposer(config(), 0);
  p.propose('X');
  const out = p.onPrepareAck(ack(2, 1, 6)); // acceptor 2 promised 6 > 1
  t.is(p.phase, 'backoff');
  t.deepEqual(sends(out), []);
  t.deepEqual(timers(out), ['backoff/1']);
  t.true(out.some((e) => e.kind === 'clearTimer' && e.id === 'round/1'));
  const retry = p.onTimer('backoff/1');
  t.deepEqual(sends(retry)[0]?.msg, { type: 'prepare', from: 1, n: 7 });
  t.is(p.lastUsed, 7);
});

test('an accept rejection (promise above n in accept_ack) starts a new round', (t) => {
  const p = new Proposer(config(), 0);
  p.propose('X');
  p.onPrepareAck(ack(2, 1, 1));
  p.onPrepareAck(ack(3, 1, 1));
  p.onAcceptAck(ack(2, 1, 1, { n: 1, v: 'X' }));
  const out = p.onAcceptAck(ack(3, 1, 4, { n: 4, v: 'Z' }));
  t.is(p.phase, 'backoff');
  t.false(out.some((e) => e.kind === 'chose'), 'one good ack plus a rejection is not a majority');
  t.deepEqual(sends(p.onTimer('backoff/1'))[0]?.msg, { type: 'prepare', from: 1, n: 5 });
});

test('a majority of accept_acks for n: print chose, then tell acceptors and learners', (t) => {
  const p = new Proposer(config(), 0);
  p.propose('X');
  p.onPrepareAck(ack(2, 1, 1));
  p.onPrepareAck(ack(3, 1, 1));
  t.deepEqual(p.onAcceptAck(ack(4, 1, 1, { n: 1, v: 'X' })), []);
  const out = p.onAcceptAck(ack(2, 1, 1, { n: 1, v: 'X' }));
  const chose = out.findIndex((e) => e.kind === 'chose');
  const told = out.findIndex((e) => e.kind === 'send');
  t.deepEqual(out[chose], { kind: 'chose', v: 'X', n: 1 });
  t.deepEqual(sends(out), [{ to: [2, 3, 4, 5], msg: { type: 'chose', from: 1, n: 1, v: 'X' } }]);
  t.true(chose < told, 'chose is printed before the chose message is sent');
  t.is(p.phase, 'done');
  t.deepEqual(p.chosen, { n: 1, v: 'X' });
  t.deepEqual(p.onAcceptAck(ack(3, 1, 1, { n: 1, v: 'X' })), [], 'a late ack changes nothing');
});

test('accept_acks from an older round do not complete the current one', (t) => {
  const p = new Proposer(config(), 0);
  p.propose('X');
  p.onPrepareAck(ack(2, 1, 3)); // rejected: someone promised 3
  p.onTimer('backoff/1'); // n = 5 now
  p.onPrepareAck(ack(2, 5, 5));
  p.onPrepareAck(ack(3, 5, 5));
  t.deepEqual(p.onAcceptAck(ack(2, 1, 1, { n: 1, v: 'X' })), []);
  t.deepEqual(p.onAcceptAck(ack(3, 1, 1, { n: 1, v: 'X' })), []);
  t.is(p.phase, 'accepting');
});

test('a round that times out backs off and retries with a higher number', (t) => {
  const p = new Proposer(config(), 0);
  p.propose('X');
  p.onPrepareAck(ack(2, 1, 1));
  const out = p.onTimer('round/1');
  t.is(p.phase, 'backoff');
  t.deepEqual(timers(out), ['backoff/1']);
  t.deepEqual(sends(p.onTimer('backoff/1'))[0]?.msg, { type: 'prepare', from: 1, n: 3 });
});

test('stale or foreign timers do nothing', (t) => {
  const p = new Proposer(config(), 0);
  t.deepEqual(p.onTimer('round/1'), [], 'idle proposer ignores a round timer');
  p.propose('X');
  t.deepEqual(p.onTimer('backoff/1'), [], 'no backoff pending');
  t.deepEqual(p.onTimer('round/2'), [], "another group's timer");
  t.is(p.phase, 'preparing');
});

test('backoff grows with each failure and stays randomized within [d/2, d]', (t) => {
  const waits = (rng: number): number[] => {
    const p = new Proposer(config({ rng: () => rng }), 0);
    p.propose('X');
    const out: number[] = [];
    for (let i = 0; i < 8; i++) {
      const e = p.onTimer('round/1').find((x) => x.kind === 'setTimer');
      out.push(e?.kind === 'setTimer' ? e.ms : -1);
      p.onTimer('backoff/1');
    }
    return out;
  };
  const low = waits(0);
  const high = waits(0.999999);
  t.deepEqual(low, [25, 50, 100, 200, 400, 800, 1000, 1000]);
  t.deepEqual(high, [50, 100, 200, 400, 800, 1600, 2000, 2000]);
});

test('learning a chosen value stops the proposer', (t) => {
  const p = new Proposer(config(), 0);
  p.propose('X');
  const out = p.onChosen({ n: 2, v: 'Y' });
  t.is(p.phase, 'done');
  t.deepEqual(p.chosen, { n: 2, v: 'Y' });
  t.deepEqual(sends(out), []);
  t.deepEqual(p.onTimer('round/1'), []);
  t.deepEqual(p.propose('X'), [], 'a done proposer does not start again');
});

test('a promise below n in an ack is not counted as a promise', (t) => {
  const p = new Proposer(config(), 2); // n = 3
  p.propose('X');
  p.onPrepareAck(ack(2, 3, 1));
  p.onPrepareAck(ack(3, 3, 1));
  t.is(p.phase, 'preparing');
});

test('highestAccepted picks the highest number and ignores empty replies', (t) => {
  t.is(highestAccepted([null, null]), null);
  t.deepEqual(highestAccepted([{ n: 2, v: 'a' }, null, { n: 7, v: 'b' }, { n: 3, v: 'c' }]), { n: 7, v: 'b' });
});

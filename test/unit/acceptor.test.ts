import test from 'ava';
import { handleAccept, handlePrepare, type AcceptorState } from '../../src/core/acceptor.js';

const fresh: AcceptorState = { promised: 0, accepted: null };

test('prepare above the promise: promise it and report nothing accepted', (t) => {
  const r = handlePrepare(fresh, 1);
  t.deepEqual(r.state, { promised: 1, accepted: null });
  t.true(r.changed);
  t.is(r.promised, 1);
  t.is(r.accepted, null);
});

test('prepare reports the accepted pair, not the new number', (t) => {
  const s: AcceptorState = { promised: 1, accepted: { n: 1, v: 'X' } };
  const r = handlePrepare(s, 2);
  t.is(r.promised, 2);
  t.deepEqual(r.accepted, { n: 1, v: 'X' });
  t.deepEqual(r.state, { promised: 2, accepted: { n: 1, v: 'X' } });
});

test('prepare equal to the promise changes nothing (n > promised is strict)', (t) => {
  const s: AcceptorState = { promised: 3, accepted: null };
  const r = handlePrepare(s, 3);
  t.false(r.changed);
  t.is(r.state, s);
  t.is(r.promised, 3);
});

test('prepare below the promise is rejected: the reply carries the higher promise', (t) => {
  const s: AcceptorState = { promised: 5, accepted: { n: 4, v: 'Y' } };
  const r = handlePrepare(s, 3);
  t.false(r.changed);
  t.is(r.promised, 5);
  t.deepEqual(r.accepted, { n: 4, v: 'Y' });
});

test('accept equal to the promise is accepted (>= not >)', (t) => {
  const s: AcceptorState = { promised: 2, accepted: null };
  const r = handleAccept(s, 2, 'X');
  t.true(r.changed);
  t.deepEqual(r.state, { promised: 2, accepted: { n: 2, v: 'X' } });
  t.is(r.promised, 2);
  t.deepEqual(r.accepted, { n: 2, v: 'X' });
});

test('accept above the promise raises the promise and accepts', (t) => {
  const r = handleAccept({ promised: 1, accepted: { n: 1, v: 'X' } }, 4, 'Z');
  t.deepEqual(r.state, { promised: 4, accepted: { n: 4, v: 'Z' } });
});

test('accept with no prior prepare is accepted', (t) => {
  const r = handleAccept(fresh, 1, 'X');
  t.deepEqual(r.state, { promised: 1, accepted: { n: 1, v: 'X' } });
});

test('accept below the promise is rejected and keeps the old accepted pair', (t) => {
  const s: AcceptorState = { promised: 6, accepted: { n: 2, v: 'A' } };
  const r = handleAccept(s, 4, 'B');
  t.false(r.changed);
  t.is(r.state, s);
  t.is(r.promised, 6, 'the promise above n is what tells the proposer it was rejected');
  t.deepEqual(r.accepted, { n: 2, v: 'A' });
});

test('a repeated accept is idempotent and needs no new write', (t) => {
  const s: AcceptorState = { promised: 2, accepted: { n: 2, v: 'X' } };
  const r = handleAccept(s, 2, 'X');
  t.false(r.changed);
  t.is(r.promised, 2);
});

test('the promise never decreases over any sequence of requests', (t) => {
  let s = fresh;
  const requests: Array<['p' | 'a', number]> = [
    ['p', 3],
    ['a', 1],
    ['p', 2],
    ['a', 5],
    ['p', 4],
    ['a', 5],
    ['p', 9],
    ['a', 7],
  ];
  let last = 0;
  for (const [kind, n] of requests) {
    s = (kind === 'p' ? handlePrepare(s, n) : handleAccept(s, n, `v${n}`)).state;
    t.true(s.promised >= last);
    last = s.promised;
  }
  t.deepEqual(s, { promised: 9, accepted: { n: 5, v: 'v5' } });
});

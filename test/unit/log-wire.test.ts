// The replicated log's wire decoder (wire/log.ts): every message the
// core sends comes back as it was, and a half-understood one is refused.

import test from 'ava';
import { encodeMessage, encodeRecord } from '../../src/log/encode.js';
import type { LogMessage, LogRecord } from '../../src/log/types.js';
import { jsonOfList } from '../../src/util/json-once.js';
import { decodeLog, type ReplicaWire } from '../../src/wire/log.js';

const put = { o: 'put', c: 'cli-1', s: 1, k: 'a', v: 'x' };

const EVERY: ReplicaWire[] = [
  { type: 'prepare', from: 2, n: 5, slot: 17, life: 3 },
  {
    type: 'prepare_ack',
    from: 1,
    n: 5,
    slot: 17,
    life: 3,
    promised: 5,
    votes: [
      { s: 17, n: 4, v: [put] },
      { s: 18, n: 2, v: [], chosen: true },
    ],
    base: 1,
  },
  { type: 'accept', from: 2, n: 5, slot: 17, v: [put], commit: 17 },
  { type: 'accept_ack', from: 1, n: 5, slot: 17, promised: 5 },
  { type: 'chose', from: 2, n: 5, slot: 17 },
  { type: 'heartbeat', from: 2, n: 5, commit: 18 },
  { type: 'heartbeat', from: 2, n: 5, commit: 18, r: 3 },
  { type: 'heartbeat_ack', from: 1, n: 5 },
  { type: 'heartbeat_ack', from: 1, n: 8, r: 3 },
  { type: 'read_index', from: 3, life: 7, ids: [41, 42] },
  { type: 'read_index_ack', from: 2, n: 5, life: 7, ids: [41, 42], index: 17 },
  { type: 'fetch', from: 3, slot: 4 },
  { type: 'entries', from: 2, start: 4, values: [[put], []] },
  {
    type: 'snapshot_chunk',
    from: 2,
    index: 9,
    seq: 0,
    last: true,
    entries: [
      ['a', 'x', 3, 8, 2],
      ['b', 'y', 4, 4, 1, 2],
    ],
    leases: [[2, 10, 7]],
    nextLease: 3,
    sessions: [['cli-1', 1, 9, { r: 'ok' }]],
  },
  { type: 'forward', from: 3, cmds: [put] },
  { type: 'recover', from: 3, life: 9, slot: 1 },
  { type: 'recover_ack', from: 1, life: 9, promised: 5, votes: [{ s: 17, n: 4, v: [put] }], base: 1, commit: 17 },
];

test('every replica message decodes to itself', (t) => {
  for (const m of EVERY) {
    const d = decodeLog(JSON.parse(JSON.stringify(m)));
    t.deepEqual(d, { ok: true, msg: m }, m.type);
  }
});

test('bad read fields are refused with the field named', (t) => {
  const bad = (o: object): string => {
    const d = decodeLog(o);
    return d.ok ? 'accepted' : d.why;
  };
  t.regex(bad({ type: 'read_index', from: 3, life: 1, ids: [] }), /"ids"/);
  t.regex(bad({ type: 'read_index', from: 3, life: 1, ids: [0] }), /"ids"/);
  t.regex(bad({ type: 'read_index', from: 3, life: 1, ids: ['1'] }), /"ids"/);
  t.regex(bad({ type: 'read_index', from: 3, ids: [1] }), /"life"/);
  t.regex(bad({ type: 'read_index_ack', from: 2, n: 5, life: 1, ids: [1] }), /"index"/);
  t.regex(bad({ type: 'heartbeat', from: 2, n: 5, commit: 1, r: 0 }), /"r"/);
  t.regex(bad({ type: 'heartbeat_ack', from: 2, n: 5, r: 1.5 }), /"r"/);
  t.regex(bad({ type: 'read_everything', from: 2 }), /unknown message type/);
});

test('encodeRecord and encodeMessage write exactly what JSON.stringify writes, batch text reused or not', (t) => {
  const odd1 = { o: 'put', c: 'c1', s: 1, k: 'k\u00e9y "q"', v: 'line\nbreak \u2028 \ud83d\ude00' };
  const batch = [odd1, { o: 'get', c: 'c2', s: 7, k: 'x' }];
  const records: LogRecord[] = [
    { t: 'p', n: 5 },
    { t: 'v', s: 3, n: 5, v: batch },
    { t: 'c', s: 3 },
    { t: 'e', s: 4, v: [] },
    { t: 'e', s: 5, v: batch },
  ];
  for (const r of records) t.is(encodeRecord(r), JSON.stringify(r));
  const accept: LogMessage = { type: 'accept', from: 2, n: 9, slot: 3, v: batch, commit: 2 };
  t.is(encodeMessage(accept), JSON.stringify(accept));
  t.is(encodeMessage(accept), JSON.stringify(accept), 'the second time, from the remembered text');
  const chose: LogMessage = { type: 'chose', from: 2, n: 9, slot: 3 };
  t.is(encodeMessage(chose), JSON.stringify(chose));
  for (const m of EVERY) t.is(encodeMessage(m), JSON.stringify(m), m.type);
  const odd = [1, 'two', null, undefined, true, { a: [1, { b: 2 }] }];
  t.is(jsonOfList(odd), JSON.stringify(odd));
  t.is(jsonOfList(odd), JSON.stringify(odd), 'remembered');
});

test("an accept's batch text is reused only when it is the batch's JSON.stringify: jsonOfList stays exact", (t) => {
  const v = [put, { o: 'put', c: 'cli-2', s: 9, k: 'é"\\', v: 'y'.repeat(40) }];
  const exact = (line: string, what: string): void => {
    const d = decodeLog(JSON.parse(line), line);
    if (!d.ok || !('msg' in d) || d.msg.type !== 'accept') return void t.fail(`${what}: not an accept`);
    t.is(jsonOfList(d.msg.v), JSON.stringify(d.msg.v), what);
  };
  const m = { type: 'accept', from: 2, n: 5, slot: 17, v, commit: 3 } as const;
  exact(encodeMessage(m), 'as the leader encodes it');
  const text = JSON.stringify(v);
  const head = '{"type":"accept","from":2,"n":5,"slot":17,"v":';
  // The same value, written otherwise: none of these texts may stand for the batch.
  exact(`${head}${text.replace('"a"', '"\\u0061"')},"commit":3}`, 'an escape the parse undoes');
  exact(`${head}${text.replace('[', '[ ')},"commit":3}`, 'a space');
  exact(`${head}${text.replace('"o":"put"', '"o":"del","o":"put"')},"commit":3}`, 'a key given twice');
  exact(`${head}${text},"commit":1,"zz":[],"commit":3}`, 'other members after the batch');
});

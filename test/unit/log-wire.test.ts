// The replicated log's wire decoder (wire/log.ts): every message the
// core sends comes back as it was, and a half-understood one is refused.

import test from 'ava';
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
    entries: [['a', 'x']],
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

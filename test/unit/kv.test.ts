import test from 'ava';
import { mulberry32, pick } from '../../src/util/prng.js';
import {
  checkClientCommand,
  checkCommand,
  decodeCommand,
  decodeResult,
  encodeCommand,
  encodeResult,
  MAX_VALUE_BYTES,
  type Command,
  type Result,
} from '../../src/sm/command.js';
import { KvBuilder } from '../../src/sm/kv-builder.js';
import { KvStore, SnapshotError } from '../../src/sm/kv.js';
import { MAX_KEY_BYTES } from '../../src/paxos/defaults.js';
import { checkRangeQuery, type RangeQuery } from '../../src/sm/range.js';
import { decodeKvRequest } from '../../src/wire/kv.js';
import type { TxnBody } from '../../src/sm/txn.js';

const put = (client: string, seq: number, key: string, value: string): Command => ({
  op: 'put',
  client,
  seq,
  key,
  value,
});
const get = (client: string, seq: number, key: string): Command => ({ op: 'get', client, seq, key });
const del = (client: string, seq: number, key: string): Command => ({ op: 'del', client, seq, key });
const cas = (client: string, seq: number, key: string, expected: string | null, value: string): Command => ({
  op: 'cas',
  client,
  seq,
  key,
  expected,
  value,
});

/** Applies `cmds` at indexes 1, 2, ... and returns the results. */
function feed(kv: KvStore, cmds: readonly Command[]): Result[] {
  return cmds.map((c) => kv.apply(c, kv.appliedIndex + 1));
}

/** A random log over a few keys and clients, with retries and stale duplicates mixed in. */
function randomLog(seed: number, length: number, clients = 6): Command[] {
  const rng = mulberry32(seed);
  const seqs = new Map<string, number>();
  const log: Command[] = [];
  const keys = ['a', 'b', 'c', 'ключ', '🙂'];
  const values = ['1', '2', '', 'x y', 'é"\n'];
  while (log.length < length) {
    const c = `c${Math.floor(rng() * clients)}`;
    const r = rng();
    if (r < 0.05) {
      log.push({ op: 'noop' });
      continue;
    }
    const last = seqs.get(c) ?? 0;
    // Mostly a new seq; sometimes a retry of the last one or an old duplicate.
    const seq = last > 1 && r < 0.15 ? last - 1 : last > 0 && r < 0.3 ? last : last + 1;
    seqs.set(c, Math.max(last, seq));
    const k = pick(rng, keys);
    const kind = pick(rng, ['put', 'get', 'del', 'cas', 'cas'] as const);
    log.push(
      kind === 'put'
        ? put(c, seq, k, pick(rng, values))
        : kind === 'get'
          ? get(c, seq, k)
          : kind === 'del'
            ? del(c, seq, k)
            : cas(c, seq, k, rng() < 0.3 ? null : pick(rng, values), pick(rng, values)),
    );
  }
  return log;
}

test('put, get and del: put and del return the previous value, get reads null when absent', (t) => {
  const kv = new KvStore();
  t.deepEqual(
    feed(kv, [
      get('a', 1, 'k'),
      put('a', 2, 'k', 'v1'),
      put('a', 3, 'k', 'v2'),
      get('a', 4, 'k'),
      del('a', 5, 'k'),
      del('a', 6, 'k'),
      get('a', 7, 'k'),
    ]),
    [
      { status: 'ok', value: null },
      { status: 'ok' },
      { status: 'ok', prev: 'v1' },
      { status: 'ok', value: 'v2', rev: [2, 3, 2] },
      { status: 'ok', prev: 'v2' },
      { status: 'ok' },
      { status: 'ok', value: null },
    ],
  );
  t.is(kv.size, 0);
  t.is(kv.appliedIndex, 7);
  feed(kv, [put('a', 8, 'k', ''), put('a', 9, 'j', 'x')]);
  t.is(kv.read('k'), '', 'the empty string is a value, not absence');
  t.is(kv.read('nope'), null);
  t.is(kv.size, 2);
});

test('cas sets the value only when the current value equals expected; null expects the key absent', (t) => {
  const kv = new KvStore();
  t.deepEqual(feed(kv, [cas('a', 1, 'k', 'x', 'y')]), [{ status: 'mismatch', current: null }]);
  t.is(kv.read('k'), null, 'a mismatch changes nothing');
  t.deepEqual(feed(kv, [cas('a', 2, 'k', null, 'v1')]), [{ status: 'ok' }]);
  t.is(kv.read('k'), 'v1');
  t.deepEqual(
    feed(kv, [cas('a', 3, 'k', null, 'v2')]),
    [{ status: 'mismatch', current: 'v1' }],
    'expected absent, but present',
  );
  t.deepEqual(feed(kv, [cas('a', 4, 'k', 'v0', 'v2')]), [{ status: 'mismatch', current: 'v1' }]);
  t.deepEqual(feed(kv, [cas('a', 5, 'k', 'v1', 'v2')]), [{ status: 'ok' }]);
  t.is(kv.read('k'), 'v2');
});

test('a noop advances the applied index and touches neither data nor sessions', (t) => {
  const kv = new KvStore();
  t.deepEqual(kv.apply({ op: 'noop' }, 5), { status: 'ok' });
  t.is(kv.appliedIndex, 5);
  t.is(kv.size, 0);
  t.is(kv.sessionCount, 0);
});

test('a retried command returns its original result and is not applied again', (t) => {
  const kv = new KvStore();
  t.deepEqual(kv.apply(put('a', 1, 'k', 'from-a'), 1), { status: 'ok' });
  t.deepEqual(kv.apply(put('b', 1, 'k', 'from-b'), 2), { status: 'ok', prev: 'from-a' });
  // a's reply was lost; its retry is committed again later in the log.
  t.deepEqual(kv.apply(put('a', 1, 'k', 'from-a'), 3), { status: 'ok' }, 'the original answer');
  t.is(kv.read('k'), 'from-b', "the retry must not overwrite b's later put");
  t.is(kv.session('a')?.index, 1, 'a retry is not an apply: the session keeps its apply index');

  t.deepEqual(kv.apply(get('c', 1, 'k'), 4), { status: 'ok', value: 'from-b', rev: [1, 2, 2] });
  kv.apply(del('b', 2, 'k'), 5);
  t.deepEqual(
    kv.apply(get('c', 1, 'k'), 6),
    { status: 'ok', value: 'from-b', rev: [1, 2, 2] },
    'a retried get returns what it read then',
  );
  t.deepEqual(kv.apply(cas('c', 2, 'k', null, 'c'), 7), { status: 'ok' });
  kv.apply(put('b', 3, 'k', 'b3'), 8);
  t.deepEqual(kv.apply(cas('c', 2, 'k', null, 'c'), 9), { status: 'ok' }, 'a retried cas is not re-evaluated');
  t.is(kv.read('k'), 'b3');
  t.is(kv.appliedIndex, 9, 'retries still consume their log index');
});

test('a seq below the last applied one is stale and never applied', (t) => {
  const kv = new KvStore();
  feed(kv, [put('a', 1, 'k', 'v1'), put('a', 2, 'k', 'v2')]);
  t.deepEqual(kv.apply(put('a', 1, 'k', 'v1'), 3), { status: 'stale', last: 2 });
  t.is(kv.read('k'), 'v2');
  t.deepEqual(kv.session('a'), { seq: 2, index: 2, result: { status: 'ok', prev: 'v1' } });
  t.deepEqual(kv.apply(put('a', 5, 'k', 'v5'), 4), { status: 'ok', prev: 'v2' }, 'seqs may skip ahead');
});

test('an unknown client is new only at seq 1; a higher seq is expired and not applied', (t) => {
  const kv = new KvStore();
  t.deepEqual(kv.apply(put('z', 4, 'k', 'v'), 1), { status: 'expired' });
  t.is(kv.read('k'), null);
  t.is(kv.session('z'), undefined);
  t.is(kv.appliedIndex, 1);
});

test('past maxSessions the session with the oldest apply index is evicted, the same on every replica', (t) => {
  const log = [
    put('a', 1, 'k', '1'),
    put('b', 1, 'k', '2'),
    put('c', 1, 'k', '3'),
    get('a', 2, 'k'),
    put('b', 1, 'k', '2'),
    put('d', 1, 'k', '4'),
  ];
  const r1 = new KvStore({ maxSessions: 3 });
  const r2 = new KvStore({ maxSessions: 3 });
  feed(r1, log);
  feed(r2, log);
  // Apply indexes: a@4 (re-applied at seq 2), b@2 (the retry at 5 is no apply), c@3, d@6: b is oldest.
  t.is(r1.sessionCount, 3);
  t.is(r1.session('b'), undefined, 'b was evicted');
  t.deepEqual(
    ['a', 'c', 'd'].map((c) => r1.session(c)?.index),
    [4, 3, 6],
  );
  t.deepEqual(r1.snapshot(), r2.snapshot(), 'both replicas kept the same sessions');
  // What the evicted client sees: its next command is refused, not applied.
  t.deepEqual(r1.apply(put('b', 2, 'k', 'late'), 7), { status: 'expired' });
  t.is(r1.read('k'), '4');
  t.throws(() => new KvStore({ maxSessions: 0 }), { instanceOf: RangeError });
});

test('apply refuses indexes out of order and invalid commands, changing nothing', (t) => {
  const kv = new KvStore();
  kv.apply(put('a', 1, 'k', 'v'), 3);
  t.throws(() => kv.apply(put('a', 2, 'k', 'w'), 3), {
    instanceOf: RangeError,
    message: /log index 3 is not above the applied index 3/,
  });
  t.throws(() => kv.apply(put('a', 2, 'k', 'w'), 2.5), { instanceOf: RangeError });
  t.throws(() => kv.apply(put('a', 2, '', 'w'), 4), {
    instanceOf: TypeError,
    message: /invalid command at index 4: put: "k" \(key\) must be a non-empty string/,
  });
  t.throws(() => kv.apply(put('a', 0, 'k', 'w'), 4), {
    instanceOf: TypeError,
    message: /"s" \(seq\) must be a positive integer/,
  });
  t.is(kv.appliedIndex, 3);
  t.is(kv.read('k'), 'v');
});

test('snapshot and restore give an equal store that goes on exactly like the original', (t) => {
  const log = randomLog(7, 600);
  const kv = new KvStore({ maxSessions: 4 });
  feed(kv, log.slice(0, 400));
  const bytes = kv.snapshot();
  const copy = KvStore.restore(bytes, { maxSessions: 4 });
  t.deepEqual(copy.snapshot(), bytes);
  t.is(copy.appliedIndex, kv.appliedIndex);
  t.is(copy.size, kv.size);
  t.is(copy.toReplicaFile(), kv.toReplicaFile());
  t.true(kv.size > 0 && kv.sessionCount === 4, 'the test exercises data and a full session table');
  // Dedup and eviction state came along: the rest of the log gives the same answers.
  t.deepEqual(feed(copy, log.slice(400)), feed(kv, log.slice(400)));
  t.deepEqual(copy.snapshot(), kv.snapshot());
  const results = feed(new KvStore({ maxSessions: 4 }), log);
  t.true(
    results.some((r) => r.status === 'stale') && results.some((r) => r.status === 'mismatch'),
    'the log has stale duplicates and cas mismatches',
  );
});

test('restore refuses a damaged or foreign snapshot, saying what is wrong', (t) => {
  const kv = new KvStore();
  feed(kv, [put('a', 1, 'k2', 'v'), put('a', 2, 'k1', 'w')]);
  const good = new TextDecoder().decode(kv.snapshot());
  t.is(
    good,
    '{"format":"paxos-kv/3","applied":2,"nextLease":1,"data":[["k1","w",2,2,1],["k2","v",1,1,1]],"leases":[],' +
      '"sessions":[["a",2,2,{"r":"ok"}]]}',
  );
  const bad = (text: string | Uint8Array, message: RegExp): void => {
    const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
    t.throws(() => KvStore.restore(bytes), { instanceOf: SnapshotError, message }, String(text));
  };
  bad(good.slice(0, 40), /not UTF-8 JSON.*truncated/);
  bad(new Uint8Array([0xff, 0xfe]), /not UTF-8 JSON/);
  bad(good.replace('paxos-kv/3', 'paxos-kv/9'), /"format" is not "paxos-kv\/3"$/);
  // A snapshot from before revisions is refused, saying why (docs/replicated-log.md#revisions).
  bad(
    '{"format":"paxos-kv/1","applied":2,"data":[["k1","w"],["k2","v"]],"sessions":[]}',
    /"format" is not "paxos-kv\/3" but "paxos-kv\/1": written by a version before keys had revisions/,
  );
  bad(good.replace('"applied":2', '"applied":-1'), /"applied" must be a non-negative integer/);
  bad(
    good.replace('["k1","w",2,2,1],["k2","v",1,1,1]', '["k2","v",1,1,1],["k1","w",2,2,1]'),
    /data\[1\]: key "k1" is not after the previous key/,
  );
  bad(good.replace('["k1","w",2,2,1]', '["","w",2,2,1]'), /data\[0\]: key "": the key must be a non-empty string/);
  bad(good.replace('["k1","w",2,2,1]', '["k1",7,2,2,1]'), /data\[0\]: key "k1": the value must be a string/);
  bad(good.replace('["k1","w",2,2,1]', '["k1","w"]'), /data\[0\]: a key must be \[key, value, create, mod, version\]/);
  bad(good.replace('["k1","w",2,2,1]', '["k1","w",2,3,1]'), /mod revision 3 is after the applied slot 2/);
  bad(good.replace('["k1","w",2,2,1]', '["k1","w",2,1,1]'), /mod revision 1 is before create revision 2/);
  bad(good.replace('["k1","w",2,2,1]', '["k1","w",2,2,0]'), /positive integers/);
  bad(good.replace('["a",2,2,', '["a",2,3,'), /sessions\[0\]: index must be .* at most "applied" \(2\)/);
  bad(good.replace('["a",2,2,', '["a",0,2,'), /sessions\[0\]: get: "s" \(seq\) must be a positive integer/);
  bad(good.replace('{"r":"ok"}', '{"r":"maybe"}'), /sessions\[0\]: "r" must be one of/);
  bad(good.replace('"applied":2,', '"applied":2, '), /not in canonical form/);
  bad(good.replace('"applied":2', '"applied":2.0e0'), /not in canonical form/);
});

test('two replicas fed the same log write byte-identical replica files, whatever the insertion order', (t) => {
  const log = randomLog(11, 500);
  const r1 = new KvStore();
  const r2 = new KvStore();
  feed(r1, log);
  feed(r2, log);
  t.is(r1.toReplicaFile(), r2.toReplicaFile());
  t.deepEqual(r1.snapshot(), r2.snapshot());

  // Same content reached in a different order: the dump depends on content only.
  const x = new KvStore();
  const y = new KvStore();
  feed(x, [put('a', 1, 'b', '2'), put('a', 2, 'a', '1'), put('a', 3, 'é', 'e'), put('a', 4, 'Z', 'z')]);
  feed(y, [put('b', 1, 'é', 'e'), put('b', 2, 'a', '1'), put('b', 3, 'Z', 'z'), put('b', 4, 'b', '2')]);
  t.is(x.toReplicaFile(), y.toReplicaFile());
  t.is(
    x.toReplicaFile(),
    '{"applied":4,"keys":4}\n{"key":"Z","value":"z"}\n' +
      '{"key":"a","value":"1"}\n{"key":"b","value":"2"}\n{"key":"é","value":"e"}\n',
  );
  t.is(new KvStore().toReplicaFile(), '{"applied":0,"keys":0}\n');
});

test('every command and result survives the wire encoding', (t) => {
  const cmds: Command[] = [
    put('c', 1, 'k', 'v'),
    get('c', 2, 'ключ🙂'),
    del('c', 3, 'k'),
    cas('c', 4, 'k', null, ''),
    cas('c', 5, 'k', 'a', 'b'),
    { op: 'noop' },
  ];
  for (const c of cmds)
    t.deepEqual(decodeCommand(JSON.parse(JSON.stringify(encodeCommand(c)))), { ok: true, value: c });
  t.is(JSON.stringify(encodeCommand(cmds[4]!)), '{"o":"cas","c":"c","s":5,"k":"k","e":"a","v":"b"}');
  t.is(JSON.stringify(encodeCommand(cmds[3]!)), '{"o":"cas","c":"c","s":4,"k":"k","e":null,"v":""}');
  const results: Result[] = [
    { status: 'ok' },
    { status: 'ok', prev: 'p' },
    { status: 'ok', value: null },
    { status: 'ok', value: '', rev: [1, 4, 2] },
    { status: 'mismatch', current: null },
    { status: 'stale', last: 3 },
    { status: 'expired' },
  ];
  for (const r of results)
    t.deepEqual(decodeResult(JSON.parse(JSON.stringify(encodeResult(r)))), { ok: true, value: r });
  t.is(JSON.stringify(encodeResult({ status: 'mismatch', current: 'x' })), '{"r":"mismatch","cur":"x"}');
  t.false(decodeResult({ r: 'ok', p: 'x', v: 'y' }).ok);
  t.false(decodeResult({ r: 'ok', v: 'y' }).ok, 'a value comes with its revisions');
  t.false(decodeResult({ r: 'ok', v: 'y', rev: [3, 2, 1] }).ok, 'mod before create');
  t.false(decodeResult({ r: 'ok', v: null, rev: [1, 1, 1] }).ok, 'an absent key has none');
  t.false(decodeResult({ r: 'stale', last: 0 }).ok);
});

test('decodeCommand says why a command is invalid', (t) => {
  const why = (raw: unknown): string => {
    const d = decodeCommand(raw);
    return d.ok ? 'accepted' : d.why;
  };
  const base = { o: 'put', c: 'cli', s: 1, k: 'k', v: 'v' };
  t.is(why(base), 'accepted');
  t.regex(why(null), /not a JSON object/);
  t.regex(why([1]), /not a JSON object/);
  t.regex(
    why({ ...base, o: 'append' }),
    /"o" must be one of put, get, del, cas, txn, noop, grant, keep, revoke, leases, expire, .*, members; got "append"/,
  );
  t.regex(why({ ...base, x: 1 }), /put: unexpected field "x"/);
  t.regex(why({ o: 'noop', c: 'cli' }), /noop: unexpected field "c"/);
  t.regex(why({ ...base, c: '' }), /"c" \(client id\) must be a string of 1 to 64 characters/);
  t.regex(why({ ...base, c: 'x'.repeat(65) }), /client id/);
  t.is(why({ ...base, c: '🙂'.repeat(64) }), 'accepted', '64 characters, even astral ones');
  t.regex(why({ ...base, s: 0 }), /"s" \(seq\) must be a positive integer; got 0/);
  t.regex(why({ ...base, s: 1.5 }), /"s" \(seq\)/);
  t.regex(why({ ...base, s: '1' }), /"s" \(seq\)/);
  t.regex(why({ ...base, k: 7 }), /"k" \(key\) must be a non-empty string; got 7/);
  t.regex(why({ ...base, k: 'a\ud800b' }), /"k" \(key\) has a lone UTF-16 surrogate/);
  t.is(why({ ...base, k: 'é'.repeat(MAX_KEY_BYTES / 2) }), 'accepted', 'exactly 1 KiB of UTF-8');
  t.regex(
    why({ ...base, k: `${'é'.repeat(MAX_KEY_BYTES / 2)}x` }),
    /"k" \(key\) is 1025 bytes in UTF-8, over the 1024-byte limit/,
  );
  t.is(why({ ...base, v: 'x'.repeat(MAX_VALUE_BYTES) }), 'accepted');
  t.regex(
    why({ ...base, v: '€'.repeat(MAX_VALUE_BYTES / 3 + 1) }),
    /put: "v" is 65538 bytes in UTF-8, over the 65536-byte limit/,
  );
  t.regex(why({ ...base, v: undefined }), /put: "v" must be a string; got nothing/);
  t.regex(why({ ...base, v: '\udfff' }), /"v" has a lone UTF-16 surrogate/);
  t.regex(
    why({ o: 'cas', c: 'c', s: 1, k: 'k', v: 'v' }),
    /cas: missing "e" \(expected value; null means the key must be absent\)/,
  );
  t.regex(why({ o: 'cas', c: 'c', s: 1, k: 'k', e: 3, v: 'v' }), /cas: "e" must be a string/);
  t.regex(why({ o: 'get', c: 'c', s: 1, k: 'k', v: 'v' }), /get: unexpected field "v"/);
});

test(
  'checkCommand (the edge) hands back the object it was given, or a canonical copy; applyBatch applies that ' +
    'form as apply applies the typed one',
  (t) => {
    const raw = JSON.parse('{"o":"cas","c":"c","s":1,"k":"k","e":null,"v":"x"}') as unknown;
    const c = checkCommand(raw);
    t.true(c.ok && c.value === raw, 'no copy, no decode');
    const reordered = checkCommand({ v: 'x', e: null, k: 'k', s: 1, c: 'c', o: 'cas' });
    t.true(
      reordered.ok && JSON.stringify(reordered.value) === JSON.stringify(raw),
      'canonical key order, as every replica logs it',
    );
    t.deepEqual(
      checkCommand({ o: 'put', c: 'c', s: 1, k: '', v: 'v' }),
      decodeCommand({ o: 'put', c: 'c', s: 1, k: '', v: 'v' }) as unknown,
      'the same verdict and reason',
    );
    t.deepEqual(checkClientCommand({ o: 'noop' }), { ok: false, why: 'a client cannot send a noop' });
    const log = randomLog(7, 300);
    const typed = new KvStore({ maxSessions: 4 });
    const wire = new KvStore({ maxSessions: 4 });
    const want = feed(typed, log);
    const got = log.map((cmd, i) => {
      const d = checkCommand(JSON.parse(JSON.stringify(encodeCommand(cmd))));
      if (!d.ok) throw new Error(d.why);
      return wire.applyBatch([d.value], i + 1)[0];
    });
    t.deepEqual(got, want);
    t.deepEqual(wire.snapshot(), typed.snapshot());
  },
);

test(
  'quota: a put or cas that would take the store past it is refused, nothing changed, the same answer on every ' +
    'replica; get, del and shrinking writes still work',
  (t) => {
    // "k1"+"aaaa" = 6 bytes; the quota is 12 bytes of keys and values (UTF-8).
    const a = new KvStore({ quotaBytes: 12 });
    const b = new KvStore({ quotaBytes: 12 });
    const log: Command[] = [
      put('c', 1, 'k1', 'aaaa'), // 6
      put('c', 2, 'k2', 'bbbb'), // 12: exactly the quota
      put('c', 3, 'k3', 'c'), // 15: refused
      cas('c', 4, 'k1', 'aaaa', 'aaaaa'), // 13: refused
      get('c', 5, 'k2'),
      put('c', 6, 'k1', 'é'), // "é" is 2 bytes: 4 + 6 = 10, shrinks: done
      del('c', 7, 'k2'), // 4
      put('c', 8, 'k3', 'cccc'), // 10: fits again
    ];
    const ra = feed(a, log);
    t.deepEqual(ra, feed(b, log), 'deterministic');
    t.deepEqual(ra[2], { status: 'quota', used: 12, quota: 12 });
    t.deepEqual(ra[3], { status: 'quota', used: 12, quota: 12 });
    t.deepEqual(ra[4], { status: 'ok', value: 'bbbb', rev: [2, 2, 1] });
    t.deepEqual(ra[5], { status: 'ok', prev: 'aaaa' });
    t.deepEqual(ra[6], { status: 'ok', prev: 'bbbb' });
    t.deepEqual(ra[7], { status: 'ok' });
    t.is(a.read('k1'), 'é');
    t.is(a.storeBytes, 10);
    // A retry of the refused put gets the same refusal (exactly once), even though it would fit now.
    t.deepEqual(a.apply(put('c', 3, 'k3', 'c'), a.appliedIndex + 1), { status: 'stale', last: 8 });
    // The result survives the wire, and a snapshot keeps the size.
    t.deepEqual(decodeResult(encodeResult(ra[2]!)), { ok: true, value: ra[2]! });
    t.is(KvStore.restore(a.snapshot(), { quotaBytes: 12 }).storeBytes, 10);
    t.throws(() => new KvStore({ quotaBytes: 0 }), { instanceOf: RangeError });
  },
);

test(
  'view and KvBuilder: a store sent in pieces, or written as lines, rebuilds to an equal store; the view is ' +
    'frozen while the store goes on',
  (t) => {
    const kv = new KvStore();
    feed(kv, randomLog(7, 400));
    const before = kv.snapshot();
    const view = kv.view();
    t.is(kv.openViews, 1);
    // Every kind of write after the view: change, delete, delete and add back, add.
    const keys = [...new Set(JSON.parse(new TextDecoder().decode(before)).data.map(([k]: [string]) => k) as string[])];
    t.true(keys.length >= 3);
    feed(kv, [
      put('late', 1, keys[0]!, 'after the view'),
      del('late', 2, keys[1]!),
      del('late', 3, keys[2]!),
      put('late', 4, keys[2]!, 'back'),
      put('late', 5, 'new key', 'x'),
    ]);
    // Pieces, a small budget so there are many: keys first, then sessions, never an empty one but for an empty store.
    const pieces = [...view.pieces(40)];
    t.true(pieces.length > 3);
    const b = new KvBuilder(view.applied, view.leases.next);
    for (const p of pieces) {
      t.true(p.entries.length + p.leases.length + p.sessions.length > 0);
      for (const e of p.entries) b.entry(e);
      for (const l of p.leases) b.lease(l);
      for (const s of p.sessions) b.session(s);
    }
    t.deepEqual(b.build().snapshot(), before);
    const fromLines = KvBuilder.fromLines([...view.lines()].map((l) => l.slice(0, -1)));
    t.deepEqual(fromLines.snapshot(), before);
    t.is(fromLines.storeBytes, KvStore.restore(before).storeBytes);
    // A snapshot as one JSON document (KvStore.snapshot) loads too.
    t.deepEqual(KvBuilder.fromLines([new TextDecoder().decode(before)]).snapshot(), before);
    t.deepEqual([...new KvStore().view().pieces(40)], [{ entries: [], leases: [], sessions: [] }]);
    // Damage is named.
    const lines = [...view.lines()].map((l) => l.slice(0, -1));
    t.throws(() => KvBuilder.fromLines(lines.slice(0, -1)), { instanceOf: SnapshotError, message: /cut short/ });
    t.throws(() => KvBuilder.fromLines([lines[0]!, lines[1]!, lines[1]!]), {
      instanceOf: SnapshotError,
      message: /appears twice|more lines/,
    });
    t.throws(() => new KvBuilder(3, 1).entry(['k', 5, 1, 1, 1]), {
      instanceOf: SnapshotError,
      message: /value must be a string/,
    });
    t.throws(() => new KvBuilder(3, 1).entry(['k', 'v', 1, 4, 1]), {
      instanceOf: SnapshotError,
      message: /mod revision 4 is after the applied slot 3/,
    });
    // A file from before revisions is refused, saying why.
    t.throws(() => KvBuilder.fromLines(['{"format":"paxos-kv/2","applied":1,"keys":0,"sessions":0}']), {
      instanceOf: SnapshotError,
      message: /"format" is not "paxos-kv\/4" but "paxos-kv\/2": written by a version before keys had revisions/,
    });
    view.close();
    t.is(kv.openViews, 0, 'a closed view no longer follows the writes');
    t.throws(() => [...view.lines()], { message: /after close/ });
  },
);

test('ranges: by prefix, from and to (to excluded), in code-unit order, with a limit, keys or count only', (t) => {
  const kv = new KvStore();
  let slot = 0;
  for (const k of ['b', 'a', 'ab', 'abc', 'b\u{1F600}', 'ac', 'z'])
    kv.apply({ op: 'put', key: k, value: `v-${k}`, client: 'c', seq: ++slot }, slot);
  const keys = (q: RangeQuery): string[] => kv.range(q).data.map(([k]) => k);
  t.deepEqual(keys({ prefix: 'a' }), ['a', 'ab', 'abc', 'ac']);
  t.deepEqual(keys({ prefix: 'ab' }), ['ab', 'abc']);
  t.deepEqual(keys({ prefix: 'q' }), []);
  t.deepEqual(keys({ from: 'ab', to: 'b' }), ['ab', 'abc', 'ac']);
  t.deepEqual(keys({ from: 'b' }), ['b', 'b\u{1F600}', 'z']);
  t.deepEqual(keys({}), ['a', 'ab', 'abc', 'ac', 'b', 'b\u{1F600}', 'z']);
  t.deepEqual(kv.range({ prefix: 'a', limit: 2 }), {
    data: [
      ['a', 'v-a', 2, 2, 1],
      ['ab', 'v-ab', 3, 3, 1],
    ],
    count: 4,
    more: true,
  });
  t.deepEqual(kv.range({ prefix: 'a', keysOnly: true, limit: 1 }).data, [['a', '', 2, 2, 1]]);
  t.deepEqual(kv.range({ from: 'a', to: 'b', countOnly: true }), { data: [], count: 4, more: false });
  // A key that comes or goes is seen by the next range; an overwrite keeps the order.
  kv.apply({ op: 'del', key: 'ab', client: 'c', seq: ++slot }, slot);
  kv.apply({ op: 'put', key: 'aa', value: 'new', client: 'c', seq: ++slot }, slot);
  kv.apply({ op: 'put', key: 'a', value: 'again', client: 'c', seq: ++slot }, slot);
  t.deepEqual(kv.range({ prefix: 'a' }).data, [
    ['a', 'again', 2, 10, 2],
    ['aa', 'new', 9, 9, 1],
    ['abc', 'v-abc', 4, 4, 1],
    ['ac', 'v-ac', 6, 6, 1],
  ]);
});

test('ranges: bad queries are refused with the reason', (t) => {
  t.regex(checkRangeQuery({ prefix: 'a', from: 'b' }) ?? '', /a prefix takes no from or to/);
  t.regex(checkRangeQuery({ prefix: '' }) ?? '', /the prefix must be a non-empty string/);
  t.regex(checkRangeQuery({ prefix: '\ud800' }) ?? '', /lone UTF-16 surrogate/);
  t.regex(checkRangeQuery({ from: 'b', to: 'a' }) ?? '', /"to" must come after "from"/);
  t.regex(checkRangeQuery({ limit: 0 }) ?? '', /the limit must be a whole number from 1 to 10000/);
  t.regex(checkRangeQuery({ keysOnly: true, countOnly: true }) ?? '', /do not go together/);
  t.is(checkRangeQuery({ from: '', to: 'x', limit: 5 }), undefined);
  // The wire's decoder holds requests to the same rules, and to its fields.
  t.like(decodeKvRequest({ type: 'range', id: 'r', prefix: 'p', limit: 3 }), { ok: true });
  t.like(decodeKvRequest({ type: 'range', id: 'r', prefix: 'p', extra: 1 }), {
    ok: false,
    why: 'range: unexpected field "extra"',
  });
  t.like(decodeKvRequest({ type: 'range', id: 'r', from: 'b', to: 'a' }), {
    ok: false,
    why: 'range: "to" must come after "from"',
  });
  t.like(decodeKvRequest({ type: 'range', id: 'r', limit: '5' }), {
    ok: false,
    why: 'range: "limit" must be a number',
  });
});

test('a range answer stops at 4 MiB of keys and values, and says there is more', (t) => {
  const kv = new KvStore();
  const big = 'x'.repeat(60 * 1024);
  for (let i = 0; i < 100; i++)
    kv.apply({ op: 'put', key: `k${String(i).padStart(3, '0')}`, value: big, client: 'c', seq: i + 1 }, i + 1);
  const r = kv.range({ prefix: 'k' });
  t.is(r.count, 100);
  t.true(r.more);
  t.is(r.data.length, Math.floor((4 * 1024 * 1024) / (60 * 1024 + 4)));
});

const txn = (client: string, seq: number, body: TxnBody): Command => ({ op: 'txn', client, seq, ...body });

test('txn: the compares choose the list; every op of it runs in one slot; a retry gets the first answer', (t) => {
  const kv = new KvStore();
  feed(kv, [put('c', 1, 'alice', '100'), put('c', 2, 'bob', '0')]);
  const move: TxnBody = {
    compares: [
      { key: 'alice', op: '=', value: '100' },
      { key: 'carol', op: '=', value: null },
      { key: 'bob', op: '!=', value: '5' },
    ],
    success: [
      { op: 'put', key: 'alice', value: '90' },
      { op: 'put', key: 'bob', value: '10' },
      { op: 'del', key: 'nobody' },
      { op: 'get', key: 'bob' },
    ],
    failure: [{ op: 'get', key: 'alice' }],
  };
  const r = kv.apply(txn('d', 1, move), 3);
  t.deepEqual(r, {
    status: 'txn',
    succeeded: true,
    results: [
      { status: 'ok', prev: '100' },
      { status: 'ok', prev: '0' },
      { status: 'ok' },
      { status: 'ok', value: '10', rev: [2, 3, 2] },
    ],
  });
  t.is(kv.read('alice'), '90');
  // The same again (a new seq): alice is no longer 100, so the else list runs and nothing changes.
  t.deepEqual(kv.apply(txn('d', 2, move), 4), {
    status: 'txn',
    succeeded: false,
    results: [{ status: 'ok', value: '90', rev: [1, 3, 2] }],
  });
  t.is(kv.read('bob'), '10');
  // An older seq is stale, never applied; a retry of the last one gets its first answer.
  t.like(kv.apply(txn('d', 1, move), 5), { status: 'stale' });
  t.like(kv.apply(txn('d', 2, move), 6), { status: 'txn', succeeded: false });
  // The answer survives the wire and a snapshot's session table.
  t.deepEqual(decodeResult(encodeResult(r)), { ok: true, value: r });
  t.deepEqual(KvStore.restore(kv.snapshot()).session('d')?.result, kv.session('d')?.result);
});

test('txn: a list that would pass the quota is refused whole, nothing changed', (t) => {
  const kv = new KvStore({ quotaBytes: 20 });
  feed(kv, [put('c', 1, 'a', '12345')]);
  const body: TxnBody = {
    compares: [],
    success: [
      { op: 'del', key: 'a' },
      { op: 'put', key: 'b', value: '1234567890' },
      { op: 'put', key: 'c', value: '1234567890' },
    ],
    failure: [],
  };
  t.like(kv.apply(txn('d', 1, body), 2), { status: 'quota' });
  t.is(kv.read('a'), '12345', 'the del did not run either');
  t.is(kv.read('b'), null);
  // Within the quota it runs: a shrink first makes room.
  const fits: TxnBody = { ...body, success: body.success.slice(0, 2) };
  t.like(kv.apply(txn('d', 2, fits), 3), { status: 'txn', succeeded: true });
  t.is(kv.storeBytes, 11);
});

test('txn: bad transactions are refused where they arrive, with the reason', (t) => {
  const wire = (x: Record<string, unknown>): string | null => {
    const c = checkCommand({ o: 'txn', c: 'c', s: 1, if: [], then: [], else: [], ...x });
    return c.ok ? null : c.why;
  };
  t.is(wire({}), null);
  t.regex(wire({ if: [['a', '<', 'x']] }) ?? '', /"if"\[0\] must be \[key, "=" or "!=", value or null\] or/);
  t.regex(wire({ if: [['a', 'mod', '>=', 1]] }) ?? '', /"if"\[0\] must be .* or \[key, "create", "mod" or "version"/);
  t.regex(wire({ if: [['a', 'mod', '<', -1]] }) ?? '', /a revision compares with a whole number from 0 up/);
  t.regex(wire({ if: [['a', 'mod', '<', '5']] }) ?? '', /a revision compares with a whole number from 0 up/);
  t.is(wire({ if: [['a', 'version', '>', 0]] }), null);
  t.regex(wire({ then: [['put', 'a']] }) ?? '', /"then"\[0\] must be \["put", key, value\]/);
  t.regex(wire({ else: [['get', '']] }) ?? '', /"else"\[0\]'s key must be a non-empty string/);
  t.regex(
    wire({ then: Array.from({ length: 129 }, () => ['get', 'a']) }) ?? '',
    /129 compares and ops, over the limit of 128/,
  );
  const big = 'x'.repeat(60 * 1024);
  t.regex(
    wire({
      then: [
        ['put', 'a', big],
        ['put', 'b', big],
        ['put', 'c', big],
      ],
    }) ?? '',
    /over the limit of 131072/,
  );
  t.regex(wire({ then: 'nope' }) ?? '', /"if", "then" and "else" must be lists/);
  t.regex(wire({ extra: 1 }) ?? '', /txn: unexpected field "extra"/);
  // The typed form and the wire form are one command.
  const typedTxn = txn('c', 1, {
    compares: [{ key: 'a', op: '!=', value: null }],
    success: [{ op: 'get', key: 'a' }],
    failure: [],
  });
  t.deepEqual(decodeCommand(encodeCommand(typedTxn)), { ok: true, value: typedTxn });
});

test('ranges: the keys kept in order as they come and go match a fresh sort, over 2,000 random writes', (t) => {
  const kv = new KvStore();
  const rng = mulberry32(7);
  const model = new Map<string, string>();
  for (let i = 1; i <= 2000; i++) {
    const key = `k${Math.floor(rng() * 300)}`;
    if (rng() < 0.3) {
      kv.apply(del('c', i, key), i);
      model.delete(key);
    } else {
      kv.apply(put('c', i, key, `v${i}`), i);
      model.set(key, `v${i}`);
    }
    if (i % 97 === 0) {
      const want = [...model].sort(([a], [b]) => (a < b ? -1 : 1));
      t.deepEqual(
        kv.range({}).data.map(([k, v]) => [k, v]),
        want,
        `after write ${i}`,
      );
    }
  }
});

test('revisions: create, mod and version follow each key through puts, deletes and transactions', (t) => {
  const kv = new KvStore();
  const entry = (k: string): unknown => {
    const e = kv.entry(k);
    return e === undefined ? undefined : [e.value, e.create, e.mod, e.version];
  };
  kv.apply(put('c', 1, 'a', 'x'), 3);
  t.deepEqual(entry('a'), ['x', 3, 3, 1], 'created at slot 3, version 1');
  kv.apply(put('c', 2, 'a', 'y'), 5);
  kv.apply(cas('c', 3, 'a', 'y', 'z'), 6);
  t.deepEqual(entry('a'), ['z', 3, 6, 3], 'each change a version; create stays');
  kv.apply(cas('c', 4, 'a', 'nope', 'w'), 7);
  kv.apply(get('c', 5, 'a'), 8);
  t.deepEqual(entry('a'), ['z', 3, 6, 3], 'a failed cas and a get change nothing');
  kv.apply(del('c', 6, 'a'), 9);
  t.is(kv.entry('a'), undefined);
  kv.apply(put('c', 7, 'a', 'again'), 10);
  t.deepEqual(entry('a'), ['again', 10, 10, 1], 'a key deleted and put again starts over');

  // Compares on revisions: an absent key's are 0.
  const ifThen = (seq: number, compares: TxnBody['compares'], slot: number): Result =>
    kv.apply(txn('c', seq, { compares, success: [{ op: 'put', key: 'a', value: `t${seq}` }], failure: [] }), slot);
  t.like(ifThen(8, [{ key: 'a', target: 'mod', op: '=', value: 9 }], 11), { succeeded: false });
  t.like(ifThen(9, [{ key: 'a', target: 'mod', op: '=', value: 10 }], 12), { succeeded: true });
  t.deepEqual(entry('a'), ['t9', 10, 12, 2]);
  t.like(ifThen(10, [{ key: 'a', target: 'version', op: '>', value: 2 }], 13), { succeeded: false });
  t.like(ifThen(11, [{ key: 'a', target: 'version', op: '<', value: 3 }], 14), { succeeded: true });
  t.like(ifThen(12, [{ key: 'a', target: 'create', op: '!=', value: 10 }], 15), { succeeded: false });
  t.like(ifThen(13, [{ key: 'gone', target: 'create', op: '=', value: 0 }], 16), { succeeded: true });
  t.like(ifThen(14, [{ key: 'gone', target: 'version', op: '>', value: 0 }], 17), { succeeded: false });

  // One transaction that puts a key twice: two versions, one revision (the slot).
  kv.apply(
    txn('c', 15, {
      compares: [],
      success: [
        { op: 'put', key: 'b', value: '1' },
        { op: 'put', key: 'b', value: '2' },
      ],
      failure: [],
    }),
    20,
  );
  t.deepEqual(entry('b'), ['2', 20, 20, 2]);

  // Revisions travel with the store: the snapshot, its lines and its pieces.
  const copy = KvStore.restore(kv.snapshot());
  t.deepEqual(copy.entry('a'), kv.entry('a'));
  const view = kv.view();
  t.deepEqual(KvBuilder.fromLines([...view.lines()].map((l) => l.slice(0, -1))).snapshot(), kv.snapshot());
  view.close();
});

test('revisions: a view taken before a write keeps the revisions of then', (t) => {
  const kv = new KvStore();
  kv.apply(put('c', 1, 'k', 'old'), 1);
  const view = kv.view();
  kv.apply(put('c', 2, 'k', 'new'), 2);
  const b = new KvBuilder(view.applied, 1);
  for (const p of view.pieces(1000)) for (const e of p.entries) b.entry(e);
  t.deepEqual(b.build().entry('k'), { value: 'old', create: 1, mod: 1, version: 1 });
  view.close();
});

import test from 'ava';
import type { ExecutionContext } from 'ava';
import { MAX_VALUE_BYTES } from '../../src/paxos/defaults.js';
import type { Message } from '../../src/core/types.js';
import { decode } from '../../src/wire/lab.js';

/** Decode and insist it succeeded; returns the message. */
function accepts(t: ExecutionContext, raw: unknown): Message | undefined {
  const d = decode(raw);
  if (!d.ok) {
    t.fail(`expected ${JSON.stringify(raw)?.slice(0, 120)} to decode, got: ${d.why}`);
    return undefined;
  }
  if (!('msg' in d)) {
    t.fail(`expected a protocol message, got ${JSON.stringify(d)}`);
    return undefined;
  }
  t.pass();
  return d.msg;
}

/** Decode and insist it failed with a reason matching `why`. */
function rejects(t: ExecutionContext, raw: unknown, why: RegExp): void {
  const d = decode(raw);
  if (d.ok) {
    t.fail(`expected ${JSON.stringify(raw)?.slice(0, 120)} to be rejected, got ${JSON.stringify(d).slice(0, 120)}`);
    return;
  }
  t.regex(d.why, why, `reason for ${JSON.stringify(raw)?.slice(0, 120)}`);
}

// ---- the five message types ------------------------------------------------

test('prepare decodes', (t) => {
  t.deepEqual(accepts(t, { type: 'prepare', from: 1, n: 1 }), { type: 'prepare', from: 1, n: 1 });
});

test('accept decodes', (t) => {
  t.deepEqual(accepts(t, { type: 'accept', from: 1, n: 3, v: 'X' }), { type: 'accept', from: 1, n: 3, v: 'X' });
});

test('chose decodes', (t) => {
  t.deepEqual(accepts(t, { type: 'chose', from: 5, n: 2, v: 'Y' }), { type: 'chose', from: 5, n: 2, v: 'Y' });
});

test('prepare_ack decodes with accepted null and with an accepted pair', (t) => {
  t.deepEqual(accepts(t, { type: 'prepare_ack', from: 2, n: 1, promised: 1, accepted: null, chosen: null }), {
    type: 'prepare_ack',
    from: 2,
    n: 1,
    promised: 1,
    accepted: null,
    chosen: null,
  });
  t.deepEqual(
    accepts(t, { type: 'prepare_ack', from: 3, n: 4, promised: 4, accepted: { n: 2, v: 'old' }, chosen: null }),
    {
      type: 'prepare_ack',
      from: 3,
      n: 4,
      promised: 4,
      accepted: { n: 2, v: 'old' },
      chosen: null,
    },
  );
});

test('accept_ack decodes with accepted null and with an accepted pair', (t) => {
  t.deepEqual(accepts(t, { type: 'accept_ack', from: 2, n: 1, promised: 7, accepted: null, chosen: null }), {
    type: 'accept_ack',
    from: 2,
    n: 1,
    promised: 7,
    accepted: null,
    chosen: null,
  });
  t.deepEqual(
    accepts(t, { type: 'accept_ack', from: 4, n: 1, promised: 1, accepted: { n: 1, v: 'X' }, chosen: null }),
    {
      type: 'accept_ack',
      from: 4,
      n: 1,
      promised: 1,
      accepted: { n: 1, v: 'X' },
      chosen: null,
    },
  );
});

test('promised 0 is allowed on acks (an acceptor that never promised)', (t) => {
  const m = accepts(t, { type: 'prepare_ack', from: 2, n: 1, promised: 0, accepted: null, chosen: null });
  t.is(m?.type, 'prepare_ack');
});

test('unknown extra fields are not carried into the decoded message', (t) => {
  t.deepEqual(accepts(t, { type: 'prepare', from: 1, n: 1, evil: 'x', __proto__x: 1 }), {
    type: 'prepare',
    from: 1,
    n: 1,
  });
});

// ---- rejections --------------------------------------------------------------

test('non-objects are rejected', (t) => {
  for (const raw of [[], [{ type: 'prepare', from: 1, n: 1 }], 'prepare', '', null, 42, true, undefined]) {
    rejects(t, raw, /not a JSON object/);
  }
});

test('a missing or non-string type is rejected', (t) => {
  rejects(t, { from: 1, n: 1 }, /missing "type"/);
  rejects(t, { type: 3, from: 1, n: 1 }, /missing "type"/);
  rejects(t, { type: null, from: 1, n: 1 }, /missing "type"/);
});

test('an unknown type is rejected and named', (t) => {
  rejects(t, { type: 'promise', from: 1, n: 1 }, /unknown message type "promise"/);
  rejects(t, { type: 'PREPARE', from: 1, n: 1 }, /unknown message type "PREPARE"/);
  rejects(t, { type: '', from: 1, n: 1 }, /unknown message type ""/);
});

test('an absurdly long unknown type is truncated in the reason', (t) => {
  const d = decode({ type: 'z'.repeat(10_000), from: 1, n: 1 });
  t.false(d.ok);
  if (!d.ok) {
    t.regex(d.why, /unknown message type/);
    t.true(d.why.length < 200, `reason is ${d.why.length} chars`);
  }
});

test('"from" must be an integer >= 1', (t) => {
  for (const from of [0, -1, 1.5, '1', null, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
    rejects(t, { type: 'prepare', from, n: 1 }, /"from" must be an integer >= 1/);
  }
  rejects(t, { type: 'prepare', n: 1 }, /"from" must be an integer >= 1/);
});

test('"n" must be present and an integer >= 1, on every type', (t) => {
  rejects(t, { type: 'prepare', from: 1 }, /"n" must be an integer from 1 to 281474976710656/);
  rejects(t, { type: 'accept', from: 1, v: 'X' }, /"n" must be an integer from 1 to 281474976710656/);
  rejects(t, { type: 'chose', from: 1, n: 0, v: 'X' }, /"n" must be an integer from 1 to 281474976710656/);
  rejects(
    t,
    { type: 'prepare_ack', from: 1, n: -2, promised: 1, accepted: null, chosen: null },
    /"n" must be an integer from 1 to 281474976710656/,
  );
  rejects(
    t,
    { type: 'accept_ack', from: 1, n: '1', promised: 1, accepted: null, chosen: null },
    /"n" must be an integer from 1 to 281474976710656/,
  );
  rejects(t, { type: 'accept', from: 1, n: 2.5, v: 'X' }, /"n" must be an integer from 1 to 281474976710656/);
});

test('"promised" must be an integer >= 0', (t) => {
  rejects(
    t,
    { type: 'prepare_ack', from: 2, n: 1, promised: -1, accepted: null, chosen: null },
    /"promised" must be an integer from 0 to 281474976710656/,
  );
  rejects(
    t,
    { type: 'accept_ack', from: 2, n: 1, promised: 1.5, accepted: null, chosen: null },
    /"promised" must be an integer from 0 to 281474976710656/,
  );
  rejects(
    t,
    { type: 'accept_ack', from: 2, n: 1, accepted: null, chosen: null },
    /"promised" must be an integer from 0 to 281474976710656/,
  );
  rejects(
    t,
    { type: 'prepare_ack', from: 2, n: 1, promised: '1', accepted: null, chosen: null },
    /"promised" must be an integer from 0 to 281474976710656/,
  );
});

test('a malformed "accepted" is rejected', (t) => {
  const ack = (accepted: unknown) => ({ type: 'prepare_ack', from: 2, n: 3, promised: 3, accepted, chosen: null });
  rejects(t, ack({ n: 0 }), /"accepted"\."n" must be an integer from 1 to 281474976710656/);
  rejects(t, ack({ n: 0, v: 'X' }), /"accepted"\."n" must be an integer from 1 to 281474976710656/);
  rejects(t, ack({ n: 1 }), /"accepted"\.v must be a string/);
  rejects(t, ack({ n: 1, v: 5 }), /"accepted"\.v must be a string/);
  rejects(t, ack({ n: 1, v: null }), /"accepted"\.v must be a string/);
  rejects(t, ack({ v: 'X' }), /"accepted"\."n" must be an integer from 1 to 281474976710656/);
  rejects(t, ack('X'), /"accepted" must be null or/);
  rejects(t, ack([1, 'X']), /"accepted" must be null or/);
  rejects(t, ack(0), /"accepted" must be null or/);
  // Absent is not the same as null.
  rejects(t, { type: 'accept_ack', from: 2, n: 3, promised: 3, chosen: null }, /"accepted" must be null or/);
});

test('"v" must be a string on accept and chose', (t) => {
  for (const type of ['accept', 'chose']) {
    rejects(t, { type, from: 1, n: 1 }, /"v" must be a string/);
    rejects(t, { type, from: 1, n: 1, v: 5 }, /"v" must be a string/);
    rejects(t, { type, from: 1, n: 1, v: null }, /"v" must be a string/);
    rejects(t, { type, from: 1, n: 1, v: ['X'] }, /"v" must be a string/);
    rejects(t, { type, from: 1, n: 1, v: { s: 'X' } }, /"v" must be a string/);
  }
});

test('"v" up to MAX_VALUE_BYTES is accepted, one byte more is rejected', (t) => {
  const atLimit = 'a'.repeat(MAX_VALUE_BYTES);
  const m = accepts(t, { type: 'accept', from: 1, n: 1, v: atLimit });
  t.is(m?.type === 'accept' ? m.v.length : -1, MAX_VALUE_BYTES);
  rejects(t, { type: 'accept', from: 1, n: 1, v: `${atLimit}a` }, new RegExp(`"v" is over ${MAX_VALUE_BYTES} bytes`));
  rejects(t, { type: 'chose', from: 1, n: 1, v: `${atLimit}a` }, new RegExp(`"v" is over ${MAX_VALUE_BYTES} bytes`));
});

test('the value limit counts UTF-8 bytes, not characters', (t) => {
  // '€' is 3 bytes in UTF-8: this has far fewer chars than the limit but more bytes.
  const euros = '€'.repeat(MAX_VALUE_BYTES / 2 + 1);
  t.true(euros.length < MAX_VALUE_BYTES);
  t.true(Buffer.byteLength(euros, 'utf8') > MAX_VALUE_BYTES);
  rejects(t, { type: 'accept', from: 1, n: 1, v: euros }, new RegExp(`"v" is over ${MAX_VALUE_BYTES} bytes`));
  rejects(t, { type: 'chose', from: 1, n: 1, v: euros }, new RegExp(`"v" is over ${MAX_VALUE_BYTES} bytes`));
  rejects(
    t,
    { type: 'accept_ack', from: 2, n: 1, promised: 1, accepted: { n: 1, v: euros }, chosen: null },
    new RegExp(`"accepted"\\.v is over ${MAX_VALUE_BYTES} bytes`),
  );

  // Exactly at the limit in bytes, with multi-byte characters: accepted.
  const exact = `${'€'.repeat(Math.floor(MAX_VALUE_BYTES / 3))}${'a'.repeat(MAX_VALUE_BYTES % 3)}`;
  t.is(Buffer.byteLength(exact, 'utf8'), MAX_VALUE_BYTES);
  t.truthy(accepts(t, { type: 'accept', from: 1, n: 1, v: exact }));
  // ...and one 2-byte character more is over.
  rejects(t, { type: 'accept', from: 1, n: 1, v: `${exact}é` }, /is over/);

  // Emoji are 4 bytes (2 UTF-16 units): the limit is still bytes.
  const emoji = '😀'.repeat(MAX_VALUE_BYTES / 4 + 1);
  t.true(emoji.length < MAX_VALUE_BYTES);
  rejects(t, { type: 'accept', from: 1, n: 1, v: emoji }, /is over/);
});

// ---- round trip through JSON ------------------------------------------------

const awkward = [
  '',
  'plain',
  'with "double" and \'single\' quotes',
  'line1\nline2\r\nline3\rend',
  'back\\slash \\n not a newline \\\\',
  'tab\there\u0000nul\u001fus',
  'emoji 😀🎉👩‍👩‍👧 and € and 日本語',
  '\u2028\u2029 line/paragraph separators',
  '{"type":"prepare","from":1,"n":1}\n',
  '\ud800 lone high surrogate',
];

test('awkward values round-trip through JSON.stringify -> JSON.parse -> decode unchanged', (t) => {
  for (const v of awkward) {
    const msgs: Message[] = [
      { type: 'accept', from: 1, n: 1, v },
      { type: 'chose', from: 1, n: 1, v },
      { type: 'prepare_ack', from: 2, n: 2, promised: 2, accepted: { n: 1, v }, chosen: null },
      { type: 'accept_ack', from: 3, n: 2, promised: 2, accepted: { n: 2, v }, chosen: null },
    ];
    for (const msg of msgs) {
      const line = JSON.stringify(msg);
      t.false(line.includes('\n'), 'a serialized message is a single line');
      const d = decode(JSON.parse(line));
      if (!d.ok) {
        t.fail(`${JSON.stringify(v)} in ${msg.type}: ${d.why}`);
        continue;
      }
      t.deepEqual(d, { ok: true, msg });
    }
  }
});

test('hello names the caller and is not a protocol message', (t) => {
  t.deepEqual(decode({ type: 'hello', from: 3 }), { ok: true, hello: { from: 3, to: 0 } });
  t.deepEqual(
    decode({ type: 'hello', from: 3, to: 2 }),
    { ok: true, hello: { from: 3, to: 2 } },
    'and whom it means to reach',
  );
  t.false(decode({ type: 'hello', from: 3, to: -1 }).ok);
  t.deepEqual(decode({ type: 'ping' }), { ok: true, ping: true });
  t.deepEqual(decode({ type: 'chose_ack', from: 2, n: 1 }), { ok: true, msg: { type: 'chose_ack', from: 2, n: 1 } });
  const bad = decode({ type: 'hello', from: 0 });
  t.false(bad.ok);
});

test('proposal numbers above MAX_PROPOSAL are refused, so numbering stays exact', (t) => {
  const big = 2 ** 48 + 1;
  rejects(t, { type: 'prepare', from: 1, n: big }, /"n" must be an integer from 1 to/);
  rejects(t, { type: 'prepare_ack', from: 2, n: 1, promised: big, accepted: null, chosen: null }, /"promised" must be/);
  rejects(
    t,
    { type: 'prepare_ack', from: 2, n: 1, promised: 1, accepted: { n: big, v: 'X' }, chosen: null },
    /"accepted"\."n" must be/,
  );
  accepts(t, { type: 'prepare', from: 1, n: 2 ** 48 });
});

test('acks may carry the value the acceptor knows is chosen; it is optional on the wire', (t) => {
  const withChosen = accepts(t, {
    type: 'accept_ack',
    from: 2,
    n: 3,
    promised: 5,
    accepted: { n: 5, v: 'X' },
    chosen: { n: 5, v: 'X' },
  });
  t.deepEqual(withChosen, {
    type: 'accept_ack',
    from: 2,
    n: 3,
    promised: 5,
    accepted: { n: 5, v: 'X' },
    chosen: { n: 5, v: 'X' },
  });
  const without = accepts(t, { type: 'prepare_ack', from: 2, n: 3, promised: 3, accepted: null });
  t.deepEqual(without, { type: 'prepare_ack', from: 2, n: 3, promised: 3, accepted: null, chosen: null });
  rejects(
    t,
    { type: 'prepare_ack', from: 2, n: 3, promised: 3, accepted: null, chosen: { n: 0, v: 'X' } },
    /"chosen"\."n" must be/,
  );
  rejects(
    t,
    { type: 'prepare_ack', from: 2, n: 3, promised: 3, accepted: null, chosen: 'X' },
    /"chosen" must be null or/,
  );
});

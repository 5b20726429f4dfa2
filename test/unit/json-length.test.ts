import test from 'ava';
import { jsonLength } from '../../src/util/json-length.js';
import { mulberry32 } from '../../src/util/prng.js';

const cases: unknown[] = [
  '',
  'plain',
  'a "quoted" \\ back',
  'tab\tnew\nline\u0001\u001f\u007f',
  'é ü 日本 😀',
  '\ud800 lone high',
  'lone low \udc00',
  0,
  -0,
  1.5,
  -1e-7,
  1e21,
  123456789012345680000,
  Number.NaN,
  Infinity,
  true,
  false,
  null,
  [],
  [1, 'two', null, [3, [4]]],
  [undefined, () => 1],
  {},
  { o: 'put', c: 'cli-1', s: 7, k: 'key42', v: 'x'.repeat(256) },
  { a: undefined, b: 1, f: () => 2, 'k"ey': { nested: ['é', { deep: true }] } },
  { only: undefined },
  new Date(0),
];

test('jsonLength is the length of JSON.stringify for every kind of JSON value', (t) => {
  for (const c of cases) t.is(jsonLength(c), JSON.stringify(c).length, JSON.stringify(c));
});

test('jsonLength agrees with JSON.stringify on random commands with random text', (t) => {
  const rng = mulberry32(7);
  const ch = (): string => {
    const r = rng();
    if (r < 0.6) return String.fromCharCode(32 + Math.floor(rng() * 95));
    if (r < 0.7) return String.fromCharCode(Math.floor(rng() * 32));
    if (r < 0.8) return String.fromCharCode(0xd800 + Math.floor(rng() * 0x800));
    return String.fromCharCode(Math.floor(rng() * 0xffff));
  };
  const text = (): string => Array.from({ length: Math.floor(rng() * 20) }, ch).join('');
  for (let i = 0; i < 2000; i++) {
    const cmd = { o: 'put', c: text(), s: Math.floor(rng() * 1e9), k: text(), v: text(), l: [text(), rng() * 1e6] };
    t.is(jsonLength(cmd), JSON.stringify(cmd).length);
  }
});

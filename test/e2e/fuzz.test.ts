// A wire fuzzer: random and malformed lines sent to live peers of testcase 1
// while the protocol runs. Bad input from the network must never crash a
// peer or change its state: each peer stays up, logs warnings on stderr, and
// prints exactly its golden transcript on stdout.
//
// Every line is INVALID by construction: an independent oracle
// (`couldBeLegit`, written from docs/protocol.md and the docs, not from
// src/wire/lab.ts) throws out anything a legitimate peer of this
// hostsfile could send to the peer it is aimed at, so no valid message can
// change a peer's state. Many lines are one step away from a dangerous valid
// message (a prepare from peer1 with a huge number, a chose with another
// value), so a validation bug shows up as an extra or changed stdout line.
//
// Each connection's bytes come from a seeded PRNG (mulberry32). A failure
// message names the seed; rerun with FUZZ_SEED=<seed> to replay the same
// input per connection (the interleaving across connections is timing).

import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { MAX_LINE_BYTES, MAX_PROPOSAL, MAX_VALUE_BYTES } from '../../src/paxos/defaults.js';
import { LiveCluster, until, type Proc } from '../helpers/procs.js';
import { ROOT } from '../helpers/cli.js';

const TESTCASE = pathToFileURL(`${ROOT}/testcases/1/`);
const HOSTSFILE = readFileSync(new URL('hostsfile', TESTCASE), 'utf8');
const HOSTS = ['peer1', 'peer2', 'peer3', 'peer4', 'peer5'] as const;
type Host = (typeof HOSTS)[number];
const golden = (host: Host): string[] =>
  readFileSync(new URL(`expected/${host}.log`, TESTCASE), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

const SEED =
  process.env['FUZZ_SEED'] !== undefined ? Number(process.env['FUZZ_SEED']) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const replay = `seed ${SEED} (replay with FUZZ_SEED=${SEED})`;

// ---------------------------------------------------------------- PRNG

type Rng = () => number;

function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

// ---------------------------------------------------------------- the oracle

// Testcase 1: peer1 is proposer1, peers 2..4 are acceptor1, peer5 is learner1.
const PROPOSER = 1;
const ACCEPTORS: readonly number[] = [2, 3, 4];
const LEARNERS: readonly number[] = [5];
const IDS: readonly number[] = [1, 2, 3, 4, 5];

type JsonObj = { [k: string]: unknown };
const isObj = (x: unknown): x is JsonObj => typeof x === 'object' && x !== null && !Array.isArray(x);
const isInt = (x: unknown, min: number, max: number): boolean =>
  typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;
const isValue = (v: unknown): boolean => typeof v === 'string' && Buffer.byteLength(v, 'utf8') <= MAX_VALUE_BYTES;
const isPair = (a: unknown): boolean => a === null || (isObj(a) && isInt(a['n'], 1, MAX_PROPOSAL) && isValue(a['v']));

/**
 * Whether `content` (the bytes between two newlines) could be a line that a
 * legitimate peer of testcase 1 sends to peer `to`. Deliberately generous
 * (extra fields, any value, stale numbers all count as legitimate), so
 * whatever it rejects is invalid input beyond doubt. Bytes that are not
 * UTF-8 are never legitimate: a peer drops such a line (lines.ts), so even a
 * well-formed accept from peer1 with a broken value is fair game.
 */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
function couldBeLegit(content: Buffer, to: number): boolean {
  if (content.length > MAX_LINE_BYTES) return false;
  let text: string;
  try {
    text = strictUtf8.decode(content);
  } catch {
    return false;
  }
  if (text.endsWith('\r')) text = text.slice(0, -1);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return false;
  }
  if (!isObj(raw)) return false;
  const from = raw['from'];
  if (!isInt(from, 1, IDS.length)) return false;
  const n = isInt(raw['n'], 1, MAX_PROPOSAL);
  switch (raw['type']) {
    case 'hello':
      return true;
    case 'prepare':
      return from === PROPOSER && ACCEPTORS.includes(to) && n;
    case 'accept':
      return from === PROPOSER && ACCEPTORS.includes(to) && n && isValue(raw['v']);
    case 'chose':
      return from === PROPOSER && (ACCEPTORS.includes(to) || LEARNERS.includes(to)) && n && isValue(raw['v']);
    case 'prepare_ack':
    case 'accept_ack':
      return (
        ACCEPTORS.includes(from as number) &&
        to === PROPOSER &&
        n &&
        isInt(raw['promised'], 0, MAX_PROPOSAL) &&
        isPair(raw['accepted']) &&
        (raw['chosen'] === undefined || isPair(raw['chosen']))
      );
    default:
      return false;
  }
}

// ---------------------------------------------------------------- building lines

/** JSON text written verbatim (numbers JSON.stringify cannot produce). */
class Raw {
  constructor(readonly text: string) {}
}
/** An object as an ordered list of fields, so keys may repeat or be "__proto__". */
class Obj {
  constructor(readonly fields: ReadonlyArray<readonly [string, Val]>) {}
}
type Val = null | boolean | number | string | Raw | Obj | readonly Val[];

function ser(v: Val): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Obj) return `{${v.fields.map(([k, x]) => `${JSON.stringify(k)}:${ser(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(ser).join(',')}]`;
  return JSON.stringify(v);
}

const KINDS = ['prepare', 'accept', 'chose', 'prepare_ack', 'accept_ack'] as const;
type Kind = (typeof KINDS)[number];

const pair = (n: Val, v: Val): Obj =>
  new Obj([
    ['n', n],
    ['v', v],
  ]);
const GOOD_N: readonly number[] = [1, 2, 3, 17, 1000, 999_999, MAX_PROPOSAL];
const GOOD_V: readonly string[] = ['X', 'Y', 'Z', '', 'é', 'zw\u00e9i 😀', 'line\nbreak', '"quoted"', '\u2028'];
const GOOD_PROMISED: readonly number[] = [0, 1, 5, 999_999];
const GOOD_PAIR: readonly Val[] = [null, pair(1, 'X'), pair(999_999, 'Z'), pair(MAX_PROPOSAL, 'Y')];

const BAD_NUM: readonly Val[] = [
  0,
  -1,
  -7,
  0.5,
  1.5,
  2.000001,
  MAX_PROPOSAL + 1,
  MAX_PROPOSAL + 2,
  2 ** 53,
  new Raw('9007199254740993'),
  1e300,
  new Raw('1e999'),
  new Raw('-1e999'),
  new Raw('-0'),
  '1',
  '',
  'one',
  null,
  true,
  false,
  [],
  [1],
  new Obj([]),
  new Obj([['n', 1]]),
];
const BAD_PROMISED: readonly Val[] = [
  -1,
  -0.5,
  0.5,
  MAX_PROPOSAL + 1,
  2 ** 53,
  1e300,
  new Raw('1e999'),
  '0',
  '5',
  null,
  true,
  [],
  [0],
  new Obj([]),
];
const BAD_FROM: readonly Val[] = [
  0,
  -1,
  -2,
  1.5,
  2.5,
  '1',
  '2',
  'peer1',
  '',
  null,
  true,
  false,
  [],
  [1],
  new Obj([]),
  new Raw('1e999'),
  new Raw('-0'),
];
const UNKNOWN_FROM: readonly number[] = [6, 7, 99, 1000, 2 ** 31, 2 ** 32 + 1, MAX_PROPOSAL, 2 ** 53 - 1];
const BIG_VALUES: readonly string[] = [
  'x'.repeat(MAX_VALUE_BYTES + 1),
  'é'.repeat(MAX_VALUE_BYTES / 2 + 1),
  '😀'.repeat(MAX_VALUE_BYTES / 4 + 1),
];
const BAD_V: readonly Val[] = [null, 0, 5, true, [], ['X'], new Obj([]), new Obj([['v', 'X']])];
const BAD_PAIR: readonly Val[] = [
  0,
  1,
  'X',
  '',
  true,
  [],
  [1, 'X'],
  new Obj([]),
  new Obj([['n', 1]]),
  new Obj([['v', 'X']]),
  pair(0, 'X'),
  pair(-1, 'X'),
  pair(1.5, 'X'),
  pair('1', 'X'),
  pair(1, 5),
  pair(1, null),
  pair(1, ['X']),
  pair(MAX_PROPOSAL + 1, 'X'),
  pair(new Raw('1e999'), 'X'),
];
const UNKNOWN_TYPES: readonly Val[] = [
  '',
  ' prepare',
  'prepare ',
  'PREPARE',
  'Prepare',
  'prepare\u0000',
  'prepareack',
  'prepare-ack',
  'ack',
  'nack',
  'chosen',
  'choose',
  'learn',
  'promise',
  'Hello',
  'HELLO',
  'hello ',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'then',
  'prototype',
  'préparé',
  '😀',
  'a'.repeat(500),
  null,
  0,
  1,
  true,
  ['prepare'],
  new Obj([['prepare', 1]]),
];
const BAD_UTF8: readonly number[][] = [
  [0xff],
  [0xfe],
  [0xc0, 0xaf],
  [0xc3],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0x80],
  [0xbf],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xef, 0xbf, 0xbe],
  [0x00],
  [0x0d],
  [0x1b, 0x5b, 0x32, 0x4a],
];

function fields(kind: Kind, from: Val, r: Rng): Array<[string, Val]> {
  const f: Array<[string, Val]> = [
    ['type', kind],
    ['from', from],
    ['n', pick(r, GOOD_N)],
  ];
  if (kind === 'accept' || kind === 'chose') f.push(['v', pick(r, GOOD_V)]);
  if (kind === 'prepare_ack' || kind === 'accept_ack') {
    f.push(['promised', pick(r, GOOD_PROMISED)], ['accepted', pick(r, GOOD_PAIR)]);
    if (r() < 0.5) f.push(['chosen', pick(r, GOOD_PAIR)]);
  }
  return f;
}

/**
 * The most dangerous message for peer `to`: one that, were it valid, would
 * change its state (a prepare or accept with a high number, a chose with
 * another value, an ack for the proposer). Mutated, cut or wrapped below.
 */
function dangerous(to: number, r: Rng): Array<[string, Val]> {
  if (ACCEPTORS.includes(to)) return fields(pick(r, ['prepare', 'accept', 'chose'] as const), PROPOSER, r);
  if (LEARNERS.includes(to)) return fields('chose', PROPOSER, r);
  return fields(pick(r, ['prepare_ack', 'accept_ack'] as const), pick(r, ACCEPTORS), r);
}
const line = (f: ReadonlyArray<readonly [string, Val]>): string => ser(new Obj(f));

/** A legitimate sender for `kind`: what the bad-field lines start from. */
function rightSender(kind: Kind, r: Rng): number {
  return kind === 'prepare_ack' || kind === 'accept_ack' ? pick(r, ACCEPTORS) : PROPOSER;
}

/** Replace or drop one field with something invalid for it. */
function breakOne(f: Array<[string, Val]>, r: Rng): void {
  const keys = f.map(([k]) => k).filter((k) => k !== 'type');
  const key = pick(r, keys);
  const i = f.findIndex(([k]) => k === key);
  if (r() < 0.2 && key !== 'chosen') {
    f.splice(i, 1); // a missing field
    return;
  }
  const bad: Val =
    key === 'from'
      ? pick(r, BAD_FROM)
      : key === 'n'
        ? pick(r, BAD_NUM)
        : key === 'v'
          ? r() < 0.05
            ? pick(r, BIG_VALUES)
            : pick(r, BAD_V)
          : key === 'promised'
            ? pick(r, BAD_PROMISED)
            : pick(r, BAD_PAIR);
  f[i] = [key, bad];
}

const CATEGORIES = [
  'random-bytes',
  'json-soup',
  'truncated',
  'mutated',
  'non-object',
  'unknown-type',
  'bad-field',
  'not-in-hostsfile',
  'wrong-role',
  'bad-hello',
  'bad-utf8-in-json',
  'two-on-one-line',
  'proto-and-duplicate-keys',
  'blank',
  'deep-nesting',
  'oversized',
] as const;
type Category = (typeof CATEGORIES)[number];
const WEIGHTS: Record<Category, number> = {
  'random-bytes': 10,
  'json-soup': 8,
  truncated: 10,
  mutated: 10,
  'non-object': 6,
  'unknown-type': 6,
  'bad-field': 20,
  'not-in-hostsfile': 6,
  'wrong-role': 14,
  'bad-hello': 5,
  'bad-utf8-in-json': 4,
  'two-on-one-line': 3,
  'proto-and-duplicate-keys': 3,
  blank: 2,
  'deep-nesting': 0.5,
  oversized: 0.6,
};
const TOTAL_WEIGHT = CATEGORIES.reduce((s, c) => s + WEIGHTS[c], 0);

function pickCategory(r: Rng): Category {
  let x = r() * TOTAL_WEIGHT;
  for (const c of CATEGORIES) {
    x -= WEIGHTS[c];
    if (x < 0) return c;
  }
  return 'bad-field';
}

function randomBytes(r: Rng, len: number): Buffer {
  const out: number[] = [];
  while (out.length < len) {
    const x = r();
    if (x < 0.1) out.push(0);
    else if (x < 0.3) out.push(...pick(r, BAD_UTF8));
    else if (x < 0.35)
      out.push(0xc3, 0xa9); // valid é
    else if (x < 0.38)
      out.push(0xf0, 0x9f, 0x98, 0x80); // valid 😀
    else out.push(int(r, 0, 255));
  }
  return Buffer.from(out.map((b) => (b === 0x0a ? 0x0b : b)));
}

const SOUP = [
  '{',
  '}',
  '[',
  ']',
  '"',
  ':',
  ',',
  ' ',
  '\t',
  '\r',
  '\\',
  '\\u',
  '0',
  '1',
  '-',
  '.',
  'e',
  'null',
  'true',
  'false',
  '"type"',
  '"from"',
  '"n"',
  '"v"',
  '"prepare"',
  '"accept"',
  '"chose"',
  '"hello"',
  '"prepare_ack"',
  '"accept_ack"',
  '"promised"',
  '"accepted"',
  '\u0000',
  '\ufeff',
  'é',
  '9007199254740993',
];

function build(c: Category, to: number, r: Rng): Buffer {
  switch (c) {
    case 'random-bytes':
      return randomBytes(r, int(r, 1, 300));
    case 'json-soup':
      return Buffer.from(Array.from({ length: int(r, 1, 60) }, () => pick(r, SOUP)).join(''));
    case 'truncated': {
      const s = Buffer.from(line(dangerous(to, r)));
      return r() < 0.8 ? s.subarray(0, int(r, 1, s.length - 1)) : s.subarray(int(r, 1, s.length - 1));
    }
    case 'mutated': {
      const s = [...Buffer.from(line(dangerous(to, r)))];
      for (let k = int(r, 1, 3); k > 0; k--) {
        const i = int(r, 0, s.length - 1);
        const op = r();
        if (op < 0.4) s[i] = pick(r, [...Buffer.from('{}[]":,0129-.e \\\'x')].concat([0, 0xff, 0x0d]));
        else if (op < 0.7) s.splice(i, 1);
        else s.splice(i, 0, s[i] ?? 0x20);
      }
      return Buffer.from(s.map((b) => (b === 0x0a ? 0x0b : b)));
    }
    case 'non-object': {
      const inner = line(dangerous(to, r));
      return Buffer.from(
        pick(r, [
          'null',
          'true',
          'false',
          '0',
          '1',
          '-1',
          '3.14',
          '1e999',
          '"prepare"',
          JSON.stringify(inner),
          '[]',
          '[null]',
          `[${inner}]`,
          `[${inner},${inner}]`,
          '[[[[1]]]]',
          '{}',
          ' null ',
          '"\\u0000"',
          '""',
        ]),
      );
    }
    case 'unknown-type': {
      const f = fields(pick(r, KINDS), pick(r, IDS), r);
      f[0] = ['type', pick(r, UNKNOWN_TYPES)];
      if (r() < 0.1) f.shift(); // no type at all
      return Buffer.from(line(f));
    }
    case 'bad-field': {
      const kind = pick(r, KINDS);
      const f = fields(kind, rightSender(kind, r), r);
      breakOne(f, r);
      if (r() < 0.2) breakOne(f, r);
      return Buffer.from(line(f));
    }
    case 'not-in-hostsfile':
      return Buffer.from(line(fields(pick(r, KINDS), pick(r, UNKNOWN_FROM), r)));
    case 'wrong-role':
      // Any well-formed message from any peer of the hostsfile; the oracle
      // drops those this sender may really send to `to`, leaving e.g. a
      // prepare from an acceptor, an accept_ack from the proposer or sent
      // to an acceptor, a prepare_ack sent to the learner.
      return Buffer.from(line(fields(pick(r, KINDS), pick(r, IDS), r)));
    case 'bad-hello': {
      const f: Array<[string, Val]> = [['type', 'hello']];
      if (r() < 0.9) f.push(['from', r() < 0.5 ? pick(r, BAD_FROM) : pick(r, UNKNOWN_FROM)]);
      return Buffer.from(line(f));
    }
    case 'bad-utf8-in-json': {
      const kind = pick(r, ['accept', 'chose'] as const);
      const head = line(fields(kind, pick(r, [0, 2, 3, 4, 5, 6]), r).filter(([k]) => k !== 'v'));
      const bad = Buffer.from(pick(r, BAD_UTF8).filter((b) => b >= 0x80));
      return Buffer.concat([
        Buffer.from(`${head.slice(0, -1)},"v":"`),
        bad.length > 0 ? bad : Buffer.from([0xff]),
        Buffer.from('"}'),
      ]);
    }
    case 'two-on-one-line': {
      const a = line(dangerous(to, r));
      const b = line(dangerous(to, r));
      return Buffer.from(`${a}${pick(r, ['', ' ', '\r', '\t', ',', '\u2028', '\u0000'])}${b}`);
    }
    case 'proto-and-duplicate-keys': {
      const f = dangerous(to, r);
      if (r() < 0.5) {
        // {"type":..., "__proto__": {"from":1,"n":..}}: JSON.parse makes an own
        // "__proto__" key, so "from" and "n" are missing, not inherited.
        const kept = f.filter(([k]) => k === 'type');
        return Buffer.from(line([...kept, ['__proto__', new Obj(f.filter(([k]) => k !== 'type'))]]));
      }
      // A duplicate key: JSON.parse keeps the last one, a sender that cannot send this.
      const kind = f[0]![1] as Kind;
      const wrong = kind === 'prepare_ack' || kind === 'accept_ack' ? [1, 5, 99] : [2, 3, 4, 5, 99];
      return Buffer.from(line([...f, ['from', pick(r, wrong)]]));
    }
    case 'blank':
      return Buffer.from(pick(r, ['', ' ', '\t', '   \t ', '\r', '\ufeff', '\u0000', '\ufeff{}']));
    case 'deep-nesting': {
      const d = int(r, 1000, 60_000);
      return Buffer.from(r() < 0.5 ? `${'['.repeat(d)}${']'.repeat(d)}` : `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`);
    }
    case 'oversized': {
      // Over MAX_LINE_BYTES, each hiding a dangerous message that must not get through.
      const inner = line(dangerous(to, r));
      const size = MAX_LINE_BYTES + int(r, 1, 300);
      const kind = int(r, 0, 2);
      if (kind === 0) return Buffer.from(' '.repeat(size - inner.length) + inner); // leading whitespace is still JSON
      if (kind === 1) return Buffer.from(`${inner.slice(0, -1)},"pad":"${'p'.repeat(size - inner.length - 9)}"}`);
      return Buffer.concat([randomBytes(r, size - inner.length), Buffer.from(inner)]);
    }
  }
}

interface Gen {
  content: Buffer;
  category: Category;
}

/** One invalid line (without its newline) for peer `to`. */
function invalidLine(to: number, r: Rng, category: Category): Gen {
  for (let attempt = 0; attempt < 200; attempt++) {
    let content = build(category, to, r);
    if (r() < 0.15) content = Buffer.concat([content, Buffer.from('\r')]); // CRLF
    if (content.includes(0x0a)) throw new Error(`generator bug: ${category} made a line with a newline`);
    if (!couldBeLegit(content, to)) return { content, category };
  }
  throw new Error(`generator bug: ${category} kept making legitimate lines for peer ${to}`);
}

// ---------------------------------------------------------------- the fuzzer

type Ending = 'end' | 'tail-end' | 'tail-destroy' | 'tail-reset' | 'reset';

/** Raw connections to peers, each sending a seeded stream of invalid input. */
class Fuzzer {
  private halted = false;
  private readonly sockets = new Set<net.Socket>();
  private readonly workers: Array<Promise<void>> = [];
  readonly linesTo = new Map<string, number>();
  readonly connectionsTo = new Map<string, number>();
  readonly categories = new Map<Category, number>();
  readonly endings = new Map<Ending, number>();
  readonly socketErrors = new Map<string, number>();
  private failure: unknown = null;

  constructor(
    private readonly live: LiveCluster,
    private readonly seed: number,
    private readonly connsPerPeer: number,
  ) {}

  get total(): number {
    return [...this.linesTo.values()].reduce((a, b) => a + b, 0);
  }

  sent(host: string): number {
    return this.linesTo.get(host) ?? 0;
  }

  start(hosts: readonly string[]): void {
    hosts.forEach((host, h) => {
      const to = this.live.cluster.byHost(host)!.id;
      for (let k = 0; k < this.connsPerPeer; k++) {
        const r = mulberry32((this.seed ^ Math.imul(h + 1, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca6b)) >>> 0);
        // Connection 0 to each peer stays open for the whole run; the others churn.
        this.workers.push(
          this.worker(host, to, r, k === 0).catch((err: unknown) => {
            this.failure ??= err;
          }),
        );
      }
    });
  }

  /** A generator bug (not a peer bug) thrown inside a worker. */
  check(): void {
    if (this.failure !== null) throw this.failure;
  }

  /** Stop writing; sockets stay open until close(). */
  async halt(): Promise<void> {
    this.halted = true;
    await Promise.all(this.workers);
    this.check();
  }

  async close(): Promise<void> {
    this.halted = true;
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.workers);
  }

  private bump<K>(m: Map<K, number>, k: K, by = 1): void {
    m.set(k, (m.get(k) ?? 0) + by);
  }

  private async connect(host: string): Promise<net.Socket | null> {
    const ep = this.live.endpoint(host);
    while (!this.halted) {
      const s = net.connect({ host: ep.host, port: ep.port });
      s.on('error', (err: NodeJS.ErrnoException) => this.bump(this.socketErrors, err.code ?? err.message));
      s.setNoDelay(true);
      s.resume();
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
      const ok = await new Promise<boolean>((resolve) => {
        s.once('connect', () => resolve(true));
        s.once('close', () => resolve(false));
      });
      if (ok) {
        this.bump(this.connectionsTo, host);
        return s;
      }
      s.destroy();
      await delay(5); // the peer is not listening yet (peer1 starts late)
    }
    return null;
  }

  private async worker(host: string, to: number, r: Rng, persistent: boolean): Promise<void> {
    let n = 0;
    while (!this.halted) {
      const sock = await this.connect(host);
      if (sock === null) return;
      let alive: boolean;
      do {
        const batch: Buffer[] = [];
        for (let k = int(r, 1, 30); k > 0; k--) {
          // Every connection goes through every category first, then at random.
          const g = invalidLine(to, r, n < CATEGORIES.length ? CATEGORIES[n]! : pickCategory(r));
          n++;
          this.bump(this.categories, g.category);
          batch.push(g.content, Buffer.from('\n'));
        }
        alive = await this.pump(sock, Buffer.concat(batch), r, host);
      } while (alive && persistent && !this.halted);
      if (this.halted) return;
      if (!alive) continue;
      const ending = pick(r, ['end', 'tail-end', 'tail-destroy', 'tail-reset', 'reset'] as const);
      this.bump(this.endings, ending);
      if (ending.startsWith('tail')) {
        // An unfinished line, possibly cut inside a UTF-8 sequence.
        const g = invalidLine(to, r, pickCategory(r));
        let cut = g.content.subarray(0, int(r, 1, Math.max(1, g.content.length)));
        while (couldBeLegit(cut, to)) cut = cut.subarray(0, cut.length - 1);
        if (!(await this.pump(sock, cut, r, host))) continue;
      }
      if (ending === 'end' || ending === 'tail-end') sock.end();
      else if (ending === 'tail-destroy') sock.destroy();
      else sock.resetAndDestroy();
    }
  }

  /** Write `bytes` in random pieces (1 byte up to 64 KiB), pacing by lines. */
  private async pump(sock: net.Socket, bytes: Buffer, r: Rng, host: string): Promise<boolean> {
    let at = 0;
    while (at < bytes.length) {
      if (this.halted || sock.destroyed || !sock.writable) return false;
      const x = r();
      const size = x < 0.3 ? int(r, 1, 8) : x < 0.7 ? int(r, 9, 200) : int(r, 201, 65_536);
      const chunk = bytes.subarray(at, at + size);
      at += chunk.length;
      let lines = 0;
      for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) lines++;
      if (!sock.write(chunk)) {
        await Promise.race([once(sock, 'drain').catch(() => undefined), once(sock, 'close')]);
      }
      this.bump(this.linesTo, host, lines);
      // About 4-12 ms per line per connection: a few hundred lines a second per peer.
      if (lines > 0) await delay(lines * int(r, 4, 12));
      else if (r() < 0.3) await delay(1);
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return true;
  }
}

// ---------------------------------------------------------------- the tests

const CRASH = ['TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'Unhandled', 'uncaught', 'FATAL', '    at '];

const isChose = (v: string) => (l: { action: string; message_value: string }) =>
  l.action === 'chose' && l.message_value === v;

function allAlive(procs: ReadonlyMap<Host, Proc>): void {
  for (const [host, p] of procs) {
    if (p.exit !== null) {
      throw new Error(
        `${host} exited (${JSON.stringify(p.exit)}) under fuzzing, ${replay}; last stderr:\n` +
          `${p.stderr.slice(-20).join('\n')}`,
      );
    }
  }
}

interface Run {
  readonly live: LiveCluster;
  readonly procs: Map<Host, Proc>;
  readonly fuzz: Fuzzer;
  /** Invalid lines peer1 had warned about when its first stdout line came. */
  readonly droppedByPeer1BeforePrepare: number;
}

/**
 * Testcase 1 under fuzz: peers 2..5 start, the fuzzer hits all five peers
 * (retrying peer1 until it listens), then peer1 proposes X. Resolves once
 * every peer printed as many lines as its golden, with the fuzzer still on.
 */
async function decideUnderFuzz(t: ExecutionContext, salt: number, connsPerPeer: number): Promise<Run> {
  const live = await new LiveCluster(HOSTSFILE).init();
  t.teardown(() => live.close());
  const procs = new Map<Host, Proc>();
  for (const h of HOSTS) if (h !== 'peer1') procs.set(h, live.start(h));
  const fuzz = new Fuzzer(live, (SEED + salt) >>> 0, connsPerPeer);
  t.teardown(() => fuzz.close());
  fuzz.start(HOSTS);
  const going = (hosts: readonly Host[]) => (): boolean => {
    allAlive(procs);
    fuzz.check();
    return hosts.every((h) => fuzz.sent(h) >= 20);
  };
  await until(going(['peer2', 'peer3', 'peer4', 'peer5']), `fuzz lines reaching peers 2..5, ${replay}`, 60_000);
  // -t: peer1 listens (and is fuzzed) at once, and proposes 0.5 s later, so
  // its round normally runs under fuzz too.
  const p1 = live.start('peer1', ['-v', 'X', '-t', '0.5']);
  procs.set('peer1', p1);
  const decided = (host: Host) => (): boolean => {
    allAlive(procs);
    fuzz.check();
    return procs.get(host)!.log.some(isChose('X'));
  };
  // How much fuzz peer1 had dropped when it sent its first protocol message.
  const dropped = (): number => p1.stderr.filter((l) => l.includes('dropping')).length;
  await until(
    () => {
      allAlive(procs);
      return p1.lines.length > 0;
    },
    `peer1 to send its prepare, ${replay}`,
    20_000,
  );
  const droppedByPeer1BeforePrepare = dropped();
  await until(decided('peer1'), `peer1 to print chose X, ${replay}`, 60_000);
  await until(decided('peer5'), `peer5 to print chose X, ${replay}`, 60_000);
  await until(
    () => {
      allAlive(procs);
      return HOSTS.every((h) => procs.get(h)!.lines.length >= golden(h).length);
    },
    `every peer to print its golden line count, ${replay}`,
    20_000,
  );
  await until(going(HOSTS), `fuzz lines reaching peer1, ${replay}`, 60_000);
  return { live, procs, fuzz, droppedByPeer1BeforePrepare };
}

function checkTranscripts(t: ExecutionContext, procs: ReadonlyMap<Host, Proc>): void {
  for (const h of HOSTS) {
    const got = [...procs.get(h)!.lines].sort();
    const want = golden(h).sort();
    t.deepEqual(got, want, `${h}: stdout must be exactly testcases/1/expected/${h}.log (as a multiset), ${replay}`);
  }
}

function checkStderr(t: ExecutionContext, procs: ReadonlyMap<Host, Proc>): void {
  for (const h of HOSTS) {
    const err = procs.get(h)!.stderr;
    const crash = err.filter((l) => CRASH.some((c) => l.includes(c)));
    t.deepEqual(crash, [], `${h}: stderr shows an exception, ${replay}`);
    const dropped = err.filter((l) => l.includes('dropping')).length;
    t.true(dropped > 0, `${h}: no 'dropping' warnings on stderr, ${replay}`);
  }
}

/** What the peers' warnings said, by kind, to show which checks the fuzz reached. */
function warnings(procs: ReadonlyMap<Host, Proc>): string {
  const kinds: ReadonlyArray<readonly [string, RegExp]> = [
    ['not-json', /dropping malformed line .*\(not JSON\)/],
    ['invalid', /dropping invalid message/],
    ['too-long', /dropping a line over \d+ bytes/],
    ['rejected', /dropping \w+ from peer \d+:/],
  ];
  return HOSTS.map((h) => {
    const err = procs.get(h)!.stderr;
    return `${h}: ${kinds.map(([k, re]) => `${k}=${err.filter((l) => re.test(l)).length}`).join(' ')}`;
  }).join('; ');
}

function summary(fuzz: Fuzzer, procs: ReadonlyMap<Host, Proc>): string {
  const m = <K>(x: Map<K, number>): string => [...x].map(([k, v]) => `${String(k)}=${v}`).join(' ');
  return [
    `${replay}: ${fuzz.total} invalid lines`,
    `lines per peer: ${m(fuzz.linesTo)}`,
    `connections per peer: ${m(fuzz.connectionsTo)}`,
    `categories: ${m(fuzz.categories)}`,
    `connection endings: ${m(fuzz.endings)}`,
    `socket errors seen: ${m(fuzz.socketErrors) || 'none'}`,
    `peer warnings: ${warnings(procs)}`,
  ].join('\n');
}

test.serial(
  'wire fuzz: testcase 1 decides X under a stream of invalid lines, and every transcript equals its golden',
  async (t) => {
    const { procs, fuzz, droppedByPeer1BeforePrepare } = await decideUnderFuzz(t, 0, 3);
    allAlive(procs);
    await fuzz.halt();
    t.log(summary(fuzz, procs));
    // Informational only: which of two pipes the test reads first is a race,
    // and on a loaded machine peer1 may start proposing before the first fuzz
    // line reaches it. Peers 2..5 are fuzzed all through the round regardless.
    t.log(`peer1 had dropped ${droppedByPeer1BeforePrepare} invalid lines when it sent its prepare`);
    for (const h of HOSTS) t.is(procs.get(h)!.exit, null, `${h} is still running, ${replay}`);
    t.true(fuzz.total >= 500, `only ${fuzz.total} fuzz lines were sent, ${replay}`);
    for (const c of CATEGORIES) t.true((fuzz.categories.get(c) ?? 0) > 0, `category ${c} was never sent`);
    for (const h of HOSTS) t.true(fuzz.sent(h) >= 20, `${h} got only ${fuzz.sent(h)} fuzz lines`);
    checkTranscripts(t, procs);
    checkStderr(t, procs);
  },
);

test.serial('wire fuzz after the decision: 1 s more changes no transcript, and SIGTERM still exits 0', async (t) => {
  const { procs, fuzz } = await decideUnderFuzz(t, 0x5eed, 2);
  const before = new Map(HOSTS.map((h) => [h, [...procs.get(h)!.lines]]));
  const sentBefore = new Map(HOSTS.map((h) => [h, fuzz.sent(h)]));
  const t0 = Date.now();
  await until(
    () => {
      allAlive(procs);
      fuzz.check();
      return Date.now() - t0 >= 1000 && HOSTS.every((h) => fuzz.sent(h) - sentBefore.get(h)! >= 20);
    },
    `1 s of fuzzing after the decision, ${replay}`,
    20_000,
  );
  // Stop writing, but leave the fuzz connections open across SIGTERM.
  await fuzz.halt();
  t.log(summary(fuzz, procs));
  for (const h of HOSTS) {
    t.is(procs.get(h)!.exit, null, `${h} is still running, ${replay}`);
    t.deepEqual(
      procs.get(h)!.lines,
      before.get(h),
      `${h}: fuzzing after the decision printed protocol lines, ${replay}`,
    );
  }
  checkTranscripts(t, procs);
  checkStderr(t, procs);
  const exits = await Promise.all(HOSTS.map(async (h) => ({ h, ...(await procs.get(h)!.signal('SIGTERM')) })));
  for (const { h, code, ms } of exits) t.is(code, 0, `${h} exited ${String(code)} ${ms} ms after SIGTERM, ${replay}`);
  await fuzz.close();
});

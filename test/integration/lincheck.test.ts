import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { lincheckCommand } from '../../src/cli/lincheck-command.js';
import { ConfigError } from '../../src/config/errors.js';
import { mulberry32, pick } from '../../src/util/prng.js';
import { checkHistory, type CheckResult, type KeyFailure } from '../../src/lincheck/checker.js';
import { HistoryError, parseHistory, type F, type Operation } from '../../src/lincheck/history.js';
import { ROOT } from '../helpers/cli.js';

// Tests run from dist/test/; fixtures stay in the source tree.
const FIXTURES = path.join(ROOT, 'test/fixtures/lincheck');
const fixture = (name: string): string => path.join(FIXTURES, name);

type Ev = Record<string, unknown>;
type Done = 'ok' | 'fail' | 'info' | 'crash';

/** An op as its two events; `crash` leaves the invoke without completion. */
function op(
  process: string,
  f: F,
  key: string,
  value: unknown,
  call: number,
  ret: number,
  done: Done = 'ok',
  read?: string | null,
): Ev[] {
  const inv: Ev = { process, type: 'invoke', f, key, ...(value === undefined ? {} : { value }), time: call };
  if (done === 'crash') return [inv];
  return [inv, { process, type: done, f, key, ...(read === undefined ? {} : { value: read }), time: ret }];
}
const put = (p: string, k: string, v: string, call: number, ret: number, done: Done = 'ok'): Ev[] =>
  op(p, 'put', k, v, call, ret, done);
const get = (p: string, k: string, read: string | null, call: number, ret: number): Ev[] =>
  op(p, 'get', k, undefined, call, ret, 'ok', read);
const del = (p: string, k: string, call: number, ret: number, done: Done = 'ok'): Ev[] =>
  op(p, 'del', k, undefined, call, ret, done);
const cas = (p: string, k: string, e: string | null, v: string, call: number, ret: number, done: Done = 'ok'): Ev[] =>
  op(p, 'cas', k, [e, v], call, ret, done);

const text = (...ops: Ev[][]): string =>
  ops
    .flat()
    .map((e) => JSON.stringify(e))
    .join('\n');
const check = (...ops: Ev[][]): CheckResult => checkHistory(parseHistory(text(...ops), 'h.jsonl'));

function failures(r: CheckResult): readonly KeyFailure[] {
  return r.verdict === 'illegal' ? r.failures : [];
}

test('a sequential history of every kind of op is linearizable', (t) => {
  const r = check(
    put('c1', 'k', 'a', 0, 1),
    get('c2', 'k', 'a', 2, 3),
    del('c1', 'k', 4, 5),
    get('c2', 'k', null, 6, 7),
    cas('c1', 'k', null, 'b', 8, 9),
    cas('c2', 'k', 'b', 'c', 10, 11),
    get('c1', 'k', 'c', 12, 13),
  );
  t.like(r, { verdict: 'ok', ops: 7, keys: 1 });
});

test('overlapping writes and reads: either order of the writes is fine', (t) => {
  const writes = [put('c1', 'k', 'v1', 0, 10), put('c2', 'k', 'v2', 1, 11)];
  t.is(check(...writes, get('c3', 'k', 'v1', 12, 13)).verdict, 'ok');
  t.is(check(...writes, get('c3', 'k', 'v2', 12, 13)).verdict, 'ok');
  t.is(check(...writes, get('c3', 'k', null, 5, 6)).verdict, 'ok', 'a read during both writes may precede them');
  t.is(
    check(...writes, get('c3', 'k', 'v1', 2, 3), get('c4', 'k', 'v2', 4, 5), get('c3', 'k', 'v1', 6, 7)).verdict,
    'illegal',
    'but it cannot flip back',
  );
  t.is(
    check(put('c1', 'k', 'v1', 0, 5), get('c2', 'k', null, 5, 6)).verdict,
    'ok',
    'a call at the instant of a return overlaps it',
  );
});

test('a stale read (after a newer put completed) is not linearizable, and the report says why', (t) => {
  const r = check(put('c1', 'k', 'v1', 0, 1), put('c1', 'k', 'v2', 2, 3), get('c2', 'k', 'v1', 4, 5));
  t.is(r.verdict, 'illegal');
  const [f] = failures(r);
  t.is(f?.key, 'k');
  t.deepEqual(
    f?.prefix.map((o) => o.f === 'put' && o.value),
    ['v1', 'v2'],
  );
  t.is(f?.state, 'v2');
  t.deepEqual(
    f?.stuck.map((s) => s.why),
    ['read "v1" but the value is "v2"'],
  );
  t.regex(
    f?.message ?? '',
    new RegExp(
      /^key "k": 2 of 3 ops linearize .* leaving the value "v2"; then no op can come next: c2 /.source +
        /get\("k"\) -> "v1" \[4, 5\] line 5: read "v1" but the value is "v2"$/.source,
    ),
  );
});

test('a read of a value never written is not linearizable', (t) => {
  const r = check(put('c1', 'k', 'v1', 0, 10), get('c2', 'k', 'ghost', 1, 2));
  t.is(r.verdict, 'illegal');
  t.regex(failures(r)[0]?.message ?? '', /read "ghost"/);
  t.is(check(get('c2', 'k', 'ghost', 1, 2)).verdict, 'illegal', 'even with no writes at all');
});

test('cas: success needs the expected value, a mismatch needs another value at some instant', (t) => {
  t.is(check(put('c1', 'k', 'a', 0, 1), cas('c2', 'k', 'a', 'b', 2, 3), get('c1', 'k', 'b', 4, 5)).verdict, 'ok');
  t.is(
    check(cas('c2', 'k', null, 'b', 2, 3), get('c1', 'k', 'b', 4, 5)).verdict,
    'ok',
    'expected null: the key was absent',
  );
  t.is(
    check(put('c1', 'k', 'a', 0, 1), cas('c2', 'k', 'a', 'b', 2, 3), cas('c3', 'k', 'a', 'c', 2, 3)).verdict,
    'illegal',
    'two overlapping cas from the same value cannot both win',
  );
  t.is(
    check(put('c1', 'k', 'a', 0, 1), cas('c2', 'k', 'a', 'b', 2, 3), cas('c3', 'k', 'a', 'c', 2, 3, 'fail')).verdict,
    'ok',
    'one wins, the other sees a mismatch',
  );
  const stuck = check(put('c1', 'k', 'a', 0, 1), cas('c2', 'k', 'a', 'b', 2, 3, 'fail'));
  t.is(stuck.verdict, 'illegal', 'a mismatch while the value surely was the expected one');
  t.regex(failures(stuck)[0]?.stuck[0]?.why ?? '', /failed \(mismatch\) but the value is the expected "a"/);
  t.is(
    check(put('c1', 'k', 'a', 0, 1), cas('c2', 'k', 'a', 'b', 2, 5, 'fail'), put('c3', 'k', 'z', 3, 4)).verdict,
    'ok',
    'a mismatch is fine if a concurrent put changed the value',
  );
  t.is(
    check(cas('c2', 'k', 'x', 'b', 2, 3), get('c1', 'k', 'b', 4, 5)).verdict,
    'illegal',
    'a cas cannot succeed on an absent key expecting a value',
  );
});

test('unknown (info) outcomes may take effect any time after the call, or never', (t) => {
  t.is(check(put('c1', 'k', 'v1', 0, 1, 'info'), get('c2', 'k', 'v1', 100, 101)).verdict, 'ok', 'seen long after');
  t.is(check(put('c1', 'k', 'v1', 0, 1, 'info'), get('c2', 'k', null, 100, 101)).verdict, 'ok', 'or never');
  t.is(
    check(put('c1', 'k', 'v1', 0, 1, 'crash'), get('c2', 'k', 'v1', 100, 101)).verdict,
    'ok',
    'an invoke with no completion is info',
  );
  t.is(
    check(put('c1', 'k', 'v1', 0, 1, 'info'), get('c2', 'k', 'v9', 100, 101)).verdict,
    'illegal',
    'a value neither written nor pending',
  );
  t.is(
    check(put('c1', 'k', 'v1', 0, 1, 'info'), get('c2', 'k', 'v1', 10, 11), get('c2', 'k', null, 20, 21)).verdict,
    'illegal',
    'once seen, it happened',
  );
  t.is(check(put('c1', 'k', 'v1', 5, 6, 'info'), get('c2', 'k', 'v1', 0, 1)).verdict, 'illegal', 'not before its call');
  const casInfo = [put('c0', 'k', 'a', 0, 1), cas('c1', 'k', 'a', 'b', 2, 3, 'info')];
  t.is(check(...casInfo, get('c3', 'k', 'b', 20, 21)).verdict, 'ok', 'an unknown cas that took effect');
  t.is(check(...casInfo, get('c3', 'k', 'a', 20, 21)).verdict, 'ok', 'or did not');
  t.is(
    check(...casInfo, put('c2', 'k', 'c', 10, 11), get('c3', 'k', 'b', 20, 21)).verdict,
    'illegal',
    'after c it expects a in vain, before c it is overwritten',
  );
  t.is(
    check(...casInfo, put('c2', 'k', 'a', 10, 11), get('c3', 'k', 'b', 20, 21)).verdict,
    'ok',
    'it may land after a later put of a',
  );
  t.is(check(del('c1', 'k', 0, 1, 'info'), get('c2', 'k', null, 5, 6)).verdict, 'ok');
});

test('failed writes and unknown reads are dropped: they observe nothing', (t) => {
  const h = parseHistory(
    text(
      put('c1', 'k', 'v1', 0, 1, 'fail'),
      op('c2', 'get', 'k', undefined, 0, 1, 'info'),
      del('c3', 'k', 0, 1, 'fail'),
      get('c4', 'k', null, 2, 3),
    ),
  );
  t.is(h.dropped, 3);
  t.is(h.ops.length, 1);
  t.is(
    check(put('c1', 'k', 'v1', 0, 1, 'fail'), get('c2', 'k', 'v1', 2, 3)).verdict,
    'illegal',
    'a failed put did not happen',
  );
});

test('keys are checked independently, and every failing key is reported', (t) => {
  const good = [put('c1', 'a', '1', 0, 1), get('c2', 'a', '1', 2, 3)];
  const bad = [put('c1', 'b', '1', 4, 5), get('c2', 'b', null, 6, 7)];
  t.is(check(...good, get('c3', 'c', null, 0, 10)).verdict, 'ok', 'a write to a is no write to c');
  const r = check(...good, ...bad, get('c3', 'c', 'x', 0, 1));
  t.like(r, { verdict: 'illegal', ops: 5, keys: 3 });
  t.deepEqual(
    failures(r).map((f) => f.key),
    ['b', 'c'],
  );
});

test('the history parser names FILE:LINE and what is wrong', (t) => {
  const bad = (src: string, message: RegExp): void => {
    t.throws(() => parseHistory(src, 'h.jsonl'), { instanceOf: HistoryError, message }, src);
  };
  const inv = '{"process":"c1","type":"invoke","f":"put","key":"k","value":"v","time":1}';
  bad(`${inv}\n\n{oops`, /^h\.jsonl:3: not JSON .*each line must be one JSON event object/);
  bad('[1]', /^h\.jsonl:1: not a JSON object/);
  bad(
    '{"type":"invoke","f":"get","key":"k","time":1}',
    /^h\.jsonl:1: "process" must be a non-empty string or an integer; got nothing/,
  );
  bad(
    '{"process":"c","type":"start","f":"get","key":"k","time":1}',
    /"type" must be one of invoke, ok, fail, info; got "start"/,
  );
  bad(
    '{"process":"c","type":"invoke","f":"read","key":"k","time":1}',
    /"f" must be one of put, get, del, cas; got "read"/,
  );
  bad('{"process":"c","type":"invoke","f":"get","key":"k"}', /"time" must be a finite number; got nothing/);
  bad('{"process":"c","type":"invoke","f":"get","time":1}', /"key" must be a string/);
  bad('{"process":"c","type":"invoke","f":"put","key":"k","time":1}', /put needs "value": a string/);
  bad(
    '{"process":"c","type":"invoke","f":"cas","key":"k","value":["a"],"time":1}',
    /cas needs "value": \[expected, new\]/,
  );
  bad(`${inv}\n${inv}`, /^h\.jsonl:2: process c1 invokes put while its put from line 1 is still outstanding/);
  bad(
    '{"process":"c1","type":"ok","f":"put","key":"k","time":1}',
    /^h\.jsonl:1: ok for process c1 with no outstanding invoke/,
  );
  bad(
    `${inv}\n{"process":"c1","type":"ok","f":"del","key":"k","time":2}`,
    /^h\.jsonl:2: completion f "del" does not match the invoke's "put" \(line 1\)/,
  );
  bad(
    `${inv}\n{"process":"c1","type":"ok","f":"put","key":"j","time":2}`,
    /completion key "j" does not match the invoke's "k"/,
  );
  bad(
    `${inv}\n{"process":"c1","type":"ok","f":"put","key":"k","time":0}`,
    /completion time 0 is before its invoke's time 1 \(line 1\)/,
  );
  bad(
    '{"process":1,"type":"invoke","f":"get","key":"k","time":1}\n' +
      '{"process":1,"type":"ok","f":"get","key":"k","time":2}',
    /^h\.jsonl:2: ok get needs "value": what was read/,
  );
  t.is(
    parseHistory(
      '{"process":7,"type":"invoke","f":"get","key":"k","value":null,"time":1}\r\n' +
        '{"process":7,"type":"ok","f":"get","value":"v","time":2}\r\n',
    ).ops[0]?.process,
    '7',
    'integer processes, Jepsen nil values, CRLF and omitted completion keys are fine',
  );
});

/**
 * A random history of a correct (linearizable) store: each op takes effect at a
 * hidden instant between its call and return, in that order. Some ops end in
 * info, and then took effect or not at random.
 */
function simulate(seed: number, nOps: number, processes: number, keys: number, infoRate = 0.02): Ev[] {
  const rng = mulberry32(seed);
  interface Sim {
    p: string;
    f: F;
    key: string;
    arg: unknown;
    call: number;
    at: number;
    ret: number;
    done: Done;
    happens: boolean;
    read?: string | null;
  }
  const ops: Sim[] = [];
  const clock = Array.from({ length: processes }, () => rng() * 5);
  let v = 0;
  for (let i = 0; i < nOps; i++) {
    const pi = Math.floor(rng() * processes);
    const call = clock[pi]! + rng() * 3;
    const at = call + rng() * 4;
    const ret = at + rng() * 4;
    clock[pi] = ret;
    const key = `k${Math.floor(rng() * keys)}`;
    const f = pick(rng, ['put', 'put', 'get', 'get', 'get', 'del', 'cas', 'cas'] as const);
    const arg =
      f === 'put'
        ? `v${++v}`
        : f === 'cas'
          ? [rng() < 0.2 ? null : `v${Math.max(1, v - Math.floor(rng() * 3))}`, `v${++v}`]
          : undefined;
    const info = f !== 'get' && rng() < infoRate;
    ops.push({ p: `p${pi}`, f, key, arg, call, at, ret, done: info ? 'info' : 'ok', happens: !info || rng() < 0.5 });
  }
  const reg = new Map<string, string>();
  for (const o of [...ops].sort((a, b) => a.at - b.at)) {
    if (!o.happens) continue;
    const cur = reg.get(o.key) ?? null;
    if (o.f === 'put') reg.set(o.key, o.arg as string);
    else if (o.f === 'del') reg.delete(o.key);
    else if (o.f === 'get') o.read = cur;
    else {
      const [e, n] = o.arg as [string | null, string];
      if (cur === e) reg.set(o.key, n);
      else if (o.done === 'ok') o.done = 'fail';
    }
  }
  // Events in time order, as a client-side recorder would write them.
  const events = ops.flatMap((o) => {
    const [inv, end] = op(o.p, o.f, o.key, o.arg, o.call, o.ret, o.done, o.f === 'get' ? o.read : undefined);
    return [
      { t: o.call, e: inv! },
      { t: o.ret, e: end! },
    ];
  });
  return events.sort((a, b) => a.t - b.t).map((x) => x.e);
}

test('random histories of a simulated linearizable store pass; corrupting one read makes them fail', (t) => {
  for (let seed = 1; seed <= 20; seed++) {
    const events = simulate(seed, 400, 6, 3);
    const src = text(events);
    const r = checkHistory(parseHistory(src));
    t.is(r.verdict, 'ok', `seed ${seed}: ${failures(r)[0]?.message ?? ''}`);

    // Corrupt one read in the middle to a value no one wrote.
    const reads = events.map((e, i) => [e, i] as const).filter(([e]) => e['type'] === 'ok' && e['f'] === 'get');
    const [victim, at] = reads[Math.floor(reads.length / 2)]!;
    const bad = events.map((e, i) => (i === at ? { ...e, value: 'corrupt' } : e));
    const r2 = checkHistory(parseHistory(text(bad)));
    t.is(r2.verdict, 'illegal', `seed ${seed}`);
    t.deepEqual(
      failures(r2).map((f) => f.key),
      [victim['key']],
      'only the corrupted key fails',
    );
    t.true(
      failures(r2)[0]!.stuck.some((s) => s.op.f === 'get' && s.op.value === 'corrupt'),
      failures(r2)[0]!.message,
    );
  }
});

/** Linearizable by brute force: some order of all ops respects real time and the register. */
function bruteForce(ops: readonly Operation[]): boolean {
  const placed = new Set<number>();
  const go = (state: string | null): boolean => {
    if (placed.size === ops.length) return true;
    for (const o of ops) {
      if (placed.has(o.id)) continue;
      // o may go next only if no unplaced op returned strictly before o was called.
      if (ops.some((p) => p !== o && !placed.has(p.id) && p.ret < o.call)) continue;
      let next: string | null;
      if (o.f === 'put') next = o.value;
      else if (o.f === 'del') next = null;
      else if (o.f === 'get') {
        if (o.value !== state) continue;
        next = state;
      } else if (o.outcome === 'ok') {
        if (state !== o.expected) continue;
        next = o.value;
      } else if (o.outcome === 'fail') {
        if (state === o.expected) continue;
        next = state;
      } else next = state === o.expected ? o.value : state;
      placed.add(o.id);
      if (go(next)) return true;
      placed.delete(o.id);
    }
    return false;
  };
  return go(null);
}

test('the search agrees with brute force on thousands of small random histories', (t) => {
  const rng = mulberry32(99);
  const vals = ['a', 'b', null] as const;
  const verdicts = { ok: 0, illegal: 0 };
  for (let n = 0; n < 3000; n++) {
    const evs: Ev[][] = [];
    // A sequential prefix of up to 70 ops moves the search's window across bitset words.
    let cur: string | null = null;
    for (let j = 0, len = Math.floor(rng() * 70); j < len; j++) {
      const w = rng() < 0.5 ? pick(rng, ['a', 'b']) : undefined;
      evs.push(w === undefined ? get('s', 'k', cur, j - 100, j - 99.5) : put('s', 'k', w, j - 100, j - 99.5));
      cur = w ?? cur;
    }
    const size = 2 + Math.floor(rng() * 6);
    for (let i = 0; i < size; i++) {
      // Integer times on a small grid, so ties between calls and returns are common.
      const call = Math.floor(rng() * 8);
      const ret = call + Math.floor(rng() * 4);
      const p = `p${i}`;
      const v = pick(rng, vals);
      const done = pick(rng, ['ok', 'ok', 'ok', 'fail', 'info'] as const);
      const kind = Math.floor(rng() * 4);
      evs.push(
        kind === 0
          ? put(p, 'k', v ?? 'c', call, ret, done === 'fail' ? 'ok' : done)
          : kind === 1
            ? get(p, 'k', v, call, ret)
            : kind === 2
              ? del(p, 'k', call, ret, done === 'fail' ? 'ok' : done)
              : cas(p, 'k', v, pick(rng, ['a', 'b']), call, ret, done),
      );
    }
    const h = parseHistory(text(...evs));
    const r = checkHistory(h);
    verdicts[r.verdict === 'ok' ? 'ok' : 'illegal']++;
    if (r.verdict !== (bruteForce(h.ops) ? 'ok' : 'illegal')) {
      t.fail(`history ${n}: checker says ${r.verdict}, brute force disagrees:\n${text(...evs)}`);
      return;
    }
  }
  t.log(`3000 histories: ${verdicts.ok} linearizable, ${verdicts.illegal} not`);
  t.true(verdicts.ok > 300 && verdicts.illegal > 300, 'both verdicts are well represented');
});

test('a 10,000-op history on 5 keys from 10 processes checks in seconds', (t) => {
  const src = text(simulate(42, 10_000, 10, 5));
  const start = performance.now();
  const h = parseHistory(src);
  const r = checkHistory(h, { timeoutMs: 60_000 });
  const ms = performance.now() - start;
  t.like(r, { verdict: 'ok', ops: 10_000, keys: 5 });
  t.log(`10,000 ops, 5 keys, 10 processes: parsed and checked in ${ms.toFixed(0)} ms, ${r.steps} search steps`);
});

test('a budget returns unknown instead of searching forever', (t) => {
  const events = text(
    ...Array.from({ length: 24 }, (_, i) => put(`w${i}`, 'x', `v${i}`, 0, 100)),
    get('r', 'x', 'ghost', 0, 100),
  );
  const h = parseHistory(events);
  t.like(checkHistory(h, { maxSteps: 10_000 }), { verdict: 'unknown', key: 'x', reason: 'step budget of 10000 spent' });
  t.like(checkHistory(h, { timeoutMs: 50 }), { verdict: 'unknown', key: 'x', reason: 'time budget spent' });
  t.like(checkHistory(h, { maxCacheBytes: 1 << 16 }), {
    verdict: 'unknown',
    key: 'x',
    reason: 'memory budget of 64 KiB for explored states spent',
  });
  // A definite failure on another key still wins over an unknown.
  const both = parseHistory(`${text(get('r', 'a', 'ghost', 0, 1))}\n${events}`);
  t.like(checkHistory(both, { maxSteps: 10_000 }), { verdict: 'illegal' });
});

// The CLI, called in-process with a writer for stdout.
async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await lincheckCommand(argv, (s) => {
    out += s;
  });
  return { code, out };
}

test('paxos lincheck: 0 and a summary for a linearizable history', async (t) => {
  t.deepEqual(await cli([fixture('ok.jsonl')]), { code: 0, out: 'linearizable: 7 ops on 2 keys\n' });
  const json = await cli([fixture('ok.jsonl'), '--json']);
  t.is(json.code, 0);
  t.like(JSON.parse(json.out), { verdict: 'ok', ops: 7, keys: 2, dropped: 0 });
});

test('paxos lincheck: 1 and the failing key for a stale read', async (t) => {
  const r = await cli([fixture('stale-read.jsonl')]);
  t.is(r.code, 1);
  t.regex(
    r.out,
    new RegExp(
      /^NOT linearizable: key "x": 2 of 3 ops linearize .*: c2 get\("x"\) -> "1" \[4, /.source +
        /5\] line 5: read "1" but the value is "2"\n$/.source,
    ),
  );
  const json = await cli(['--json', fixture('stale-read.jsonl')]);
  t.is(json.code, 1);
  t.like(JSON.parse(json.out), { verdict: 'illegal', failures: [{ key: 'x', state: '2' }] });
});

test('paxos lincheck: 3 when the time budget runs out', async (t) => {
  const r = await cli([fixture('explosive.jsonl'), '--timeout', '0.2']);
  t.is(r.code, 3);
  t.regex(
    r.out,
    /^unknown: the budget ran out on key "x" after \d+ search steps \(time budget spent\); try a larger --timeout\n$/,
  );
});

test('paxos lincheck: usage and history errors are ConfigErrors (exit 2)', async (t) => {
  const usage = async (argv: string[], message: RegExp): Promise<void> => {
    await t.throwsAsync(cli(argv), { instanceOf: ConfigError, message }, argv.join(' '));
  };
  await usage([], /lincheck expects one HISTORY file; got 0/);
  await usage(['a', 'b'], /got 2/);
  await usage([fixture('ok.jsonl'), '--timeout', 'soon'], /--timeout soon: must be a positive number of seconds/);
  await usage([fixture('ok.jsonl'), '--timeout', '0'], /must be a positive number/);
  await usage([fixture('ok.jsonl'), '--fast'], /Unknown option '--fast'.*see --help/);
  await usage([fixture('nope.jsonl')], /nope\.jsonl: cannot read: ENOENT/);
  await usage([fixture('bad-syntax.jsonl')], /bad-syntax\.jsonl:3: not JSON/);
  const help = await cli(['--help']);
  t.is(help.code, 0);
  t.regex(help.out, /^Usage: paxos lincheck HISTORY/);
});

test('paxos lincheck reads a generated history file', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'paxos-lincheck-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'history.jsonl');
  writeFileSync(file, `${text(simulate(3, 2000, 8, 4, 0.05))}\n`);
  const r = await cli([file]);
  t.is(r.code, 0, r.out);
  t.regex(r.out, /^linearizable: \d+ ops on 4 keys\n$/);
});

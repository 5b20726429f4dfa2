// Linearizability checker for key-value histories (put/get/del/cas).
//
// Written here because no JS/TS package does this: the npm registry has no
// package named linearizability, linearizability-checker, lincheck, knossos or
// porcupine-js, its search API was not reachable, and the registry's package
// list has nothing matching (checked 2026-11). The algorithm is Porcupine's
// (Athalye, Go), from:
//   - P-compositionality (Horn & Kroening): single-key ops compose, so each key
//     is checked alone;
//   - Wing & Gong: depth-first search for a linearization over a linked list of
//     call/return entries sorted by time; at a call, try to linearize that op
//     now (the model accepts it) and lift its entries; at a return whose op is
//     not linearized yet, backtrack;
//   - Lowe: a cache of (set of linearized ops, model state) already explored, so
//     no configuration is searched twice. The set is a bitset with an
//     incrementally xor-ed hash (Zobrist), and the cache stores only the part
//     of the set that can still vary (see `remember`) in one flat word pool,
//     so a long single-key history takes tens of bytes per explored state.
// The model is one register per key, null = absent. An op that ended in info
// returns at +infinity, so it may be placed anywhere after its call, including
// after everything else, which is the same as never taking effect.
//
// Worst case is exponential in concurrency, so step, time and memory budgets
// return 'unknown' instead of hanging or running out of heap.

import { formatOp, type History, type Operation } from './history.js';

export interface CheckOptions {
  /** Wall-clock budget for the whole history; default none. */
  readonly timeoutMs?: number;
  /** Search-step budget for the whole history (deterministic); default none. */
  readonly maxSteps?: number;
  /** Memory for one key's cache of explored states; default 512 MiB (growing it briefly takes 1.5x). */
  readonly maxCacheBytes?: number;
}

export interface Stuck {
  readonly op: Operation;
  /** Why the op cannot be linearized right after the prefix. */
  readonly why: string;
}

export interface KeyFailure {
  readonly key: string;
  /** Ops on the key. */
  readonly ops: number;
  /** The longest linearizable prefix found, in linearization order. */
  readonly prefix: readonly Operation[];
  /** The register after the prefix. */
  readonly state: string | null;
  /** The ops that could come next in real-time order, and why none fits. */
  readonly stuck: readonly Stuck[];
  /** One paragraph for humans. */
  readonly message: string;
}

interface Counts {
  readonly ops: number;
  readonly keys: number;
  readonly steps: number;
}

export type CheckResult =
  | (Counts & { readonly verdict: 'ok' })
  /** Every key that is not linearizable, in key order. */
  | (Counts & { readonly verdict: 'illegal'; readonly failures: readonly KeyFailure[] })
  | (Counts & { readonly verdict: 'unknown'; readonly key: string; readonly reason: string });

/** Checks every key; stops at the first key that exhausts the budget. */
export function checkHistory(history: History | readonly Operation[], options: CheckOptions = {}): CheckResult {
  const ops = 'ops' in history ? history.ops : history;
  const byKey = new Map<string, Operation[]>();
  for (const o of ops) {
    const list = byKey.get(o.key);
    if (list === undefined) byKey.set(o.key, [o]);
    else list.push(o);
  }
  const keys = [...byKey.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const budget = new Budget(options);
  const failures: KeyFailure[] = [];
  for (const key of keys) {
    const r = checkRegister(key, byKey.get(key) ?? [], budget);
    if (r === 'unknown') {
      const counts = { ops: ops.length, keys: keys.length, steps: budget.steps };
      // A key already proven illegal is a definite answer; otherwise we cannot tell.
      if (failures.length > 0) return { verdict: 'illegal', ...counts, failures };
      return { verdict: 'unknown', ...counts, key, reason: budget.reason() };
    }
    if (r !== 'ok') failures.push(r);
  }
  const counts = { ops: ops.length, keys: keys.length, steps: budget.steps };
  return failures.length === 0 ? { verdict: 'ok', ...counts } : { verdict: 'illegal', ...counts, failures };
}

class Budget {
  steps = 0;
  readonly maxCacheWords: number;
  private readonly deadline: number;
  private readonly maxSteps: number;
  private memorySpent = false;
  constructor(o: CheckOptions) {
    this.deadline = o.timeoutMs === undefined ? Infinity : performance.now() + o.timeoutMs;
    this.maxSteps = o.maxSteps ?? Infinity;
    this.maxCacheWords = Math.floor((o.maxCacheBytes ?? 2 ** 29) / 4);
  }
  /** Counts a step; false once the budget is spent. The clock is read every 1024 steps. */
  step(): boolean {
    this.steps++;
    if (this.steps > this.maxSteps) return false;
    return (this.steps & 1023) !== 0 || performance.now() < this.deadline;
  }
  outOfMemory(): void {
    this.memorySpent = true;
  }
  reason(): string {
    if (this.memorySpent) {
      const b = this.maxCacheWords * 4;
      return (
        `memory budget of ${b >= 2 ** 20 ? `${Math.round(b / 2 ** 20)} MiB` : `${Math.round(b / 1024)} KiB`}` +
        ` for explored states spent`
      );
    }
    return this.steps > this.maxSteps ? `step budget of ${this.maxSteps} spent` : 'time budget spent';
  }
}

// Op kinds for the model, precomputed so the search loop does no string work.
const PUT = 0; // also del: writes `arg` (state 0 = absent)
const GET = 1; // ok iff state === arg
const CAS_OK = 2; // ok iff state === arg; writes arg2
const CAS_FAIL = 3; // ok iff state !== arg
const CAS_INFO = 4; // state === arg ? arg2 : state

/** Wing & Gong + Lowe over one key's ops. */
function checkRegister(key: string, input: readonly Operation[], budget: Budget): 'ok' | 'unknown' | KeyFailure {
  // Local op order: ops with a return, by call time (ties by id), then those that
  // ended in info, from a fresh bitset word (see the cache entries below).
  const byCall = (a: Operation, b: Operation): number => a.call - b.call || a.id - b.id;
  const ops = [
    ...input.filter((o) => o.ret !== Infinity).sort(byCall),
    ...input.filter((o) => o.ret === Infinity).sort(byCall),
  ];
  const n = ops.length;
  const m = ops.findIndex((o) => o.ret === Infinity) === -1 ? n : ops.findIndex((o) => o.ret === Infinity);
  // Register values interned to small ints; 0 is "absent".
  const ids = new Map<string, number>();
  const intern = (v: string | null): number => {
    if (v === null) return 0;
    let id = ids.get(v);
    if (id === undefined) ids.set(v, (id = ids.size + 1));
    return id;
  };
  const kind = new Uint8Array(n);
  const arg = new Int32Array(n);
  const arg2 = new Int32Array(n);
  for (const [i, o] of ops.entries()) {
    if (o.f === 'put' || o.f === 'del') {
      kind[i] = PUT;
      arg[i] = o.f === 'put' ? intern(o.value) : 0;
    } else if (o.f === 'get') {
      kind[i] = GET;
      arg[i] = intern(o.value);
    } else {
      kind[i] = o.outcome === 'ok' ? CAS_OK : o.outcome === 'fail' ? CAS_FAIL : CAS_INFO;
      arg[i] = intern(o.expected);
      arg2[i] = intern(o.value);
    }
  }
  /** The state after op i from `s`, or -1 if the model refuses it. */
  const step = (i: number, s: number): number => {
    const a = arg[i]!;
    switch (kind[i]) {
      case PUT:
        return a;
      case GET:
        return s === a ? s : -1;
      case CAS_OK:
        return s === a ? arg2[i]! : -1;
      case CAS_FAIL:
        return s !== a ? s : -1;
      default:
        return s === a ? arg2[i]! : s;
    }
  };

  // Entries: call of op i is 2i, its return 2i+1; HEAD is the list's sentinel.
  const HEAD = 2 * n;
  const next = new Int32Array(2 * n + 1).fill(-1);
  const prev = new Int32Array(2 * n + 1).fill(-1);
  const time = (e: number): number => (e & 1 ? ops[e >> 1]!.ret : ops[e >> 1]!.call);
  // By time; on a tie calls first (overlap is the lenient reading), then by op.
  const order = Array.from({ length: 2 * n }, (_, e) => e).sort(
    (a, b) => time(a) - time(b) || (a & 1) - (b & 1) || a - b,
  );
  let last = HEAD;
  for (const e of order) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  const lift = (c: number): void => {
    for (const e of [c, c + 1]) {
      next[prev[e]!] = next[e]!;
      if (next[e] !== -1) prev[next[e]!] = prev[e]!;
    }
  };
  const unlift = (c: number): void => {
    for (const e of [c + 1, c]) {
      next[prev[e]!] = e;
      if (next[e] !== -1) prev[next[e]!] = e;
    }
  };

  // The linearized set: ops 0..m-1 in bits 0..m-1, info ops from the next word on.
  const infoWord = (m + 31) >>> 5;
  const bitOf = (i: number): number => (i < m ? i : infoWord * 32 + (i - m));
  const bits = new Uint32Array(infoWord + ((n - m + 31) >>> 5));
  const has = (b: number): boolean => (bits[b >>> 5]! & (1 << (b & 31))) !== 0;
  const zob = Uint32Array.from({ length: n }, (_, i) => mix32(i + 1));
  let hash = 0;
  const flip = (i: number): void => {
    const b = bitOf(i);
    bits[b >>> 5]! ^= 1 << (b & 31);
    hash = (hash ^ zob[i]!) >>> 0;
  };
  // Every op that returned before op `low` was called is linearized, and op `low`
  // is not, so a linearized op with a return is in [0, low) or in the short
  // window (low, hi] of ops called while op `low` was pending. A cache entry
  // stores the set as (low, hi, the window's words, the info words): a few
  // words instead of n/32, which is what makes long single-key histories fit.
  // It is exact: bits below low are all set and bits above hi all clear.
  let low = 0; // lowest op < m not linearized (m if none)
  let hi = -1; // highest op < m linearized (-1 if none)
  const cache = new StateCache(bits.length - infoWord, budget.maxCacheWords);
  /** Adds (set, state) to the cache: 'new', 'seen', or 'full' past the memory budget. */
  const remember = (state: number): 'new' | 'seen' | 'full' =>
    cache.add((hash ^ mix32(state ^ 0x9e3779b9)) >>> 0, state, low, hi, bits, infoWord);

  const stack: { op: number; state: number; low: number; hi: number }[] = [];
  let state = 0;
  // The deepest prefix seen, for the report; `same` = its common prefix with the
  // stack, so recording a deeper one copies only what changed.
  const best: number[] = [];
  let same = 0;
  let deeper = false;
  let entry = next[HEAD]!;
  while (next[HEAD] !== -1) {
    if (!budget.step()) return 'unknown';
    if ((entry & 1) === 0) {
      const i = entry >> 1;
      const s = step(i, state);
      if (s === -1) {
        entry = next[entry]!;
        continue;
      }
      const frame = { op: i, state, low, hi };
      flip(i);
      if (i < m) {
        if (i > hi) hi = i;
        while (low < m && has(low)) low++;
      }
      const seen = remember(s);
      if (seen === 'full') {
        budget.outOfMemory();
        return 'unknown';
      }
      if (seen === 'new') {
        if (stack.length === same && best[same] === i) same++;
        stack.push(frame);
        if (stack.length > best.length) deeper = true;
        state = s;
        lift(entry);
        entry = next[HEAD]!;
      } else {
        flip(i);
        low = frame.low;
        hi = frame.hi;
        entry = next[entry]!;
      }
    } else {
      // A return whose op is not linearized: the prefix cannot be extended here.
      if (deeper) {
        best.length = same;
        for (let k = same; k < stack.length; k++) best.push(stack[k]!.op);
        same = stack.length;
        deeper = false;
      }
      const top = stack.pop();
      if (top === undefined) return explain(key, ops, best, step, ids);
      if (stack.length < same) same = stack.length;
      ({ state, low, hi } = top);
      flip(top.op);
      unlift(2 * top.op);
      entry = next[2 * top.op]!;
    }
  }
  return 'ok';
}

/**
 * Lowe's cache for one key: explored (linearized set, state) pairs, hashed
 * into chains through one growable word pool; no object per entry. An entry is
 *   [next, hash, state, low, hi + 1, bits[low>>5 .. hi>>5], info words]
 * whose length follows from low and hi, so none is stored.
 */
class StateCache {
  private pool = new Uint32Array(1 << 12);
  private used = 0;
  private heads = new Int32Array(1 << 10).fill(-1);
  private count = 0;
  constructor(
    private readonly infoWords: number,
    private readonly maxWords: number,
  ) {}

  add(
    hash: number,
    state: number,
    low: number,
    hi: number,
    bits: Uint32Array,
    infoWord: number,
  ): 'new' | 'seen' | 'full' {
    const [from, to] = windowWords(low, hi);
    const pool = this.pool;
    for (let e = this.heads[hash & (this.heads.length - 1)]!; e !== -1; e = pool[e]! | 0) {
      if (pool[e + 1] !== hash || pool[e + 2] !== state || pool[e + 3] !== low || pool[e + 4] !== hi + 1) continue;
      let k = e + 5;
      let same = true;
      for (let w = from; same && w < to; w++) same = pool[k++] === bits[w];
      for (let w = infoWord; same && w < bits.length; w++) same = pool[k++] === bits[w];
      if (same) return 'seen';
    }
    const size = 5 + (to - from) + this.infoWords;
    if (this.used + size > this.pool.length && !this.growPool(size)) return 'full';
    const e = this.used;
    this.pool[e + 1] = hash;
    this.pool[e + 2] = state;
    this.pool[e + 3] = low;
    this.pool[e + 4] = hi + 1;
    this.pool.set(bits.subarray(from, to), e + 5);
    this.pool.set(bits.subarray(infoWord), e + 5 + (to - from));
    this.used += size;
    this.link(e);
    if (++this.count > 2 * this.heads.length) this.rehash();
    return 'new';
  }

  private link(e: number): void {
    const b = this.pool[e + 1]! & (this.heads.length - 1);
    this.pool[e] = this.heads[b]!; // -1 is stored as 0xffffffff and read back with | 0
    this.heads[b] = e;
  }

  private growPool(need: number): boolean {
    let len = this.pool.length;
    while (len < this.used + need) len *= 2;
    if (len > this.maxWords) len = this.maxWords;
    if (len < this.used + need) return false;
    const pool = new Uint32Array(len);
    pool.set(this.pool.subarray(0, this.used));
    this.pool = pool;
    return true;
  }

  private rehash(): void {
    this.heads = new Int32Array(this.heads.length * 2).fill(-1);
    for (let e = 0; e < this.used;) {
      this.link(e);
      const [from, to] = windowWords(this.pool[e + 3]!, this.pool[e + 4]! - 1);
      e += 5 + (to - from) + this.infoWords;
    }
  }
}

/** The words of the bitset that hold ops in (low, hi]: [from, to). */
function windowWords(low: number, hi: number): [number, number] {
  const from = low >>> 5;
  return [from, hi < low ? from : (hi >>> 5) + 1];
}

/** The failure report from the deepest prefix the search reached. */
function explain(
  key: string,
  ops: readonly Operation[],
  best: readonly number[],
  step: (i: number, s: number) => number,
  ids: ReadonlyMap<string, number>,
): KeyFailure {
  const names = new Map([...ids].map(([v, id]) => [id, v]));
  let state = 0;
  for (const i of best) state = step(i, state);
  const done = new Set(best);
  const rest = ops.map((_, i) => i).filter((i) => !done.has(i));
  // The ops that may come next: called no later than the earliest pending return.
  const firstRet = rest.reduce((m, i) => Math.min(m, ops[i]!.ret), Infinity);
  const candidates = rest.filter((i) => ops[i]!.call <= firstRet).sort((a, b) => ops[a]!.call - ops[b]!.call || a - b);
  const value = names.get(state) ?? null;
  const q = (v: string | null): string => (v === null ? 'absent' : JSON.stringify(v).slice(0, 60));
  const stuck = candidates.map((i): Stuck => {
    const o = ops[i]!;
    if (step(i, state) !== -1) return { op: o, why: 'fits here, but no linearization of the rest follows' };
    if (o.f === 'get') return { op: o, why: `read ${q(o.value)} but the value is ${q(value)}` };
    if (o.f === 'cas' && o.outcome === 'ok')
      return { op: o, why: `succeeded expecting ${q(o.expected)} but the value is ${q(value)}` };
    return { op: o, why: `failed (mismatch) but the value is the expected ${q(value)}` };
  });
  const prefix = best.map((i) => ops[i]!);
  const shown = prefix.slice(-5).map(formatOp);
  const message =
    `key ${JSON.stringify(key)}: ${prefix.length} of ${ops.length} ops linearize` +
    (prefix.length === 0 ? '' : ` (last: ${prefix.length > 5 ? '..., ' : ''}${shown.join('; ')})`) +
    `, leaving the value ${q(value)}; then no op can come next: ` +
    stuck.map((s) => `${formatOp(s.op)}: ${s.why}`).join('; ');
  return { key, ops: ops.length, prefix, state: value, stuck, message };
}

/** A 32-bit integer hash (lowbias32), for the Zobrist keys. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

// Client histories for the linearizability checker: JSON lines, Jepsen-style,
// one event per line, an invoke then its completion per process:
//
//   {"process":"c3","type":"invoke","f":"put","key":"k1","value":"v7","time":12.5}
//   {"process":"c3","type":"ok","f":"put","key":"k1","time":14.0}
//   {"process":"c1","type":"invoke","f":"get","key":"k1","time":13}
//   {"process":"c1","type":"ok","f":"get","key":"k1","value":"v7","time":15}
//   {"process":"c2","type":"invoke","f":"cas","key":"k1","value":["v7","v8"],"time":16}
//   {"process":"c2","type":"fail","f":"cas","key":"k1","time":17}
//
// f: put (value: string), get, del, cas (value: [expected, new], expected null
// = key absent). Completion types:
//   ok   took effect; a get's "value" is what it read (null = absent);
//   fail did not take effect; for cas a mismatch, which is still an
//        observation (the value was not `expected` at some instant of the call);
//        a failed put, del or get observes nothing and is dropped;
//   info unknown: may take effect at any time after its invoke, or never; its
//        completion is taken as +infinity. A get ending in info is dropped.
// An invoke with no completion by the end of the file counts as info (a client
// that crashed). `process` is a string or an integer; `time` any finite number
// (same unit throughout). A call and a return at the same time count as
// overlapping, the lenient reading. Each process has at most one op
// outstanding. The completion's "key" may be omitted; "f" must match.

export type F = 'put' | 'get' | 'del' | 'cas';
export type Outcome = 'ok' | 'fail' | 'info';

interface OpBase {
  /** Position in History.ops. */
  readonly id: number;
  readonly process: string;
  readonly key: string;
  readonly outcome: Outcome;
  readonly call: number;
  /** +Infinity when the outcome is info. */
  readonly ret: number;
  /** 1-based line of the invoke. */
  readonly line: number;
}

export type Operation = OpBase &
  (
    | { readonly f: 'put'; readonly value: string }
    /** `value`: what was read, null if absent. Only ok gets are kept. */
    | { readonly f: 'get'; readonly value: string | null }
    | { readonly f: 'del' }
    | { readonly f: 'cas'; readonly expected: string | null; readonly value: string }
  );

export interface History {
  readonly ops: readonly Operation[];
  /** Ops dropped because they observe nothing (failed put/del/get, unknown gets). */
  readonly dropped: number;
}

/** A history that cannot be read; the message starts with FILE:LINE. */
export class HistoryError extends Error {
  override readonly name = 'HistoryError';
}

const TYPES = ['invoke', 'ok', 'fail', 'info'];
const FS = ['put', 'get', 'del', 'cas'];

interface Pending {
  readonly line: number;
  readonly process: string;
  readonly f: F;
  readonly key: string;
  readonly value: unknown;
  readonly time: number;
}

export function parseHistory(text: string, file = '<history>'): History {
  const ops: Operation[] = [];
  let dropped = 0;
  const pending = new Map<string, Pending>();
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    const fail = (why: string): never => {
      throw new HistoryError(`${file}:${line}: ${why}`);
    };
    const src = raw.trim();
    if (src === '') continue;
    let ev: unknown;
    try {
      ev = JSON.parse(src);
    } catch (err) {
      fail(`not JSON (${(err as Error).message}); each line must be one JSON event object`);
    }
    if (typeof ev !== 'object' || ev === null || Array.isArray(ev))
      return fail(
        'not a JSON object; each line must be one event like ' +
          '{"process":"c1","type":"invoke","f":"get","key":"k","time":1}',
      );
    const e = ev as Record<string, unknown>;
    const p = e['process'];
    if (!((typeof p === 'string' && p !== '') || (typeof p === 'number' && Number.isSafeInteger(p))))
      fail(`"process" must be a non-empty string or an integer; got ${show(p)}`);
    const process = String(p);
    const type = e['type'];
    if (typeof type !== 'string' || !TYPES.includes(type))
      fail(`"type" must be one of ${TYPES.join(', ')}; got ${show(type)}`);
    const f = e['f'];
    if (typeof f !== 'string' || !FS.includes(f)) return fail(`"f" must be one of ${FS.join(', ')}; got ${show(f)}`);
    const time = e['time'];
    if (typeof time !== 'number' || !Number.isFinite(time))
      return fail(`"time" must be a finite number; got ${show(time)}`);
    const key = e['key'];

    if (type === 'invoke') {
      const open = pending.get(process);
      if (open !== undefined)
        fail(
          `process ${process} invokes ${f} while its ${open.f} from line ${open.line} is still outstanding; a ` +
            `process has one op at a time`,
        );
      if (typeof key !== 'string') return fail(`"key" must be a string; got ${show(key)}`);
      const v = e['value'];
      if (f === 'put' && typeof v !== 'string') fail(`put needs "value": a string; got ${show(v)}`);
      if (
        f === 'cas' &&
        !(Array.isArray(v) && v.length === 2 && (v[0] === null || typeof v[0] === 'string') && typeof v[1] === 'string')
      ) {
        fail(`cas needs "value": [expected, new], expected a string or null (absent), new a string; got ${show(v)}`);
      }
      if ((f === 'get' || f === 'del') && v !== undefined && v !== null)
        fail(`${f} invoke takes no "value"; got ${show(v)}`);
      pending.set(process, { line, process, f: f as F, key, value: v, time });
      continue;
    }

    const open = pending.get(process);
    if (open === undefined) return fail(`${type} for process ${process} with no outstanding invoke`);
    if (open.f !== f) fail(`completion f ${show(f)} does not match the invoke's ${show(open.f)} (line ${open.line})`);
    if (key !== undefined && key !== open.key)
      fail(`completion key ${show(key)} does not match the invoke's ${show(open.key)} (line ${open.line})`);
    if (time < open.time) fail(`completion time ${time} is before its invoke's time ${open.time} (line ${open.line})`);
    pending.delete(process);
    if (f === 'get' && type === 'ok') {
      const v = e['value'];
      if (!(v === null || typeof v === 'string'))
        fail(`ok get needs "value": what was read, a string or null if absent; got ${show(v)}`);
      ops.push(op(open, 'ok', time, ops.length, v as string | null));
      continue;
    }
    // A failed put, del or get, and an unknown get, constrain nothing.
    if (f === 'get' || (type === 'fail' && f !== 'cas')) {
      dropped++;
      continue;
    }
    ops.push(op(open, type as Outcome, type === 'info' ? Infinity : time, ops.length));
  }
  for (const open of pending.values()) {
    if (open.f === 'get') dropped++;
    else ops.push(op(open, 'info', Infinity, ops.length));
  }
  return { ops, dropped };
}

function op(p: Pending, outcome: Outcome, ret: number, id: number, read: string | null = null): Operation {
  const base = { id, process: p.process, key: p.key, outcome, call: p.time, ret, line: p.line };
  switch (p.f) {
    case 'put':
      return { ...base, f: 'put', value: p.value as string };
    case 'get':
      return { ...base, f: 'get', value: read };
    case 'del':
      return { ...base, f: 'del' };
    case 'cas': {
      const [expected, value] = p.value as [string | null, string];
      return { ...base, f: 'cas', expected, value };
    }
  }
}

/** One op for humans: `c2 cas(k1, "a"->"b") fail [3, 7] line 12`. */
export function formatOp(o: Operation): string {
  const q = (v: string | null): string => (v === null ? 'nil' : JSON.stringify(v).slice(0, 60));
  const what =
    o.f === 'put'
      ? `put(${q(o.key)}, ${q(o.value)})`
      : o.f === 'get'
        ? `get(${q(o.key)}) -> ${q(o.value)}`
        : o.f === 'del'
          ? `del(${q(o.key)})`
          : `cas(${q(o.key)}, ${q(o.expected)} -> ${q(o.value)})`;
  const outcome = o.outcome === 'ok' ? '' : o.outcome === 'fail' ? ' mismatch' : ' unknown';
  return `${o.process} ${what}${outcome} [${o.call}, ${o.ret === Infinity ? '∞' : o.ret}] line ${o.line}`;
}

function show(x: unknown): string {
  return x === undefined ? 'nothing' : (JSON.stringify(x) ?? String(x)).slice(0, 60);
}

// Transactions: compare any number of keys, then apply one list of puts,
// deletes and gets if every compare holds, else the other list; all in one
// log slot, so atomically. The wire form (in the log, the WAL and between
// client and replica) uses arrays, so its JSON has one spelling:
//
//   {"o":"txn","c":"cli-7","s":3,
//    "if":[["a","=","1"],["b","=",null],["c","!=","x"],["a","mod","<",90]],
//    "then":[["put","a","2"],["del","b"],["get","c"],["put","d","1",4]],
//    "else":[["get","a"]]}
//
// A compare is on a key's value (= or !=; null: absent), or on one of its
// revisions (key-entry.ts: "create", "mod" or "version"; =, !=, < or >;
// an absent key's are 0). A put may name a lease (lease.ts) as a fourth
// element; if that lease is gone, nothing runs and the answer is
// {"r":"nolease","id":N}.
//
// The answer: {"r":"txn","ok":true,"res":[{"r":"ok","p":"1"},{"r":"ok"},{"r":"ok","v":"x","rev":[4,7,2]}]},
// `ok` saying which list ran, `res` one result per op of it.

import { checkKey, checkValue } from './check.js';
import type { KeyEntry } from './key-entry.js';
import { isLeaseId } from './lease.js';

/** Most compares and ops in one transaction, all lists together (etcd's default too). */
export const MAX_TXN_OPS = 128;
/** Most UTF-8 bytes of keys and values in one transaction: it must fit one client line. */
export const MAX_TXN_BYTES = 128 * 1024;

/** A key's revisions a compare may test (key-entry.ts). */
export type RevisionTarget = 'create' | 'mod' | 'version';
export type RevisionOp = '=' | '!=' | '<' | '>';
export const REVISION_TARGETS: readonly RevisionTarget[] = ['create', 'mod', 'version'];
const REVISION_OPS: readonly RevisionOp[] = ['=', '!=', '<', '>'];

export type TxnCompare =
  /** Whether the key's value is (=) or is not (!=) `value`; null means absent. */
  | { readonly key: string; readonly op: '=' | '!='; readonly value: string | null }
  /** Whether one of the key's revisions is =, !=, < or > `value` (0 for an absent key). */
  | { readonly key: string; readonly target: RevisionTarget; readonly op: RevisionOp; readonly value: number };

export type TxnOp =
  | { readonly op: 'put'; readonly key: string; readonly value: string; readonly lease?: number }
  | { readonly op: 'del' | 'get'; readonly key: string };

export interface TxnBody {
  readonly compares: readonly TxnCompare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

export type WireCompare =
  readonly [string, '=' | '!=', string | null] | readonly [string, RevisionTarget, RevisionOp, number];
export type WireTxnOp =
  readonly ['put', string, string] | readonly ['put', string, string, number] | readonly ['del' | 'get', string];

export function compareToWire(c: TxnCompare): WireCompare {
  return 'target' in c ? [c.key, c.target, c.op, c.value] : [c.key, c.op, c.value];
}

export function opToWire(o: TxnOp): WireTxnOp {
  if (o.op !== 'put') return [o.op, o.key];
  return o.lease === undefined ? ['put', o.key, o.value] : ['put', o.key, o.value, o.lease];
}

export function compareFromWire(w: WireCompare): TxnCompare {
  return w.length === 4 ? { key: w[0], target: w[1], op: w[2], value: w[3] } : { key: w[0], op: w[1], value: w[2] };
}

export function opFromWire(w: WireTxnOp): TxnOp {
  if (w[0] !== 'put') return { op: w[0], key: w[1] };
  return w.length === 4 ? { op: 'put', key: w[1], value: w[2], lease: w[3] } : { op: 'put', key: w[1], value: w[2] };
}

/** Why the wire lists `cmp`, `then`, `els` are not a valid transaction, or null if they are. */
export function invalidTxn(cmp: unknown, then: unknown, els: unknown): string | null {
  if (!Array.isArray(cmp) || !Array.isArray(then) || !Array.isArray(els))
    return '"if", "then" and "else" must be lists';
  if (cmp.length + then.length + els.length > MAX_TXN_OPS)
    return `${cmp.length + then.length + els.length} compares and ops, over the limit of ${MAX_TXN_OPS}`;
  let bytes = 0;
  const str = (x: unknown, what: string, key: boolean): string | undefined => {
    const why = key ? checkKey(x, what) : checkValue(x, what);
    if (why === undefined) bytes += Buffer.byteLength(x as string, 'utf8');
    return why;
  };
  for (const [i, c] of cmp.entries()) {
    const at = `"if"[${i}]`;
    const form =
      `${at} must be [key, "=" or "!=", value or null] or ` +
      '[key, "create", "mod" or "version", "=", "!=", "<" or ">", integer]';
    if (!Array.isArray(c)) return form;
    if (c.length === 4) {
      if (!REVISION_TARGETS.includes(c[1] as RevisionTarget) || !REVISION_OPS.includes(c[2] as RevisionOp)) return form;
      if (!Number.isSafeInteger(c[3]) || (c[3] as number) < 0)
        return `${at}: a revision compares with a whole number from 0 up; got ${JSON.stringify(c[3])?.slice(0, 40)}`;
      const why = str(c[0], `${at}'s key`, true);
      if (why !== undefined) return why;
      continue;
    }
    if (c.length !== 3 || (c[1] !== '=' && c[1] !== '!=')) return form;
    const why = str(c[0], `${at}'s key`, true) ?? (c[2] === null ? undefined : str(c[2], `${at}'s value`, false));
    if (why !== undefined) return why;
  }
  for (const [name, list] of [
    ['then', then],
    ['else', els],
  ] as const) {
    for (const [i, o] of (list as unknown[]).entries()) {
      const at = `"${name}"[${i}]`;
      const form = `${at} must be ["put", key, value], ["put", key, value, lease], ["del", key] or ["get", key]`;
      if (!Array.isArray(o)) return form;
      const put = o[0] === 'put' && (o.length === 3 || (o.length === 4 && isLeaseId(o[3])));
      const ok = put || ((o[0] === 'del' || o[0] === 'get') && o.length === 2);
      if (!ok) return form;
      const why = str(o[1], `${at}'s key`, true) ?? (o[0] === 'put' ? str(o[2], `${at}'s value`, false) : undefined);
      if (why !== undefined) return why;
    }
  }
  if (bytes > MAX_TXN_BYTES)
    return `its keys and values are ${bytes} bytes in UTF-8, over the limit of ${MAX_TXN_BYTES}`;
  return null;
}

/** Whether compare `c` holds when the key's entry is `cur` (undefined: absent). */
export function holds(c: WireCompare, cur: KeyEntry | undefined): boolean {
  if (c.length === 3) {
    const equal = (cur?.value ?? null) === c[2];
    return c[1] === '=' ? equal : !equal;
  }
  const have = cur === undefined ? 0 : c[1] === 'create' ? cur.create : c[1] === 'mod' ? cur.mod : cur.version;
  switch (c[2]) {
    case '=':
      return have === c[3];
    case '!=':
      return have !== c[3];
    case '<':
      return have < c[3];
    case '>':
      return have > c[3];
  }
}

// Transactions: compare any number of keys, then apply one list of puts,
// deletes and gets if every compare holds, else the other list; all in one
// log slot, so atomically. The wire form (in the log, the WAL and between
// client and replica) uses arrays, so its JSON has one spelling:
//
//   {"o":"txn","c":"cli-7","s":3,
//    "if":[["a","=","1"],["b","=",null],["c","!=","x"]],   null: absent
//    "then":[["put","a","2"],["del","b"],["get","c"]],
//    "else":[["get","a"]]}
//
// The answer: {"r":"txn","ok":true,"res":[{"r":"ok","p":"1"},{"r":"ok"},{"r":"ok","v":"x"}]},
// `ok` saying which list ran, `res` one result per op of it.

import { checkKey, checkValue } from './check.js';

/** Most compares and ops in one transaction, all lists together (etcd's default too). */
export const MAX_TXN_OPS = 128;
/** Most UTF-8 bytes of keys and values in one transaction: it must fit one client line. */
export const MAX_TXN_BYTES = 128 * 1024;

export interface TxnCompare {
  readonly key: string;
  /** Whether the key's value is (=) or is not (!=) `value`; null means absent. */
  readonly op: '=' | '!=';
  readonly value: string | null;
}

export type TxnOp =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'del' | 'get'; readonly key: string };

export interface TxnBody {
  readonly compares: readonly TxnCompare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

export type WireCompare = readonly [string, '=' | '!=', string | null];
export type WireTxnOp = readonly ['put', string, string] | readonly ['del' | 'get', string];

export function compareToWire(c: TxnCompare): WireCompare {
  return [c.key, c.op, c.value];
}

export function opToWire(o: TxnOp): WireTxnOp {
  return o.op === 'put' ? ['put', o.key, o.value] : [o.op, o.key];
}

export function compareFromWire(w: WireCompare): TxnCompare {
  return { key: w[0], op: w[1], value: w[2] };
}

export function opFromWire(w: WireTxnOp): TxnOp {
  return w[0] === 'put' ? { op: 'put', key: w[1], value: w[2] } : { op: w[0], key: w[1] };
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
    if (!Array.isArray(c) || c.length !== 3 || (c[1] !== '=' && c[1] !== '!='))
      return `${at} must be [key, "=" or "!=", value or null]`;
    const why = str(c[0], `${at}'s key`, true) ?? (c[2] === null ? undefined : str(c[2], `${at}'s value`, false));
    if (why !== undefined) return why;
  }
  for (const [name, list] of [
    ['then', then],
    ['else', els],
  ] as const) {
    for (const [i, o] of (list as unknown[]).entries()) {
      const at = `"${name}"[${i}]`;
      if (!Array.isArray(o)) return `${at} must be ["put", key, value], ["del", key] or ["get", key]`;
      const ok = (o[0] === 'put' && o.length === 3) || ((o[0] === 'del' || o[0] === 'get') && o.length === 2);
      if (!ok) return `${at} must be ["put", key, value], ["del", key] or ["get", key]`;
      const why = str(o[1], `${at}'s key`, true) ?? (o[0] === 'put' ? str(o[2], `${at}'s value`, false) : undefined);
      if (why !== undefined) return why;
    }
  }
  if (bytes > MAX_TXN_BYTES)
    return `its keys and values are ${bytes} bytes in UTF-8, over the limit of ${MAX_TXN_BYTES}`;
  return null;
}

/** Whether compare `c` holds when the key's value is `cur` (undefined: absent). */
export function holds(c: WireCompare, cur: string | undefined): boolean {
  const equal = (cur ?? null) === c[2];
  return c[1] === '=' ? equal : !equal;
}

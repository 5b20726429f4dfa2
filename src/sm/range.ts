// Ranges of the key-value store: the keys from `from` (inclusive) to `to`
// (exclusive), or those with a prefix, in key order (UTF-16 code units, as
// the store sorts everywhere), with a limit. A range is a read: it is
// served by read index, never written to the log (src/node/replica-node.ts).
//
// The answer is bounded twice: by `limit` keys, and by RANGE_ANSWER_BYTES
// of keys and values, so that it fits one line; `more` says keys were left
// out, and `count` how many the range holds in all.

import { checkKey } from './check.js';
import type { EntryLine, KeyEntry } from './key-entry.js';

/** Most keys one range answer holds (and the default limit). */
export const MAX_RANGE_LIMIT = 10_000;
/** Most UTF-8 bytes of keys and values one range answer holds, so it fits a client's line. */
export const RANGE_ANSWER_BYTES = 4 * 1024 * 1024;

export interface RangeQuery {
  /** The keys with this prefix (then `from` and `to` are not given). */
  readonly prefix?: string;
  /** The first key ("" or absent: from the first key). */
  readonly from?: string;
  /** The key after the last (absent: to the last key). */
  readonly to?: string;
  /** Most keys in the answer, 1 to MAX_RANGE_LIMIT (default MAX_RANGE_LIMIT). */
  readonly limit?: number;
  /** Keys only, no values. */
  readonly keysOnly?: boolean;
  /** The count only, no keys. */
  readonly countOnly?: boolean;
}

export interface RangeAnswer {
  /**
   * [key, value, create, mod, version] in key order (key-entry.ts; the value "" with keysOnly; none with
   * countOnly).
   */
  readonly data: readonly EntryLine[];
  /** Keys in the range, in all. */
  readonly count: number;
  /** Whether the range holds keys the answer left out (the limit, or its size). */
  readonly more: boolean;
}

/** Why `q` is not a valid range query, or undefined if it is. */
export function checkRangeQuery(q: RangeQuery): string | undefined {
  if (q.prefix !== undefined) {
    if (q.from !== undefined || q.to !== undefined) return 'a prefix takes no from or to';
    const why = checkKey(q.prefix, 'the prefix');
    if (why !== undefined) return why;
  }
  for (const [name, k] of [
    ['from', q.from],
    ['to', q.to],
  ] as const) {
    if (k === undefined || (name === 'from' && k === '')) continue;
    const why = checkKey(k, `"${name}"`);
    if (why !== undefined) return why;
  }
  if (q.from !== undefined && q.to !== undefined && q.to <= q.from) return `"to" must come after "from"`;
  const limit = q.limit ?? MAX_RANGE_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_RANGE_LIMIT)
    return `the limit must be a whole number from 1 to ${MAX_RANGE_LIMIT}; got ${String(q.limit)}`;
  if (q.keysOnly === true && q.countOnly === true) return 'keys only and count only do not go together';
  return undefined;
}

/** The first index in sorted `keys` whose key is at least `key`. */
export function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The range `q` (valid: checkRangeQuery) over `keys`, sorted, whose entries `entry` gives. */
export function scanRange(keys: readonly string[], entry: (k: string) => KeyEntry, q: RangeQuery): RangeAnswer {
  const start = lowerBound(keys, q.prefix ?? q.from ?? '');
  let end: number;
  if (q.prefix !== undefined) {
    const p = q.prefix;
    end = start;
    while (end < keys.length && keys[end]!.startsWith(p)) end += 1;
  } else {
    end = q.to === undefined ? keys.length : lowerBound(keys, q.to);
  }
  const count = Math.max(0, end - start);
  if (q.countOnly === true) return { data: [], count, more: false };
  const limit = q.limit ?? MAX_RANGE_LIMIT;
  const data: EntryLine[] = [];
  let bytes = 0;
  for (let i = start; i < end && data.length < limit; i++) {
    const k = keys[i]!;
    const e = entry(k);
    const v = q.keysOnly === true ? '' : e.value;
    bytes += Buffer.byteLength(k, 'utf8') + Buffer.byteLength(v, 'utf8');
    // Always at least one key: a key and value fit RANGE_ANSWER_BYTES on their own.
    if (data.length > 0 && bytes > RANGE_ANSWER_BYTES) break;
    data.push([k, v, e.create, e.mod, e.version]);
  }
  return { data, count, more: data.length < count };
}

// The checks every key and value passes, wherever it arrives: commands
// (command.ts), transactions (txn.ts) and ranges (range.ts).

import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../paxos/defaults.js';

/** Why `k` is not a valid key, or undefined if it is; `name` is what the message calls it. */
export function checkKey(k: unknown, name = '"k" (key)'): string | undefined {
  if (typeof k !== 'string' || k.length === 0) return `${name} must be a non-empty string; got ${show(k)}`;
  if (!wellFormed(k)) return `${name} has a lone UTF-16 surrogate: not valid Unicode`;
  const n = Buffer.byteLength(k, 'utf8');
  return n > MAX_KEY_BYTES ? `${name} is ${n} bytes in UTF-8, over the ${MAX_KEY_BYTES}-byte limit` : undefined;
}

/** Why `v` is not a valid value, or undefined if it is. */
export function checkValue(v: unknown, name: string): string | undefined {
  if (typeof v !== 'string') return `${name} must be a string; got ${show(v)}`;
  if (!wellFormed(v)) return `${name} has a lone UTF-16 surrogate: not valid Unicode`;
  const n = Buffer.byteLength(v, 'utf8');
  return n > MAX_VALUE_BYTES ? `${name} is ${n} bytes in UTF-8, over the ${MAX_VALUE_BYTES}-byte limit` : undefined;
}

// In /u mode a proper surrogate pair is one code point, so \p{Cs} matches lone halves only.
const LONE_SURROGATE = /\p{Cs}/u;
export function wellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

export function show(x: unknown): string {
  return x === undefined ? 'nothing' : (JSON.stringify(x) ?? String(x)).slice(0, 40);
}

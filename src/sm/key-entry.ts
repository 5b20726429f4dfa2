// A key's value with its revisions, as etcd keeps them. A revision is the
// log slot that applied a change (one slot may hold many commands, and one
// transaction many changes: they share it).
//   create:  the slot that created the key (since it was last deleted);
//   mod:     the slot of its last change;
//   version: its changes since it was created, 1 at the creating put.
// An absent key has all three 0, as in etcd: a compare on `create = 0`
// asks that the key be absent.
//
// A key put with a lease (lease.ts) names it: the key is deleted when the
// lease is revoked or expires. A put without one detaches the key.
//
// In snapshots (files, transfers between replicas, KvStore.snapshot) each
// key is one line [key, value, create, mod, version], and its lease's id
// after them if it has one.

import { checkKey, checkValue } from './check.js';

export interface KeyEntry {
  readonly value: string;
  readonly create: number;
  readonly mod: number;
  readonly version: number;
  /** The lease the key is attached to (lease.ts), if any. */
  readonly lease?: number;
}

/** A key as snapshots carry it: [key, value, create, mod, version], then its lease's id if it has one. */
export type EntryLine = [string, string, number, number, number] | [string, string, number, number, number, number];

/** A key's revisions as results carry them: [create, mod, version]. */
export type Revisions = readonly [number, number, number];

export function entryLine(key: string, e: KeyEntry): EntryLine {
  return e.lease === undefined
    ? [key, e.value, e.create, e.mod, e.version]
    : [key, e.value, e.create, e.mod, e.version, e.lease];
}

export function revisionsOf(e: KeyEntry): Revisions {
  return [e.create, e.mod, e.version];
}

/**
 * `key`'s entry after a put of `value` at slot `rev` (with `lease`, if
 * given), `cur` its entry before (undefined: absent).
 */
export function nextEntry(cur: KeyEntry | undefined, value: string, rev: number, lease?: number): KeyEntry {
  const e =
    cur === undefined
      ? { value, create: rev, mod: rev, version: 1 }
      : { value, create: cur.create, mod: rev, version: cur.version + 1 };
  return lease === undefined ? e : { ...e, lease };
}

/**
 * Why `r` is not a valid [create, mod, version] of a key present at a store
 * applied up to `applied` (undefined: not known), or undefined if it is.
 */
export function checkRevisions(r: unknown, applied?: number): string | undefined {
  const [c, m, n] = Array.isArray(r) && r.length === 3 ? (r as unknown[]) : [];
  const pos = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 1;
  if (!pos(c) || !pos(m) || !pos(n)) return 'revisions must be [create, mod, version], positive integers';
  if (m < c) return `mod revision ${m} is before create revision ${c}`;
  if (applied !== undefined && m > applied) return `mod revision ${m} is after the applied slot ${applied}`;
  return undefined;
}

/** The entry a snapshot line holds, or why it is not a valid one (`applied`: the snapshot's slot). */
export function parseEntryLine(e: unknown, applied: number): { key: string; entry: KeyEntry } | string {
  if (!Array.isArray(e) || (e.length !== 5 && e.length !== 6))
    return 'a key must be [key, value, create, mod, version] or [key, value, create, mod, version, lease]';
  const [k, v, c, m, n, l] = e as unknown[];
  const why =
    checkKey(k, 'the key') ??
    checkValue(v, 'the value') ??
    checkRevisions([c, m, n], applied) ??
    (e.length === 6 && !(Number.isSafeInteger(l) && (l as number) >= 1)
      ? 'a lease id must be a positive integer'
      : undefined);
  if (why !== undefined) return `key ${JSON.stringify(k).slice(0, 40)}: ${why}`;
  const entry = { value: v as string, create: c as number, mod: m as number, version: n as number };
  return { key: k as string, entry: e.length === 6 ? { ...entry, lease: l as number } : entry };
}

// Taking a turn under a prefix: what a lock (lock.ts) and an election
// (election.ts) share, after etcd's concurrency recipes (its Mutex and
// Election). Each contender puts one key, PREFIX<lease id in hex>, with its
// lease; the key's create revision (the log slot that created it) is its
// place in the line. The owner (the lock's holder, the leader) is the key
// with the lowest create revision. One log slot can apply several commands
// (a batch), so two keys can share a create revision: the key itself breaks
// the tie, so every contender sees the same order. A contender waits for the
// key just before its own in that order to be deleted (released, resigned,
// or its lease revoked or expired), then looks again: no herd of waiters
// wakes at each release, only the next in line.

import { UnknownOutcomeError, DefiniteError, LeaseLostError } from './errors.js';
import type { KvOps } from './kv-ops.js';
import type { KeyValue } from './results.js';

/** A contender's key: PREFIX, then a lease id in lowercase hex. */
export function contenderKey(prefix: string, leaseId: number): string {
  return `${prefix}${leaseId.toString(16)}`;
}

/** Whether `key` is a contender's key under `prefix` (not a key of a longer name that shares the prefix). */
export function isContender(prefix: string, key: string): boolean {
  return key.startsWith(prefix) && /^[0-9a-f]+$/.test(key.slice(prefix.length));
}

/** Whether contender `a` is ahead of `b` in the line: a lower create revision, or the same and a lower key. */
export function ahead(
  a: { readonly key: string; readonly createRevision: number },
  b: { readonly key: string; readonly createRevision: number },
): boolean {
  return a.createRevision < b.createRevision || (a.createRevision === b.createRevision && a.key < b.key);
}

/** The owner among a range's entries: the contender first in line, if any. */
export function ownerOf(prefix: string, entries: readonly KeyValue[]): KeyValue | undefined {
  let best: KeyValue | undefined;
  for (const e of entries) if (isContender(prefix, e.key) && (best === undefined || ahead(e, best))) best = e;
  return best;
}

/**
 * Put `key` = `value` with the lease, unless the key exists (then keep it:
 * this lease is already in line); resolves to the key's create revision.
 * One transaction: if the key's create revision is 0 (absent), the put,
 * else a get. An answer that did not come is asked again: the second finds
 * the key, if the first made it.
 */
export async function joinLine(
  kv: KvOps,
  key: string,
  value: string,
  lease: number,
  signal: AbortSignal,
): Promise<number> {
  for (;;) {
    try {
      const r = await kv
        .txn()
        .if(key, 'create', '=', 0)
        .then({ op: 'put', key, value, lease })
        .else({ op: 'get', key })
        .commit({ signal });
      if (r.succeeded) return r.slot;
      const got = r.results[0]?.createRevision;
      if (got === undefined) throw new DefiniteError('invalid', `${key}: the store answered a get without revisions`);
      return got;
    } catch (err) {
      if (!(err instanceof UnknownOutcomeError) || signal.aborted) throw err;
    }
  }
}

/**
 * Wait until `key`, created at `revision`, is the owner under `prefix`:
 * until no contender ahead of it is left. Rejects with
 * LeaseLostError ('key') if the key is gone or was made again (deleted by
 * someone, or its lease lost), with the signal's reason if `signal` aborts.
 * Resolves to the slot at which the key was seen to own it.
 */
export async function waitTurn(
  kv: KvOps,
  line: { readonly prefix: string; readonly key: string; readonly revision: number; readonly lease: number },
  signal: AbortSignal,
): Promise<number> {
  const { prefix, key, revision } = line;
  for (;;) {
    signal.throwIfAborted();
    const r = await kv.range({ prefix, keysOnly: true }, { signal });
    const mine = r.entries.find((e) => e.key === key);
    if (mine === undefined || mine.createRevision !== revision)
      throw new LeaseLostError(
        line.lease,
        'key',
        `${key} was deleted while it waited in line (its lease revoked or expired, or the key deleted)`,
      );
    // The contender just ahead of this one.
    let before: KeyValue | undefined;
    for (const e of r.entries)
      if (isContender(prefix, e.key) && ahead(e, mine) && (before === undefined || ahead(before, e))) before = e;
    if (before === undefined) return r.slot;
    await deleted(kv, before.key, r.slot + 1, signal);
  }
}

/**
 * Resolves once `key` is deleted at or after revision `from`, or when
 * `signal` aborts (the caller checks it); also when the watch could not go
 * on from there (compacted), so the caller looks again.
 */
export async function deleted(kv: KvOps, key: string, from: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  const w = kv.watch({ key, fromRevision: from });
  const stop = (): void => w.close();
  signal.addEventListener('abort', stop, { once: true });
  try {
    for await (const e of w) if (e.type === 'delete') return;
  } catch (err) {
    if (!(err instanceof DefiniteError && err.reason === 'compacted')) throw err;
  } finally {
    signal.removeEventListener('abort', stop);
    w.close();
  }
}

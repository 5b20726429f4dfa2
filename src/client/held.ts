// A key held at the head of a line (turn.ts): a lock's, or a leader's. It is
// held while its lease lives and the key is not deleted; `signal` aborts
// when either ends (or on release), its reason a LeaseLostError saying which.

import { checkKey } from '../sm/check.js';
import { DefiniteError, LeaseLostError } from './errors.js';
import type { KvOps } from './kv-ops.js';
import type { Lease } from './lease.js';
import { contenderKey, joinLine, waitTurn } from './turn.js';
import type { Watcher } from './watcher.js';

/** The TTL of a lock's or a campaign's own lease, in seconds, unless told otherwise. */
export const DEFAULT_HOLD_TTL = 10;

export interface ClaimOptions {
  /** TTL in seconds of a lease of its own (default 10); not with `lease`. */
  readonly ttl?: number;
  /** Hold it on this lease instead (its owner keeps it alive); releasing then deletes the key alone. */
  readonly lease?: Lease;
  /** Give up waiting: the key is taken away and the call rejects with DefiniteError('aborted'). */
  readonly signal?: AbortSignal;
}

export class Held {
  /** Aborts when the key is no longer held: its reason is a LeaseLostError ('revoked' after release). */
  readonly signal: AbortSignal;
  private readonly gone = new AbortController();
  private watcher: Watcher | null = null;
  private released = false;

  constructor(
    private readonly kv: KvOps,
    /** The key held: PREFIX<lease id in hex>. */
    readonly key: string,
    /** Its create revision: its place in the line. */
    readonly revision: number,
    readonly lease: Lease,
    private readonly ownsLease: boolean,
    /** The slot from which to watch the key for its delete. */
    watchFrom: number,
  ) {
    this.signal = AbortSignal.any([lease.signal, this.gone.signal]);
    this.signal.addEventListener('abort', () => this.watcher?.close(), { once: true });
    if (!this.signal.aborted) this.watchKey(watchFrom);
  }

  /** Let go: revoke its own lease (which deletes the key), or delete the key if the lease is shared. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.watcher?.close();
    if (this.ownsLease) {
      await this.lease.revoke();
      return;
    }
    try {
      // Only the key this holds: if it was deleted and made again, that one is someone else's.
      await this.kv.txn().if(this.key, 'create', '=', this.revision).then({ op: 'del', key: this.key }).commit();
    } finally {
      this.gone.abort(new LeaseLostError(this.lease.id, 'revoked', `${this.key} was released`));
    }
  }

  /** The key's delete ends the hold: someone deleted it (its lease is the other way it ends). */
  private watchKey(from: number): void {
    const w = this.kv.watch({ key: this.key, fromRevision: from });
    this.watcher = w;
    void (async () => {
      try {
        for await (const e of w)
          if (e.type === 'delete' && !this.released) {
            const why = `${this.key} was deleted (not by this holder): it is no longer held`;
            this.gone.abort(new LeaseLostError(this.lease.id, 'key', why));
            return;
          }
      } catch {
        // The watch could not go on (no replica took it): the lease's keepalives still guard the hold.
      } finally {
        w.close();
      }
    })();
  }
}

/**
 * Join the line under `prefix` with `value`, on a lease of its own (or the
 * one given), and wait to reach its head. On any failure or abort, the key
 * is taken away again (its own lease revoked) before the call rejects:
 * with the lease's LeaseLostError if it was lost, DefiniteError('aborted')
 * if `signal` aborted, else the error itself.
 */
export async function claim(kv: KvOps, what: string, prefix: string, value: string, o: ClaimOptions): Promise<Held> {
  const why = checkKey(prefix, 'the name');
  if (why !== undefined) throw new DefiniteError('invalid', `${what}: ${why}`);
  if (o.lease !== undefined && o.ttl !== undefined)
    throw new DefiniteError('invalid', `${what}: give a ttl (for a lease of its own) or a lease, not both`);
  o.signal?.throwIfAborted();
  const lease =
    o.lease ?? (await kv.lease(o.ttl ?? DEFAULT_HOLD_TTL, o.signal === undefined ? {} : { signal: o.signal }));
  if (!lease.alive) throw lease.signal.reason as LeaseLostError;
  const key = contenderKey(prefix, lease.id);
  const signal = o.signal === undefined ? lease.signal : AbortSignal.any([lease.signal, o.signal]);
  let revision: number | undefined;
  try {
    revision = await joinLine(kv, key, value, lease.id, signal);
    const slot = await waitTurn(kv, { prefix, key, revision, lease: lease.id }, signal);
    return new Held(kv, key, revision, lease, o.lease === undefined, slot + 1);
  } catch (err) {
    if (o.lease === undefined) await lease.close();
    else if (revision !== undefined)
      await kv
        .txn()
        .if(key, 'create', '=', revision)
        .then({ op: 'del', key })
        .commit()
        .catch(() => undefined);
    if (lease.signal.aborted && (lease.signal.reason as LeaseLostError).reason !== 'revoked')
      throw lease.signal.reason as LeaseLostError;
    if (o.signal?.aborted === true)
      throw new DefiniteError('aborted', `${what}: gave up waiting (aborted); ${key} was taken out of the line`);
    throw err;
  }
}

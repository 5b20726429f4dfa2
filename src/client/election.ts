// A leader election (KvClient.election), after etcd's Election: each
// candidate puts NAME/<lease id in hex> = its value, with its lease; the
// leader is the candidate whose key has the lowest create revision (the
// key breaks a tie: turn.ts). Leadership lives on the lease: when the lease
// is lost, so is leadership.
//
//   const e = kv.election('db/primary');
//   await e.campaign('10.0.0.7:5432');     // resolves once this candidate leads
//   e.signal!.addEventListener('abort', () => process.exit(1)); // leadership lost
//   ...
//   await e.resign();                      // the next candidate leads
//
//   for await (const l of kv.election('db/primary').observe()) console.log('leader:', l.value);

import type { CallOptions } from './call-options.js';
import { DefiniteError, LeaseLostError } from './errors.js';
import { claim, type ClaimOptions, type Held } from './held.js';
import type { KvOps } from './kv-ops.js';
import type { KeyValue } from './results.js';
import { ownerOf } from './turn.js';
import type { Watcher } from './watcher.js';

export type ElectionOptions = Omit<ClaimOptions, 'signal'>;

/** The leader, as the store holds it. */
export interface Leader {
  /** Its key: NAME/<lease id in hex>. */
  readonly key: string;
  /** The value it campaigned with (or proclaimed since). */
  readonly value: string;
  /** Its key's create revision: when it joined the line. */
  readonly revision: number;
  /** Its key's mod revision: when the value was last set. */
  readonly modRevision: number;
  /** Its lease's id. */
  readonly lease: number;
}

export class Election {
  private held: Held | null = null;
  private campaigning = false;

  constructor(
    private readonly kv: KvOps,
    /** The election's name: its candidates' keys are NAME/<lease id in hex>. */
    readonly name: string,
    private readonly options: ElectionOptions = {},
  ) {}

  private get prefix(): string {
    return `${this.name}/`;
  }

  /** Whether this candidate leads now (campaign resolved, and it has not resigned or lost it). */
  get isLeader(): boolean {
    return this.held !== null && !this.held.signal.aborted;
  }

  /** While it leads, or after: aborts when leadership is lost or resigned (a LeaseLostError); undefined before. */
  get signal(): AbortSignal | undefined {
    return this.held?.signal;
  }

  /** This candidate's key, once it leads (and after). */
  get key(): string | undefined {
    return this.held?.key;
  }

  /**
   * Stand with `value`, and resolve once this candidate leads: when every
   * candidate that stood before it has resigned or lost its lease. With
   * `signal`, give up waiting (DefiniteError 'aborted'; the candidacy is
   * withdrawn).
   */
  async campaign(value: string, o: { readonly signal?: AbortSignal } = {}): Promise<void> {
    if (this.campaigning || this.isLeader)
      throw new DefiniteError('invalid', `campaign ${JSON.stringify(this.name)}: already campaigning or leading`);
    this.campaigning = true;
    try {
      const what = `campaign ${JSON.stringify(this.name)}`;
      this.held = await claim(this.kv, what, this.prefix, value, { ...this.options, ...o });
      // On a lease given, its key may have stood already, with another value.
      if (this.options.lease !== undefined) await this.proclaim(value);
    } finally {
      this.campaigning = false;
    }
  }

  /** While leading, announce a new value (a put of its key, only if it is still the key it holds). */
  async proclaim(value: string, o: CallOptions = {}): Promise<void> {
    const h = this.held;
    if (h === null || h.signal.aborted)
      throw new DefiniteError('invalid', `proclaim ${JSON.stringify(this.name)}: not the leader; campaign first`);
    const r = await this.kv
      .txn()
      .if(h.key, 'create', '=', h.revision)
      .then({ op: 'put', key: h.key, value, lease: h.lease.id })
      .commit(o);
    if (!r.succeeded)
      throw new LeaseLostError(h.lease.id, 'key', `proclaim ${JSON.stringify(this.name)}: ${h.key} is gone`);
  }

  /** Step down: the next candidate leads. Its own lease is revoked (on a lease given, its key deleted). */
  async resign(): Promise<void> {
    await this.held?.release();
  }

  /** The leader now, or null if there is none. Linearizable (a range, by read index). */
  async leader(o: CallOptions = {}): Promise<Leader | null> {
    const r = await this.kv.range({ prefix: this.prefix }, o);
    const l = ownerOf(this.prefix, r.entries);
    return l === undefined ? null : this.leaderOf(l);
  }

  /**
   * The leader, now and at each change (a new leader, or a new value), as
   * an async iterator; a time with no leader gives nothing. Ends when
   * `signal` aborts, or the loop that reads it breaks.
   */
  async *observe(o: { readonly signal?: AbortSignal } = {}): AsyncGenerator<Leader, void, undefined> {
    const signal = o.signal;
    const opts = signal === undefined ? {} : { signal };
    // A function, not the property: TypeScript would take it as false still after an await.
    const aborted = (): boolean => signal?.aborted === true;
    const stop = (): void => w?.close();
    let w: Watcher | undefined;
    let last = '';
    const changed = (l: KeyValue | undefined): l is KeyValue => {
      if (l === undefined || `${l.key} ${l.modRevision}` === last) return false;
      last = `${l.key} ${l.modRevision}`;
      return true;
    };
    signal?.addEventListener('abort', stop, { once: true });
    try {
      for (;;) {
        if (aborted()) return;
        try {
          const first = await this.kv.range({ prefix: this.prefix }, opts);
          let seen = first.slot;
          w = this.kv.watch({ prefix: this.prefix, fromRevision: seen + 1 });
          if (aborted()) return;
          const l = ownerOf(this.prefix, first.entries);
          if (changed(l)) yield this.leaderOf(l);
          for await (const e of w) {
            if (e.rev <= seen) continue; // the range after an earlier event saw it already
            const r = await this.kv.range({ prefix: this.prefix }, opts);
            seen = r.slot;
            const now = ownerOf(this.prefix, r.entries);
            if (changed(now)) yield this.leaderOf(now);
          }
          return; // closed: the signal aborted
        } catch (err) {
          if (aborted()) return;
          // History this far back is gone at every replica: look again from now.
          if (!(err instanceof DefiniteError && err.reason === 'compacted')) throw err;
        } finally {
          w?.close();
        }
      }
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }

  private leaderOf(e: KeyValue): Leader {
    const lease = Number.parseInt(e.key.slice(this.prefix.length), 16);
    return { key: e.key, value: e.value, revision: e.createRevision, modRevision: e.modRevision, lease };
  }
}

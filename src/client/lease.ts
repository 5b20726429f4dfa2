// A lease that keeps itself alive (KvClient.lease): granted once, then
// renewed in the background every TTL/3, until it is revoked, the client is
// closed, or it is lost.
//
//   const lease = await kv.lease(10);
//   await kv.put('service/me', 'here', { lease: lease.id });
//   lease.signal.addEventListener('abort', () => console.log('lost:', lease.signal.reason.message));
//   ...
//   await lease.revoke(); // its keys are deleted
//
// Lost means the store may have expired it: the store said it has no such
// lease (a keepalive answered "nolease"), or no keepalive succeeded within
// its TTL of the last one that did. The clock is the client's and it is
// cautious: a renewal counts from when the keepalive was sent, never from
// when its answer came, so this side gives the lease up no later than the
// leader can expire it (the leader counts from when it applies the renewal).
// A keepalive that fails (no leader, a replica down) is tried again, with
// backoff, until it succeeds or the TTL runs out.

import { RETRY_BASE_MS, RETRY_CAP_MS } from '../paxos/defaults.js';
import { backoffDelay } from '../util/backoff.js';
import type { CallOptions } from './call-options.js';
import { DefiniteError, LeaseLostError, LeaseNotFoundError, type LostReason } from './errors.js';
import type { LeaseGrant } from './results.js';

/** What a lease needs of its client. */
export interface LeaseCalls {
  leaseKeepAlive(id: number, o?: CallOptions): Promise<LeaseGrant>;
  leaseRevoke(id: number, o?: CallOptions): Promise<unknown>;
}

export interface LeaseOptions extends CallOptions {
  /** Called after each renewal that succeeded, with the lease's TTL in seconds (for logging). */
  readonly onKeepAlive?: (ttl: number) => void;
}

export class Lease {
  /** Aborts when the lease is over (lost, revoked, or its client closed); its reason is a LeaseLostError. */
  readonly signal: AbortSignal;
  /** Resolves (never rejects) when the lease is over, with why. */
  readonly lost: Promise<LeaseLostError>;
  /** Renewals that succeeded. */
  renewals = 0;
  private readonly over = new AbortController();
  private resolveLost!: (e: LeaseLostError) => void;
  /** When this side gives the lease up (ms since the epoch), unless a keepalive succeeds first. */
  private expiresAt: number;
  private next: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  /** Aborts the keepalive in flight. */
  private inFlight: AbortController | null = null;
  private failures = 0;

  /** @param grantedAt when the grant was sent (ms since the epoch): the TTL counts from then. */
  constructor(
    private readonly calls: LeaseCalls,
    readonly id: number,
    readonly ttl: number,
    grantedAt: number,
    private readonly options: LeaseOptions = {},
  ) {
    this.signal = this.over.signal;
    this.lost = new Promise((resolve) => (this.resolveLost = resolve));
    this.expiresAt = grantedAt + ttl * 1000;
    this.armDeadline();
    this.schedule(Math.max(0, grantedAt + this.period() - Date.now()));
  }

  /** Whether the lease is still held (kept alive by this object). */
  get alive(): boolean {
    return !this.over.signal.aborted;
  }

  /**
   * Stop keeping it alive and revoke it: the store deletes every key
   * attached to it. Resolves true, or false if the store had no such lease
   * any more (it expired, or was revoked). Throws as any call does if the
   * store could not be asked (the lease then expires after its TTL).
   */
  async revoke(o: CallOptions = {}): Promise<boolean> {
    // Gone already (revoked, or the store said so): nothing to revoke. Else (even if given up on), ask.
    const why = this.over.signal.aborted ? (this.signal.reason as LeaseLostError).reason : undefined;
    if (why === 'nolease' || why === 'revoked') return false;
    this.stop();
    try {
      await this.calls.leaseRevoke(this.id, o);
      return true;
    } catch (err) {
      if (err instanceof LeaseNotFoundError) return false;
      throw err;
    } finally {
      this.end('revoked', `lease ${this.id} was revoked`);
    }
  }

  /** revoke(), and never throws: for cleanup (a lease it could not revoke expires after its TTL). */
  async close(): Promise<void> {
    await this.revoke().catch(() => false);
  }

  /** Stop keeping it alive, without revoking it (the client is closing): it expires after its TTL. */
  abandon(): void {
    this.stop();
    this.end('closed', `lease ${this.id}: the client was closed, so nothing keeps it alive`);
  }

  /** Time between keepalives: a third of the TTL. */
  private period(): number {
    return (this.ttl * 1000) / 3;
  }

  private schedule(ms: number): void {
    clearTimeout(this.next);
    this.next = setTimeout(() => void this.renew(), ms);
  }

  /** Give the lease up at expiresAt, whatever a keepalive in flight is doing then. */
  private armDeadline(): void {
    clearTimeout(this.deadline);
    this.deadline = setTimeout(
      () => {
        this.stop();
        this.end(
          'expired',
          `lease ${this.id}: no keepalive succeeded within its TTL of ${this.ttl} s; the store may have expired ` +
            'it and deleted its keys',
        );
      },
      Math.max(0, this.expiresAt - Date.now()),
    );
  }

  private async renew(): Promise<void> {
    if (!this.alive) return;
    const left = this.expiresAt - Date.now();
    if (left <= 0) return;
    const sent = Date.now();
    const ac = new AbortController();
    this.inFlight = ac;
    try {
      const g = await this.calls.leaseKeepAlive(this.id, { ...this.callOptions(), timeoutMs: left, signal: ac.signal });
      if (!this.alive) return;
      this.failures = 0;
      this.renewals += 1;
      this.expiresAt = sent + g.ttl * 1000;
      this.armDeadline();
      this.options.onKeepAlive?.(g.ttl);
      this.schedule(Math.max(0, sent + this.period() - Date.now()));
    } catch (err) {
      if (!this.alive) return;
      if (err instanceof LeaseNotFoundError) {
        this.stop();
        return this.end('nolease', `lease ${this.id} is gone: the store says it was revoked or expired`);
      }
      if (err instanceof DefiniteError && err.reason === 'closed') return this.abandon();
      // No leader, replicas down, an answer that did not come: again, until the deadline says it is lost.
      this.failures += 1;
      this.schedule(Math.min(backoffDelay(this.failures, RETRY_BASE_MS, RETRY_CAP_MS, Math.random), left));
    } finally {
      if (this.inFlight === ac) this.inFlight = null;
    }
  }

  private callOptions(): CallOptions {
    return this.options.first === undefined ? {} : { first: this.options.first };
  }

  private stop(): void {
    clearTimeout(this.next);
    clearTimeout(this.deadline);
    this.inFlight?.abort();
    this.inFlight = null;
  }

  private end(reason: LostReason, message: string): void {
    if (this.over.signal.aborted) return;
    const e = new LeaseLostError(this.id, reason, message);
    this.over.abort(e);
    this.resolveLost(e);
  }
}

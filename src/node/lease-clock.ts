// When leases expire: the leader's to say, by its own clock, never each
// replica's (src/sm/lease.ts). Every replica notes, as it applies them,
// when each lease was granted or last kept alive; only the leader acts,
// proposing {"o":"expire","id":N,"at":R} for a lease not renewed for its
// TTL since slot R. The store ignores it if a keepalive was applied first.
//
// A leader's clock starts when it takes office: it gives every lease its
// whole TTL again, plus an extension (an election's worth of time), before
// it may expire any, as etcd's lessor does on promotion. A holder whose
// keepalives could not be applied while there was no leader gets that long
// to find the new one. Without it (the simulator's `leaseNoExtension`
// control), a new leader expires at once every lease whose last renewal it
// applied more than a TTL ago, however hard the holder was trying.
//
// Pure: times are passed in, in milliseconds.

import type { LeaseChange, LeaseLine } from '../sm/lease.js';

interface Deadline {
  readonly ttlMs: number;
  /** The slot of the lease's last renewal, as applied here. */
  readonly renewed: number;
  due: number;
  /** When its expiry was last proposed (null: not yet); proposed again after `extensionMs` if still there. */
  proposedAt: number | null;
}

export class LeaseClock {
  private readonly deadlines = new Map<number, Deadline>();
  private leading = false;
  /** Until when, since it took office, this leader expires nothing. */
  private graceUntil = -Infinity;
  /** The earliest deadline (a lower bound): no lease is looked at before it. */
  private next = Infinity;

  constructor(
    /** The extension a new leader gives every lease (an election timeout or two), and the resend interval. */
    readonly extensionMs: number,
    /** False only in the broken variant that the simulator must catch. */
    private readonly extend = true,
  ) {}

  /** A lease granted, kept alive, or gone, applied now. */
  changed(c: LeaseChange, now: number): void {
    if ('gone' in c) {
      this.deadlines.delete(c.id);
      return;
    }
    this.set(c.id, c.ttl, c.renewed, Math.max(now, this.graceUntil));
  }

  /** The store was replaced (loaded, or installed from the leader): its leases count from now. */
  reset(leases: readonly LeaseLine[], now: number): void {
    this.deadlines.clear();
    this.next = Infinity;
    for (const [id, ttl, renewed] of leases) this.set(id, ttl, renewed, Math.max(now, this.graceUntil));
  }

  /** Whether this replica leads now; taking office restarts every lease's clock, extended. */
  leads(leading: boolean, now: number): void {
    if (leading === this.leading) return;
    this.leading = leading;
    if (!leading || !this.extend) return;
    this.graceUntil = now + this.extensionMs;
    this.next = Infinity;
    for (const [id, d] of this.deadlines) this.set(id, d.ttlMs / 1000, d.renewed, this.graceUntil);
  }

  /** The expiries to propose now: leases past their deadline, each proposed again only after extensionMs. */
  due(now: number): Array<{ readonly id: number; readonly at: number }> {
    if (!this.leading || now < this.next) return [];
    const out: Array<{ id: number; at: number }> = [];
    this.next = Infinity;
    for (const [id, d] of this.deadlines) {
      const at = d.proposedAt === null ? d.due : Math.max(d.due, d.proposedAt + this.extensionMs);
      if (at <= now) {
        d.proposedAt = now;
        out.push({ id, at: d.renewed });
        this.next = Math.min(this.next, now + this.extensionMs);
      } else this.next = Math.min(this.next, at);
    }
    return out;
  }

  /** Leases followed (for tests and the live page). */
  get size(): number {
    return this.deadlines.size;
  }

  private set(id: number, ttl: number, renewed: number, from: number): void {
    const due = from + ttl * 1000;
    this.deadlines.set(id, { ttlMs: ttl * 1000, renewed, due, proposedAt: null });
    this.next = Math.min(this.next, due);
  }
}

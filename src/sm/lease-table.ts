// The store's leases (lease.ts): each one's TTL, last renewal and keys, and
// the id the next one gets. The store (kv.ts) drives it as it applies
// commands, at the slot it is applying; deleting a lease's keys is the
// store's, since they are its keys.

import type { KeyEntry } from './key-entry.js';
import { checkLeaseLine, MAX_LEASES, type Lease, type LeaseInfo, type LeaseLine } from './lease.js';

export class LeaseTable {
  private constructor(
    private readonly leases: Map<number, Lease>,
    /** Ids are never reused. */
    private next: number,
  ) {}

  static empty(): LeaseTable {
    return new LeaseTable(new Map(), 1);
  }

  /**
   * A snapshot's leases (`lines`, [id, ttl, renewed] by id), each key of
   * `data` attached to the lease it names; or why they are not valid: a
   * line is bad, an id repeats or is not below `next`, or a key names a
   * lease that is not there.
   */
  static link(
    data: ReadonlyMap<string, KeyEntry>,
    lines: readonly unknown[],
    applied: number,
    next: number,
  ): LeaseTable | string {
    const leases = new Map<number, Lease>();
    let prev = 0;
    for (const [i, line] of lines.entries()) {
      const why = checkLeaseLine(line, applied);
      if (why !== undefined) return `lease ${i}: ${why}`;
      const [id, ttl, renewed] = line as LeaseLine;
      if (id <= prev || id >= next)
        return `lease ${i}: id ${id} must be above the one before (${prev}) and below "nextLease" (${next})`;
      prev = id;
      leases.set(id, { ttl, renewed, keys: new Set() });
    }
    for (const [key, e] of data) {
      if (e.lease === undefined) continue;
      const l = leases.get(e.lease);
      if (l === undefined)
        return `key ${JSON.stringify(key).slice(0, 40)} names lease ${e.lease}, which it does not hold`;
      l.keys.add(key);
    }
    return new LeaseTable(leases, next);
  }

  /** The id the next lease gets. */
  get nextId(): number {
    return this.next;
  }

  get(id: number): Readonly<Lease> | undefined {
    return this.leases.get(id);
  }

  has(id: number): boolean {
    return this.leases.has(id);
  }

  /** [id, ttl, renewed] per lease, by id: as snapshots carry them. */
  lines(): LeaseLine[] {
    return [...this.leases].map(([id, l]): LeaseLine => [id, l.ttl, l.renewed]).sort((a, b) => a[0] - b[0]);
  }

  /** [id, ttl, keys attached] per lease, by id: a listing's. */
  info(): LeaseInfo[] {
    return this.lines().map(([id, ttl]): LeaseInfo => [id, ttl, this.leases.get(id)!.keys.size]);
  }

  /** A new lease of `ttl` seconds renewed at `slot`: its id, or null if the table holds MAX_LEASES. */
  grant(ttl: number, slot: number): number | null {
    if (this.leases.size >= MAX_LEASES) return null;
    const id = this.next++;
    this.leases.set(id, { ttl, renewed: slot, keys: new Set() });
    return id;
  }

  /** Renew lease `id` at `slot`: the lease, or undefined if there is none. */
  renew(id: number, slot: number): Readonly<Lease> | undefined {
    const l = this.leases.get(id);
    if (l !== undefined) l.renewed = slot;
    return l;
  }

  /** Take lease `id` out (the store deletes its keys): the lease, or undefined if there is none. */
  take(id: number): Readonly<Lease> | undefined {
    const l = this.leases.get(id);
    this.leases.delete(id);
    return l;
  }

  /** `key` moves from lease `from` to lease `to` (either may be none; `to` must exist). */
  move(key: string, from: number | undefined, to: number | undefined): void {
    if (from !== undefined) this.leases.get(from)?.keys.delete(key);
    if (to !== undefined) this.leases.get(to)!.keys.add(key);
  }
}

// Leases, as the store keeps them. A lease has an id (the store counts them
// out, 1, 2, 3, ..., never reused), a TTL in seconds, the slot of its last
// renewal (its grant or its latest keepalive), and the keys put with it.
// Revoking it, or its expiry, deletes those keys in the slot that applies it.
//
// The store has no clock: when a lease expires is the leader's to say
// (src/node/lease-clock.ts), by proposing {"o":"expire","id":N,"at":R}. It
// takes effect only if R is still the lease's last renewal: a keepalive
// applied before it in the log wins, and the expiry does nothing. Clients
// cannot send it (checkClientCommand refuses it).
//
// Wire forms (command.ts):
//   {"o":"grant","c":"cli-7","s":3,"t":10}        -> {"r":"lease","id":4,"ttl":10} | {"r":"toomany","max":100000}
//   {"o":"keep","c":"cli-7","s":4,"id":4}          -> {"r":"lease","id":4,"ttl":10} | {"r":"nolease","id":4}
//   {"o":"revoke","c":"cli-7","s":5,"id":4}        -> {"r":"ok"} | {"r":"nolease","id":4}
//   {"o":"leases","c":"cli-7","s":6}               -> {"r":"leases","ls":[[4,10,2],...]}   [id, ttl, keys]
//   {"o":"put","c":"cli-7","s":7,"k":"a","v":"1","l":4}  a put with a lease; {"r":"nolease","id":4} if it is gone
//   {"o":"expire","id":4,"at":90}                  the leader's; no client
//
// In snapshots each lease is one line [id, ttl, renewed]; its keys name it
// (key-entry.ts), and the snapshot's head carries the next id.

/**
 * The most leases a store holds at once: past it a grant is refused
 * ({"r":"toomany","max":N}), so that clients cannot fill a replica's memory
 * with leases (each costs a few hundred bytes, and a year's TTL keeps it).
 */
export const MAX_LEASES = 100_000;

/** The longest TTL, in seconds: a year. */
export const MAX_LEASE_TTL = 365 * 24 * 3600;

/** A lease as snapshots carry it: [id, ttl in seconds, slot of its last renewal]. */
export type LeaseLine = [number, number, number];

/** A lease in a listing: [id, ttl in seconds, keys attached]. */
export type LeaseInfo = readonly [number, number, number];

export const isLeaseId = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 1;

/** Why `t` is not a valid TTL, or undefined if it is. */
export function checkTtl(t: unknown): string | undefined {
  return Number.isSafeInteger(t) && (t as number) >= 1 && (t as number) <= MAX_LEASE_TTL
    ? undefined
    : `a lease's TTL must be a whole number of seconds from 1 to ${MAX_LEASE_TTL}; got ` +
        `${JSON.stringify(t)?.slice(0, 40)}`;
}

/** Why `l` is not a valid lease line of a snapshot at `applied`, or undefined if it is. */
export function checkLeaseLine(l: unknown, applied: number): string | undefined {
  if (!Array.isArray(l) || l.length !== 3) return 'a lease must be [id, ttl, renewed]';
  const [id, ttl, renewed] = l as unknown[];
  if (!isLeaseId(id)) return `a lease id must be a positive integer; got ${JSON.stringify(id)?.slice(0, 40)}`;
  const t = checkTtl(ttl);
  if (t !== undefined) return `lease ${id}: ${t}`;
  if (!Number.isSafeInteger(renewed) || (renewed as number) < 1 || (renewed as number) > applied)
    return `lease ${id}: its renewal slot must be from 1 to the applied slot ${applied}`;
  return undefined;
}

/** A lease in the store. */
export interface Lease {
  readonly ttl: number;
  /** The slot of its grant or latest keepalive. */
  renewed: number;
  /** The keys attached to it. */
  readonly keys: Set<string>;
}

/** What the leader's lease clock is told of a lease: renewed at a slot, or gone (null). */
export type LeaseChange =
  | { readonly id: number; readonly ttl: number; readonly renewed: number }
  | { readonly id: number; readonly gone: true };

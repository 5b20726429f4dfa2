// What the client library's calls resolve to (api.ts): a key with its
// revisions, a range, a write, a cas, a lease.

/**
 * A key, its value and its revisions: the log slots that created it (since
 * it was last deleted) and last changed it, and its changes since it was
 * created (1 at the creating put).
 */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
}

/** A range's keys, in order, as of log slot `slot`. */
export interface RangeResult {
  readonly entries: readonly KeyValue[];
  /** Keys in the range, in all. */
  readonly count: number;
  /** Whether the answer left keys out (the limit, or its size): ask again from after the last key. */
  readonly more: boolean;
  readonly slot: number;
}

/** A put or del that was done. */
export interface WriteResult {
  /** The value before: null if the key was absent. */
  readonly prev: string | null;
  /** The log slot that applied it. */
  readonly slot: number;
}

/** A cas that was done: it swapped, or found another value (then nothing changed). */
export type CasResult =
  { readonly swapped: true; readonly slot: number } | { readonly swapped: false; readonly current: string | null };

/** A lease granted or renewed: its id, and its TTL in seconds. */
export interface LeaseGrant {
  readonly id: number;
  readonly ttl: number;
}

/** A lease in a listing (KvClient.leases). */
export interface LeaseStatus {
  readonly id: number;
  /** Its TTL, in seconds. */
  readonly ttl: number;
  /** How many keys are attached to it. */
  readonly keys: number;
}

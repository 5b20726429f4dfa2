// A distributed lock (KvClient.lock), after etcd's Mutex: the holder is the
// contender whose key NAME/<lease id in hex> has the lowest create revision
// (the key breaks a tie: turn.ts), and a lock lives on a lease: when the
// lease is lost, so is the lock.
//
//   const lock = await kv.lock('jobs/nightly');          // waits its turn
//   try {
//     await work({ signal: lock.signal });               // aborts if the lock is lost
//   } finally {
//     await lock.release();
//   }

import { claim, type ClaimOptions, type Held } from './held.js';
import type { KvOps } from './kv-ops.js';
import type { Lease } from './lease.js';

export type LockOptions = ClaimOptions;

export class Lock {
  constructor(
    /** The lock's name: its contenders' keys are NAME/<lease id in hex>. */
    readonly name: string,
    private readonly held: Held,
  ) {}

  /** The key this holder put: NAME/<lease id in hex>. */
  get key(): string {
    return this.held.key;
  }

  /** The key's create revision: its place in the line. */
  get revision(): number {
    return this.held.revision;
  }

  /** The lease the lock lives on. */
  get lease(): Lease {
    return this.held.lease;
  }

  /**
   * Aborts when the lock is no longer held: its lease was lost (revoked,
   * expired, or no keepalive succeeded within its TTL), its key was
   * deleted, or it was released. The reason is a LeaseLostError.
   */
  get signal(): AbortSignal {
    return this.held.signal;
  }

  /** Let the next in line have it: revoke the lock's own lease (or delete its key, on a lease given). */
  release(): Promise<void> {
    return this.held.release();
  }
}

/** Wait for lock `name` and hold it (see KvClient.lock). */
export async function acquireLock(kv: KvOps, name: string, o: LockOptions = {}): Promise<Lock> {
  return new Lock(name, await claim(kv, `lock ${JSON.stringify(name)}`, `${name}/`, '', o));
}

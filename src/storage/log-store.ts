// A replica's log store: what the replicated log's node (src/node/replica-node.ts)
// makes durable, behind one interface with two versions:
//   file-log-store.ts    a data directory: the WAL, snapshots, the replica
//                        file and identity.json (the daemon's);
//   memory-log-store.ts  the same rules in memory, with the faults a disk can
//                        have (the simulator's and the tests').
// Methods may answer at once or with a promise (MaybePromise): the node loop
// goes on in the same call when they answer at once.
//
// Here too are the rules both versions keep: when records must be synced,
// when a snapshot is due, and who a data directory votes for.

import { createHash } from 'node:crypto';
import { mustSync, type LogRecord, type Recovered } from '../log/types.js';
import type { KvStore, KvView } from '../sm/kv.js';
import type { MaybePromise } from '../util/maybe.js';
import { MAX_UNSYNCED_RECORDS, SNAPSHOT_LOG_BYTES } from '../paxos/defaults.js';

/** Who a data directory votes for. */
export interface Identity {
  /** Names the cluster: a hash of its replicas' host names, in hostsfile order. */
  readonly cluster: string;
  readonly member: number;
  readonly host: string;
}

/** The identity of member `self` of a cluster of `hosts` (hostsfile order). */
export function identityOf(hosts: readonly string[], self: number, host = hosts[self - 1] ?? ''): Identity {
  const cluster = createHash('sha256')
    .update(hosts.map((h) => h.toLowerCase()).join('\n'))
    .digest('hex')
    .slice(0, 16);
  return { cluster, member: self, host };
}

export interface Opened {
  readonly recovered: Recovered;
  readonly kv: KvStore;
  /**
   * Why this replica must recover before it votes (it may have lost durable
   * state), or null: its identity is there and nothing was damaged.
   */
  readonly recover: string | null;
  /** Whether the store held no state at all (a first start, or a wiped disk). */
  readonly empty: boolean;
}

export interface LogStore {
  open(identity: Identity): MaybePromise<Opened>;
  /**
   * Append, and make durable (one write and one sync for the whole batch)
   * unless the records only say what is chosen (see mustSyncNow): those ride
   * along with the next sync.
   */
  persist(records: readonly LogRecord[]): MaybePromise<void>;
  /** Everything appended so far made durable, chosen-only records included. */
  syncAll(): MaybePromise<void>;
  /** This replica has recovered: from now on it votes as this member (durable before any vote leaves). */
  markRejoined(): MaybePromise<void>;
  /** Where the readable copy of the store goes (for diagnostics). */
  readonly replicaFile: string;
  /** Slots kept in the log behind a snapshot, for followers that are a little behind. */
  readonly keepSlots: number;
  /** Bytes of the log now (for the snapshot rule and the daemon's report). */
  readonly logBytes: number;
  /** Whether a snapshot is due with `applied` slots applied (snapshotDue). */
  shouldSnapshot(applied: number): boolean;
  /**
   * Save `view` (the store's, frozen; the store owns and closes it) as the
   * snapshot at its index, then the replica file. Resolves once the
   * snapshot is durable: then the log may be checkpointed.
   */
  writeSnapshot(view: KvView): MaybePromise<void>;
  /**
   * Rewrite the log as `live()` (the core's records still needed) once the
   * snapshot at `index` is durable; nothing if a later one was checkpointed
   * meanwhile (a snapshot installed from the leader).
   */
  checkpoint(index: number, live: () => LogRecord[]): MaybePromise<void>;
  /** Write the readable copy of the store from `view`, then close the view. */
  writeReplicaFile(view: KvView): MaybePromise<void>;
  close(): MaybePromise<void>;
}

/** Whether appending `records` after `unsynced` others must sync now (one home for the group-commit rule). */
export function mustSyncNow(records: readonly LogRecord[], unsynced: number): boolean {
  // A follower catching up writes only chosen-only records: write them out now and then.
  return mustSync(records) || unsynced + records.length >= MAX_UNSYNCED_RECORDS;
}

/** Whether a snapshot is due: `every` slots since the last, or a long log with anything new. */
export function snapshotDue(applied: number, lastSnapshot: number, every: number, logBytes: number): boolean {
  return applied - lastSnapshot >= every || (logBytes >= SNAPSHOT_LOG_BYTES && applied > lastSnapshot);
}

/** Slots kept in the log behind a snapshot taken every `every` slots. */
export function keepSlotsFor(every: number): number {
  return Math.max(1, Math.floor(every / 10));
}

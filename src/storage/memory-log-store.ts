// A replica's log store in memory (the LogStore of log-store.ts), for the
// simulator and the tests: the same rules as the file version, with every
// call answered at once, on a MemoryDisk that outlives the store as a real
// disk outlives its process, and that can have the faults a real one has:
//   - a crash loses what was appended but not synced (MemoryDisk.crash);
//   - a wiped disk holds nothing, not even its identity (wipe);
//   - a corrupt record: the log keeps the records before it, as Wal.open's
//     salvage does (cutLog), and a damaged snapshot is skipped (dropSnapshot);
//     either way, as in the file version, the next open forgets the
//     identity, and the replica recovers before it votes.
// A torn final write is a crash before a sync. Hooks (DiskHooks) let the
// simulator crash a replica in the middle of a batch and watch what
// becomes durable.

import { replay, type LogRecord } from '../log/types.js';
import { KvBuilder } from '../sm/kv-builder.js';
import { KvStore, type KvOptions, type KvView } from '../sm/kv.js';
import { mustSyncNow, snapshotDue, type LogStore, type Opened } from './log-store.js';

export interface DiskHooks {
  /** Before a batch's records are made durable: may throw to crash there (nothing of it is durable). */
  beforeSync?(): void;
  /** After (records durable, nothing sent yet): may throw to crash there. */
  afterSync?(): void;
  /** Records just made durable. */
  synced?(records: readonly LogRecord[]): void;
  /** A snapshot saved: its index and lines (replicas' snapshots at one index must agree). */
  snapshotSaved?(index: number, lines: readonly string[]): void;
}

/** What survives a crash, and what the faults damage. */
export class MemoryDisk {
  /** Durable records, in order. */
  records: LogRecord[] = [];
  /** Appended but not yet synced: lost in a crash. */
  unsynced: LogRecord[] = [];
  snapshot: { readonly index: number; readonly lines: readonly string[] } | null = null;
  /** The identity: this disk may vote. A new disk has none, and recovers first. */
  member = false;
  /** Damage found by the next open (why it must recover), or null. */
  damaged: string | null = null;
  hooks: DiskHooks = {};

  sync(): void {
    const done = this.unsynced;
    this.unsynced = [];
    this.records.push(...done);
    this.hooks.synced?.(done);
  }

  /** The process died: what was not synced is gone. */
  crash(): void {
    this.unsynced = [];
  }

  wipe(): void {
    this.records = [];
    this.unsynced = [];
    this.snapshot = null;
    this.member = false;
    this.damaged = null;
  }

  /** A corrupt record at `keep`: the records before it are kept. False if there is no record to damage. */
  cutLog(keep: number): boolean {
    if (this.records.length === 0) return false;
    this.records = this.records.slice(0, keep);
    this.damaged = 'a corrupt record in the log';
    return true;
  }

  /** The snapshot is damaged: it is skipped (none is left). False if there is none. */
  dropSnapshot(): boolean {
    if (this.snapshot === null) return false;
    this.snapshot = null;
    this.damaged = 'a damaged snapshot';
    return true;
  }
}

export interface MemoryLogStoreOptions {
  readonly snapshotEvery: number;
  readonly keepSlots: number;
  readonly kvOptions?: KvOptions;
  /** Broken on purpose (negative controls): a disk without its identity votes at once. */
  readonly ignoreIdentity?: boolean;
  /** Broken on purpose: damage is taken for a torn tail, and the disk keeps its identity. */
  readonly corruptAsTorn?: boolean;
}

export class MemoryLogStore implements LogStore {
  readonly replicaFile = '(memory)';
  lastSnapshot = 0;
  private lastCheckpoint = 0;
  readonly keepSlots: number;
  /** Not counted: the size rule of snapshotDue never fires here. */
  readonly logBytes = 0;

  constructor(
    readonly disk: MemoryDisk,
    private readonly o: MemoryLogStoreOptions,
  ) {
    this.keepSlots = o.keepSlots;
  }

  open(): Opened {
    const d = this.disk;
    d.unsynced = [];
    const damage = d.damaged;
    d.damaged = null;
    if (damage !== null && this.o.corruptAsTorn !== true) d.member = false;
    const empty = d.records.length === 0 && d.snapshot === null && damage === null;
    const kv =
      d.snapshot === null ? new KvStore(this.o.kvOptions) : KvBuilder.fromLines(d.snapshot.lines, this.o.kvOptions);
    this.lastSnapshot = this.lastCheckpoint = kv.appliedIndex;
    let recover = d.member ? null : (damage ?? (empty ? 'a new or wiped disk' : 'no identity'));
    if (this.o.ignoreIdentity === true) recover = null;
    if (recover === null) d.member = true;
    return { recovered: replay(d.records, kv.appliedIndex), kv, recover, empty };
  }

  persist(records: readonly LogRecord[]): void {
    const d = this.disk;
    d.hooks.beforeSync?.();
    const now = mustSyncNow(records, d.unsynced.length);
    d.unsynced.push(...records);
    if (now) d.sync();
    d.hooks.afterSync?.();
  }

  syncAll(): void {
    this.disk.sync();
  }

  markRejoined(): void {
    this.disk.member = true;
  }

  shouldSnapshot(applied: number): boolean {
    return snapshotDue(applied, this.lastSnapshot, this.o.snapshotEvery, this.logBytes);
  }

  writeSnapshot(view: KvView): void {
    const lines = [...view.lines()];
    view.close();
    this.lastSnapshot = view.applied;
    this.disk.snapshot = { index: view.applied, lines };
    this.disk.hooks.snapshotSaved?.(view.applied, lines);
  }

  checkpoint(index: number, live: () => LogRecord[]): void {
    if (index < this.lastCheckpoint) return;
    this.lastCheckpoint = index;
    // The live records, then what was appended after them, all durable.
    const d = this.disk;
    d.records = [...live(), ...d.unsynced];
    d.unsynced = [];
  }

  writeReplicaFile(view: KvView): void {
    view.close();
  }

  close(): void {}
}

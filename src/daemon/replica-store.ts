// A replica's disk: the write-ahead log of the core's records, snapshots of
// the key-value store, and the readable replica file.
//
//   DATA_DIR/log/0000000000000001.wal   records (promises, votes, chosen slots), CRC per record
//   DATA_DIR/snapshots/snapshot-N.snap  the store after applying slot N (newest two kept)
//   DATA_DIR/store.jsonl                the store as text, one {"key":..,"value":..} per line
//
// Recovery: the newest valid snapshot, then every record of the log replayed
// on top (replay() skips slots the snapshot covers). A torn tail of the last
// segment is cut off; damage anywhere else stops the replica with an error
// that names the file, because starting empty could break its promises.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { mustSync, replay, type LogRecord, type Recovered } from '../log/types.js';
import { KvBuilder, KvStore, type KvOptions, type KvView } from '../sm/kv.js';
import { writeAtomically } from '../storage/atomic.js';
import { DirLock, StateError } from '../storage/lock.js';
import { loadLatestSnapshot, pruneSnapshots, saveSnapshot, snapshotLines } from '../storage/snapshot.js';
import { Wal } from '../storage/wal.js';
import type { Logger } from '../util/logger.js';

/**
 * Snapshot after this many slots applied since the last one (--snapshot-every),
 * or when the log passes SNAPSHOT_LOG_BYTES, whichever comes first. Then the
 * log keeps a tenth as many chosen slots behind the snapshot, and at most
 * KEEP_LOG_BYTES of them, so a follower that fell a little behind catches up
 * from the log; one further behind gets the snapshot. The log's values are
 * also held in memory, so these bound a replica's memory under load: at 64
 * MiB a loaded replica's RSS swung between 125 and 230 MiB, at 16 MiB (with
 * 4 MiB kept) it peaked at 176 MiB, at 4 MiB (1 MiB kept) at 137 MiB, in 60 s
 * at 64 clients. A snapshot of the bench's 1,000 keys takes a few ms.
 */
export const SNAPSHOT_EVERY_SLOTS = 10_000;
export const SNAPSHOT_LOG_BYTES = 4 * 1024 * 1024;
export const KEEP_LOG_BYTES = 1024 * 1024;
/** Most records appended without a sync (see persist). */
const MAX_UNSYNCED_RECORDS = 1024;

export interface Opened {
  readonly recovered: Recovered;
  readonly kv: KvStore;
}

export class ReplicaStore {
  readonly logDir: string;
  readonly snapDir: string;
  readonly replicaFile: string;
  private wal: Wal<LogRecord> | null = null;
  private readonly lock: DirLock;
  /** The applied index of the last snapshot taken or installed (set when its view is taken). */
  lastSnapshot = 0;
  /** The index the log was last checkpointed at. */
  private lastCheckpoint = 0;
  /** Snapshot and replica files are written one at a time, in this chain. */
  private writing: Promise<void> = Promise.resolve();
  /** Records appended since the last sync. */
  private unsynced = 0;

  /** Slots kept in the log behind a snapshot, for followers that are a little behind. */
  readonly keepSlots: number;

  constructor(
    readonly dir: string,
    private readonly log: Logger,
    replicaFile?: string,
    readonly snapshotEvery = SNAPSHOT_EVERY_SLOTS,
    /** How to build the store (quota, sessions): the same on every replica. */
    readonly kvOptions: KvOptions = {},
  ) {
    this.keepSlots = Math.max(1, Math.floor(snapshotEvery / 10));
    this.logDir = path.join(dir, 'log');
    this.snapDir = path.join(dir, 'snapshots');
    this.replicaFile = replicaFile ?? path.join(dir, 'store.jsonl');
    this.lock = new DirLock(dir);
  }

  async open(): Promise<Opened> {
    await mkdir(this.dir, { recursive: true });
    await this.lock.take();
    const { snapshot, skipped } = await loadLatestSnapshot(this.snapDir);
    for (const s of skipped) this.log.warn(`skipping snapshot ${s}`);
    let kv = new KvStore(this.kvOptions);
    if (snapshot !== null) {
      try {
        // Line by line: a snapshot of any size, never one string.
        kv = KvBuilder.fromLines(snapshotLines(snapshot), this.kvOptions);
        if (kv.appliedIndex !== snapshot.index) throw new Error(`it holds a store at slot ${kv.appliedIndex}`);
      } catch (err) {
        throw new StateError(`snapshot ${snapshot.index} in ${this.snapDir} cannot be restored (${(err as Error).message}); move it aside to fall back to an older one`);
      }
      this.lastSnapshot = snapshot.index;
      this.lastCheckpoint = snapshot.index;
    }
    const { wal, records, truncatedBytes } = await Wal.open<LogRecord>(this.logDir);
    if (truncatedBytes > 0) this.log.warn(`${this.logDir}: cut off a torn tail of ${truncatedBytes} bytes (a crash mid-write); every synced record is kept`);
    this.wal = wal;
    return { recovered: replay(records, kv.appliedIndex), kv };
  }

  /**
   * Append, and make durable (one write and one fsync for the whole batch)
   * unless the records only say what is chosen (mustSync): those ride along
   * with the next fsync.
   */
  async persist(records: readonly LogRecord[]): Promise<void> {
    const wal = this.need();
    for (const r of records) wal.append(r);
    this.unsynced += records.length;
    // A follower catching up writes only such records: write them out now and then.
    if (mustSync(records) || this.unsynced >= MAX_UNSYNCED_RECORDS) {
      this.unsynced = 0;
      await wal.sync();
    }
  }

  get logBytes(): number {
    return this.wal?.bytes ?? 0;
  }

  shouldSnapshot(applied: number): boolean {
    return applied - this.lastSnapshot >= this.snapshotEvery || (this.logBytes >= SNAPSHOT_LOG_BYTES && applied > this.lastSnapshot);
  }

  /**
   * Save `view` as the snapshot at its index, then drop older snapshots; the
   * replica file follows. Writes stream from the view, which is frozen, so
   * the store goes on meanwhile; they run one at a time. Resolves once the
   * snapshot is durable (the replica file may still be being written): then
   * the log may be checkpointed (checkpoint).
   */
  writeSnapshot(view: KvView): Promise<void> {
    // The view is ours now: closed once the replica file is written from it too.
    const saved = this.chain(async () => {
      const t0 = performance.now();
      await saveSnapshot(this.snapDir, view.applied, view.lines()).catch((err: Error) => {
        view.close();
        throw err;
      });
      await pruneSnapshots(this.snapDir, 2);
      this.log.debug(`snapshot at slot ${view.applied} (${view.keys} keys) written in ${(performance.now() - t0).toFixed(0)} ms`);
    });
    void this.writeReplicaFile(view).catch((err: Error) => this.log.warn(`could not write ${this.replicaFile}: ${err.message}`));
    return saved;
  }

  /**
   * Rewrite the log as `live` (the core's records still needed) once the
   * snapshot at `index` is durable; nothing if a later one was checkpointed
   * meanwhile (a snapshot installed from the leader).
   */
  async checkpoint(index: number, live: () => LogRecord[]): Promise<void> {
    if (index < this.lastCheckpoint) return;
    this.lastCheckpoint = index;
    await this.need().checkpoint(live());
  }

  /** Write the replica file from `view` (in the chain, after any snapshot being written), then close the view. */
  writeReplicaFile(view: KvView): Promise<void> {
    return this.chain(() => writeAtomically(this.replicaFile, view.replicaFileLines()).finally(() => view.close()));
  }

  private chain(job: () => Promise<void>): Promise<void> {
    const run = this.writing.then(job);
    this.writing = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.writing;
    await this.wal?.close();
    this.wal = null;
    await this.lock.release();
  }

  private need(): Wal<LogRecord> {
    if (this.wal === null) throw new Error('replica store used before open()');
    return this.wal;
  }
}

// A replica's log store on disk (the LogStore of log-store.ts): the
// write-ahead log of the core's records, snapshots of the key-value store,
// and the readable replica file.
//
//   DATA_DIR/log/0000000000000001.wal   records (promises, votes, chosen slots), CRC per record
//   DATA_DIR/snapshots/snapshot-N.snap  the store after applying slot N (newest two kept)
//   DATA_DIR/store.jsonl                the store as text, one {"key":..,"value":..} per line
//   DATA_DIR/identity.json              the cluster and member this directory votes for
//
// Restart: the newest valid snapshot, then every record of the log replayed
// on top (replay() skips slots the snapshot covers). A torn tail of the last
// segment (a crash mid-write) is cut off.
//
// Identity: identity.json is written only once the replica may vote: after
// it recovered from the other replicas (src/log/recovery.ts). A directory
// without it is new, wiped, or was damaged, and its replica recovers before
// it votes. Corruption (a bad record in the log, a damaged snapshot) is never
// cut off as if torn: the damaged files are kept aside for inspection. In the
// log, the good records before the damage are kept; a damaged snapshot is
// skipped for the one before it. Either way identity.json is removed
// (durably, before anything else), and the replica recovers: a snapshot
// stands for the votes its log forgot when it was taken. A directory of
// another cluster or member is refused.

import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { encodeRecord } from '../log/encode.js';
import { replay, type LogRecord } from '../log/types.js';
import { checkCommand } from '../sm/command.js';
import { KvBuilder } from '../sm/kv-builder.js';
import { KvStore, type KvOptions, type KvView } from '../sm/kv.js';
import type { Logger } from '../util/logger.js';
import type { MaybePromise } from '../util/maybe.js';
import { writeAtomically } from './atomic.js';
import { syncPath, type FsyncKind } from './fsync.js';
import { DirLock, StateError } from './lock.js';
import { keepSlotsFor, mustSyncNow, snapshotDue, type Identity, type LogStore, type Opened } from './log-store.js';
import { damagedSnapshots, loadLatestSnapshot, pruneSnapshots, saveSnapshot, snapshotLines } from './snapshot.js';
import { Wal } from './wal.js';
import { SNAPSHOT_EVERY_SLOTS } from '../paxos/defaults.js';

/**
 * Zeros kept written ahead of the log's end (WalOptions.zeroAhead): a
 * replica's fdatasync per batch then flushes only the batch. 1 MiB is a few
 * hundred batches at full load; a stretch of zeros costs one fdatasync of
 * its own.
 */
const WAL_ZERO_AHEAD = 1024 * 1024;

/**
 * The log's records as read back, their commands checked: this is an edge
 * (src/sm/command.ts), and what it passes is applied without another look.
 * A record's own shape is the core's to replay; a command that is not valid
 * is why the log cannot be used.
 */
function checkRecords(records: readonly LogRecord[]): LogRecord[] | string {
  const out: LogRecord[] = [];
  for (const [i, r] of records.entries()) {
    if (r.t !== 'v' && r.t !== 'e') {
      out.push(r);
      continue;
    }
    const v: unknown = r.v;
    if (!Array.isArray(v)) return `record ${i + 1} (slot ${r.s}) holds no batch of commands`;
    let batch: unknown[] = v;
    for (const [j, c] of v.entries()) {
      const d = checkCommand(c);
      if (!d.ok) return `record ${i + 1} (slot ${r.s}) holds an invalid command: ${d.why}`;
      if (d.value === c) continue;
      if (batch === v) batch = [...v];
      batch[j] = d.value; // in another key order: the canonical one, as every replica has it
    }
    out.push(batch === v ? r : { ...r, v: batch });
  }
  return out;
}

export class FileLogStore implements LogStore {
  readonly logDir: string;
  readonly snapDir: string;
  readonly replicaFile: string;
  readonly identityFile: string;
  private identity: Identity | null = null;
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
  /**
   * Called with each fsync's duration, in seconds, and what it made durable (set before open: the daemon's
   * metrics): the write-ahead log's group-commit fdatasyncs ('wal'); a snapshot's file and directory, and the
   * replica file's written from the same view ('snapshot').
   */
  onFsync: ((seconds: number, kind: FsyncKind) => void) | undefined;

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
    this.keepSlots = keepSlotsFor(snapshotEvery);
    this.logDir = path.join(dir, 'log');
    this.snapDir = path.join(dir, 'snapshots');
    this.replicaFile = replicaFile ?? path.join(dir, 'store.jsonl');
    this.identityFile = path.join(dir, 'identity.json');
    this.lock = new DirLock(dir);
  }

  /**
   * Make `dir`, new or empty, the data directory of a replica whose store
   * is `view`'s (a restored backup): its snapshot alone, no log and no
   * identity, so the replica recovers like any new one before it votes
   * (docs/recovery.md). Throws StateError if `dir` is not empty.
   */
  static async seed(dir: string, view: KvView): Promise<void> {
    let names: string[] = [];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (names.length > 0)
      throw new StateError(
        `${dir} is not empty (it holds ${names.slice(0, 3).join(', ')}); a restore makes a new data directory: ` +
          `give an empty one`,
      );
    await saveSnapshot(path.join(dir, 'snapshots'), view.applied, view.lines());
  }

  async open(identity: Identity): Promise<Opened> {
    await mkdir(this.dir, { recursive: true });
    await this.lock.take();
    this.identity = identity;
    let had = await this.readIdentity(identity);
    // Damage is found before anything repairs it (moves a snapshot aside,
    // rewrites the log), and identity.json goes first: a crash during the
    // repair must not leave a directory that looks sound and votes.
    if (had && ((await Wal.inspect(this.logDir)) !== null || (await damagedSnapshots(this.snapDir)).length > 0)) {
      await this.forgetIdentity();
      had = false;
    }
    const { snapshot, skipped } = await loadLatestSnapshot(this.snapDir);
    for (const s of skipped) this.log.warn(`damaged snapshot ${s}`);
    let kv = new KvStore(this.kvOptions);
    if (snapshot !== null) {
      try {
        // Line by line: a snapshot of any size, never one string.
        kv = KvBuilder.fromLines(snapshotLines(snapshot), this.kvOptions);
        if (kv.appliedIndex !== snapshot.index) throw new Error(`it holds a store at slot ${kv.appliedIndex}`);
      } catch (err) {
        // It passed its checksum, so this is a bug or a foreign file; either way the log forgot what it covers.
        if (had) await this.forgetIdentity();
        throw new StateError(
          `snapshot ${snapshot.index} in ${this.snapDir} cannot be restored (${(err as Error).message}); move ` +
            `it aside, and the replica will recover from the others on its next start`,
        );
      }
      this.lastSnapshot = snapshot.index;
      this.lastCheckpoint = snapshot.index;
    }
    const { wal, records, truncatedBytes, damage } = await Wal.open<LogRecord>(this.logDir, {
      onCorruption: 'salvage',
      encode: encodeRecord,
      zeroAhead: WAL_ZERO_AHEAD,
      onFsync: (seconds) => this.onFsync?.(seconds, 'wal'),
    });
    if (truncatedBytes > 0)
      this.log.warn(
        `${this.logDir}: cut off a torn tail of ${truncatedBytes} bytes (a crash mid-write); every synced ` +
          `record is kept`,
      );
    if (damage !== null) {
      this.log.warn(
        `${damage.file}: ${damage.reason} at byte ${damage.offset}: the log is corrupt; kept the ` +
          `${damage.recordsKept} records before it, and the damaged files in ${damage.keptAs}`,
      );
    }
    this.wal = wal;
    const checked = checkRecords(records);
    if (typeof checked === 'string') {
      // It passed its checksum, so this is a bug or a foreign file, as for a snapshot above.
      if (had) await this.forgetIdentity();
      throw new StateError(
        `${this.logDir}: ${checked}; not a log this program wrote (or a bug): move the log aside, and the ` +
          `replica will recover from the others on its next start`,
      );
    }
    const empty = snapshot === null && skipped.length === 0 && records.length === 0 && damage === null;
    let recover: string | null = null;
    // A replica that voted has at least its promise in its log (recovery writes one), so an
    // empty one beside identity.json is a lost log (a wiped mount, a deleted directory).
    const lostLog = had && empty;
    if (lostLog) {
      await this.forgetIdentity();
      had = false;
      recover = `an empty log beside ${path.basename(this.identityFile)} (the log was lost)`;
    }
    // Lost log records may have been promises or votes. A damaged snapshot
    // too loses votes: once a snapshot is saved the log forgets the votes it
    // covers, and reports them as compacted (its base); falling back to an
    // older snapshot would report them as never cast.
    if (damage !== null || skipped.length > 0) {
      recover = damage !== null ? `a corrupt record in ${damage.file}` : `a damaged snapshot in ${this.snapDir}`;
      // Durably forget that this directory may vote, before anything else:
      // a crash during recovery must not come back as a voting member.
      if (had) await this.forgetIdentity();
    } else if (!had && recover === null) {
      recover = empty
        ? 'a new or wiped data directory'
        : `no ${path.basename(this.identityFile)} (recovery did not finish, or the directory predates it)`;
    }
    return { recovered: replay(checked, kv.appliedIndex), kv, recover, empty: empty && !lostLog };
  }

  /** Whether identity.json names `want`; a directory of another cluster or member is refused. */
  /**
   * The member id identity.json names for host `host`, or null (no file, not
   * JSON, another host): how a member added later (--join) finds its id
   * again on a restart, with no word from the others.
   */
  async storedMember(host: string): Promise<number | null> {
    try {
      const o = JSON.parse(await readFile(this.identityFile, 'utf8')) as Partial<Identity>;
      return o.host === host && Number.isSafeInteger(o.member) ? (o.member as number) : null;
    } catch {
      return null;
    }
  }

  private async readIdentity(want: Identity): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(this.identityFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    let got: Partial<Identity>;
    try {
      got = JSON.parse(text) as Partial<Identity>;
    } catch {
      // Written atomically, so a bad one is damage: recover rather than trust it.
      this.log.warn(`${this.identityFile} is not JSON; treating this directory as one that must recover`);
      return false;
    }
    if (got.cluster !== want.cluster || got.member !== want.member) {
      throw new StateError(
        `${this.dir} belongs to member ${String(got.member)} (${String(got.host)}) of cluster ` +
          `${String(got.cluster)}, not to member ${want.member} (${want.host}) of this hostsfile's cluster ` +
          `${want.cluster}; give --data-dir this replica's own directory (a cluster is named by its ` +
          `hostsfile's replica names, in order)`,
      );
    }
    return true;
  }

  /** This replica has recovered: from now on it votes as this member (durable before any vote leaves). */
  async markRejoined(): Promise<void> {
    const id = this.identity;
    if (id === null) throw new Error('replica store used before open()');
    await writeAtomically(this.identityFile, `${JSON.stringify({ ...id, since: new Date().toISOString() })}\n`);
  }

  private async forgetIdentity(): Promise<void> {
    await rm(this.identityFile, { force: true });
    await syncPath(this.dir);
  }

  persist(records: readonly LogRecord[]): MaybePromise<void> {
    const wal = this.need();
    for (const r of records) wal.append(r);
    const now = mustSyncNow(records, this.unsynced);
    this.unsynced += records.length;
    if (!now) return;
    this.unsynced = 0;
    // On this thread, when nothing else is being written (Wal.syncNow): a
    // batch's write and fdatasync without two hand-offs to the thread pool,
    // which on two busy cores cost more CPU than the fdatasync itself. The
    // loop sent the batch's early messages on their way first.
    if (!wal.syncNow()) return wal.sync();
  }

  /** Everything appended so far on disk, chosen-only records included (see persist). */
  async syncAll(): Promise<void> {
    this.unsynced = 0;
    await this.need().sync();
  }

  get logBytes(): number {
    return this.wal?.bytes ?? 0;
  }

  shouldSnapshot(applied: number): boolean {
    return snapshotDue(applied, this.lastSnapshot, this.snapshotEvery, this.logBytes);
  }

  /**
   * Save `view` as the snapshot at its index, then drop older snapshots; the
   * replica file follows. Writes stream from the view, which is frozen, so
   * the store goes on meanwhile; they run one at a time. Resolves once the
   * snapshot is durable (the replica file may still be being written): then
   * the log may be checkpointed (checkpoint).
   */
  writeSnapshot(view: KvView): Promise<void> {
    this.lastSnapshot = view.applied;
    // The view is ours now: closed once the replica file is written from it too.
    const saved = this.chain(async () => {
      const t0 = performance.now();
      await saveSnapshot(this.snapDir, view.applied, view.lines(), { onFsync: this.snapshotFsync }).catch(
        (err: Error) => {
          view.close();
          throw err;
        },
      );
      await pruneSnapshots(this.snapDir, 2);
      this.log.debug(
        `snapshot at slot ${view.applied} (${view.keys} keys) written in ${(performance.now() - t0).toFixed(0)} ms`,
      );
    });
    void this.writeReplicaFile(view).catch((err: Error) =>
      this.log.warn(`could not write ${this.replicaFile}: ${err.message}`),
    );
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
    return this.chain(() =>
      writeAtomically(this.replicaFile, view.replicaFileLines(), { onFsync: this.snapshotFsync }).finally(() =>
        view.close(),
      ),
    );
  }

  private readonly snapshotFsync = (seconds: number): void => this.onFsync?.(seconds, 'snapshot');

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

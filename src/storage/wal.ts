// An append-only, segmented write-ahead log of JSON records.
//
// Records go into segment files of checksummed frames (wal-segments.ts); a
// new segment starts once the current one would pass `segmentBytes`.
//
// Group commit: append() only buffers; sync() writes everything buffered
// with one write and one fdatasync. A sync() called while another write is
// under way waits for it and then does one more covering everything appended
// meanwhile, so any number of callers share two fsyncs at most.
//
// How a log is read back, and what is a torn write rather than damage, is
// in wal-segments.ts.
//
// Compaction: checkpoint(records) writes a new segment that starts with a
// marker frame and holds the live state up to an end marker, makes it
// durable, and only then deletes the older segments. On open, the newest
// complete checkpoint makes everything before it obsolete; a checkpoint
// without its end marker is a crash mid-checkpoint when it is the newest
// segment, cut short as a torn write is, and the segment before it is still
// there: it is deleted, and the older segments, all still there, hold the
// state.

import { fdatasyncSync, fstatSync } from 'node:fs';
import { copyFile, mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { newDamagedDir } from './damaged.js';
import { syncPath } from './fsync.js';
import { writeAll, writeAllSync, zeros } from './wal-io.js';
import {
  BEGIN,
  END,
  check,
  frame,
  readLog,
  recordFrame,
  segName,
  segmentSeqs,
  type Checked,
  type WalDamageSite,
} from './wal-segments.js';

export type { WalDamageSite };
import { StateError } from './lock.js';

/** What open() does with a damaged log (anything but a torn tail); see the header. */
export type OnCorruption = 'refuse' | 'salvage';

export interface WalOptions<R = unknown> {
  /** Start a new segment once the current one would pass this size (default 16 MiB). */
  readonly segmentBytes?: number;
  /** fdatasync on sync() and checkpoint() (default true; false only for tests and benchmarks). */
  readonly fsync?: boolean;
  /** Called once per group-commit write, after its fdatasync (tests count them). */
  readonly onSync?: () => void;
  /** Called with each group-commit fdatasync's duration, in seconds (a replica's /metrics). */
  readonly onFsync?: (seconds: number) => void;
  /**
   * 'refuse' (the default): throw WalDamageError and change nothing.
   * 'salvage': keep the damaged segments aside and go on with the records before the damage.
   */
  readonly onCorruption?: OnCorruption;
  /** A record's JSON (default JSON.stringify): an owner that has its values' text already can reuse it. */
  readonly encode?: (record: R) => string;
  /**
   * Keep this many bytes of zeros written ahead of the log's end in its
   * segment (default 0: off). An fdatasync then only has data to flush, not
   * the file's new size and blocks: on ext4 under three writers, 0.16 ms
   * instead of 0.36 (PostgreSQL zero-fills its WAL files for the same
   * reason). Each stretch is written and fdatasynced once half the zeros
   * ahead are used up. open() keeps a tail of zeros rather than cut it off,
   * and a segment is cut back to its records before the next one starts.
   */
  readonly zeroAhead?: number;
}

/** What a salvage found and did. */
export interface WalDamage extends WalDamageSite {
  /** The directory `<dir>.damaged-<UTC time>` holding copies of the damaged segment and every later one. */
  readonly keptAs: string;
  /** How many records were kept: those before the damage, which open() returns. */
  readonly recordsKept: number;
}

export interface WalOpened<R> {
  readonly wal: Wal<R>;
  readonly records: R[];
  /** Bytes of a torn tail cut off (a crash mid-write); 0 if none. */
  readonly truncatedBytes: number;
  /** Set only by a salvage; null when the log was sound. */
  readonly damage: WalDamage | null;
}

/** open() found damage and, as told to ('refuse'), changed nothing. */
export class WalDamageError extends StateError {
  constructor(
    readonly dir: string,
    readonly site: WalDamageSite,
  ) {
    super(
      `${site.file}, byte ${site.offset}: ${site.reason}; the log in ${dir} is damaged, not torn by a crash, ` +
        `and was left as it is: keep it for inspection`,
    );
  }
}

const ignore = (): void => undefined;

export class Wal<R> {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  /** The last write or checkpoint queued: they run one at a time, in call order. */
  private tail: Promise<void> = Promise.resolve();
  /** Operations queued or under way; none means the disk has all but `buffered`. */
  private pending = 0;
  /**
   * A flush queued but not started: a sync() joins it, as it will take
   * everything appended so far. `seal` makes it take only what is buffered
   * now (a checkpoint queued after it must not erase later appends).
   */
  private nextFlush: { readonly promise: Promise<void>; readonly seal: () => void } | null = null;
  /** After a failed write the file's tail is unknown: nothing more may be appended behind it. */
  private failed: Error | null = null;
  private closed = false;
  /** The current segment's size on disk: `offset`, or beyond it once zeros are written ahead. */
  private zeroedTo: number;

  private constructor(
    readonly dir: string,
    private handle: FileHandle,
    private seq: number,
    /** Bytes in the current segment. */
    private offset: number,
    /** Bytes in the live segments before the current one. */
    private olderBytes: number,
    private readonly opts: {
      readonly segmentBytes: number;
      readonly fsync: boolean;
      readonly onSync: (() => void) | undefined;
      readonly onFsync: ((seconds: number) => void) | undefined;
      readonly encode: (record: R) => string;
      readonly zeroAhead: number;
    },
  ) {
    this.zeroedTo = fstatSync(handle.fd).size;
  }

  /**
   * The log's first damage, if any, changing nothing (a torn tail is not
   * damage; a missing directory is an empty log). A caller that must record
   * the damage before anything repairs it (a replica's identity file) asks
   * this before open().
   */
  static async inspect(dir: string): Promise<WalDamageSite | null> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const damage = check(dir, (await readLog(dir, segmentSeqs(names))).live).damage;
    return damage === null ? null : { file: damage.file, offset: damage.offset, reason: damage.reason };
  }

  static async open<R>(dir: string, options: WalOptions<R> = {}): Promise<WalOpened<R>> {
    const opts = {
      segmentBytes: options.segmentBytes ?? 16 * 1024 * 1024,
      fsync: options.fsync ?? true,
      onSync: options.onSync,
      onFsync: options.onFsync,
      encode: options.encode ?? ((record: R): string => JSON.stringify(record)),
      zeroAhead: options.zeroAhead ?? 0,
    };
    await mkdir(dir, { recursive: true });
    const seqs = segmentSeqs(await readdir(dir));

    const { live, obsolete, abandoned } = await readLog(dir, seqs);
    const checked = check(dir, live);
    if (checked.damage !== null) {
      const { seq, ...site } = checked.damage;
      if ((options.onCorruption ?? 'refuse') === 'refuse') throw new WalDamageError(dir, site);
      return Wal.salvage<R>(dir, seqs, seq, site, checked, opts);
    }

    // Sound: now clear away what a crash left behind.
    let dirChanged = false;
    for (const s of [...obsolete, ...(abandoned === null ? [] : [abandoned.seq])]) {
      await rm(path.join(dir, segName(s)), { force: true });
      dirChanged = true;
    }
    let truncatedBytes = 0;
    const tail = live.at(-1);
    // Zeros written ahead are kept for the writes to come.
    if (tail !== undefined && tail.bad !== null && !(tail.bad.zeros && opts.zeroAhead > 0)) {
      // The torn tail: records in it were never confirmed.
      const fh = await open(tail.file, 'r+');
      try {
        truncatedBytes = (await fh.stat()).size - tail.end;
        await fh.truncate(tail.end);
        if (opts.fsync) await fh.sync();
      } finally {
        await fh.close();
      }
    }
    let olderBytes = 0;
    for (const seg of live.slice(0, -1)) olderBytes += seg.end;

    const seq = tail?.seq ?? 1;
    // Written at `offset`, not appended: zeros may follow it.
    const handle = await open(path.join(dir, segName(seq)), tail === undefined ? 'w+' : 'r+');
    if (tail === undefined) dirChanged = true;
    if (dirChanged && opts.fsync) await syncPath(dir);
    return {
      wal: new Wal<R>(dir, handle, seq, tail?.end ?? 0, olderBytes, opts),
      records: checked.records as R[],
      truncatedBytes,
      damage: null,
    };
  }

  /**
   * Keep copies of every segment in a new `<dir>.damaged-<time>` directory
   * (all of them: older ones may still be the log, e.g. behind a checkpoint
   * that a crash cut short in a way that reads as damage), then replace the
   * log by a checkpoint of the records before the damage, in a segment
   * after all the others.
   */
  private static async salvage<R>(
    dir: string,
    seqs: readonly number[],
    from: number,
    site: WalDamageSite,
    kept: Checked,
    opts: Wal<R>['opts'],
  ): Promise<WalOpened<R>> {
    const keptAs = await newDamagedDir(dir);
    for (const s of seqs) {
      await copyFile(path.join(dir, segName(s)), path.join(keptAs, segName(s)));
      if (opts.fsync) await syncPath(path.join(keptAs, segName(s)));
    }
    if (opts.fsync) {
      await syncPath(keptAs);
      await syncPath(path.dirname(keptAs));
    }
    const seq = (seqs.at(-1) ?? 0) + 1;
    const data = Buffer.concat([frame(BEGIN), ...kept.payloads.map(frame), frame(END)]);
    const handle = await open(path.join(dir, segName(seq)), 'wx');
    try {
      await writeAll(handle, data);
      if (opts.fsync) {
        await handle.datasync();
        await syncPath(dir);
      }
      // Durable: the checkpoint makes every older segment obsolete.
      for (const s of seqs) await rm(path.join(dir, segName(s)), { force: true });
      if (opts.fsync) await syncPath(dir);
    } catch (err) {
      await handle.close().catch(ignore);
      throw err;
    }
    return {
      wal: new Wal<R>(dir, handle, seq, data.length, 0, opts),
      records: kept.records as R[],
      truncatedBytes: 0,
      damage: { ...site, keptAs, recordsKept: kept.records.length },
    };
  }

  /** Buffer a record; nothing is written until sync(). */
  append(record: R): void {
    if (this.closed) throw new Error(`${this.dir}: append after close`);
    if (this.failed !== null) throw this.failed;
    const f = recordFrame(this.dir, this.opts.encode(record));
    this.buffered.push(f);
    this.bufferedBytes += f.length;
  }

  /** Bytes in the live segments on disk (what compaction would reclaim). */
  get bytes(): number {
    return this.olderBytes + this.offset;
  }

  /** Resolves once every record appended before the call is on disk. */
  sync(): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed);
    if (this.nextFlush !== null) return this.nextFlush.promise;
    if (this.pending === 0 && this.bufferedBytes === 0) return Promise.resolve();
    // Queued behind whatever is under way (even with nothing buffered: an
    // earlier record may be written but not yet fsynced); every sync() called
    // before it starts shares it.
    let sealed: Buffer[] | null = null;
    const promise = this.enqueue(() => {
      this.nextFlush = null;
      return this.flush(sealed ?? this.take());
    });
    this.nextFlush = { promise, seal: () => (sealed = this.take()) };
    return promise;
  }

  /**
   * sync(), done on this thread: write and fdatasync everything buffered,
   * blocking the event loop meanwhile. For a few hundred bytes that is
   * cheaper than sync()'s two thread-pool round trips (each a wake-up of
   * another thread, which on two cores is most of a save's cost). Returns
   * false, having done nothing, if an operation is queued or under way, or
   * the write would start a new segment: then call sync().
   */
  syncNow(): boolean {
    if (this.closed) throw new Error(`${this.dir}: syncNow after close`);
    if (this.failed !== null) throw this.failed;
    if (this.pending > 0) return false;
    if (this.bufferedBytes === 0) return true;
    if (this.offset > 0 && this.offset + this.bufferedBytes > this.opts.segmentBytes) return false;
    const data = Buffer.concat(this.take());
    try {
      this.write(data);
      if (this.opts.fsync) {
        const t0 = performance.now();
        fdatasyncSync(this.handle.fd);
        this.opts.onFsync?.((performance.now() - t0) / 1000);
      }
    } catch (err) {
      throw this.fail(err);
    }
    this.opts.onSync?.();
    return true;
  }

  /** A write failed: from now on every operation fails with this error. */
  private fail(err: unknown): Error {
    this.failed ??= new StateError(
      `${path.join(this.dir, segName(this.seq))}: write failed (${(err as Error).message}); the log's tail is ` +
        `unknown, so this replica must stop — restart it to recover from what is on disk`,
      { cause: err },
    );
    return this.failed;
  }

  /** Everything buffered, which the caller is now to write. */
  private take(): Buffer[] {
    const chunks = this.buffered;
    this.buffered = [];
    this.bufferedBytes = 0;
    return chunks;
  }

  /** Run `op` after every operation queued before it; if one fails, so does every later one. */
  private enqueue(op: () => Promise<void>): Promise<void> {
    this.pending += 1;
    const p = this.tail
      .then(() => {
        if (this.failed !== null) throw this.failed;
        return op();
      })
      .catch((err: unknown) => {
        throw this.fail(err);
      })
      .finally(() => {
        this.pending -= 1;
        if (this.nextFlush?.promise === p) this.nextFlush = null;
      });
    this.tail = p.catch(ignore);
    return p;
  }

  private async flush(chunks: Buffer[]): Promise<void> {
    if (chunks.length === 0) return;
    const data = Buffer.concat(chunks);
    if (this.offset > 0 && this.offset + data.length > this.opts.segmentBytes) await this.roll();
    // The write only copies into the page cache: done on this thread it costs
    // microseconds, where the thread pool costs a round trip (two wake-ups).
    // The fdatasync waits on the disk, so it goes to the pool, and the node
    // goes on meanwhile.
    this.write(data);
    if (this.opts.fsync) {
      const t0 = performance.now();
      await this.handle.datasync();
      this.opts.onFsync?.((performance.now() - t0) / 1000);
    }
    this.opts.onSync?.();
  }

  /** Write `data` at the log's end, on this thread, and zero ahead of it when it is time to. */
  private write(data: Buffer): void {
    writeAllSync(this.handle.fd, data, this.offset);
    this.offset += data.length;
    this.zeroedTo = Math.max(this.zeroedTo, this.offset);
    const ahead = this.opts.zeroAhead;
    // Half the distance left: zero the next stretch, and make it durable now,
    // on this thread. Not on the thread pool beside the records' own syncs:
    // Linux reports a write-back error to one fdatasync of a file, and the
    // one that hears it must be the one whose failure stops the log.
    if (ahead === 0 || this.zeroedTo - this.offset >= ahead / 2 || this.zeroedTo >= this.opts.segmentBytes) return;
    const upTo = Math.min(this.offset + ahead, this.opts.segmentBytes);
    writeAllSync(this.handle.fd, zeros(upTo - this.zeroedTo), this.zeroedTo);
    this.zeroedTo = upTo;
    if (this.opts.fsync) fdatasyncSync(this.handle.fd);
  }

  /** Cut the current segment back to its records: only the last segment may end in zeros. */
  private async trimZeros(): Promise<void> {
    if (this.zeroedTo === this.offset) return;
    await this.handle.truncate(this.offset);
    if (this.opts.fsync) await this.handle.datasync();
    this.zeroedTo = this.offset;
  }

  /** Continue in a new, empty segment (the current one is already durable). */
  private async roll(): Promise<void> {
    await this.trimZeros();
    const next = await open(path.join(this.dir, segName(this.seq + 1)), 'wx');
    await this.handle.close();
    this.handle = next;
    this.olderBytes += this.offset;
    this.seq += 1;
    this.offset = 0;
    this.zeroedTo = 0;
    if (this.opts.fsync) await syncPath(this.dir);
  }

  /**
   * Replace the whole log by `records`, the live state as of this call. It
   * runs after the writes queued before it, and syncs called later wait for
   * it. Records appended after this call always survive it; so do records
   * appended before it that no sync() had queued, written after the
   * checkpoint's records (the caller's replay must tolerate seeing one twice
   * if `records` covers it too).
   */
  async checkpoint(records: readonly R[]): Promise<void> {
    if (this.closed) throw new Error(`${this.dir}: checkpoint after close`);
    if (this.failed !== null) throw this.failed;
    const data = Buffer.concat([
      frame(BEGIN),
      ...records.map((r) => recordFrame(this.dir, this.opts.encode(r))),
      frame(END),
    ]);
    // A flush queued before this takes what is buffered now, and no later sync joins it.
    this.nextFlush?.seal();
    this.nextFlush = null;
    let replaced = 0;
    await this.enqueue(async () => {
      replaced = await this.rewrite(data);
    });
    // The older segments go after the writes queued meanwhile, not before them: a crash leaves them
    // behind the checkpoint, obsolete, and open() deletes them.
    for (const seq of segmentSeqs(await readdir(this.dir))) {
      if (seq <= replaced) await rm(path.join(this.dir, segName(seq)), { force: true });
    }
    if (this.opts.fsync) await syncPath(this.dir);
  }

  /** Write the checkpoint as a new segment and continue in it; returns the last segment it replaces. */
  private async rewrite(checkpoint: Buffer): Promise<number> {
    const data = Buffer.concat([checkpoint, ...this.take()]);
    const old = this.seq;
    const next = await open(path.join(this.dir, segName(old + 1)), 'wx');
    try {
      await writeAll(next, data);
      if (this.opts.fsync) {
        await next.datasync();
        await syncPath(this.dir);
      }
    } catch (err) {
      await next.close().catch(ignore);
      throw err;
    }
    // Durable: from here on, open() reads the checkpoint and ignores what is older.
    await this.handle.close();
    this.handle = next;
    this.seq = old + 1;
    this.offset = data.length;
    this.zeroedTo = data.length;
    this.olderBytes = 0;
    return old;
  }

  /** Sync what is buffered, then close; the Wal cannot be used after. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.sync();
    } finally {
      await this.tail;
      await this.handle.close();
    }
  }
}

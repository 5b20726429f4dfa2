// An append-only, segmented write-ahead log of JSON records.
//
// A segment is a file `%016d.wal` of frames: u32 LE payload length, u32 LE
// CRC-32 of the payload, then the payload (UTF-8 JSON, never empty). A new
// segment starts once the current one would pass `segmentBytes`.
//
// Group commit: append() only buffers; sync() writes everything buffered
// with one write and one fdatasync. A sync() called while another write is
// under way waits for it and then does one more covering everything appended
// meanwhile, so any number of callers share two fsyncs at most.
//
// Recovery tells a torn write from damage. Only the last write can be torn
// by a crash, and only records that no sync() confirmed are in it, so only
// this may be cut off: the bytes from the first bad frame of the LAST
// segment to its end, when no frame with a good checksum starts anywhere
// among them (a scan, byte by byte, done only on recovery), and they are
//   - a frame header cut short (fewer than 8 bytes left), or
//   - a frame whose declared length runs past the end of the file, or
//   - zero bytes from somewhere inside that frame to the end of the file (a
//     file that grew before its data blocks were written: all zeros, or a
//     last frame whose payload ends in zeros, which JSON never holds).
// Everything else is damage: a complete frame with a bad checksum (and not
// zero-filled), a bad frame with a good one after it, a bad frame in an
// earlier segment, a missing segment, a checkpoint without its end marker
// that cannot be a crash mid-checkpoint, a good checksum over bytes that are
// not JSON. A corrupted length field can look like a frame running past the
// end; the rule then cuts it off only when nothing valid follows it, and a
// crash mid-write can look like damage (zeros with data after them): the
// rule errs towards refusing, as starting from a shorter log could make a
// replica break promises it made. On damage, open() (onCorruption) either
// refuses, changing nothing, or salvages: it copies the damaged segment and
// every later one to `<dir>.damaged-<UTC time>/`, and rewrites the log as a
// checkpoint of the records before the damage (those after it are dropped).
//
// Compaction: checkpoint(records) writes a new segment that starts with a
// marker frame and holds the live state up to an end marker, makes it
// durable, and only then deletes the older segments. On open, the newest
// complete checkpoint makes everything before it obsolete; a checkpoint
// without its end marker is a crash mid-checkpoint when it is the newest
// segment, cut short as a torn write is, and the segment before it is still
// there: it is deleted, and the older segments, all still there, hold the
// state.

import { fdatasyncSync, writeSync } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from './crc32.js';
import { newDamagedDir, syncPath } from './damaged.js';
import { StateError } from './lock.js';

/** What open() does with a damaged log (anything but a torn tail); see the header. */
export type OnCorruption = 'refuse' | 'salvage';

export interface WalOptions {
  /** Start a new segment once the current one would pass this size (default 16 MiB). */
  readonly segmentBytes?: number;
  /** fdatasync on sync() and checkpoint() (default true; false only for tests and benchmarks). */
  readonly fsync?: boolean;
  /** Called once per group-commit write, after its fdatasync (tests count them). */
  readonly onSync?: () => void;
  /**
   * 'refuse' (the default): throw WalDamageError and change nothing.
   * 'salvage': keep the damaged segments aside and go on with the records before the damage.
   */
  readonly onCorruption?: OnCorruption;
}

/** Where a log is damaged, and how. */
export interface WalDamageSite {
  /** The segment (for a missing one, the path it should have). */
  readonly file: string;
  /** The byte of `file` where the damage starts. */
  readonly offset: number;
  readonly reason: string;
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
    super(`${site.file}, byte ${site.offset}: ${site.reason}; the log in ${dir} is damaged, not torn by a crash, and was left as it is: keep it for inspection`);
  }
}

const HEADER = 8;
const BEGIN = '{"$checkpoint":true}';
const END = '{"$checkpointEnd":true}';
const NAME_RE = /^(\d{16})\.wal$/;

const segName = (seq: number): string => `${String(seq).padStart(16, '0')}.wal`;

/** A record's frame; the markers are reserved, as a record that looked like one would change how the log reads back. */
function recordFrame(dir: string, record: unknown): Buffer {
  const json = JSON.stringify(record);
  if (typeof json !== 'string' || json === BEGIN || json === END) throw new TypeError(`${dir}: cannot log ${String(json)}`);
  return frame(json);
}

function frame(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const buf = Buffer.allocUnsafe(HEADER + body.length);
  buf.writeUInt32LE(body.length, 0);
  buf.writeUInt32LE(crc32(body), 4);
  body.copy(buf, HEADER);
  return buf;
}

interface Segment {
  readonly seq: number;
  readonly file: string;
  readonly payloads: string[];
  /** Where each payload's frame starts. */
  readonly offsets: number[];
  /** Where the valid frames end; the file's size unless `bad`. */
  readonly end: number;
  /** What is wrong at `end`, if anything, and whether it can be a torn write (see the header). */
  readonly bad: { readonly reason: string; readonly torn: boolean } | null;
}

/** Frames of a segment, up to the first one that is cut short or fails its checksum. */
function readFrames(buf: Buffer): Pick<Segment, 'payloads' | 'offsets' | 'end' | 'bad'> {
  const payloads: string[] = [];
  const offsets: number[] = [];
  let off = 0;
  while (off < buf.length) {
    const len = buf.length - off < HEADER ? -1 : buf.readUInt32LE(off);
    // Nothing writes an empty payload.
    if (len <= 0 || buf.length - off - HEADER < len) break;
    const body = buf.subarray(off + HEADER, off + HEADER + len);
    if (crc32(body) !== buf.readUInt32LE(off + 4)) break;
    payloads.push(body.toString('utf8'));
    offsets.push(off);
    off += HEADER + len;
  }
  return { payloads, offsets, end: off, bad: off < buf.length ? badFrame(buf, off) : null };
}

/** What is wrong with the frame at `off`, and whether the bytes from it on can be a torn write. */
function badFrame(buf: Buffer, off: number): { reason: string; torn: boolean } {
  const left = buf.length - off;
  let nonzeroEnd = buf.length;
  while (nonzeroEnd > off && buf[nonzeroEnd - 1] === 0) nonzeroEnd--;
  let reason: string;
  let tornShape: boolean;
  if (left < HEADER) {
    reason = `frame header cut short (${left} of ${HEADER} bytes)`;
    tornShape = true;
  } else {
    const len = buf.readUInt32LE(off);
    // Zeros from inside this frame to the end of the file.
    const zeroed = nonzeroEnd < off + HEADER + len;
    if (nonzeroEnd === off) reason = `only zero bytes from here to the end of the file (${left})`;
    else if (len === 0) reason = 'a frame of length 0';
    else if (left - HEADER < len) reason = `frame declares ${len} bytes, but only ${left - HEADER} follow`;
    else reason = zeroed ? `bad checksum, and zero bytes from byte ${nonzeroEnd} to the end of the file` : 'bad checksum on a complete frame';
    tornShape = zeroed || left - HEADER < len;
  }
  if (!tornShape) return { reason, torn: false };
  const next = nextGoodFrame(buf, off + 1);
  return next === null ? { reason, torn: true } : { reason: `${reason}, yet a valid frame follows at byte ${next}`, torn: false };
}

/** The first offset from `from` on where a complete frame with a good checksum starts, if any. */
function nextGoodFrame(buf: Buffer, from: number): number | null {
  for (let p = from; p + HEADER < buf.length; p++) {
    const len = buf.readUInt32LE(p);
    if (len === 0 || buf.length - p - HEADER < len) continue;
    if (crc32(buf.subarray(p + HEADER, p + HEADER + len)) === buf.readUInt32LE(p + 4)) return p;
  }
  return null;
}

async function readSegment(dir: string, seq: number): Promise<Segment> {
  const file = path.join(dir, segName(seq));
  return { seq, file, ...readFrames(await readFile(file)) };
}

/** The segment numbers among a directory's names, in order. */
function segmentSeqs(names: readonly string[]): number[] {
  return names
    .flatMap((n) => {
      const m = NAME_RE.exec(n);
      return m === null ? [] : [Number(m[1])];
    })
    .sort((a, b) => a - b);
}

/** Which segments hold the log, found newest first, back to the newest complete checkpoint. */
async function readLog(dir: string, seqs: readonly number[]): Promise<{ live: Segment[]; obsolete: number[]; abandoned: Segment | null }> {
  const live: Segment[] = [];
  let abandoned: Segment | null = null;
  for (let i = seqs.length - 1; i >= 0; i--) {
    const seg = await readSegment(dir, seqs[i]!);
    if (seg.payloads[0] === BEGIN) {
      // A crash mid-checkpoint: the newest segment, cut short as a torn write
      // is, and the segments it was to replace still there (they are deleted
      // only once it is durable). The older segments hold the state.
      const crashed = live.length === 0 && abandoned === null && (seg.bad === null || seg.bad.torn) && seqs[i - 1] === seg.seq - 1;
      if (!seg.payloads.includes(END) && crashed) {
        abandoned = seg;
        continue;
      }
      // The log starts here; what is older is obsolete and never read (a
      // crash while deleting it leaves some behind). A missing end marker is
      // damage, found by check().
      live.unshift(seg);
      return { live, obsolete: seqs.slice(0, i), abandoned };
    }
    live.unshift(seg);
  }
  return { live, obsolete: [], abandoned };
}

interface Checked {
  /** The records before the first damage (all of them if none), as payloads and parsed. */
  readonly payloads: string[];
  readonly records: unknown[];
  /** The first damage, and the first segment to keep aside for it. */
  readonly damage: (WalDamageSite & { readonly seq: number }) | null;
}

/** Read the live segments in order, up to the first damage. A torn tail of the last one is not damage. */
function check(dir: string, live: readonly Segment[]): Checked {
  const payloads: string[] = [];
  const records: unknown[] = [];
  const damaged = (seq: number, site: WalDamageSite): Checked => ({ payloads, records, damage: { ...site, seq } });
  // A log begins at segment 1 or at a checkpoint, and has no holes: a
  // missing segment is lost records, not something to skip over.
  const first = live[0];
  if (first !== undefined && first.seq !== 1 && first.payloads[0] !== BEGIN) {
    return damaged(first.seq, { file: first.file, offset: 0, reason: `the log starts at ${segName(first.seq)}, which is not a checkpoint, so earlier segments are missing` });
  }
  for (const [i, seg] of live.entries()) {
    const prev = live[i - 1];
    if (prev !== undefined && seg.seq !== prev.seq + 1) {
      return damaged(seg.seq, { file: path.join(dir, segName(prev.seq + 1)), offset: 0, reason: `segment missing between ${segName(prev.seq)} and ${segName(seg.seq)}` });
    }
    for (const [j, p] of seg.payloads.entries()) {
      if ((j === 0 && p === BEGIN) || p === END) continue;
      let record: unknown;
      try {
        record = JSON.parse(p);
      } catch {
        return damaged(seg.seq, { file: seg.file, offset: seg.offsets[j]!, reason: 'a frame with a good checksum holds no JSON (not a log this program wrote?)' });
      }
      payloads.push(p);
      records.push(record);
    }
    const last = i === live.length - 1;
    if (seg.payloads[0] === BEGIN && !seg.payloads.includes(END)) {
      const why = seg.bad === null ? '' : ` (${seg.bad.reason})`;
      const reason = `checkpoint without its end marker${why}, ${last ? 'and the segments it replaces are gone' : 'yet later segments exist'}`;
      return damaged(seg.seq, { file: seg.file, offset: seg.end, reason });
    }
    if (seg.bad !== null && !(last && seg.bad.torn)) {
      return damaged(seg.seq, { file: seg.file, offset: seg.end, reason: last ? seg.bad.reason : `${seg.bad.reason}, in a segment that is not the last` });
    }
  }
  return { payloads, records, damage: null };
}

/** All of `data`, even if the OS takes it in pieces. */
async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done);
    if (bytesWritten <= 0) throw new Error(`wrote ${done} of ${data.length} bytes, then nothing`);
    done += bytesWritten;
  }
}

/** All of `data`, on this thread. */
function writeAllSync(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) {
    const n = writeSync(fd, data, done, data.length - done);
    if (n <= 0) throw new Error(`wrote ${done} of ${data.length} bytes, then nothing`);
    done += n;
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

  private constructor(
    readonly dir: string,
    private handle: FileHandle,
    private seq: number,
    /** Bytes in the current segment. */
    private offset: number,
    /** Bytes in the live segments before the current one. */
    private olderBytes: number,
    private readonly opts: { readonly segmentBytes: number; readonly fsync: boolean; readonly onSync: (() => void) | undefined },
  ) {}

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

  static async open<R>(dir: string, options: WalOptions = {}): Promise<WalOpened<R>> {
    const opts = { segmentBytes: options.segmentBytes ?? 16 * 1024 * 1024, fsync: options.fsync ?? true, onSync: options.onSync };
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
    if (tail !== undefined && tail.bad !== null) {
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
    const handle = await open(path.join(dir, segName(seq)), 'a');
    if (tail === undefined) dirChanged = true;
    if (dirChanged && opts.fsync) await syncPath(dir);
    return { wal: new Wal<R>(dir, handle, seq, tail?.end ?? 0, olderBytes, opts), records: checked.records as R[], truncatedBytes, damage: null };
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
    const f = recordFrame(this.dir, record);
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
      writeAllSync(this.handle.fd, data);
      this.offset += data.length;
      if (this.opts.fsync) fdatasyncSync(this.handle.fd);
    } catch (err) {
      throw this.fail(err);
    }
    this.opts.onSync?.();
    return true;
  }

  /** A write failed: from now on every operation fails with this error. */
  private fail(err: unknown): Error {
    this.failed ??= new StateError(
      `${path.join(this.dir, segName(this.seq))}: write failed (${(err as Error).message}); the log's tail is unknown, so this replica must stop — restart it to recover from what is on disk`,
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
    await writeAll(this.handle, data);
    this.offset += data.length;
    if (this.opts.fsync) await this.handle.datasync();
    this.opts.onSync?.();
  }

  /** Continue in a new, empty segment (the current one is already durable). */
  private async roll(): Promise<void> {
    const next = await open(path.join(this.dir, segName(this.seq + 1)), 'wx');
    await this.handle.close();
    this.handle = next;
    this.olderBytes += this.offset;
    this.seq += 1;
    this.offset = 0;
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
    const data = Buffer.concat([frame(BEGIN), ...records.map((r) => recordFrame(this.dir, r)), frame(END)]);
    // A flush queued before this takes what is buffered now, and no later sync joins it.
    this.nextFlush?.seal();
    this.nextFlush = null;
    return this.enqueue(() => this.rewrite(data));
  }

  private async rewrite(checkpoint: Buffer): Promise<void> {
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
    this.olderBytes = 0;
    for (const n of await readdir(this.dir)) {
      const m = NAME_RE.exec(n);
      if (m !== null && Number(m[1]) <= old) await rm(path.join(this.dir, n), { force: true });
    }
    if (this.opts.fsync) await syncPath(this.dir);
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

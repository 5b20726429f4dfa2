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
// Recovery: a short or bad frame in the LAST segment is a write torn by a
// crash: the file is cut back to the start of that frame (every record that
// sync() confirmed lies before it). A bad frame anywhere else, or a missing
// segment, is damage, and open() refuses, naming the file: starting from a
// shorter log could make a replica break promises it made.
//
// Compaction: checkpoint(records) writes a new segment that starts with a
// marker frame and holds the live state up to an end marker, makes it
// durable, and only then deletes the older segments. On open, the newest
// complete checkpoint makes everything before it obsolete; a checkpoint
// without its end marker (a crash mid-checkpoint) is deleted, and the older
// segments, still all there, hold the state.

import { fdatasyncSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from './crc32.js';
import { StateError } from './lock.js';

export interface WalOptions {
  /** Start a new segment once the current one would pass this size (default 16 MiB). */
  readonly segmentBytes?: number;
  /** fdatasync on sync() and checkpoint() (default true; false only for tests and benchmarks). */
  readonly fsync?: boolean;
  /** Called once per group-commit write, after its fdatasync (tests count them). */
  readonly onSync?: () => void;
}

const HEADER = 8;
const BEGIN = '{"$checkpoint":true}';
const END = '{"$checkpointEnd":true}';
const NAME_RE = /^(\d{16})\.wal$/;
const RECOVER =
  "restore this replica's data directory from a backup, or delete it to rejoin the cluster empty (only while a majority of the other replicas are healthy)";

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
  readonly size: number;
  readonly payloads: string[];
  /** Where the valid frames end; `size` unless `bad`. */
  readonly end: number;
  /** What is wrong at `end`, if anything. */
  readonly bad: string | null;
}

/** Frames of a segment, up to the first one that is cut short or fails its checksum. */
function readFrames(buf: Buffer): Pick<Segment, 'payloads' | 'end' | 'bad'> {
  const payloads: string[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < HEADER) return { payloads, end: off, bad: `frame header cut short at byte ${off}` };
    const len = buf.readUInt32LE(off);
    const sum = buf.readUInt32LE(off + 4);
    // Nothing writes an empty payload; a zero length is a zero-filled tail
    // (a crash after the file grew but before its data blocks were written).
    if (len === 0) return { payloads, end: off, bad: `empty frame (zeroed bytes) at byte ${off}` };
    if (buf.length - off - HEADER < len) return { payloads, end: off, bad: `frame cut short at byte ${off}` };
    const body = buf.subarray(off + HEADER, off + HEADER + len);
    if (crc32(body) !== sum) return { payloads, end: off, bad: `bad checksum in frame at byte ${off}` };
    payloads.push(body.toString('utf8'));
    off += HEADER + len;
  }
  return { payloads, end: off, bad: null };
}

async function readSegment(dir: string, seq: number): Promise<Segment> {
  const file = path.join(dir, segName(seq));
  const buf = await readFile(file);
  return { seq, file, size: buf.length, ...readFrames(buf) };
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
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

  static async open<R>(dir: string, options: WalOptions = {}): Promise<{ wal: Wal<R>; records: R[]; truncatedBytes: number }> {
    const opts = { segmentBytes: options.segmentBytes ?? 16 * 1024 * 1024, fsync: options.fsync ?? true, onSync: options.onSync };
    await mkdir(dir, { recursive: true });
    const seqs = (await readdir(dir))
      .flatMap((n) => {
        const m = NAME_RE.exec(n);
        return m === null ? [] : [Number(m[1])];
      })
      .sort((a, b) => a - b);

    // Newest first, back to the newest complete checkpoint; what is older is
    // obsolete and never read (a crash while deleting it leaves some behind).
    const live: Segment[] = [];
    let obsolete: number[] = [];
    let dirChanged = false;
    for (let i = seqs.length - 1; i >= 0; i--) {
      const seg = await readSegment(dir, seqs[i]!);
      if (seg.payloads[0] === BEGIN) {
        if (seg.payloads.includes(END)) {
          live.unshift(seg);
          obsolete = seqs.slice(0, i);
          break;
        }
        // Segments after a checkpoint are only started once it is durable, so
        // a cut-short one can only be the newest.
        if (live.length > 0) {
          throw new StateError(`${seg.file}: checkpoint without its end marker (${seg.bad ?? 'never finished'}), and it is not the last segment; the log is damaged — ${RECOVER}`);
        }
        // A crash mid-checkpoint: the older segments still hold the state.
        await rm(seg.file, { force: true });
        dirChanged = true;
        continue;
      }
      live.unshift(seg);
    }
    for (const s of obsolete) await rm(path.join(dir, segName(s)), { force: true });
    if (obsolete.length > 0) dirChanged = true;

    // A log begins at segment 1 or at a checkpoint, and has no holes: a
    // missing segment is lost records, not something to skip over.
    const first = live[0];
    if (first !== undefined && first.seq !== 1 && first.payloads[0] !== BEGIN) {
      throw new StateError(`${dir}: the log starts at ${segName(first.seq)}, which is not a checkpoint, so earlier segments are missing; the log is damaged — ${RECOVER}`);
    }
    for (let i = 1; i < live.length; i++) {
      if (live[i]!.seq !== live[i - 1]!.seq + 1) {
        throw new StateError(`${dir}: segment ${segName(live[i - 1]!.seq + 1)} is missing between ${segName(live[i - 1]!.seq)} and ${segName(live[i]!.seq)}; the log is damaged — ${RECOVER}`);
      }
    }

    const records: R[] = [];
    let truncatedBytes = 0;
    let olderBytes = 0;
    for (const [i, seg] of live.entries()) {
      const last = i === live.length - 1;
      if (seg.bad !== null && !last) {
        throw new StateError(`${seg.file}: ${seg.bad}, which is not the last segment; the log is damaged — ${RECOVER}`);
      }
      for (const [j, p] of seg.payloads.entries()) {
        if ((j === 0 && p === BEGIN) || p === END) continue;
        try {
          records.push(JSON.parse(p) as R);
        } catch {
          throw new StateError(`${seg.file}: a frame with a good checksum holds no JSON; this is not a log this program wrote — ${RECOVER}`);
        }
      }
      if (!last) olderBytes += seg.size;
      else if (seg.bad !== null) {
        // The torn tail: records in it or after it were never confirmed.
        truncatedBytes = seg.size - seg.end;
        const fh = await open(seg.file, 'r+');
        try {
          await fh.truncate(seg.end);
          if (opts.fsync) await fh.sync();
        } finally {
          await fh.close();
        }
      }
    }

    const tail = live.at(-1);
    const seq = tail?.seq ?? 1;
    const handle = await open(path.join(dir, segName(seq)), 'a');
    if (tail === undefined) dirChanged = true;
    if (dirChanged && opts.fsync) await syncDir(dir);
    return { wal: new Wal<R>(dir, handle, seq, tail?.end ?? 0, olderBytes, opts), records, truncatedBytes };
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
    if (this.opts.fsync) await syncDir(this.dir);
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
        await syncDir(this.dir);
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
    if (this.opts.fsync) await syncDir(this.dir);
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

// An append-only, segmented write-ahead log of JSON records.
//
// A segment is a file `%016d.wal` of frames: u32 LE payload length, u32 LE
// CRC-32 of the payload, then the payload (UTF-8 JSON). Segments roll over
// at `segmentBytes`.
//
// Group commit: append() only buffers; sync() writes everything buffered
// with one write and one fdatasync. A sync() called while another is under
// way waits for it and then covers everything appended meanwhile, so many
// callers share one fsync.
//
// Recovery: a short or bad frame at the end of the LAST segment is a write
// torn by a crash: the file is cut back to the last good frame (every record
// that sync() had confirmed is before it). A bad frame anywhere else is
// damage, and open() refuses, naming the file and byte.
//
// Compaction: checkpoint(records) writes a new segment that starts with a
// marker frame and ends with another, holding the live state, then deletes
// every older segment. A checkpoint segment without its end marker (a crash
// mid-checkpoint) is discarded on open, and the older segments still hold
// the state.

import { mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from './crc32.js';
import { StateError } from './lock.js';

export interface WalOptions {
  /** Start a new segment past this size (default 16 MiB). */
  readonly segmentBytes?: number;
  /** fdatasync on sync() (default true; off only for tests and benchmarks). */
  readonly fsync?: boolean;
  /** Called after each fdatasync (tests count them). */
  readonly onSync?: () => void;
}

const HEADER = 8;
const BEGIN = '{"$checkpoint":true}';
const END = '{"$checkpointEnd":true}';
const NAME_RE = /^(\d{16})\.wal$/;

const segName = (seq: number): string => `${String(seq).padStart(16, '0')}.wal`;

function frame(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const buf = Buffer.allocUnsafe(HEADER + body.length);
  buf.writeUInt32LE(body.length, 0);
  buf.writeUInt32LE(crc32(body), 4);
  body.copy(buf, HEADER);
  return buf;
}

/** Frames of a segment, and the offset where the valid ones end. */
function readFrames(buf: Buffer): { payloads: string[]; end: number; bad: string | null } {
  const payloads: string[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < HEADER) return { payloads, end: off, bad: `a frame header cut short at byte ${off}` };
    const len = buf.readUInt32LE(off);
    const sum = buf.readUInt32LE(off + 4);
    if (buf.length - off - HEADER < len) return { payloads, end: off, bad: `a frame cut short at byte ${off}` };
    const body = buf.subarray(off + HEADER, off + HEADER + len);
    if (crc32(body) !== sum) return { payloads, end: off, bad: `a bad checksum in the frame at byte ${off}` };
    payloads.push(body.toString('utf8'));
    off += HEADER + len;
  }
  return { payloads, end: off, bad: null };
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class Wal<R> {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private inFlight: Promise<void> | null = null;
  private again: Promise<void> | null = null;
  private closed = false;

  private constructor(
    readonly dir: string,
    private handle: FileHandle,
    private seq: number,
    private offset: number,
    /** Bytes in segments before the current one. */
    private olderBytes: number,
    private readonly opts: { readonly segmentBytes: number; readonly fsync: boolean; readonly onSync: (() => void) | undefined },
  ) {}

  static async open<R>(dir: string, options: WalOptions = {}): Promise<{ wal: Wal<R>; records: R[]; truncatedBytes: number }> {
    const opts = { segmentBytes: options.segmentBytes ?? 16 * 1024 * 1024, fsync: options.fsync ?? true, onSync: options.onSync };
    await mkdir(dir, { recursive: true });
    let seqs = (await readdir(dir)).flatMap((n) => {
      const m = NAME_RE.exec(n);
      return m === null ? [] : [Number(m[1])];
    });
    seqs.sort((a, b) => a - b);
    // The newest complete checkpoint makes everything before it obsolete.
    const contents = new Map<number, Buffer>();
    for (const s of seqs) contents.set(s, await readFile(path.join(dir, segName(s))));
    for (let i = seqs.length - 1; i >= 0; i--) {
      const s = seqs[i]!;
      const { payloads } = readFrames(contents.get(s)!);
      if (payloads[0] !== BEGIN) continue;
      // Records appended after the checkpoint follow its end marker.
      if (payloads.includes(END)) {
        for (const old of seqs.slice(0, i)) await rm(path.join(dir, segName(old)), { force: true });
        seqs = seqs.slice(i);
        break;
      }
      // A checkpoint cut short by a crash: the older segments still hold the state.
      await rm(path.join(dir, segName(s)), { force: true });
      seqs = seqs.filter((x) => x !== s);
      contents.delete(s);
    }

    const records: R[] = [];
    let truncatedBytes = 0;
    let olderBytes = 0;
    for (const [i, s] of seqs.entries()) {
      const file = path.join(dir, segName(s));
      const buf = contents.get(s)!;
      const { payloads, end, bad } = readFrames(buf);
      const last = i === seqs.length - 1;
      if (bad !== null && !last) {
        throw new StateError(
          `${file}: ${bad}, and it is not the last segment, so this is damage, not a torn write; the log is unusable. Restore this replica's data directory from a backup, or delete it to rejoin the cluster empty (only while a majority of the others are healthy).`,
        );
      }
      for (const p of payloads) {
        if (p === BEGIN || p === END) continue;
        try {
          records.push(JSON.parse(p) as R);
        } catch {
          throw new StateError(`${file}: a frame with a good checksum holds no JSON; the log was written by something else`);
        }
      }
      if (last && end < buf.length) {
        truncatedBytes = buf.length - end;
        const fh = await open(file, 'r+');
        await fh.truncate(end);
        await fh.sync();
        await fh.close();
      }
      if (!last) olderBytes += buf.length;
    }
    const seq = seqs.at(-1) ?? 1;
    let offset = 0;
    if (seqs.length === 0) {
      await (await open(path.join(dir, segName(seq)), 'a')).close();
      await syncDir(dir);
    } else {
      offset = contents.get(seq)!.length - truncatedBytes;
    }
    const handle = await open(path.join(dir, segName(seq)), 'a');
    return { wal: new Wal<R>(dir, handle, seq, offset, olderBytes, opts), records, truncatedBytes };
  }

  /** Buffer a record; nothing is written until sync(). */
  append(record: R): void {
    if (this.closed) throw new Error(`${this.dir}: append after close`);
    const f = frame(JSON.stringify(record));
    this.buffered.push(f);
    this.bufferedBytes += f.length;
  }

  /** Total bytes in the log's segments, written or buffered. */
  get bytes(): number {
    return this.olderBytes + this.offset + this.bufferedBytes;
  }

  /** Resolves once every record appended before the call is on disk. */
  sync(): Promise<void> {
    if (this.inFlight === null) {
      if (this.buffered.length === 0) return Promise.resolve();
      this.inFlight = this.flush().finally(() => (this.inFlight = null));
      return this.inFlight;
    }
    // One more flush after the current one covers whatever was appended since.
    this.again ??= this.inFlight.then(() => {
      this.again = null;
      return this.sync();
    });
    return this.again;
  }

  private async flush(): Promise<void> {
    const chunks = this.buffered;
    const bytes = this.bufferedBytes;
    this.buffered = [];
    this.bufferedBytes = 0;
    if (this.offset > 0 && this.offset + bytes > this.opts.segmentBytes) await this.roll();
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes);
    await this.handle.write(data);
    this.offset += bytes;
    if (this.opts.fsync) await this.handle.datasync();
    this.opts.onSync?.();
  }

  private async roll(): Promise<void> {
    await this.handle.close();
    this.olderBytes += this.offset;
    this.seq += 1;
    this.offset = 0;
    this.handle = await open(path.join(this.dir, segName(this.seq)), 'a');
    if (this.opts.fsync) await syncDir(this.dir);
  }

  /**
   * Replace the whole log by `records`: written to a new segment between
   * markers and made durable before any older segment is deleted. Call it
   * with no sync() under way and nothing buffered that `records` does not
   * already cover (the caller holds its own lock).
   */
  async checkpoint(records: readonly R[]): Promise<void> {
    await this.inFlight;
    const pending = this.buffered;
    this.buffered = [];
    this.bufferedBytes = 0;
    const frames = [frame(BEGIN), ...records.map((r) => frame(JSON.stringify(r))), frame(END), ...pending];
    const data = Buffer.concat(frames);
    const old = this.seq;
    await this.handle.close();
    this.seq += 1;
    const file = path.join(this.dir, segName(this.seq));
    this.handle = await open(file, 'a');
    await this.handle.write(data);
    if (this.opts.fsync) {
      await this.handle.datasync();
      await syncDir(this.dir);
    }
    this.offset = data.length;
    this.olderBytes = 0;
    for (const n of await readdir(this.dir)) {
      const m = NAME_RE.exec(n);
      if (m !== null && Number(m[1]) <= old) await rm(path.join(this.dir, n), { force: true });
    }
    if (this.opts.fsync) await syncDir(this.dir);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync();
    this.closed = true;
    await this.handle.close();
  }
}

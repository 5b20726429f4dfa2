// Snapshots of the state machine: `snapshot-%016d.snap`, named by the log
// index they cover. The first line is a JSON header {"index","crc","bytes"}
// describing the data that follows (CRC-32 and length of its UTF-8 bytes),
// padded with spaces to HEADER_BYTES: the body is streamed to the file piece
// by piece, its CRC computed as it goes, and the header written over the
// padding at the end. The body is text, read back line by line
// (snapshotLines), so no snapshot, however big, is ever one string.
// A snapshot is written beside its final name, fsynced, renamed over and
// the directory fsynced, so a crash leaves the old snapshots or the new one
// complete; so one that reads back damaged (bad disk, copied in half) is
// damage, never a crash. Load skips it for the one before and prune does not
// count it; both move it into `<dir>.damaged-<UTC time>/` (damaged.ts),
// never delete it, and load reports it.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { busyYield } from './atomic.js';
import { crc32 } from './crc32.js';
import { moveAside, newDamagedDir } from './damaged.js';
import { syncPath, timedSync, type FsyncObserver } from './fsync.js';

/** A snapshot on disk whose checksum is verified. */
export interface Snapshot {
  readonly index: number;
  readonly file: string;
  /** Where the body starts (after the header line), and its length. */
  readonly offset: number;
  readonly bytes: number;
}

/** The header line's width, padding included (a header is well under it). */
const HEADER_BYTES = 128;
/** Bytes gathered before a write, and read at a time. */
const IO_BYTES = 1024 * 1024;

const NAME_RE = /^snapshot-(\d{16})\.snap$/;
const TMP = '.tmp';

const snapName = (index: number): string => `snapshot-${String(index).padStart(16, '0')}.snap`;

/**
 * Write the snapshot at `index` atomically, its body the concatenation of
 * `body`'s pieces, taken one at a time between writes of about 1 MiB, so the
 * event loop runs while a big one is written. Returns the file's path.
 * `fsync: false` only for tests and benchmarks. `onFsync` is told how long
 * each of its two fsyncs took (the file's, the directory's).
 */
export async function saveSnapshot(
  dir: string,
  index: number,
  body: Iterable<string>,
  opts: { readonly fsync?: boolean; readonly onFsync?: FsyncObserver } = {},
): Promise<string> {
  // The name must sort by index and parse back to it.
  if (!Number.isSafeInteger(index) || index < 0)
    throw new RangeError(`${dir}: snapshot index ${index} is not a non-negative integer`);
  const fsync = opts.fsync ?? true;
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, snapName(index));
  const tmp = file + TMP;
  const fh = await open(tmp, 'w', 0o600);
  try {
    let crc = 0;
    let bytes = 0;
    let parts: string[] = [];
    let size = 0;
    const flush = async (): Promise<void> => {
      const buf = Buffer.from(parts.join(''), 'utf8');
      parts = [];
      size = 0;
      crc = crc32(buf, crc);
      await fh.write(buf, 0, buf.length, HEADER_BYTES + bytes);
      bytes += buf.length;
    };
    const pause = busyYield();
    for (const piece of body) {
      await pause();
      parts.push(piece);
      size += piece.length;
      if (size >= IO_BYTES) await flush();
    }
    await flush();
    const header = JSON.stringify({ index, crc, bytes });
    await fh.write(Buffer.from(`${header.padEnd(HEADER_BYTES - 1, ' ')}\n`, 'utf8'), 0, HEADER_BYTES, 0);
    if (fsync) await timedSync(() => fh.sync(), opts.onFsync);
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  if (fsync) await syncPath(dir, opts.onFsync);
  return file;
}

/** Read `file` from `start` in pieces of IO_BYTES, `len` bytes in all. */
function* readPieces(fd: number, start: number, len: number): Generator<Buffer> {
  const buf = Buffer.allocUnsafe(IO_BYTES);
  for (let pos = 0; pos < len;) {
    const n = readSync(fd, buf, 0, Math.min(IO_BYTES, len - pos), start + pos);
    if (n === 0) throw new Error(`unexpected end of file at byte ${start + pos}`);
    pos += n;
    yield buf.subarray(0, n);
  }
}

/** The body's lines (without their newlines), read a piece at a time. */
export function* snapshotLines(snap: Snapshot): Generator<string> {
  const fd = openSync(snap.file, 'r');
  try {
    let rest: Buffer[] = [];
    for (const piece of readPieces(fd, snap.offset, snap.bytes)) {
      let start = 0;
      for (let nl = piece.indexOf(0x0a); nl >= 0; nl = piece.indexOf(0x0a, start)) {
        rest.push(piece.subarray(start, nl));
        yield Buffer.concat(rest).toString('utf8');
        rest = [];
        start = nl + 1;
      }
      // The buffer is reused: keep a copy of the unfinished line.
      if (start < piece.length) rest.push(Buffer.from(piece.subarray(start)));
    }
    if (rest.length > 0) yield Buffer.concat(rest).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * The header of `file`, verified against its body's length and, unless
 * `checksum` is false, its CRC; or why it is not a snapshot.
 */
function verify(name: string, file: string, checksum = true): Snapshot | string {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(Math.max(HEADER_BYTES, 4096));
    const got = readSync(fd, head, 0, head.length, 0);
    const size = fstatSync(fd).size;
    const r = parseHeader(name, head.subarray(0, got));
    if (typeof r === 'string') return r;
    const body = size - r.offset;
    if (body !== r.bytes) return `${body} bytes of data where the header says ${r.bytes} (cut short?)`;
    if (checksum) {
      let crc = 0;
      for (const piece of readPieces(fd, r.offset, r.bytes)) crc = crc32(piece, crc);
      if (crc !== r.crc) return 'bad checksum';
    }
    return { index: r.index, file, offset: r.offset, bytes: r.bytes };
  } finally {
    closeSync(fd);
  }
}

/** The header at the start of `buf`, or why there is none. */
function parseHeader(
  name: string,
  buf: Buffer,
): { index: number; crc: number; bytes: number; offset: number } | string {
  const nl = buf.indexOf(0x0a);
  if (nl < 0) return buf.length === 0 ? 'empty file' : 'no header line (cut short?)';
  let h: unknown;
  try {
    h = JSON.parse(buf.subarray(0, nl).toString('utf8'));
  } catch {
    return 'header is not JSON';
  }
  if (typeof h !== 'object' || h === null) return 'header is not a JSON object';
  const { index, crc, bytes } = h as { index?: unknown; crc?: unknown; bytes?: unknown };
  if (
    typeof index !== 'number' ||
    !Number.isSafeInteger(index) ||
    typeof crc !== 'number' ||
    typeof bytes !== 'number'
  ) {
    return 'header lacks a numeric index, crc or bytes';
  }
  if (Number(NAME_RE.exec(name)?.[1]) !== index)
    return `header says index ${index}, which does not match the file name`;
  return { index, crc, bytes, offset: nl + 1 };
}

async function snapshotNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Moves damaged snapshots of `dir` into one new `<dir>.damaged-<time>` directory, made on first use. */
function setAside(dir: string): (file: string) => Promise<string> {
  let aside: string | null = null;
  return async (file) => moveAside(file, (aside ??= await newDamagedDir(dir)));
}

/**
 * The damaged snapshots newer than the newest intact one, as "path: reason",
 * changing nothing: what loadLatestSnapshot would move aside. A caller that
 * must record the damage first (a replica's identity file) asks this before.
 */
export async function damagedSnapshots(dir: string): Promise<string[]> {
  const damaged: string[] = [];
  for (const n of (await snapshotNames(dir))
    .filter((x) => NAME_RE.test(x))
    .sort()
    .reverse()) {
    const r = verify(n, path.join(dir, n));
    if (typeof r !== 'string') break;
    damaged.push(`${path.join(dir, n)}: ${r}`);
  }
  return damaged;
}

/**
 * The newest snapshot that reads back intact. Damaged newer ones are moved
 * aside and listed as "path: reason; moved to new path".
 */
export async function loadLatestSnapshot(dir: string): Promise<{ snapshot: Snapshot | null; skipped: string[] }> {
  // Fixed-width names: sorting the names sorts by index.
  const names = (await snapshotNames(dir))
    .filter((n) => NAME_RE.test(n))
    .sort()
    .reverse();
  const skipped: string[] = [];
  const aside = setAside(dir);
  for (const n of names) {
    const file = path.join(dir, n);
    const r = verify(n, file);
    if (typeof r !== 'string') return { snapshot: r, skipped };
    skipped.push(`${file}: ${r}; moved to ${await aside(file)}`);
  }
  return { snapshot: null, skipped };
}

/**
 * Keep the newest `keep` intact snapshots; remove older ones and temp files
 * left by a crash mid-save. Every snapshot's header and length are checked
 * first: a damaged one counts for nothing and is moved aside, never deleted.
 */
export async function pruneSnapshots(dir: string, keep = 2): Promise<void> {
  if (!Number.isSafeInteger(keep) || keep < 0)
    throw new RangeError(`pruneSnapshots(${dir}): keep must be a non-negative integer, not ${keep}`);
  const names = await snapshotNames(dir);
  const aside = setAside(dir);
  let intact = 0;
  for (const n of names
    .filter((x) => NAME_RE.test(x))
    .sort()
    .reverse()) {
    const file = path.join(dir, n);
    // Header and length only: a store's snapshots may be gigabytes, and prune
    // runs after every save. A flipped bit in a body is found when it loads.
    if (typeof verify(n, file, false) === 'string') await aside(file);
    else if (++intact > keep) await rm(file, { force: true });
  }
  for (const n of names.filter((x) => x.startsWith('snapshot-') && x.endsWith(TMP)))
    await rm(path.join(dir, n), { force: true });
}

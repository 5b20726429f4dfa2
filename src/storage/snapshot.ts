// Snapshots of the state machine: `snapshot-%016d.snap`, named by the log
// index they cover. The first line is a JSON header {"index","crc","bytes"}
// describing the data that follows (CRC-32 and length of its UTF-8 bytes).
// A snapshot is written beside its final name, fsynced, renamed over and
// the directory fsynced, so a crash leaves the old snapshots or the new one
// complete; so one that reads back damaged (bad disk, copied in half) is
// damage, never a crash. Load skips it for the one before and prune does not
// count it; both move it into `<dir>.damaged-<UTC time>/` (damaged.ts),
// never delete it, and load reports it.

import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from './crc32.js';
import { moveAside, newDamagedDir } from './damaged.js';

export interface Snapshot {
  readonly index: number;
  /** The serialized state machine. */
  readonly data: string;
}

const NAME_RE = /^snapshot-(\d{16})\.snap$/;
const TMP = '.tmp';

const snapName = (index: number): string => `snapshot-${String(index).padStart(16, '0')}.snap`;

/** Write `snap` atomically; returns the file's path. `fsync: false` only for tests and benchmarks. */
export async function saveSnapshot(dir: string, snap: Snapshot, opts: { readonly fsync?: boolean } = {}): Promise<string> {
  // The name must sort by index and parse back to it.
  if (!Number.isSafeInteger(snap.index) || snap.index < 0) throw new RangeError(`${dir}: snapshot index ${snap.index} is not a non-negative integer`);
  const fsync = opts.fsync ?? true;
  await mkdir(dir, { recursive: true });
  const body = Buffer.from(snap.data, 'utf8');
  const header = JSON.stringify({ index: snap.index, crc: crc32(body), bytes: body.length });
  const file = path.join(dir, snapName(snap.index));
  const tmp = file + TMP;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(Buffer.concat([Buffer.from(`${header}\n`, 'utf8'), body]));
    if (fsync) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  if (fsync) {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }
  return file;
}

/** The snapshot in `buf`, or why there is none. */
function parse(name: string, buf: Buffer): Snapshot | string {
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
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || typeof crc !== 'number' || typeof bytes !== 'number') {
    return 'header lacks a numeric index, crc or bytes';
  }
  const body = buf.subarray(nl + 1);
  if (body.length !== bytes) return `${body.length} bytes of data where the header says ${bytes} (cut short?)`;
  if (crc32(body) !== crc) return 'bad checksum';
  if (Number(NAME_RE.exec(name)?.[1]) !== index) return `header says index ${index}, which does not match the file name`;
  return { index, data: body.toString('utf8') };
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
 * The newest snapshot that reads back intact. Damaged newer ones are moved
 * aside and listed as "path: reason; moved to new path".
 */
export async function loadLatestSnapshot(dir: string): Promise<{ snapshot: Snapshot | null; skipped: string[] }> {
  // Fixed-width names: sorting the names sorts by index.
  const names = (await snapshotNames(dir)).filter((n) => NAME_RE.test(n)).sort().reverse();
  const skipped: string[] = [];
  const aside = setAside(dir);
  for (const n of names) {
    const file = path.join(dir, n);
    const r = parse(n, await readFile(file));
    if (typeof r !== 'string') return { snapshot: r, skipped };
    skipped.push(`${file}: ${r}; moved to ${await aside(file)}`);
  }
  return { snapshot: null, skipped };
}

/**
 * Keep the newest `keep` intact snapshots; remove older ones and temp files
 * left by a crash mid-save. Every snapshot is read first: a damaged one
 * counts for nothing and is moved aside, never deleted.
 */
export async function pruneSnapshots(dir: string, keep = 2): Promise<void> {
  if (!Number.isSafeInteger(keep) || keep < 0) throw new RangeError(`pruneSnapshots(${dir}): keep must be a non-negative integer, not ${keep}`);
  const names = await snapshotNames(dir);
  const aside = setAside(dir);
  let intact = 0;
  for (const n of names.filter((x) => NAME_RE.test(x)).sort().reverse()) {
    const file = path.join(dir, n);
    if (typeof parse(n, await readFile(file)) === 'string') await aside(file);
    else if (++intact > keep) await rm(file, { force: true });
  }
  for (const n of names.filter((x) => x.startsWith('snapshot-') && x.endsWith(TMP))) await rm(path.join(dir, n), { force: true });
}

// Snapshots of the state machine: `snapshot-%016d.snap`, named by the log
// index they cover. The first line is a JSON header with the index, the
// CRC-32 and the length of the data that follows; the file is written
// beside its final name, fsynced, renamed over, and the directory fsynced,
// so a crash leaves the old snapshots or the new one complete.

import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeAtomically } from './atomic.js';
import { crc32 } from './crc32.js';

export interface Snapshot {
  readonly index: number;
  /** The serialized state machine. */
  readonly data: string;
}

const NAME_RE = /^snapshot-(\d{16})\.snap$/;

export async function saveSnapshot(dir: string, snap: Snapshot): Promise<string> {
  await mkdir(dir, { recursive: true });
  const body = Buffer.from(snap.data, 'utf8');
  const header = JSON.stringify({ index: snap.index, crc: crc32(body), bytes: body.length });
  const file = path.join(dir, `snapshot-${String(snap.index).padStart(16, '0')}.snap`);
  await writeAtomically(file, Buffer.concat([Buffer.from(`${header}\n`, 'utf8'), body]));
  return file;
}

function parse(file: string, buf: Buffer): Snapshot | string {
  const nl = buf.indexOf(0x0a);
  if (nl < 0) return 'no header line';
  let h: { index?: unknown; crc?: unknown; bytes?: unknown };
  try {
    h = JSON.parse(buf.subarray(0, nl).toString('utf8')) as typeof h;
  } catch {
    return 'a header that is not JSON';
  }
  const body = buf.subarray(nl + 1);
  if (!Number.isSafeInteger(h.index) || typeof h.crc !== 'number' || h.bytes !== body.length) return `${body.length} bytes of data where the header says ${String(h.bytes)} (cut short?)`;
  if (crc32(body) !== h.crc) return 'a bad checksum';
  const m = NAME_RE.exec(path.basename(file));
  if (m === null || Number(m[1]) !== h.index) return 'an index that does not match its name';
  return { index: h.index as number, data: body.toString('utf8') };
}

/** The newest snapshot that reads back intact; damaged newer ones are skipped and listed. */
export async function loadLatestSnapshot(dir: string): Promise<{ snapshot: Snapshot | null; skipped: string[] }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => NAME_RE.test(n)).sort().reverse();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { snapshot: null, skipped: [] };
    throw err;
  }
  const skipped: string[] = [];
  for (const n of names) {
    const file = path.join(dir, n);
    const r = parse(file, await readFile(file));
    if (typeof r !== 'string') return { snapshot: r, skipped };
    skipped.push(`${file}: ${r}`);
  }
  return { snapshot: null, skipped };
}

/** Keep the newest `keep` snapshots; remove older ones and leftover temp files. */
export async function pruneSnapshots(dir: string, keep = 2): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const snaps = names.filter((n) => NAME_RE.test(n)).sort().reverse();
  for (const n of snaps.slice(keep)) await rm(path.join(dir, n), { force: true });
  for (const n of names.filter((x) => x.endsWith('.tmp'))) await rm(path.join(dir, n), { force: true });
}

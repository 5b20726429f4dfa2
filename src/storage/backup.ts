// Backups of the key-value store (`paxos snapshot save` and `restore`): one
// file of text lines, each `CRC␠JSON`, where CRC is the CRC-32 of the JSON's
// UTF-8 bytes as 8 hex digits:
//
//   1c0ffee1 {"format":"paxos-backup/1","applied":N,"keys":K,"leases":L,"nextLease":I,
//             "taken":"<UTC time>","from":"peer2"}                 (one line)
//   0badcafe ["key","value",create,mod,version(,lease)]  one per key (src/sm/key-entry.ts)
//   0badcafe [id,ttl,renewed]                            one per lease (src/sm/lease.ts)
//   12345678 {"end":true,"keys":K}
//
// A checksum per line, rather than one for the whole file, so damage is
// named where it is: the line and its byte. The last line says the file
// is whole: a file cut short ends without it. The store's sessions are not
// kept: a restored cluster is a new one, and its clients start new ones.
// Its leases are: its first leader gives each its full TTL and more, so
// their holders have time to find it (src/node/lease-clock.ts). A backup
// written before leases has no "leases" and "nextLease": none, and 1.
//
// A backup is written beside its name, fsynced and renamed over, like the
// replica's own snapshots.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { crc32 } from './crc32.js';
import { writeAtomically } from './atomic.js';
import { KvBuilder } from '../sm/kv-builder.js';
import { SnapshotError, type KvStore, type KvView } from '../sm/kv.js';
import type { EntryLine } from '../sm/key-entry.js';

export const BACKUP_FORMAT = 'paxos-backup/1';

export interface BackupHead {
  readonly applied: number;
  readonly keys: number;
  readonly leases: number;
  readonly nextLease: number;
  /** When it was taken (ISO 8601, UTC), and from which replica. */
  readonly taken: string;
  readonly from: string;
}

/** A backup that cannot be read: `message` names the file, line and byte. */
export class BackupError extends Error {
  override readonly name = 'BackupError';
}

const utf8 = new TextEncoder();
const line = (json: string): string => `${crc32(utf8.encode(json)).toString(16).padStart(8, '0')} ${json}\n`;

/** The backup's lines, from a frozen view of the store (the sessions are left out). */
export function* backupLines(view: KvView, from: string, taken: Date): Generator<string> {
  const { applied, keys: k } = view;
  const [leases, nextLease] = [view.leases.lines.length, view.leases.next];
  const head = { format: BACKUP_FORMAT, applied, keys: k, leases, nextLease, taken: taken.toISOString(), from };
  yield line(JSON.stringify(head));
  let keys = 0;
  for (const piece of view.pieces(1024 * 1024))
    for (const e of piece.entries) {
      keys += 1;
      yield line(JSON.stringify(e));
    }
  for (const l of view.leases.lines) yield line(JSON.stringify(l));
  yield line(JSON.stringify({ end: true, keys }));
}

/** Write the backup of `view` to `file`, atomically and durably. */
export async function writeBackup(file: string, view: KvView, from: string, taken = new Date()): Promise<void> {
  await writeAtomically(file, backupLines(view, from, taken));
}

/**
 * The store a backup holds (its sessions empty) and its head; throws
 * BackupError naming the line and byte of the first damage, or what is
 * missing. Read line by line: a backup of any size, never one string.
 */
export async function readBackup(file: string): Promise<{ head: BackupHead; store: KvStore }> {
  let stream;
  let size: number;
  try {
    size = (await stat(file)).size;
    stream = createReadStream(file);
    await new Promise<void>((resolve, reject) => stream!.once('open', () => resolve()).once('error', reject));
  } catch (err) {
    throw new BackupError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  let byte = 0;
  let head: BackupHead | null = null;
  let builder: KvBuilder | null = null;
  let ended = false;
  try {
    for await (const text of lines) {
      n += 1;
      const at = `${file} line ${n} (byte ${byte})`;
      byte += Buffer.byteLength(text, 'utf8') + 1;
      // The last line, without its newline: a write cut short, not a damaged line.
      if (byte > size) break;
      if (ended) throw new BackupError(`${at}: a line after the end line`);
      const m = /^([0-9a-f]{8}) (.*)$/s.exec(text);
      if (m === null) throw new BackupError(`${at}: not a backup line ("CRC JSON"); is this a paxos backup?`);
      if (parseInt(m[1]!, 16) !== crc32(utf8.encode(m[2]!)))
        throw new BackupError(`${at}: the checksum does not match: the line is damaged`);
      let raw: unknown;
      try {
        raw = JSON.parse(m[2]!);
      } catch {
        throw new BackupError(`${at}: not JSON, though its checksum matches (a bug in what wrote it?)`);
      }
      if (head === null) {
        head = checkHead(raw, at);
        builder = new KvBuilder(head.applied, head.nextLease);
      } else if (Array.isArray(raw)) {
        try {
          // A key's line starts with its name, a lease's with its id.
          if (typeof raw[0] === 'number') builder!.lease(raw);
          else builder!.entry(raw as EntryLine);
        } catch (err) {
          if (!(err instanceof SnapshotError)) throw err;
          throw new BackupError(`${at}: ${err.message}`);
        }
      } else {
        const end = raw as { end?: unknown; keys?: unknown };
        if (end.end !== true || end.keys !== builder!.keys || builder!.keys !== head.keys)
          throw new BackupError(
            `${at}: the end line must be {"end":true,"keys":${head.keys}} after ${head.keys} keys; ` +
              `${builder!.keys} came`,
          );
        if (builder!.leases !== head.leases)
          throw new BackupError(`${at}: ${builder!.leases} leases came, where the head line says ${head.leases}`);
        ended = true;
      }
    }
  } finally {
    stream.destroy();
  }
  if (head === null) throw new BackupError(`${file}: empty: not a paxos backup`);
  if (!ended) {
    const last = Math.min(byte, size);
    throw new BackupError(
      `${file}: cut short at byte ${last} (line ${byte > size ? n : n + 1}): ${builder!.keys} of ${head.keys} ` +
        `keys, and no end line`,
    );
  }
  return { head, store: builder!.build() };
}

function checkHead(raw: unknown, at: string): BackupHead {
  const h = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  if (h['format'] !== BACKUP_FORMAT)
    throw new BackupError(`${at}: "format" is not "${BACKUP_FORMAT}"; is this a paxos backup?`);
  const count = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!count(h['applied']) || !count(h['keys']) || typeof h['taken'] !== 'string' || typeof h['from'] !== 'string')
    throw new BackupError(`${at}: the head line needs "applied" and "keys" (counts), "taken" and "from"`);
  const [leases, nextLease] = [h['leases'] ?? 0, h['nextLease'] ?? 1];
  if (!count(leases) || !count(nextLease) || nextLease < 1)
    throw new BackupError(`${at}: "leases" must be a count and "nextLease" a positive integer`);
  return { applied: h['applied'], keys: h['keys'], leases, nextLease, taken: h['taken'], from: h['from'] };
}

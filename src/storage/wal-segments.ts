// The segments of a write-ahead log (wal.ts) on disk: the frame format, and
// reading a log back.
//
// A segment is a file `%016d.wal` of frames: u32 LE payload length, u32 LE
// CRC-32 of the payload, then the payload (UTF-8 JSON, never empty).
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

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from './crc32.js';

/** Where a log is damaged, and how. */
export interface WalDamageSite {
  /** The segment (for a missing one, the path it should have). */
  readonly file: string;
  /** The byte of `file` where the damage starts. */
  readonly offset: number;
  readonly reason: string;
}

const HEADER = 8;
export const BEGIN = '{"$checkpoint":true}';
export const END = '{"$checkpointEnd":true}';
const NAME_RE = /^(\d{16})\.wal$/;

export const segName = (seq: number): string => `${String(seq).padStart(16, '0')}.wal`;

/**
 * A record's frame, from its JSON; the markers are reserved, as a record that looked like one would change how the
 * log reads back.
 */
export function recordFrame(dir: string, json: string | undefined): Buffer {
  if (typeof json !== 'string' || json === BEGIN || json === END)
    throw new TypeError(`${dir}: cannot log ${String(json)}`);
  return frame(json);
}

export function frame(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const buf = Buffer.allocUnsafe(HEADER + body.length);
  buf.writeUInt32LE(body.length, 0);
  buf.writeUInt32LE(crc32(body), 4);
  body.copy(buf, HEADER);
  return buf;
}

/**
 * The bytes from a segment's first bad frame to its end. `zeros`: they are
 * all zero bytes, as the space a Wal zeroes ahead of its writes is
 * (WalOptions.zeroAhead), or a file that grew before its data was written.
 */
export interface BadTail {
  readonly reason: string;
  readonly torn: boolean;
  readonly zeros: boolean;
}

export interface Segment {
  readonly seq: number;
  readonly file: string;
  readonly payloads: string[];
  /** Where each payload's frame starts. */
  readonly offsets: number[];
  /** Where the valid frames end; the file's size unless `bad`. */
  readonly end: number;
  /** What is wrong at `end`, if anything, and whether it can be a torn write (see the header). */
  readonly bad: BadTail | null;
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
function badFrame(buf: Buffer, off: number): BadTail {
  const left = buf.length - off;
  let nonzeroEnd = buf.length;
  while (nonzeroEnd > off && buf[nonzeroEnd - 1] === 0) nonzeroEnd--;
  // No frame starts in zeros (a frame's length is never 0): nothing to scan.
  if (nonzeroEnd === off)
    return { reason: `only zero bytes from here to the end of the file (${left})`, torn: true, zeros: true };
  let reason: string;
  let tornShape: boolean;
  if (left < HEADER) {
    reason = `frame header cut short (${left} of ${HEADER} bytes)`;
    tornShape = true;
  } else {
    const len = buf.readUInt32LE(off);
    // Zeros from inside this frame to the end of the file.
    const zeroed = nonzeroEnd < off + HEADER + len;
    if (len === 0) reason = 'a frame of length 0';
    else if (left - HEADER < len) reason = `frame declares ${len} bytes, but only ${left - HEADER} follow`;
    else
      reason = zeroed
        ? `bad checksum, and zero bytes from byte ${nonzeroEnd} to the end of the file`
        : 'bad checksum on a complete frame';
    tornShape = zeroed || left - HEADER < len;
  }
  if (!tornShape) return { reason, torn: false, zeros: false };
  const next = nextGoodFrame(buf, off + 1);
  return next === null
    ? { reason, torn: true, zeros: false }
    : { reason: `${reason}, yet a valid frame follows at byte ${next}`, torn: false, zeros: false };
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
export function segmentSeqs(names: readonly string[]): number[] {
  return names
    .flatMap((n) => {
      const m = NAME_RE.exec(n);
      return m === null ? [] : [Number(m[1])];
    })
    .sort((a, b) => a - b);
}

/** Which segments hold the log, found newest first, back to the newest complete checkpoint. */
export async function readLog(
  dir: string,
  seqs: readonly number[],
): Promise<{ live: Segment[]; obsolete: number[]; abandoned: Segment | null }> {
  const live: Segment[] = [];
  let abandoned: Segment | null = null;
  for (let i = seqs.length - 1; i >= 0; i--) {
    const seg = await readSegment(dir, seqs[i]!);
    if (seg.payloads[0] === BEGIN) {
      // A crash mid-checkpoint: the newest segment, cut short as a torn write
      // is, and the segments it was to replace still there (they are deleted
      // only once it is durable). The older segments hold the state.
      const crashed =
        live.length === 0 && abandoned === null && (seg.bad === null || seg.bad.torn) && seqs[i - 1] === seg.seq - 1;
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

export interface Checked {
  /** The records before the first damage (all of them if none), as payloads and parsed. */
  readonly payloads: string[];
  readonly records: unknown[];
  /** The first damage, and the first segment to keep aside for it. */
  readonly damage: (WalDamageSite & { readonly seq: number }) | null;
}

/** Read the live segments in order, up to the first damage. A torn tail of the last one is not damage. */
export function check(dir: string, live: readonly Segment[]): Checked {
  const payloads: string[] = [];
  const records: unknown[] = [];
  const damaged = (seq: number, site: WalDamageSite): Checked => ({ payloads, records, damage: { ...site, seq } });
  // A log begins at segment 1 or at a checkpoint, and has no holes: a
  // missing segment is lost records, not something to skip over.
  const first = live[0];
  if (first !== undefined && first.seq !== 1 && first.payloads[0] !== BEGIN) {
    return damaged(first.seq, {
      file: first.file,
      offset: 0,
      reason: `the log starts at ${segName(first.seq)}, which is not a checkpoint, so earlier segments are missing`,
    });
  }
  for (const [i, seg] of live.entries()) {
    const prev = live[i - 1];
    if (prev !== undefined && seg.seq !== prev.seq + 1) {
      return damaged(seg.seq, {
        file: path.join(dir, segName(prev.seq + 1)),
        offset: 0,
        reason: `segment missing between ${segName(prev.seq)} and ${segName(seg.seq)}`,
      });
    }
    for (const [j, p] of seg.payloads.entries()) {
      if ((j === 0 && p === BEGIN) || p === END) continue;
      let record: unknown;
      try {
        record = JSON.parse(p);
      } catch {
        return damaged(seg.seq, {
          file: seg.file,
          offset: seg.offsets[j]!,
          reason: 'a frame with a good checksum holds no JSON (not a log this program wrote?)',
        });
      }
      payloads.push(p);
      records.push(record);
    }
    const last = i === live.length - 1;
    if (seg.payloads[0] === BEGIN && !seg.payloads.includes(END)) {
      const why = seg.bad === null ? '' : ` (${seg.bad.reason})`;
      const reason =
        `checkpoint without its end marker${why}, ` +
        `${last ? 'and the segments it replaces are gone' : 'yet later segments exist'}`;
      return damaged(seg.seq, { file: seg.file, offset: seg.end, reason });
    }
    if (seg.bad !== null && !(last && seg.bad.torn)) {
      return damaged(seg.seq, {
        file: seg.file,
        offset: seg.end,
        reason: last ? seg.bad.reason : `${seg.bad.reason}, in a segment that is not the last`,
      });
    }
  }
  return { payloads, records, damage: null };
}

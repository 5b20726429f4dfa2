// The store's one-document snapshot (KvStore.snapshot() and restore()): one
// canonical JSON document, sorted, for tests and the simulator, which compare
// bytes. Only the canonical encoding is read back, so equal stores always
// have equal snapshots. Also what both snapshot forms share (KvBuilder reads
// the streamed one): SnapshotError, SessionInfo and the format names.
// Pure functions over a store's parts: kv.ts puts them into a KvStore.

import { checkMembership, type Membership } from '../paxos/membership.js';
import { decodeCommand, decodeResult, encodeResult, type Result } from './command.js';
import { entryLine, parseEntryLine, type KeyEntry } from './key-entry.js';
import { LeaseTable } from './lease-table.js';
import type { SessionLine } from './kv-view.js';

/** The one-document snapshot (snapshot()). paxos-kv/1 was the same without revisions. */
export const SNAPSHOT_FORMAT = 'paxos-kv/3';

/** A snapshot that cannot be restored; the message says which field and why. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}

export interface SessionInfo {
  readonly seq: number;
  /** Log index at which `seq` was applied. */
  readonly index: number;
  readonly result: Result;
}

/** What a one-document snapshot holds of a store. */
export interface SnapshotParts {
  readonly applied: number;
  readonly members: Membership | null;
  readonly data: Map<string, KeyEntry>;
  readonly leases: LeaseTable;
  readonly sessions: Map<string, SessionInfo>;
}

/** A snapshot's header, checked: the document, of SNAPSHOT_FORMAT, and its applied index. */
export interface SnapshotHeader {
  readonly doc: Record<string, unknown>;
  readonly applied: number;
}

/**
 * Deterministic bytes: UTF-8 JSON of
 *   {"format":"paxos-kv/3","applied":N,"nextLease":L,"data":[[key,value,create,mod,version(,lease)],...],
 *    "leases":[[id,ttl,renewed],...],"sessions":[[client,seq,index,result],...]}
 * with data sorted by key, leases by id and sessions by apply index (their eviction order).
 */
export function encodeSnapshot(p: SnapshotParts): Uint8Array {
  const data = sortedEntries(p.data).map(([k, e]) => entryLine(k, e));
  const sessions = sessionLines(p.sessions);
  const [applied, nextLease, leases] = [p.applied, p.leases.nextId, p.leases.lines()];
  const members = p.members === null ? {} : { members: p.members };
  const doc = { format: SNAPSHOT_FORMAT, applied, nextLease, ...members, data, leases, sessions };
  return new TextEncoder().encode(JSON.stringify(doc));
}

/** The first half of reading a snapshot: UTF-8 JSON, the format, "applied". Throws SnapshotError. */
export function snapshotHeader(bytes: Uint8Array): SnapshotHeader {
  let text: string;
  let raw: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    raw = JSON.parse(text);
  } catch (err) {
    throw new SnapshotError(
      `snapshot: not UTF-8 JSON (${(err as Error).message}); it is truncated or not a paxos-kv snapshot`,
    );
  }
  const o = raw as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null || o['format'] !== SNAPSHOT_FORMAT)
    fail(`"format" is not "${SNAPSHOT_FORMAT}"${olderFormat(o?.['format'])}`);
  const applied = o['applied'];
  if (typeof applied !== 'number' || !Number.isSafeInteger(applied) || applied < 0)
    return fail('"applied" must be a non-negative integer');
  return { doc: o, applied };
}

/** The second half: the rest of the document, checked, and `bytes` in canonical form. Throws SnapshotError. */
export function snapshotBody(bytes: Uint8Array, { doc: o, applied }: SnapshotHeader): SnapshotParts {
  if (!isLeaseCount(o['nextLease'])) fail('"nextLease" must be a positive integer');
  let members: Membership | null = null;
  if (o['members'] !== undefined) {
    const why = checkMembership(o['members']);
    if (why !== null) fail(why);
    members = o['members'] as Membership;
  }

  if (!Array.isArray(o['data'])) fail('"data" must be an array of [key, value, create, mod, version]');
  const data = new Map<string, KeyEntry>();
  let prevKey: string | undefined;
  for (const [i, e] of (o['data'] as unknown[]).entries()) {
    const line = parseEntryLine(e, applied);
    if (typeof line === 'string') return fail(`data[${i}]: ${line}`);
    const k = line.key;
    if (prevKey !== undefined && !(k > prevKey))
      fail(
        `data[${i}]: key ${JSON.stringify(k).slice(0, 40)} is not after the previous key (keys must be sorted ` +
          `and unique)`,
      );
    prevKey = k;
    data.set(k, line.entry);
  }

  if (!Array.isArray(o['leases'])) fail('"leases" must be an array of [id, ttl, renewed]');
  const leases = LeaseTable.link(data, o['leases'] as unknown[], applied, o['nextLease'] as number);
  if (typeof leases === 'string') fail(leases);

  if (!Array.isArray(o['sessions'])) fail('"sessions" must be an array of [client, seq, index, result]');
  const sessions = new Map<string, SessionInfo>();
  let prevIndex = 0;
  for (const [i, e] of (o['sessions'] as unknown[]).entries()) {
    if (!Array.isArray(e) || e.length !== 4) fail(`sessions[${i}] must be [client, seq, index, result]`);
    const [client, seq, index, res] = e as unknown[];
    // A get that re-decodes checks client and seq with the command's own rules.
    const cmd = decodeCommand({ o: 'get', c: client, s: seq, k: 'k' });
    if (!cmd.ok) fail(`sessions[${i}]: ${cmd.why}`);
    if (sessions.has(client as string)) fail(`sessions[${i}]: client ${JSON.stringify(client)} appears twice`);
    if (
      typeof index !== 'number' ||
      !Number.isSafeInteger(index) ||
      index < 1 ||
      index < prevIndex ||
      index > applied
    ) {
      fail(
        `sessions[${i}]: index must be an integer at least the previous session's (${prevIndex}; one log slot ` +
          `may hold several clients' commands) and at most "applied" (${applied})`,
      );
    }
    const result = decodeResult(res);
    if (!result.ok) return fail(`sessions[${i}]: ${result.why}`);
    prevIndex = index as number;
    sessions.set(client as string, { seq: seq as number, index: index as number, result: result.value });
  }

  const parts = { applied, members, data, leases: leases as LeaseTable, sessions };
  // Only the canonical encoding is accepted, so equal stores always have equal snapshots.
  if (!bytesEqual(encodeSnapshot(parts), bytes))
    fail('not in canonical form (field order, spacing or number format differ from what snapshot() writes)');
  return parts;
}

/** What a snapshot's format says when it is one of the formats before revisions. */
export function olderFormat(f: unknown): string {
  return f === 'paxos-kv/1' || f === 'paxos-kv/2'
    ? ` but "${f}": written by a version before keys had revisions, which this version cannot give them in ` +
        `agreement with the other replicas (see docs/replicated-log.md#revisions)`
    : '';
}

/** The sessions as snapshots carry them, in the table's order (their eviction order). */
export function sessionLines(sessions: ReadonlyMap<string, SessionInfo>): SessionLine[] {
  const lines: SessionLine[] = [];
  for (const [c, s] of sessions) lines.push([c, s.seq, s.index, encodeResult(s.result)]);
  return lines;
}

// Plain UTF-16 code-unit order: localeCompare would depend on the machine's locale.
export function sortedEntries<T>(m: ReadonlyMap<string, T>): [string, T][] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function fail(why: string): never {
  throw new SnapshotError(`snapshot: ${why}`);
}

const isLeaseCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 1;

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

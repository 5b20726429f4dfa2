// Rebuilding a store piece by piece (KvBuilder): from a KvView's pieces as
// a leader streams them, or from the lines of a snapshot file, checking each
// piece as it comes, so that a big store never has to be one string.

import { checkMembership, type Membership } from '../paxos/membership.js';
import { decodeCommand, decodeResult } from './command.js';
import { parseEntryLine, type KeyEntry } from './key-entry.js';
import {
  entryBytes,
  KvStore,
  olderFormat,
  SNAPSHOT_FORMAT,
  SnapshotError,
  type KvOptions,
  type SessionInfo,
} from './kv.js';
import { STREAM_FORMAT } from './kv-view.js';

/**
 * Rebuilds a store from the pieces of a KvView, checking each as it comes. Throws SnapshotError naming what is wrong.
 */
export class KvBuilder {
  private readonly data = new Map<string, KeyEntry>();
  private readonly sessionMap = new Map<string, SessionInfo>();
  private readonly leaseLines: unknown[] = [];
  private bytes = 0;
  private prevIndex = 0;

  /** `nextLease`: the id the store's next lease gets (the snapshot's head says). */
  constructor(
    readonly applied: number,
    private readonly nextLease: number,
    private readonly options: KvOptions = {},
    /** The configuration, if the snapshot's head has one (paxos/membership.ts); checked here. */
    private readonly members: unknown = undefined,
  ) {
    const why = members === undefined ? null : checkMembership(members);
    if (why !== null) throw new SnapshotError(`snapshot: ${why}`);
    if (!Number.isSafeInteger(applied) || applied < 0)
      throw new SnapshotError(`snapshot: "applied" must be a non-negative integer; got ${applied}`);
    if (!Number.isSafeInteger(nextLease) || nextLease < 1)
      throw new SnapshotError(`snapshot: "nextLease" must be a positive integer; got ${nextLease}`);
  }

  get keys(): number {
    return this.data.size;
  }

  get leases(): number {
    return this.leaseLines.length;
  }

  get sessions(): number {
    return this.sessionMap.size;
  }

  /** A lease line, [id, ttl, renewed]: checked, with the keys that name it, at build(). */
  lease(l: unknown): void {
    if (this.sessionMap.size > 0) throw new SnapshotError('snapshot: a lease after the sessions began');
    this.leaseLines.push(l);
  }

  entry(e: unknown): void {
    if (this.sessionMap.size > 0 || this.leaseLines.length > 0)
      throw new SnapshotError('snapshot: a key after the leases or sessions began');
    const line = parseEntryLine(e, this.applied);
    if (typeof line === 'string') throw new SnapshotError(`snapshot: ${line}`);
    const k = line.key;
    if (this.data.has(k)) throw new SnapshotError(`snapshot: key ${JSON.stringify(k).slice(0, 40)} appears twice`);
    this.data.set(k, line.entry);
    this.bytes += entryBytes(k, line.entry.value);
  }

  session(e: unknown): void {
    const n = this.sessionMap.size;
    if (!Array.isArray(e) || e.length !== 4)
      throw new SnapshotError(`snapshot: session ${n} must be [client, seq, index, result]`);
    const [client, seq, index, res] = e as unknown[];
    // A get that re-decodes checks client and seq with the command's own rules.
    const cmd = decodeCommand({ o: 'get', c: client, s: seq, k: 'k' });
    if (!cmd.ok) throw new SnapshotError(`snapshot: session ${n}: ${cmd.why}`);
    if (this.sessionMap.has(client as string))
      throw new SnapshotError(`snapshot: client ${JSON.stringify(client)} appears twice`);
    if (
      typeof index !== 'number' ||
      !Number.isSafeInteger(index) ||
      index < 1 ||
      index < this.prevIndex ||
      index > this.applied
    ) {
      throw new SnapshotError(
        `snapshot: session ${n}: index must be an integer at least the previous session's (${this.prevIndex}` +
          `) and at most "applied" (${this.applied})`,
      );
    }
    const result = decodeResult(res);
    if (!result.ok) throw new SnapshotError(`snapshot: session ${n}: ${result.why}`);
    this.prevIndex = index;
    this.sessionMap.set(client as string, { seq: seq as number, index, result: result.value });
  }

  /** The store; the builder must not be used after. */
  build(): KvStore {
    const leases = { lines: this.leaseLines, next: this.nextLease };
    const members = this.members === undefined ? null : (this.members as Membership);
    return KvStore.fromParts(this.applied, this.data, leases, this.sessionMap, this.bytes, this.options, members);
  }

  /**
   * A store from the lines of a file: KvView.lines() (paxos-kv/4), or the
   * single JSON document of snapshot() (paxos-kv/3). Throws SnapshotError
   * naming the line that is wrong; one of the formats before revisions
   * (paxos-kv/1 and /2) is refused, saying why.
   */
  static fromLines(lines: Iterable<string>, options: KvOptions = {}): KvStore {
    let b: KvBuilder | null = null;
    let keys = 0;
    let leases = 0;
    let sessions = 0;
    let n = 0;
    for (const line of lines) {
      n += 1;
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch (err) {
        throw new SnapshotError(`snapshot line ${n}: not JSON (${(err as Error).message})`);
      }
      if (b === null) {
        const h = raw as Record<string, unknown> | null;
        if (h?.['format'] === SNAPSHOT_FORMAT) return KvStore.restore(new TextEncoder().encode(line), options);
        if (h?.['format'] !== STREAM_FORMAT)
          throw new SnapshotError(`snapshot line 1: "format" is not "${STREAM_FORMAT}"${olderFormat(h?.['format'])}`);
        const count = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
        if (!count(h['keys']) || !count(h['leases']) || !count(h['sessions']))
          throw new SnapshotError('snapshot line 1: "keys", "leases" and "sessions" must be counts');
        b = new KvBuilder(h['applied'] as number, h['nextLease'] as number, options, h['members']);
        keys = h['keys'];
        leases = h['leases'];
        sessions = h['sessions'];
      } else if (n - 1 <= keys) b.entry(raw);
      else if (n - 1 <= keys + leases) b.lease(raw);
      else if (n - 1 <= keys + leases + sessions) b.session(raw);
      else
        throw new SnapshotError(
          `snapshot line ${n}: more lines than the ${keys} keys, ${leases} leases and ${sessions} sessions the ` +
            `first line announces`,
        );
    }
    if (b === null) throw new SnapshotError('snapshot: no lines');
    if (n - 1 !== keys + leases + sessions)
      throw new SnapshotError(
        `snapshot: ${n - 1} lines after the first, where it announces ${keys} keys, ${leases} leases and ` +
          `${sessions} sessions (cut short?)`,
      );
    return b.build();
  }
}

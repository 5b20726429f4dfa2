// The replicated key-value store: a deterministic state machine fed the
// Multi-Paxos log in index order. Pure: no I/O, clocks or randomness, so every
// replica that applies the same commands holds the same bytes.
//
// Exactly-once: each client command carries (client, seq). The store keeps,
// per client, the last seq applied and its result:
//   seq == last  -> the saved result, not applied again (a retry);
//   seq <  last  -> {status:'stale'}, never applied (an old duplicate);
//   seq >  last  -> applied, and becomes the new last.
// A command is matched by (client, seq) alone: a client must not reuse a seq
// for a different command.
//
// Sessions are bounded by `maxSessions`: past it, the session whose last apply
// has the oldest log index is dropped. All replicas apply the same sequence, so
// all drop the same one. An unknown client is taken as new only at seq 1; any
// higher seq from an unknown client gets {status:'expired'} and is not applied,
// because its session may have been dropped and an earlier command of it may
// already be in the store. An expired client does not know whether its pending
// command took effect; it must start a new session under a new client id. The
// one case this cannot catch: a session dropped while its seq-1 command's reply
// was lost, then retried; that retry is applied again. Keep `maxSessions` well
// above the number of clients active at once.
//
// Memory: a session saves its last result, which for a get can be a 64 KiB
// value, and for a transaction (txn.ts) its gets, 128 KiB of keys and
// values at most: the table holds at most maxSessions x 128 KiB of results.
//
// Quota: a put or cas that would take the store's size (the UTF-8 bytes of
// its keys and values) past `quotaBytes` is refused with {status:'quota'},
// nothing changed. The check uses only the store's own state when the command
// is applied, so every replica gives the same answer. Reads and deletes always
// work, so a full store can be emptied.
//
// Leases (lease.ts): a lease's keys are deleted when it is revoked, or when
// the leader's {"o":"expire"} finds it not renewed since: the store has no
// clock, so when is the leader's to say (src/node/lease-clock.ts).
//
// Snapshots come in two forms. snapshot()/restore(): one canonical JSON
// document, sorted, for tests and the simulator, which compare bytes
// (kv-snapshot.ts writes and reads it). view()/KvBuilder (kv-builder.ts): a
// frozen copy handed out piece by piece, and a store rebuilt piece by piece,
// so that replicas can write a big store to disk or send it to each other
// without one giant string (see KvView).

import { KvView } from './kv-view.js';
import { checkCommand, encodeCommand, type CheckedCommand, type Command, type Result } from './command.js';
import { DEFAULT_MAX_SESSIONS, DEFAULT_QUOTA_BYTES } from '../paxos/defaults.js';

import { lowerBound, scanRange, type RangeAnswer, type RangeQuery } from './range.js';
import { holds } from './txn.js';
import { nextEntry, revisionsOf, type KeyEntry } from './key-entry.js';
import { MAX_LEASES, type Lease, type LeaseChange, type LeaseLine } from './lease.js';
import type { Membership } from '../paxos/membership.js';
import { isChangeCommand, memberChange } from './members.js';
import { LeaseTable } from './lease-table.js';
import {
  encodeSnapshot,
  snapshotBody,
  sessionLines,
  snapshotHeader,
  SnapshotError,
  sortedEntries,
  type SessionInfo,
  type SnapshotParts,
} from './kv-snapshot.js';

export { KvView, STREAM_FORMAT, type KvPiece, type SessionLine } from './kv-view.js';
export type { KeyEntry } from './key-entry.js';
export { olderFormat, SNAPSHOT_FORMAT, SnapshotError, type SessionInfo } from './kv-snapshot.js';

/** A get's result for a key whose entry is `e` (undefined: absent). */
export function getResult(e: KeyEntry | undefined): Result {
  return e === undefined ? { status: 'ok', value: null } : { status: 'ok', value: e.value, rev: revisionsOf(e) };
}
export interface KvOptions {
  /** Most client sessions kept; default 10,000. Must be the same on every replica. */
  readonly maxSessions?: number;
  /**
   * Largest store (UTF-8 bytes of keys and values) a put or cas may make; default 2 GiB. Must be the same on every
   * replica.
   */
  readonly quotaBytes?: number;
  /**
   * The first configuration (the hostsfile's), which membership changes
   * start from (paxos/membership.ts). Without it, changes are refused. Must
   * be the same on every replica.
   */
  readonly members?: Membership;
  /** Broken on purpose (the simulator's twoChangesInFlight): a change is taken while the last takes effect. */
  readonly concurrentChanges?: boolean;
}

/** UTF-8 bytes a key and its value take against the quota. */
export const entryBytes = (k: string, v: string): number => Buffer.byteLength(k, 'utf8') + Buffer.byteLength(v, 'utf8');

export class KvStore {
  readonly maxSessions: number;
  private data = new Map<string, KeyEntry>();
  /**
   * The keys in order, for ranges: sorted at the first range, then kept in
   * order as keys come and go (a binary search and a splice each), so a
   * range on a big store never sorts it again.
   */
  private sortedKeys: string[] | null = null;
  /** Told of every change, with the slot that made it (node/watch-hub.ts). */
  onChange: ((c: { readonly rev: number; readonly key: string; readonly value: string | null }) => void) | null = null;
  /** Told of every lease granted, renewed or gone (node/lease-clock.ts). */
  onLease: ((c: LeaseChange) => void) | null = null;
  private leases = LeaseTable.empty();
  /** The configuration, once a change has been applied; before that, the first one (KvOptions.members). */
  private members: Membership | null = null;
  private readonly firstMembers: Membership | null;
  private readonly concurrentChanges: boolean;
  /** The slot being applied. */
  private applying = 0;
  // Map order is insertion order, and a session is re-inserted on every apply,
  // so the first entry is always the one with the oldest apply index.
  private sessions = new Map<string, SessionInfo>();
  private applied = 0;
  private readonly views = new Set<KvView>();
  /** UTF-8 bytes of every key and value, kept as the store changes. */
  private bytes = 0;
  readonly quotaBytes: number;

  constructor(options: KvOptions = {}) {
    const max = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    if (!Number.isSafeInteger(max) || max < 1)
      throw new RangeError(`maxSessions must be a positive integer; got ${max}`);
    this.maxSessions = max;
    const quota = options.quotaBytes ?? DEFAULT_QUOTA_BYTES;
    if (!Number.isSafeInteger(quota) || quota < 1)
      throw new RangeError(`quotaBytes must be a positive integer; got ${quota}`);
    this.quotaBytes = quota;
    this.firstMembers = options.members ?? null;
    this.concurrentChanges = options.concurrentChanges === true;
  }

  /** The configuration after the last slot applied; null: none was given (KvOptions.members). */
  get membership(): Membership | null {
    return this.members ?? this.firstMembers;
  }

  /** The store's size against its quota: UTF-8 bytes of every key and value. */
  get storeBytes(): number {
    return this.bytes;
  }

  /** Highest log index applied; 0 before the first. */
  get appliedIndex(): number {
    return this.applied;
  }

  /** Number of keys present. */
  get size(): number {
    return this.data.size;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  session(client: string): SessionInfo | undefined {
    return this.sessions.get(client);
  }

  /**
   * Whether this client's command `seq` was applied here already (a retry of it would be answered from its session).
   */
  hasApplied(client: string, seq: number): boolean {
    return (this.sessions.get(client)?.seq ?? 0) >= seq;
  }

  /** The current value, null if absent: for reads that bypass the log (read-index). */
  read(key: string): string | null {
    return this.data.get(key)?.value ?? null;
  }

  /** Lease `id`'s TTL, last renewal and keys, undefined if there is none (never granted, or gone). */
  lease(id: number): Readonly<Lease> | undefined {
    return this.leases.get(id);
  }

  /** Every lease: [id, ttl, renewed] each, by id. */
  leaseLines(): LeaseLine[] {
    return this.leases.lines();
  }

  /** The key's value and revisions, undefined if absent. */
  entry(key: string): KeyEntry | undefined {
    return this.data.get(key);
  }

  private keyAdded(key: string): void {
    if (this.sortedKeys !== null) this.sortedKeys.splice(lowerBound(this.sortedKeys, key), 0, key);
  }

  /** A range of keys (range.ts), for reads that bypass the log. `q` must pass checkRangeQuery. */
  range(q: RangeQuery): RangeAnswer {
    // Sorted again only after keys came or went: a run of ranges between writes sorts once.
    this.sortedKeys ??= [...this.data.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return scanRange(this.sortedKeys, (k) => this.data.get(k)!, q);
  }

  /**
   * Applies a command built in code at log `index`: it is encoded and
   * checked as one off the wire would be (the wire codec is the one
   * definition of a valid command), then applied as applyBatch does. Indexes
   * must strictly increase (a hole is filled with a noop first); every index,
   * noops included, advances appliedIndex. Throws only on caller bugs, which
   * would otherwise let replicas diverge: an index out of order, or a
   * command checkCommand refuses. Not the replicas' path: they apply what
   * they checked where it arrived (applyBatch).
   */
  apply(cmd: Command, index: number): Result {
    if (!Number.isSafeInteger(index) || index <= this.applied) {
      throw new RangeError(
        `apply: log index ${index} is not above the applied index ${this.applied}; apply each index once, in ` +
          `increasing order`,
      );
    }
    const valid = checkCommand(encodeCommand(cmd));
    if (!valid.ok)
      throw new TypeError(
        `apply: invalid command at index ${index}: ${valid.why}; decode commands with decodeCommand before ` +
          `proposing them`,
      );
    this.applied = index;
    return this.applyChecked(valid.value, index);
  }

  /**
   * Applies every command of one log slot, in order; afterwards appliedIndex
   * is `slot`. A replicated log puts a batch of commands in each slot. The
   * commands are in the wire form they arrived in, checked there
   * (checkCommand, at the edge): they are applied as they are, with no
   * decoding.
   */
  applyBatch(cmds: readonly CheckedCommand[], slot: number): Result[] {
    if (!Number.isSafeInteger(slot) || slot <= this.applied) {
      throw new RangeError(
        `applyBatch: slot ${slot} is not above the applied index ${this.applied}; apply each slot once, in ` +
          `increasing order`,
      );
    }
    const results: Result[] = [];
    for (const cmd of cmds) results.push(this.applyChecked(cmd, slot));
    this.applied = slot;
    return results;
  }

  private applyChecked(cmd: CheckedCommand, index: number): Result {
    if (cmd.o === 'noop') return { status: 'ok' };
    if (cmd.o === 'expire') {
      // Only if not renewed since the leader saw it: a keepalive applied first wins.
      this.applying = index;
      if (this.leases.get(cmd.id)?.renewed === cmd.at) this.revoke(cmd.id);
      return { status: 'ok' };
    }
    if (isChangeCommand(cmd)) {
      // Applied whatever its session says, as the log core applies it: the two must agree (members.ts).
      const { members, result } = memberChange(this.membership, cmd, index, this.concurrentChanges);
      if (members !== null) this.members = members;
      this.sessions.delete(cmd.c);
      this.sessions.set(cmd.c, { seq: cmd.s, index, result });
      this.evictOverflow();
      return result;
    }
    const s = this.sessions.get(cmd.c);
    if (s !== undefined) {
      if (cmd.s === s.seq) return s.result;
      if (cmd.s < s.seq) return { status: 'stale', last: s.seq };
    } else if (cmd.s > 1) {
      return { status: 'expired' };
    }
    this.applying = index;
    const result = this.execute(cmd);
    this.sessions.delete(cmd.c);
    this.sessions.set(cmd.c, { seq: cmd.s, index, result });
    this.evictOverflow();
    return result;
  }

  private execute(cmd: Exclude<CheckedCommand, { o: 'noop' | 'expire' | 'madd' | 'mpromote' | 'mremove' }>): Result {
    switch (cmd.o) {
      case 'txn':
        return this.txn(cmd);
      case 'grant': {
        const id = this.leases.grant(cmd.t, this.applying);
        if (id === null) return { status: 'toomany', max: MAX_LEASES };
        this.onLease?.({ id, ttl: cmd.t, renewed: this.applying });
        return { status: 'lease', id, ttl: cmd.t };
      }
      case 'keep': {
        const l = this.leases.renew(cmd.id, this.applying);
        if (l === undefined) return { status: 'nolease', id: cmd.id };
        this.onLease?.({ id: cmd.id, ttl: l.ttl, renewed: l.renewed });
        return { status: 'lease', id: cmd.id, ttl: l.ttl };
      }
      case 'revoke':
        return this.revoke(cmd.id) ? { status: 'ok' } : { status: 'nolease', id: cmd.id };
      case 'leases':
        return { status: 'leases', leases: this.leases.info() };
      case 'members':
        return { status: 'members', members: this.membership?.members ?? [] };
    }
    const cur = this.data.get(cmd.k);
    switch (cmd.o) {
      case 'get':
        return getResult(cur);
      case 'put':
        if (cmd.l !== undefined && !this.leases.has(cmd.l)) return { status: 'nolease', id: cmd.l };
        return this.write(cmd.k, cmd.v, cur, cmd.l) ?? prevResult(cur);
      case 'del':
        return this.remove(cmd.k, cur);
      case 'cas':
        if ((cur?.value ?? null) !== cmd.e) return { status: 'mismatch', current: cur?.value ?? null };
        return this.write(cmd.k, cmd.v, cur) ?? { status: 'ok' };
    }
  }

  /** Delete lease `id` and its keys, in key order, at the slot being applied; false if there is no such lease. */
  private revoke(id: number): boolean {
    const l = this.leases.take(id);
    if (l === undefined) return false;
    for (const key of [...l.keys].sort()) this.remove(key, this.data.get(key));
    this.onLease?.({ id, gone: true });
    return true;
  }

  private remove(key: string, cur: KeyEntry | undefined): Result {
    if (cur === undefined) return { status: 'ok' };
    for (const v of this.views) v.willWrite(key, cur);
    this.leases.move(key, cur.lease, undefined);
    this.data.delete(key);
    if (this.sortedKeys !== null) this.sortedKeys.splice(lowerBound(this.sortedKeys, key), 1);
    this.onChange?.({ rev: this.applying, key, value: null });
    this.bytes -= entryBytes(key, cur.value);
    return { status: 'ok', prev: cur.value };
  }

  /**
   * A transaction (txn.ts): every compare against the store as it is, then
   * the list they choose, op by op. All of it or none: a list whose puts
   * would take the store past its quota is refused before any op runs.
   */
  private txn(cmd: Extract<CheckedCommand, { o: 'txn' }>): Result {
    const succeeded = cmd.if.every((c) => holds(c, this.data.get(c[0])));
    const ops = succeeded ? cmd.then : cmd.else;
    // A put with a lease that is gone: nothing runs.
    for (const o of ops) if (o.length === 4 && !this.leases.has(o[3])) return { status: 'nolease', id: o[3] };
    // The store's size after the list, each key's value followed through it.
    const after = new Map<string, string | undefined>();
    let bytes = this.bytes;
    let peak = bytes;
    for (const o of ops) {
      if (o[0] === 'get') continue;
      const cur = after.has(o[1]) ? after.get(o[1]) : this.data.get(o[1])?.value;
      if (cur !== undefined) bytes -= entryBytes(o[1], cur);
      const next = o[0] === 'put' ? o[2] : undefined;
      if (next !== undefined) bytes += entryBytes(o[1], next);
      after.set(o[1], next);
      peak = Math.max(peak, bytes);
    }
    if (peak > this.quotaBytes && peak > this.bytes)
      return { status: 'quota', used: this.bytes, quota: this.quotaBytes };
    const results: Result[] = [];
    for (const o of ops) {
      const cur = this.data.get(o[1]);
      if (o[0] === 'get') results.push(getResult(cur));
      else if (o[0] === 'del') results.push(this.remove(o[1], cur));
      else {
        // The quota was checked for the whole list above.
        const [, key, value, lease] = o as readonly ['put', string, string, number?];
        this.set(key, value, cur, lease);
        results.push(prevResult(cur));
      }
    }
    return { status: 'txn', succeeded, results };
  }

  /** Set key to value unless that grows the store past its quota (then the refusal, nothing changed). */
  private write(key: string, value: string, cur: KeyEntry | undefined, lease?: number): Result | null {
    const before = cur === undefined ? 0 : entryBytes(key, cur.value);
    const after = entryBytes(key, value);
    if (after > before && this.bytes - before + after > this.quotaBytes)
      return { status: 'quota', used: this.bytes, quota: this.quotaBytes };
    this.set(key, value, cur, lease);
    return null;
  }

  /**
   * Set key to value at the slot being applied, its entry before `cur`,
   * attached to `lease` (which exists) or to none; the quota is the caller's.
   */
  private set(key: string, value: string, cur: KeyEntry | undefined, lease?: number): void {
    for (const v of this.views) v.willWrite(key, cur);
    if (cur === undefined) this.keyAdded(key);
    this.leases.move(key, cur?.lease, lease);
    this.data.set(key, nextEntry(cur, value, this.applying, lease));
    this.bytes += entryBytes(key, value) - (cur === undefined ? 0 : entryBytes(key, cur.value));
    this.onChange?.({ rev: this.applying, key, value });
  }

  private evictOverflow(): void {
    while (this.sessions.size > this.maxSessions) {
      const oldest = this.sessions.keys().next();
      if (oldest.done === true) return;
      this.sessions.delete(oldest.value);
    }
  }

  /** Deterministic bytes: the one-document snapshot (kv-snapshot.ts's encodeSnapshot). */
  snapshot(): Uint8Array {
    const { applied, members, data, leases, sessions } = this;
    return encodeSnapshot({ applied, members, data, leases, sessions });
  }

  /** The store a snapshot was taken of. Throws SnapshotError naming the bad field. */
  static restore(bytes: Uint8Array, options: KvOptions = {}): KvStore {
    const header = snapshotHeader(bytes);
    // Made between the halves: a bad option is still reported before a bad body.
    const kv = new KvStore(options);
    const parts = snapshotBody(bytes, header);
    let size = 0;
    for (const [k, e] of parts.data) size += entryBytes(k, e.value);
    kv.load(parts, size);
    return kv;
  }

  /** A store from parts KvBuilder has checked; it takes them over. */
  static fromParts(
    applied: number,
    data: Map<string, KeyEntry>,
    leases: { readonly lines: readonly unknown[]; readonly next: number },
    sessions: Map<string, SessionInfo>,
    bytes: number,
    options: KvOptions,
    members: Membership | null = null,
  ): KvStore {
    const kv = new KvStore(options);
    const table = LeaseTable.link(data, leases.lines, applied, leases.next);
    if (typeof table === 'string') throw new SnapshotError(`snapshot: ${table}`);
    kv.load({ applied, members, data, leases: table, sessions }, bytes);
    return kv;
  }

  /** Take over a snapshot's parts (`bytes`: their size against the quota), then drop the sessions past maxSessions. */
  private load(p: SnapshotParts, bytes: number): void {
    this.applied = p.applied;
    this.members = p.members;
    this.data = p.data;
    this.leases = p.leases;
    this.sessions = p.sessions;
    this.bytes = bytes;
    this.evictOverflow();
  }

  /**
   * The store frozen now, for a snapshot at appliedIndex written or sent
   * piece by piece while the store goes on. Copy-on-write: the view takes
   * the list of keys (about 2 ms per 200,000; copying the map itself took
   * 30 to 300 ms) and a copy of the sessions; from then on, until it is
   * closed, the store hands it the old value of every key it writes. Whoever
   * takes a view must close it.
   */
  view(): KvView {
    const sessions = sessionLines(this.sessions);
    const leases = { lines: this.leases.lines(), next: this.leases.nextId };
    const view = new KvView(this.applied, this.data, [...this.data.keys()], leases, sessions, this.members, (v) =>
      this.views.delete(v),
    );
    this.views.add(view);
    return view;
  }

  /** Views not yet closed (see view). */
  get openViews(): number {
    return this.views.size;
  }

  /**
   * The replica file users read: JSON lines, first {"applied":N,"keys":M},
   * then {"key":K,"value":V} per key, sorted by key. One line per key so
   * `diff` between two replicas points at the keys that differ and `grep`
   * works; JSON so any key or value (newlines, quotes) reads back unambiguously.
   */
  toReplicaFile(): string {
    const lines = [JSON.stringify({ applied: this.applied, keys: this.data.size })];
    for (const [key, e] of sortedEntries(this.data)) lines.push(JSON.stringify({ key, value: e.value }));
    return `${lines.join('\n')}\n`;
  }
}

/** A put's or del's result: the value before, if there was one. */
function prevResult(cur: KeyEntry | undefined): Result {
  return cur === undefined ? { status: 'ok' } : { status: 'ok', prev: cur.value };
}

// A key-value store frozen at one applied index (KvStore.view), read piece
// by piece: for a snapshot sent between replicas, a snapshot file, or the
// replica file. The store keeps serving writes meanwhile; it hands the view
// the old value of every key it changes, so the view copies nothing up front.

import type { Membership } from '../paxos/membership.js';
import { entryLine, type EntryLine, type KeyEntry } from './key-entry.js';
import type { LeaseLine } from './lease.js';

/** The first line of a snapshot streamed line by line (see KvView.lines). paxos-kv/2 had no revisions. */
export const STREAM_FORMAT = 'paxos-kv/4';

/** A session as snapshots carry it: [client, seq, apply index, result in its wire form]. */
export type SessionLine = [string, number, number, Record<string, unknown>];

/** One piece of a snapshot: some keys, then the leases, then (in the last pieces) the sessions. */
export interface KvPiece {
  readonly entries: EntryLine[];
  readonly leases: LeaseLine[];
  readonly sessions: SessionLine[];
}

/** A store's leases as a view holds them: [id, ttl, renewed] by id, and the next id. */
export interface LeaseTable {
  readonly lines: readonly LeaseLine[];
  readonly next: number;
}

/**
 * A store frozen at one applied index (KvStore.view), handed out in pieces:
 * `pieces` for a transfer between replicas, `lines` for a file. Order: keys
 * in the store's own order (not sorted: a reader rebuilds a map), then the
 * sessions by apply index, their eviction order.
 */
export class KvView {
  /**
   * Old values of the keys the store wrote since the view was taken (absent then: not recorded, the key is not in
   * `keyList`).
   */
  private readonly before = new Map<string, KeyEntry>();
  private closed = false;

  constructor(
    readonly applied: number,
    private readonly live: ReadonlyMap<string, KeyEntry>,
    private readonly keyList: readonly string[],
    readonly leases: LeaseTable,
    private readonly sessions: readonly SessionLine[],
    /** The configuration, once changed from the hostsfile's (paxos/membership.ts); null: never changed. */
    readonly members: Membership | null,
    private readonly release: (v: KvView) => void,
  ) {}

  get keys(): number {
    return this.keyList.length;
  }

  /** The store is about to change `key`, whose entry is `cur` (undefined: absent). */
  willWrite(key: string, cur: KeyEntry | undefined): void {
    if (cur !== undefined && !this.before.has(key)) this.before.set(key, cur);
  }

  /** Stop following the store's writes; the view must not be read after. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.before.clear();
    this.release(this);
  }

  /** The entry `key` (one of keyList) had when the view was taken. */
  private entryOf(key: string): KeyEntry {
    if (this.closed) throw new Error('a KvView read after close()');
    return this.before.get(key) ?? this.live.get(key)!;
  }

  private *entries(): Generator<EntryLine> {
    for (const k of this.keyList) yield entryLine(k, this.entryOf(k));
  }

  /** Pieces of about `maxChars` characters of keys, values and results each (one big entry may pass it). */
  *pieces(maxChars: number): Generator<KvPiece> {
    let entries: EntryLine[] = [];
    let leases: LeaseLine[] = [];
    let sessions: SessionLine[] = [];
    let size = 0;
    let yielded = false;
    const piece = (): KvPiece => {
      // Fresh arrays for every piece: a caller may look one piece ahead.
      const p = { entries, leases, sessions };
      [entries, leases, sessions, size, yielded] = [[], [], [], 0, true];
      return p;
    };
    for (const e of this.entries()) {
      entries.push(e);
      size += e[0].length + e[1].length + 40;
      if (size >= maxChars) yield piece();
    }
    for (const l of this.leases.lines) {
      leases.push(l);
      size += 40;
      if (size >= maxChars) yield piece();
    }
    for (const s of this.sessions) {
      sessions.push(s);
      size += s[0].length + resultChars(s[3]) + 32;
      if (size >= maxChars) yield piece();
    }
    // At least one piece, so that even an empty store makes a transfer.
    if (entries.length > 0 || leases.length > 0 || sessions.length > 0 || !yielded) yield piece();
  }

  /**
   * The snapshot as JSON lines (each ending in a newline), for a file: first
   * {"format":"paxos-kv/4","applied":N,"keys":K,"leases":L,"sessions":S,"nextLease":I(,"members":M)},
   * ("members": the configuration, once changed from the hostsfile's: paxos/membership.ts),
   * then [key,value,create,mod,version(,lease)] per key, [id,ttl,renewed]
   * per lease, and [client,seq,index,result] per session.
   */
  *lines(): Generator<string> {
    const head = {
      format: STREAM_FORMAT,
      applied: this.applied,
      keys: this.keyList.length,
      leases: this.leases.lines.length,
      sessions: this.sessions.length,
      nextLease: this.leases.next,
      ...(this.members === null ? {} : { members: this.members }),
    };
    yield `${JSON.stringify(head)}\n`;
    for (const e of this.entries()) yield `${JSON.stringify(e)}\n`;
    for (const l of this.leases.lines) yield `${JSON.stringify(l)}\n`;
    for (const s of this.sessions) yield `${JSON.stringify(s)}\n`;
  }

  /**
   * The replica file's lines (see KvStore.toReplicaFile), each ending in a
   * newline. The keys are sorted in runs of SORT_RUN, with an empty piece
   * after each run (a writer may yield to the event loop there), then
   * merged: no one step sorts the whole store (200,000 keys took 250 ms).
   */
  *replicaFileLines(): Generator<string> {
    yield `${JSON.stringify({ applied: this.applied, keys: this.keyList.length })}\n`;
    const runs: string[][] = [];
    for (let i = 0; i < this.keyList.length; i += SORT_RUN) {
      runs.push(this.keyList.slice(i, i + SORT_RUN).sort(compare));
      yield '';
    }
    for (const key of mergeSorted(runs)) yield `${JSON.stringify({ key, value: this.entryOf(key).value })}\n`;
  }
}

/** Characters of the strings a result holds, roughly what it takes on the wire. */
function resultChars(r: Record<string, unknown>): number {
  let n = 0;
  for (const x of Object.values(r)) if (typeof x === 'string') n += x.length;
  return n;
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Keys sorted in one go by replicaFileLines: a few ms each. */
const SORT_RUN = 8192;

/** The keys of sorted `runs`, in order: a k-way merge on a binary heap of the runs' heads. */
function* mergeSorted(runs: readonly string[][]): Generator<string> {
  // heap[i] = [run, position]; ordered by runs[run][position].
  const heap: Array<[number, number]> = runs.flatMap((r, i) => (r.length > 0 ? [[i, 0] as [number, number]] : []));
  const head = (h: [number, number]): string => runs[h[0]]![h[1]]!;
  const less = (a: number, b: number): boolean => head(heap[a]!) < head(heap[b]!);
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(l, m)) m = l;
      if (r < heap.length && less(r, m)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let i = Math.floor(heap.length / 2) - 1; i >= 0; i--) down(i);
  while (heap.length > 0) {
    const top = heap[0]!;
    yield head(top);
    top[1] += 1;
    if (top[1] >= runs[top[0]]!.length) {
      heap[0] = heap.at(-1)!;
      heap.pop();
    }
    if (heap.length > 0) down(0);
  }
}

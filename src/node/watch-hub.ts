// Watches: the store's changes, as put and delete events in log order, sent
// to the clients watching a key or a prefix. Every replica applies the same
// slots in the same order, so every replica makes the same events, and any
// replica can serve a watch. An event's revision is the slot that applied
// it (several events can share one: a batch, a transaction).
//
// A watch may start from a past revision: the hub keeps the most recent
// events, up to a byte budget, and knows the oldest revision it holds every
// event from. One asked from before that is refused ("compacted"), never
// served with a gap. A new store (a start, a snapshot installed) holds no
// history: its watches start after its applied slot.
//
// A watcher that does not read its events is the transport's to bound: the
// server closes a connection that leaves its answers unread (server.ts).

import { WATCH_HISTORY_BYTES } from '../paxos/defaults.js';
import { checkKey } from '../sm/check.js';

/** One change: `value` null for a delete. */
export interface KvChange {
  readonly rev: number;
  readonly key: string;
  readonly value: string | null;
}

/** What a watcher is sent. */
export type WatchAnswer =
  | { readonly status: 'watching'; readonly rev: number }
  | { readonly status: 'events'; readonly events: readonly KvChange[] }
  | { readonly status: 'compacted'; readonly oldest: number };

export interface WatchFilter {
  readonly key?: string;
  readonly prefix?: string;
}

/**
 * The watch asked for (a key or a prefix, and a revision to start at), as a
 * filter, or why it is not valid: one check for the wire and the library.
 */
export function checkWatch(
  key: unknown,
  prefix: unknown,
  rev: unknown,
): { filter: WatchFilter; rev: number | undefined } | string {
  if ((key === undefined) === (prefix === undefined)) return 'give a key or a prefix, one of the two';
  const why = key === undefined ? checkKey(prefix, 'the prefix') : checkKey(key, 'the key');
  if (why !== undefined) return why;
  if (rev !== undefined && (typeof rev !== 'number' || !Number.isSafeInteger(rev) || rev < 1))
    return `the revision must be a whole number from 1 up; got ${JSON.stringify(rev)?.slice(0, 40) ?? '?'}`;
  const filter = key === undefined ? { prefix: prefix as string } : { key: key as string };
  return { filter, rev: rev as number | undefined };
}

interface Watcher {
  readonly filter: WatchFilter;
  /** The first revision it still wants. */
  next: number;
  readonly send: (a: WatchAnswer) => void;
}

const matches = (f: WatchFilter, key: string): boolean =>
  f.key !== undefined ? key === f.key : key.startsWith(f.prefix ?? '');

const bytesOf = (e: KvChange): number => 32 + 2 * (e.key.length + (e.value?.length ?? 0));

export class WatchHub {
  /** Recent events, oldest first from `head`: every event of revision `oldest` and after. */
  private history: KvChange[] = [];
  /** Where the history starts in `history`: trimmed by moving it, the array cut only now and then. */
  private head = 0;
  private bytes = 0;
  /** The oldest revision whose events are all in `history`. */
  private oldest: number;
  /** Events of the slot being applied, sent when it ends (flush). */
  private pending: KvChange[] = [];
  private readonly watchers = new Map<number, Watcher>();
  private ids = 0;

  /** Changes recorded, for the broken variant. */
  private recorded = 0;

  constructor(
    applied: number,
    private readonly maxBytes = WATCH_HISTORY_BYTES,
    /** Broken on purpose (the simulator's skipWatchEvent): drop every this many changes. */
    private readonly skipEvery = 0,
  ) {
    this.oldest = applied + 1;
  }

  get size(): number {
    return this.watchers.size;
  }

  /**
   * A new store at slot `applied` (a snapshot installed): no history before
   * it. A watcher that still wanted a revision the snapshot covers would miss
   * its events here: it is told "compacted", and its client asks another
   * replica, never skipping them.
   */
  reset(applied: number): void {
    this.flush();
    this.history = [];
    this.head = 0;
    this.bytes = 0;
    this.oldest = applied + 1;
    for (const [id, w] of this.watchers) {
      if (w.next > applied) continue;
      this.watchers.delete(id);
      w.send({ status: 'compacted', oldest: this.oldest });
    }
  }

  /** The store changed (KvStore.onChange). */
  record(e: KvChange): void {
    this.recorded += 1;
    if (this.skipEvery > 0 && this.recorded % this.skipEvery === 0) return;
    this.pending.push(e);
  }

  /** A slot is applied: keep its events, and send each watcher those it wants. */
  flush(): void {
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    for (const e of events) {
      this.history.push(e);
      this.bytes += bytesOf(e);
    }
    this.trim();
    for (const w of this.watchers.values()) this.deliver(w, events);
  }

  /**
   * Watch from revision `from` (undefined: from the next slot applied here).
   * Returns its id, or the oldest revision held when `from` is older.
   */
  add(filter: WatchFilter, from: number | undefined, applied: number, send: Watcher['send']): number | null {
    const start = from ?? applied + 1;
    if (start < this.oldest) {
      send({ status: 'compacted', oldest: this.oldest });
      return null;
    }
    const id = ++this.ids;
    const w: Watcher = { filter, next: start, send };
    this.watchers.set(id, w);
    send({ status: 'watching', rev: start });
    this.deliver(w, this.history.slice(this.head));
    return id;
  }

  drop(id: number): void {
    this.watchers.delete(id);
  }

  private deliver(w: Watcher, events: readonly KvChange[]): void {
    const wanted = events.filter((e) => e.rev >= w.next && matches(w.filter, e.key));
    if (wanted.length === 0) return;
    w.next = wanted.at(-1)!.rev + 1;
    w.send({ status: 'events', events: wanted });
  }

  /** Forget the oldest revisions, whole, while the history is over its budget. */
  private trim(): void {
    const h = this.history;
    while (this.bytes > this.maxBytes && this.head < h.length) {
      const rev = h[this.head]!.rev;
      while (this.head < h.length && h[this.head]!.rev === rev) {
        this.bytes -= bytesOf(h[this.head]!);
        this.head += 1;
      }
      this.oldest = rev + 1;
    }
    // Cut the array once half of it is behind the head: each event is copied at most once on average.
    if (this.head > 1024 && this.head * 2 > h.length) {
      this.history = h.slice(this.head);
      this.head = 0;
    }
  }
}

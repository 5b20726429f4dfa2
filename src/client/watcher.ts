// A watch as a program holds it (KvClient.watch): the put and delete events
// of a key or a prefix, in log order, from a revision (a log slot) or from
// now, as an async iterator:
//
//   const w = kv.watch({ prefix: 'user/' });
//   for await (const e of w) console.log(e.rev, e.type, e.key, e.value);
//
// Any replica serves a watch (node/watch-hub.ts). When the connection to it
// ends (the replica died, or was restarted), the watch goes on at the next
// replica from the revision after the last event it saw: no event is
// missed and none comes twice. A revision a replica no longer holds ends
// the watch with DefiniteError('compacted'), never a silent gap.

import { setTimeout as sleep } from 'node:timers/promises';
import { RETRY_BASE_MS, RETRY_CAP_MS } from '../paxos/defaults.js';
import { backoffDelay } from '../util/backoff.js';
import { watchRequestWire } from '../wire/kv.js';
import type { WatchFilter } from '../node/watch-hub.js';
import { DefiniteError } from './errors.js';
import { newRequestId, type KvTarget } from './kv.js';
import { ReplicaConn } from './replica-conn.js';

export interface WatchEvent {
  /** The revision: the log slot that applied it. */
  readonly rev: number;
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** The new value; null for a delete. */
  readonly value: string | null;
}

/** What a watcher needs of its client. */
export interface WatchSource {
  readonly endpoints: readonly KvTarget[];
  /** The replica to start at. */
  readonly first: number;
  /** Give up when no replica has taken the watch for this long. */
  readonly timeoutMs: number;
  conn(t: KvTarget, ms: number): Promise<ReplicaConn | { why: string }>;
  /** The watch is over (closed, or failed): its client forgets it. */
  ended(): void;
}

export class Watcher implements AsyncIterable<WatchEvent> {
  private readonly queue: WatchEvent[] = [];
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private closed = false;
  private stop: (() => void) | null = null;
  /** The next revision wanted; undefined until the first replica says where "now" is. */
  private next: number | undefined;
  /** The revision the watch started at (once known). */
  startRevision: number | undefined;
  /** The replicas that said they no longer hold the revision wanted, and their oldest. */
  private readonly compacted = new Map<string, number>();
  /** The replica serving it now (its name), if one is. */
  servedBy: string | undefined;

  constructor(
    private readonly filter: WatchFilter,
    from: number | undefined,
    private readonly src: WatchSource,
  ) {
    this.next = from;
    void this.run();
  }

  /** Stop watching. Events already received can still be read. */
  close(): void {
    this.closed = true;
    this.stop?.();
    this.poke();
    this.src.ended();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    for (;;) {
      const e = this.queue.shift();
      if (e !== undefined) {
        yield e;
        continue;
      }
      if (this.failure !== null) throw this.failure;
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private fail(err: Error): void {
    this.failure = err;
    this.close();
  }

  private async run(): Promise<void> {
    const { endpoints } = this.src;
    let i = this.src.first;
    let tries = 0;
    let lastHeld = Date.now();
    const why = new Map<string, string>();
    while (!this.closed) {
      const t = endpoints[i % endpoints.length]!;
      i += 1;
      const c = await this.src.conn(t, 2000);
      if (this.closed) return;
      if (c instanceof ReplicaConn) {
        this.servedBy = t.name;
        const ended = await this.follow(c);
        this.servedBy = undefined;
        if (ended === null) return; // closed, or failed
        why.set(t.name, ended);
        lastHeld = Date.now();
        tries = 0;
      } else why.set(t.name, c.why);
      if (Date.now() - lastHeld > this.src.timeoutMs) {
        const all = [...why].map(([n, w]) => `${n}: ${w}`).join('; ');
        return this.fail(
          new DefiniteError('unavailable', `watch: no replica took it for ${this.src.timeoutMs / 1000} s (${all})`),
        );
      }
      tries += 1;
      await sleep(backoffDelay(tries, RETRY_BASE_MS, RETRY_CAP_MS, Math.random));
    }
  }

  /** Watch on `c` until its connection ends: why it ended, or null if the watch is over. */
  private follow(c: ReplicaConn): Promise<string | null> {
    return new Promise((resolve) => {
      const id = newRequestId();
      const cancel = c.subscribe(id, watchRequestWire(id, this.filter, this.next), {
        answer: (r) => {
          if (r.status === 'watching') {
            this.next ??= r.rev;
            this.startRevision ??= r.rev;
          } else if (r.status === 'events') {
            this.compacted.clear();
            // A revision's events come in one answer: skip only those an earlier answer brought.
            const from = this.next;
            for (const [rev, key, value] of r.events) {
              if (from !== undefined && rev < from) continue;
              this.queue.push({ rev, type: value === null ? 'delete' : 'put', key, value });
              this.next = rev + 1;
            }
            this.poke();
          } else if (r.status === 'compacted') {
            // Another replica may hold it still (one that restarted from a snapshot holds less): ask each.
            this.compacted.set(this.servedBy ?? '', r.oldest);
            if (this.compacted.size >= this.src.endpoints.length) {
              const oldest = Math.min(...this.compacted.values());
              this.fail(new DefiniteError('compacted', `compacted: oldest revision is ${oldest}`));
              return resolve(null);
            }
            cancel();
            resolve(`it no longer holds revision ${this.next ?? '?'} (its oldest is ${r.oldest})`);
          } else if (r.status === 'invalid') {
            this.fail(new DefiniteError('invalid', `watch: ${r.why}`));
            resolve(null);
          } else if (r.status === 'no_leader' || r.status === 'not_ready') {
            this.stop = null;
            cancel();
            resolve(`it cannot watch now (${r.status})`);
          }
        },
        ended: (why) => resolve(this.closed ? null : why),
      });
      this.stop = () => {
        cancel();
        resolve(null);
      };
    });
  }
}

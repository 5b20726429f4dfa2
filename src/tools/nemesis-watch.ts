// The nemesis's watchers (nemesis.ts): long-lived watches of every key the
// clients write, through the client library, across the same kills and
// partitions. Every value a client writes is unique, so a watcher's stream
// can be held to what the clients saw:
//   - every write acknowledged (ok) at a slot the watch covers is in it
//     exactly once, at that slot;
//   - nothing else is: no refused write, no cas that did not swap, nothing
//     nobody wrote (a write whose outcome was unknown may be there, once);
//   - revisions never go back;
//   - at the end, every key's last event is its final value in the stores.
// A watch may end early, definitely ("compacted" when no replica still holds
// the revision it needs, or no replica answered in time): that is allowed,
// and reported; the checks then cover its stream up to there.

import type { KvClient, Watcher } from '../client/api.js';

/** A write the clients made, and how it ended. */
export interface WriteRecord {
  readonly key: string;
  readonly value: string;
  /** ok: acknowledged (at `slot`); unknown: may or may not be applied; never: definitely not applied. */
  readonly outcome: 'ok' | 'unknown' | 'never';
  readonly slot?: number;
}

interface Event {
  readonly rev: number;
  readonly key: string;
  readonly value: string | null;
}

export class WatchRecorder {
  readonly events: Event[] = [];
  /** The revision the watch started at, once the first replica said. */
  start: number | undefined;
  ended: string | null = null;
  private readonly watcher: Watcher;
  private readonly done: Promise<void>;

  constructor(
    readonly name: string,
    client: KvClient,
    prefix: string,
  ) {
    const w = client.watch({ prefix });
    this.watcher = w;
    this.done = (async () => {
      try {
        for await (const e of w) {
          this.start ??= w.startRevision;
          this.events.push({ rev: e.rev, key: e.key, value: e.value });
        }
      } catch (err) {
        this.ended = (err as Error).message;
      }
      this.start ??= w.startRevision;
    })();
  }

  /** Whether it has seen `value` for `key` (the final writes). */
  has(key: string, value: string): boolean {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i]!;
      if (e.key === key && e.value === value) return true;
    }
    return false;
  }

  async close(): Promise<void> {
    this.watcher.close();
    await this.done;
  }
}

/** What is wrong with a watcher's stream, given every write the clients made; empty if nothing. */
export function checkWatchStream(
  w: WatchRecorder,
  writes: readonly WriteRecord[],
  finals: ReadonlyMap<string, string>,
): string[] {
  const problems: string[] = [];
  const bad = (why: string): void => {
    if (problems.length < 10) problems.push(`${w.name}: ${why}`);
  };
  const start = w.start ?? Infinity;
  const last = w.events.at(-1)?.rev ?? 0;
  // Revisions never go back.
  for (let i = 1; i < w.events.length; i++)
    if (w.events[i]!.rev < w.events[i - 1]!.rev) bad(`revision ${w.events[i]!.rev} after ${w.events[i - 1]!.rev}`);
  const seen = new Map<string, Event[]>();
  for (const e of w.events) {
    const k = `${e.key}\u0000${e.value ?? ''}`;
    const list = seen.get(k);
    if (list === undefined) seen.set(k, [e]);
    else list.push(e);
  }
  const byValue = new Map(writes.map((x) => [`${x.key}\u0000${x.value}`, x]));
  // Nothing that nobody wrote, nothing refused, nothing twice.
  for (const [k, es] of seen) {
    const x = byValue.get(k);
    const [key, value] = k.split('\u0000') as [string, string];
    if (x === undefined) bad(`event ${key}=${value} at revision ${es[0]!.rev}: no client wrote it`);
    else if (x.outcome === 'never') bad(`event ${key}=${value} at revision ${es[0]!.rev}: that write was refused`);
    if (es.length > 1)
      bad(`event ${key}=${value} came ${es.length} times (revisions ${es.map((e) => e.rev).join(', ')})`);
    if (x?.outcome === 'ok' && x.slot !== undefined && es[0]!.rev !== x.slot)
      bad(`event ${key}=${value} at revision ${es[0]!.rev}, where the write was acknowledged at slot ${x.slot}`);
  }
  // Every acknowledged write the stream covers is in it.
  let missed = 0;
  for (const x of writes) {
    if (x.outcome !== 'ok' || x.slot === undefined || x.slot < start || x.slot > last) continue;
    if (!seen.has(`${x.key}\u0000${x.value}`)) {
      missed += 1;
      if (missed <= 3) bad(`missed ${x.key}=${x.value}, acknowledged at slot ${x.slot}`);
    }
  }
  if (missed > 3) bad(`missed ${missed} acknowledged writes in all`);
  // A stream that ran to the end ends on every key's final value.
  if (w.ended === null)
    for (const [key, value] of finals) {
      const lastOf = w.events.filter((e) => e.key === key).at(-1);
      if (lastOf?.value !== value)
        bad(`${key}'s last event is ${JSON.stringify(lastOf?.value)}, not its final ${value}`);
    }
  return problems;
}

// Snapshots between replicas, streamed. A snapshot of a big store as one
// line would be over any sane line limit and would block the event loop
// while it is serialized, so the sender sends it as `snapshot_chunk`s of
// about CHUNK_CHARS each (wire/log.ts) from a frozen view of the store
// (KvStore.view), waiting for the link to drain after each and yielding to
// the event loop between them. The receiver rebuilds a store chunk by chunk
// (KvBuilder) and, at the last one, hands its core the equivalent of a
// `snapshot` message holding that store.
//
// A transfer is numbered 0, 1, 2, ... by `seq`. The receiver holds at most one
// partial transfer: a chunk 0 starts a new one (discarding a partial one, as
// when a new leader, or the same one at a newer index, starts over); a gap
// in the partial one (chunks lost to a reconnect) discards it; a later chunk
// of some other transfer (an old leader still sending) is ignored. The
// leader sends the snapshot again when the follower asks again.

import type { PeerId } from '../paxos/ids.js';
import { KvBuilder } from '../sm/kv-builder.js';
import { SnapshotError, type KvOptions, type KvStore, type KvView } from '../sm/kv.js';
import type { ReplicaWire, SnapshotChunk } from '../wire/log.js';
import type { Logger } from '../util/logger.js';
import { CHUNK_CHARS } from '../paxos/defaults.js';

/** What streaming needs of a link (PeerLink has it). */
export interface ChunkLink {
  readonly isUp: boolean;
  send(msg: ReplicaWire): void;
  /** True once written and drained; false if the link went down. */
  drained(): Promise<boolean>;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Stream `view` over `link` as chunks from `from`. Resolves with null when
 * the last chunk is written, or with why it stopped: the link went down, or
 * `cancelled()` said to (we are no longer leader, or we are stopping).
 */
export async function streamSnapshot(
  link: ChunkLink,
  from: PeerId,
  view: KvView,
  cancelled: () => boolean,
  chunkChars = CHUNK_CHARS,
): Promise<string | null> {
  const pieces = view.pieces(chunkChars);
  let next = pieces.next();
  for (let seq = 0; next.done !== true; seq++) {
    const piece = next.value;
    next = pieces.next();
    if (cancelled()) return 'cancelled';
    if (!link.isUp) return 'the link is down';
    link.send({
      type: 'snapshot_chunk',
      from,
      index: view.applied,
      seq,
      last: next.done === true,
      entries: piece.entries,
      leases: piece.leases,
      nextLease: view.leases.next,
      ...(view.members === null ? {} : { members: view.members }),
      sessions: piece.sessions,
    });
    if (!(await link.drained())) return 'the link went down';
    await nextTurn();
  }
  return null;
}

/** Rebuilds the snapshots streamed to this replica, one transfer at a time. */
export class SnapshotReceiver {
  private partial: { from: PeerId; index: number; next: number; builder: KvBuilder } | null = null;

  constructor(
    private readonly options: KvOptions,
    private readonly log: Logger,
  ) {}

  /** The transfer under way, if any: who sends it, at which index, how many chunks arrived. */
  get inProgress(): { from: PeerId; index: number; chunks: number } | null {
    return this.partial === null
      ? null
      : { from: this.partial.from, index: this.partial.index, chunks: this.partial.next };
  }

  /** Take one chunk: the rebuilt store once the last one is in, else null. */
  take(c: SnapshotChunk): KvStore | null {
    const p = this.partial;
    if (c.seq === 0) {
      if (p !== null)
        this.log.info(
          `discarding a partial snapshot (slot ${p.index}, ${p.next} chunks from peer ${p.from}): peer ${c.from}` +
            ` starts one at slot ${c.index}`,
        );
      this.partial = {
        from: c.from,
        index: c.index,
        next: 0,
        builder: new KvBuilder(c.index, c.nextLease, this.options, c.members),
      };
    } else if (p === null || p.from !== c.from || p.index !== c.index) {
      return null; // the rest of a transfer discarded or replaced
    } else if (p.next !== c.seq) {
      this.log.info(
        `discarding a partial snapshot (slot ${p.index} from peer ${p.from}): chunk ${c.seq} came after ${p.next}` +
          ` chunks (some were lost)`,
      );
      this.partial = null;
      return null;
    }
    const cur = this.partial!;
    try {
      for (const e of c.entries) cur.builder.entry(e);
      for (const l of c.leases) cur.builder.lease(l);
      for (const s of c.sessions) cur.builder.session(s);
      cur.next += 1;
      if (!c.last) return null;
      this.partial = null;
      return cur.builder.build();
    } catch (err) {
      if (!(err instanceof SnapshotError)) throw err;
      this.log.warn(`discarding a snapshot from peer ${c.from} (slot ${c.index}): chunk ${c.seq}: ${err.message}`);
      this.partial = null;
      return null;
    }
  }
}

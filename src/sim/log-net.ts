// The log simulator's network: every message goes as a copy (JSON), after a
// random delay (so messages reorder), and may be dropped, duplicated, held
// back a long time (a long tail), or cut by a partition ("a>b": a's
// messages to b are lost).

import type { PeerId } from '../core/types.js';
import type { LogMessage, StateSnapshot } from '../log/types.js';
import { KvStore, type KvOptions } from '../sm/kv.js';
import { decodeLog } from '../wire/log.js';
import type { SimContext } from './log-world-types.js';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class SimNet {
  dropP = 0;
  dupP = 0;
  maxDelay = 8;
  /** Share of messages held back 200-1000 ms (a long tail: retransmits, GC pauses). */
  tailP = 0;
  /** Directed cuts "a>b". */
  readonly cut = new Set<string>();

  constructor(
    private readonly ctx: SimContext,
    /** A message arrives at `to` (a copy, never the sender's objects). */
    private readonly arrive: (from: PeerId, to: PeerId, msg: LogMessage) => void,
    /** How the replicas build their stores: a snapshot is restored with them too. */
    private readonly kvOptions: KvOptions = {},
  ) {}

  blocked(a: PeerId, b: PeerId): boolean {
    return this.cut.size > 0 && this.cut.has(`${a}>${b}`);
  }

  send(from: PeerId, to: PeerId, msg: LogMessage): void {
    const { ctx } = this;
    ctx.stats.messages += 1;
    if (this.blocked(from, to) || ctx.rng() < this.dropP) {
      ctx.stats.dropped += 1;
      return;
    }
    // A snapshot's store goes as its bytes (the replicas stream theirs in chunks, src/daemon/snapshot-transfer.ts).
    const wire = JSON.stringify(msg.type === 'snapshot' ? { ...msg, data: snapshotBytes(msg.data) } : msg);
    const copies = ctx.rng() < this.dupP ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay =
        this.tailP > 0 && ctx.rng() < this.tailP
          ? 200 + Math.floor(ctx.rng() * 800)
          : 1 + Math.floor(ctx.rng() * this.maxDelay);
      ctx.agenda.push(ctx.now + delay, () => this.deliver(from, to, wire));
    }
  }

  private deliver(from: PeerId, to: PeerId, wire: string): void {
    if (this.blocked(from, to)) return;
    const raw = JSON.parse(wire) as LogMessage | { type: 'snapshot'; from: PeerId; index: number; data: string };
    if (raw.type === 'snapshot' && typeof raw.data === 'string')
      return this.arrive(from, to, { ...raw, data: KvStore.restore(utf8.encode(raw.data), this.kvOptions) });
    // Checked as a replica's listener checks it (its commands too: the edge, src/sm/command.ts).
    const d = decodeLog(raw, wire);
    if (!d.ok || !('msg' in d) || d.msg.type === 'snapshot_chunk')
      throw new Error(
        `the simulator sent a message a replica refuses (${d.ok ? 'not a log message' : d.why}): ${wire.slice(0, 200)}`,
      );
    this.arrive(from, to, d.msg);
  }

  heal(): void {
    if (this.cut.size > 0) this.ctx.note('HEAL all links');
    this.cut.clear();
  }

  cutBoth(a: PeerId, b: PeerId): void {
    this.cut.add(`${a}>${b}`).add(`${b}>${a}`);
  }

  /** No loss, duplication or long delays. */
  calm(): void {
    this.dropP = 0;
    this.dupP = 0;
    this.maxDelay = 8;
    this.tailP = 0;
  }
}

/** The bytes of a snapshot message's store (the simulator sends KvStores). */
function snapshotBytes(d: StateSnapshot): string {
  if (!(d instanceof KvStore)) throw new TypeError('a snapshot message that does not hold a KvStore');
  return fromUtf8.decode(d.snapshot());
}

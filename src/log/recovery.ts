// Recovery of a replica that may have lost durable state: a new or wiped
// data directory, or a log or snapshot with a corrupt record. Such a replica
// may have promised ballots and cast votes that it no longer remembers, so
// it must not vote (promise, accept, or ack a heartbeat) until it has
// rebuilt a memory that is at least as strong as the one it lost. The full
// argument is docs/recovery.md; in short:
//
// - It asks EVERY other replica (`recover`) for its durable promise, its
//   votes from the recovering replica's first unchosen slot on, and its
//   commit index. A majority is not enough: a ballot b that the lost memory
//   promised may so far be known only to its owner (a candidate persists its
//   own ballot before its prepare leaves) and to the lost memory; the owner
//   may still be collecting acks, and may finish with the lost promise in
//   hand. Only the owner's own answer reveals b.
// - It takes as its promise the highest promise any of them holds (which is
//   at least every ballot it could have promised), and, slot by slot, the
//   vote of the highest ballot reported (a value chosen with its lost vote
//   was also voted for by the other members of that majority, and every
//   proposal at a higher ballot carries the same value). These are written
//   to its log like any promise or vote.
// - It learns what they know is chosen, catches up to the highest commit
//   index reported (by `fetch`, answered with entries or a snapshot), and
//   only then marks its data directory as a voting member's again.
//
// Answers to an earlier life of the asker are ignored (`life`), and so are
// acks to prepares of an earlier life (LogMessage 'prepare'), as a replica
// that lost its disk may pick a ballot that its earlier life already used.

import type { PeerId } from '../core/types.js';
import type { Batch, LogMessage, SlotReport, Vote } from './types.js';

type Ack = Extract<LogMessage, { type: 'recover_ack' }>;

/** What the answers add up to, once every other replica has answered. */
export interface RecoveryOutcome {
  /** The promise to hold: the highest any replica reported. */
  readonly promised: number;
  /** Slot by slot, the vote of the highest ballot reported. */
  readonly votes: ReadonlyMap<number, Vote>;
  /** Values reported as chosen. */
  readonly chosen: ReadonlyMap<number, Batch>;
  /** Catch up until every slot below this is known chosen. */
  readonly commit: number;
  /** The replica that reported the highest commit: fetch from it. */
  readonly source: PeerId;
}

export class Recovery {
  private readonly acks = new Map<PeerId, Ack>();

  constructor(
    private readonly others: readonly PeerId[],
    /** This life's id, echoed by the answers. */
    readonly life: number,
    /** How many other replicas must answer: all of them, but for the negative control. */
    private readonly needed = others.length,
  ) {}

  /** The replicas that have not answered yet. */
  get missing(): PeerId[] {
    return this.others.filter((id) => !this.acks.has(id));
  }

  /** Take an answer; true once enough have come. */
  take(m: Ack): boolean {
    if (m.life === this.life && this.others.includes(m.from)) this.acks.set(m.from, m);
    return this.complete;
  }

  get complete(): boolean {
    return this.acks.size >= this.needed;
  }

  /** The merged answers, with this replica's own surviving memory. */
  outcome(own: { readonly promised: number; readonly votes: ReadonlyMap<number, Vote>; readonly commit: number }, self: PeerId): RecoveryOutcome {
    let promised = own.promised;
    let commit = own.commit;
    let source = self;
    const votes = new Map(own.votes);
    const chosen = new Map<number, Batch>();
    for (const a of this.acks.values()) {
      promised = Math.max(promised, a.promised);
      if (a.commit > commit) {
        commit = a.commit;
        source = a.from;
      }
      for (const r of a.votes) this.merge(votes, chosen, r);
    }
    return { promised, votes, chosen, commit, source };
  }

  private merge(votes: Map<number, Vote>, chosen: Map<number, Batch>, r: SlotReport): void {
    if (r.chosen === true) chosen.set(r.s, r.v);
    // A report of a chosen value may carry n = 0 (learned without a vote):
    // it is still the value every higher ballot proposes, so it wins ties.
    const cur = votes.get(r.s);
    if (r.n > 0 && (cur === undefined || r.n > cur.n)) votes.set(r.s, { n: r.n, v: r.v });
  }
}

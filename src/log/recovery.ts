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

import type { PeerId } from '../paxos/ids.js';
import { ballotOwner } from './ballot.js';
import type { LogState, Msg, Roles } from './state.js';
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
  outcome(
    own: { readonly promised: number; readonly votes: ReadonlyMap<number, Vote>; readonly commit: number },
    self: PeerId,
  ): RecoveryOutcome {
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

/**
 * The recovering replica's side (LogNode routes to it while
 * LogNode.recovering is not null): asking every other replica, adopting
 * what their answers add up to, then catching up to the highest commit they
 * reported before voting again. Every replica answers others' recovery.
 */
export class Recovering {
  private asking: Recovery | null;
  /** Catching up: every slot below this must be learned before voting again (0: not catching up). */
  private commit = 0;
  private from: PeerId = 0;
  private askedAt = -Infinity;
  /** Catching up: the commit index last seen to move, and since when it has not. */
  private seen = 0;
  private stuckSince = 0;

  constructor(
    private readonly s: LogState,
    private readonly roles: Roles,
    recover: boolean,
  ) {
    // Every other voter of the slots it may vote in (learners hold no votes to recover).
    const voters = new Set(s.frontier().flat());
    const others = s.others.filter((id) => voters.has(id));
    this.asking = recover ? new Recovery(others, s.life, s.variant.recoverAnswers) : null;
    if (this.asking !== null) this.ask();
  }

  get phase(): 'asking' | 'catching-up' | null {
    if (this.asking !== null) return 'asking';
    return this.commit > 0 ? 'catching-up' : null;
  }

  /** The replicas that have not answered yet. */
  get missing(): PeerId[] {
    return this.asking?.missing ?? [];
  }

  tick(): void {
    const s = this.s;
    if (s.ticks - this.askedAt < s.timing.resendTicks) return;
    if (this.asking !== null) return this.ask();
    if (s.commitIndex >= this.commit) return;
    // Still behind: ask the leader, if one is known (asking again does not
    // restart a snapshot on its way). With none, the replica that reported
    // the highest commit may have gone down: after a long while without
    // progress, ask the next one.
    this.askedAt = s.ticks;
    if (s.commitIndex > this.seen) {
      this.seen = s.commitIndex;
      this.stuckSince = s.ticks;
    }
    if (s.leaderId !== 0) this.from = s.leaderId;
    else if (s.ticks - this.stuckSince >= 4 * s.timing.electionTicks) {
      this.from = s.others[(s.others.indexOf(this.from) + 1) % s.others.length]!;
      this.stuckSince = s.ticks;
    }
    this.roles.fetch(this.from);
  }

  /** Ask the replicas that have not answered (all of them, at first). */
  private ask(): void {
    const s = this.s;
    const r = this.asking!;
    this.askedAt = s.ticks;
    if (r.complete) return this.recovered();
    s.send(r.missing, { type: 'recover', from: s.self, life: r.life, slot: s.commitIndex }, true);
  }

  /** Another replica is recovering: tell it our durable promise, votes and commit. */
  onRecover(m: Msg<'recover'>): void {
    const s = this.s;
    s.send(
      [m.from],
      {
        type: 'recover_ack',
        from: s.self,
        life: m.life,
        promised: s.promised,
        votes: this.roles.reportFrom(m.slot),
        base: s.logStart,
        commit: s.commitIndex,
      },
      true,
    );
  }

  onAck(m: Msg<'recover_ack'>): void {
    if (this.asking?.take(m) === true) this.recovered();
  }

  /** A heartbeat or accept: note the leader and its commit, but neither promise nor vote. */
  onLeader(m: Msg<'heartbeat'> | Msg<'accept'>): void {
    const s = this.s;
    if (m.n >= s.promised) s.leaderId = ballotOwner(m.n) === m.from ? m.from : 0;
    s.leaderCommit = Math.max(s.leaderCommit, m.commit);
    this.maybeRejoined();
  }

  onEntries(m: Msg<'entries'>): void {
    m.values.forEach((v, i) => this.roles.learn(m.start + i, v, 0, false));
    if (this.s.commitIndex < this.commit) this.roles.fetch(m.from);
    this.maybeRejoined();
  }

  /** Every other replica answered: adopt the strongest memory they add up to, then catch up. */
  private recovered(): void {
    const s = this.s;
    const o = this.asking!.outcome({ promised: s.promised, votes: s.votes, commit: s.commitIndex }, s.self);
    this.asking = null;
    // Written even when unchanged: a voting replica's log is never empty, so
    // an empty one beside its identity file is known to be a lost log.
    s.promise(Math.max(o.promised, s.promised));
    for (const [slot, v] of o.chosen) this.roles.learn(slot, v, 0, false);
    for (const [slot, vote] of o.votes) {
      if (slot < s.logStart || slot < s.commitIndex || s.chosen.has(slot)) continue;
      const cur = s.votes.get(slot);
      if (cur !== undefined && cur.n >= vote.n) continue;
      s.vote(slot, vote.n, vote.v);
    }
    this.commit = Math.max(1, o.commit);
    this.from = o.source;
    s.leaderCommit = Math.max(s.leaderCommit, o.commit);
    if (s.commitIndex < this.commit && o.source !== s.self) this.roles.fetch(o.source);
    this.maybeRejoined();
  }

  /** Caught up with what the others had chosen: vote again. */
  maybeRejoined(): void {
    if (this.asking !== null || this.commit === 0 || this.s.commitIndex < this.commit) return;
    this.commit = 0;
    this.s.out.rejoined = true;
    this.s.resetElectionTimer();
  }
}

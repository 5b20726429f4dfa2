// The candidate and leader of one replica. A candidate runs phase 1 once,
// for every slot from its first unchosen one, and on winning adopts per slot
// the value of the highest ballot a quorum reports; holes become no-ops
// (maybeLead). A leader then gives waiting commands slots, a batch per slot,
// while its window of slots in flight has room. Acks count only for the
// ballot they answer (onPrepareAck, onAcceptAck), and a ballot is never
// reused: the candidate's own ballot is a promise, written before its
// prepare leaves.

import type { PeerId } from '../paxos/ids.js';
import { ALPHA } from '../paxos/membership.js';
import { nextBallot } from './ballot.js';
import { LogState, sizeOf, type Msg, type Roles } from './state.js';
import type { Batch, SlotReport } from './types.js';

interface Proposal {
  readonly v: Batch;
  readonly acks: Set<PeerId>;
  age: number;
}

export class Leader {
  /** Candidate: phase 1 covers every slot from this one up. */
  private prepareSlot = 0;
  private readonly prepareAcks = new Map<PeerId, Msg<'prepare_ack'>>();
  /** Leader: the replicas that promised our ballot in phase 1 (us included). */
  private promisedBy = new Set<PeerId>();
  /** The slots in flight (the window). */
  private readonly proposals = new Map<number, Proposal>();
  private nextSlot = 1;
  /** Leader: the slot after the last one phase 1 adopted (see readIndex). */
  private leadTop = Infinity;
  private heartbeatElapsed = 0;
  /** Client commands waiting for a slot. */
  private pending: unknown[] = [];

  constructor(
    private readonly s: LogState,
    private readonly roles: Roles,
  ) {}

  /** Whether commands wait that the window has room for. */
  get canFill(): boolean {
    const s = this.s;
    if (s.role !== 'leader' || this.proposals.size >= s.timing.window) return false;
    if (this.pending.length === 0 && this.nextSlot >= s.changeEffective) return false;
    const open = this.openAt(this.nextSlot);
    return open !== 'wait' && !(open === 'removed' && this.proposals.size > 0);
  }

  /**
   * Whether we may propose in `slot` now (paxos/membership.ts):
   * - 'wait': not before every slot up to slot - ALPHA is chosen, for only
   *   then do we know its voters;
   * - 'removed': we are not one of its voters, so we lead no further;
   * - 'rescout': our phase 1 holds no quorum of its voters (a change took
   *   effect), so we run phase 1 again at a new ballot;
   * - 'ok'.
   */
  private openAt(slot: number): 'ok' | 'wait' | 'removed' | 'rescout' {
    const s = this.s;
    if (slot >= s.commitIndex + ALPHA) return 'wait';
    const voters = s.votersAt(slot);
    if (!voters.includes(s.self)) return 'removed';
    return LogState.quorumIn(voters, this.promisedBy) ? 'ok' : 'rescout';
  }

  /** Whether the next slot may be proposed in; if we must stop leading, stop. */
  private mayPropose(): boolean {
    if (this.s.role !== 'leader') return false;
    const open = this.openAt(this.nextSlot);
    if (open === 'ok') return true;
    if (open === 'removed' && this.proposals.size === 0) this.roles.stepDown(0);
    if (open === 'rescout') this.rescout(this.s.ballot);
    return false;
  }

  /** Commands to give slots once this replica leads. */
  queue(cmds: readonly unknown[]): void {
    this.pending.push(...cmds);
  }

  takePending(): unknown[] {
    const cmds = this.pending;
    this.pending = [];
    return cmds;
  }

  /** Stepping down: forget phase 1 and the window; the commands still waiting are returned. */
  stop(): unknown[] {
    this.proposals.clear();
    this.prepareAcks.clear();
    return this.takePending();
  }

  private lastProposed(): number {
    return Math.max(this.nextSlot, this.s.commitIndex) - 1;
  }

  /**
   * The slot a read confirmed now must see applied. With 5 replicas or
   * more: a write answered before the read arrived was chosen under our
   * ballot, so we learned it (only we say `chose` for it), and it was
   * applied, so every slot below it is chosen: it is below the commit index.
   * Or it was chosen under an earlier ballot, and phase 1 adopted it into a
   * slot below leadTop. So once the commit index has passed leadTop, it is
   * enough: a read waits for what is chosen, not for the writes still in
   * flight (as the Raft thesis' read index waits for the commit index, once
   * the term has committed an entry).
   */
  readIndex(): number {
    const s = this.s;
    // With a pair as quorum a follower learns a slot from its own vote, and
    // may answer a write before we know it chosen: wait for all we proposed.
    if (s.anyPairQuorum() && s.variant.commitReads !== true) return this.lastProposed();
    return s.commitIndex >= this.leadTop ? s.commitIndex - 1 : this.lastProposed();
  }

  onForward(m: Msg<'forward'>): void {
    if (this.s.role === 'leader' || this.s.role === 'candidate') this.pending.push(...m.cmds);
  }

  /** A leader's tick: heartbeats, accepts resent to whoever has not acked, and the quorum check. */
  tick(): void {
    const s = this.s;
    this.heartbeatElapsed += 1;
    if (this.heartbeatElapsed >= s.timing.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      // A read round's heartbeat or acks may be lost: every heartbeat asks again.
      this.heartbeat(this.roles.readRoundInFlight());
    }
    for (const [slot, p] of this.proposals) {
      p.age += 1;
      if (p.age >= s.timing.resendTicks) {
        p.age = 0;
        const missing = s.others.filter((id) => !p.acks.has(id) && s.votersAt(slot).includes(id));
        s.send(missing, { type: 'accept', from: s.self, n: s.ballot, slot, v: p.v, commit: s.commitIndex }, true);
      }
    }
    // Check quorum: a leader cut off from a majority steps down, so clients
    // stop waiting on it and find the new one. So does a leader removed from
    // the configuration, once the slots it still votes in are done.
    if (!s.hasQuorumContact()) this.roles.stepDown(0);
    else if (this.proposals.size === 0 && this.openAt(this.nextSlot) === 'removed') this.roles.stepDown(0);
  }

  /** Announce our ballot and commit; `r`: the read round the acks must echo. */
  heartbeat(r?: number): void {
    const s = this.s;
    s.send(
      s.others,
      r === undefined
        ? { type: 'heartbeat', from: s.self, n: s.ballot, commit: s.commitIndex }
        : { type: 'heartbeat', from: s.self, n: s.ballot, commit: s.commitIndex, r },
      true,
    );
  }

  /**
   * A leader that met a promise above its ballot runs phase 1 again at once,
   * above it, rather than stepping down and waiting out an election: the
   * replica that rejected us may only have come back from a partition. If a
   * newer leader really exists, the others ignore our prepare (it is alive)
   * and its heartbeats make us follow it.
   */
  rescout(seen: number): void {
    const pending = this.pending;
    this.pending = [];
    this.s.ballot = Math.max(this.s.ballot, seen);
    this.becomeCandidate();
    this.pending = pending;
  }

  becomeCandidate(): void {
    const s = this.s;
    s.resetElectionTimer();
    // A learner, or a replica removed from the configuration, never stands.
    if (!s.isVoter()) {
      if (s.role !== 'follower') this.roles.stepDown(0);
      return;
    }
    this.roles.takeOverReads();
    s.role = 'candidate';
    s.leaderId = 0;
    s.ballot = nextBallot(Math.max(s.promised, s.ballot), s.self);
    // Our own promise, written before the prepare leaves: never reused.
    s.promise(s.ballot);
    this.prepareSlot = s.commitIndex;
    this.leadTop = Infinity;
    this.prepareAcks.clear();
    this.promisedBy = new Set();
    this.proposals.clear();
    if (s.variant.skipPhase1 === true) {
      // Broken on purpose: leads without asking what the acceptors accepted.
      this.promisedBy = new Set([s.self, ...s.others]);
      this.lead();
      this.nextSlot = s.commitIndex;
      this.flush();
      return;
    }
    const voters = new Set(s.frontier().flat());
    const to = s.others.filter((id) => voters.has(id));
    s.send(to, { type: 'prepare', from: s.self, n: s.ballot, slot: this.prepareSlot, life: s.life });
    this.maybeLead();
  }

  onPrepareAck(m: Msg<'prepare_ack'>): void {
    const s = this.s;
    // An answer to an earlier life's prepare, which may have used this ballot too.
    if (m.life !== s.life) return;
    if (m.promised > m.n) {
      // Rejected: someone promised a higher ballot. Let it lead.
      if (s.role === 'candidate' && m.n === s.ballot) this.roles.stepDown(0);
      return;
    }
    if (s.role !== 'candidate' || m.n !== s.ballot || this.prepareAcks.has(m.from)) return;
    if (m.base > this.prepareSlot) {
      // That acceptor compacted slots we have not learned: catch up first.
      s.leaderCommit = Math.max(s.leaderCommit, m.base);
      this.roles.stepDown(0);
      this.roles.fetch(m.from);
      return;
    }
    const far = m.votes.reduce((top, r) => Math.max(top, r.s), 0);
    if (far >= this.prepareSlot + ALPHA) {
      // A leader proposed there, so it knew every slot up to far - ALPHA
      // chosen; we do not, so we do not know that slot's voters: catch up first.
      s.leaderCommit = Math.max(s.leaderCommit, far - ALPHA + 1);
      this.roles.stepDown(0);
      this.roles.fetch(m.from);
      return;
    }
    s.out.received.push(m);
    this.prepareAcks.set(m.from, m);
    this.maybeLead();
  }

  private lead(): void {
    const s = this.s;
    s.role = 'leader';
    this.heartbeatElapsed = s.timing.heartbeatTicks; // announce at the next tick
    for (const id of s.others) s.heardAt.set(id, s.ticks);
  }

  private maybeLead(): void {
    const s = this.s;
    if (s.role !== 'candidate') return;
    const promised = new Set([s.self, ...this.prepareAcks.keys()]);
    // A quorum of every configuration of the slots we may propose in.
    if (!s.isFrontierQuorum(promised)) return;
    this.promisedBy = promised;
    this.lead();
    s.leaderId = s.self;
    // Adopt, slot by slot, a value known chosen, else the highest-ballot vote.
    const adopt = new Map<number, SlotReport>();
    const reports = [...this.prepareAcks.values()].flatMap((a) => a.votes);
    reports.push(...this.roles.reportFrom(this.prepareSlot));
    let top = this.prepareSlot - 1;
    for (const r of reports) {
      if (r.s < this.prepareSlot) continue;
      top = Math.max(top, r.s);
      const cur = adopt.get(r.s);
      if (cur === undefined || (cur.chosen !== true && (r.chosen === true || r.n > cur.n))) adopt.set(r.s, r);
    }
    this.prepareAcks.clear();
    this.leadTop = top + 1;
    for (const [slot, r] of adopt) if (r.chosen === true) this.roles.learn(slot, r.v, 0, false);
    this.nextSlot = top + 1;
    for (let slot = this.prepareSlot; slot <= top; slot++) {
      if (s.chosen.has(slot) || slot < s.commitIndex) continue;
      const r = adopt.get(slot);
      this.proposeSlot(slot, r === undefined ? [] : r.v); // a hole: fill it with a no-op
    }
    this.flush();
    this.roles.startReadRound();
  }

  /** Give waiting commands slots, a batch per slot, while the window has room. */
  flush(): void {
    const { role, timing } = this.s;
    if (role !== 'leader') return;
    while (this.pending.length > 0 && this.proposals.size < timing.window && this.mayPropose()) {
      let n = 0;
      let bytes = 0;
      const joins = this.s.batchRule();
      while (n < this.pending.length && n < timing.maxBatch) {
        const b = sizeOf(this.pending[n]);
        if (n > 0 && bytes + b > timing.maxBatchBytes) break;
        // The first always joins: a batch is never empty.
        if (!joins(this.pending[n]) && n > 0) break;
        bytes += b;
        n += 1;
      }
      const batch = this.pending.slice(0, n);
      this.pending = this.pending.slice(n);
      this.proposeSlot(this.nextSlot, batch);
      this.nextSlot += 1;
    }
    // A change takes effect ALPHA slots after its own: on a quiet log, fill
    // them with no-ops, so that it does at once (Lamport's suggestion).
    while (
      this.pending.length === 0 &&
      this.nextSlot < this.s.changeEffective &&
      this.proposals.size < timing.window &&
      this.s.role === 'leader' &&
      this.mayPropose()
    ) {
      this.proposeSlot(this.nextSlot, []);
      this.nextSlot += 1;
    }
  }

  private proposeSlot(slot: number, v: Batch): void {
    const s = this.s;
    // Our own vote first: we promised this ballot, so we may accept it.
    s.vote(slot, s.ballot, v);
    this.proposals.set(slot, { v, acks: new Set([s.self]), age: 0 });
    const accept = { type: 'accept', from: s.self, n: s.ballot, slot, v, commit: s.commitIndex } as const;
    // With a pair as quorum, it leaves once our vote is durable: a follower's
    // vote then makes it chosen (LogState.pairIsQuorum). Otherwise early: it
    // may leave while our own vote is still on its way to disk.
    // (Broken on purpose, earlyPairAccept: early all the same.)
    if (s.pairIsQuorum(slot) && s.variant.earlyPairAccept !== true) s.send(s.others, accept);
    else if (s.others.length > 0) s.out.early.push({ to: s.others, msg: accept });
    this.maybeChosen(slot);
  }

  onAcceptAck(m: Msg<'accept_ack'>): void {
    const s = this.s;
    if (m.promised > m.n) {
      if (s.role === 'leader' && m.n === s.ballot) this.rescout(m.promised);
      return;
    }
    if (s.role !== 'leader' || m.n !== s.ballot) return;
    const p = this.proposals.get(m.slot);
    if (p === undefined || p.acks.has(m.from)) return;
    s.out.received.push(m);
    p.acks.add(m.from);
    this.maybeChosen(m.slot);
  }

  private maybeChosen(slot: number): void {
    const s = this.s;
    const p = this.proposals.get(slot);
    if (p === undefined || !LogState.quorumIn(s.votersAt(slot), p.acks)) return;
    this.proposals.delete(slot);
    this.roles.learn(slot, p.v, s.ballot, true);
    // With a pair as quorum, a follower learns from its own vote; one that
    // missed the accept learns from the commit our next accept or heartbeat
    // carries, and fetches the value.
    if (!s.pairIsQuorum(slot)) s.send(s.others, { type: 'chose', from: s.self, n: s.ballot, slot });
  }
}

// One replica of the replicated log (Multi-Paxos, as in "Paxos Made
// Moderately Complex"): acceptor, learner and, when elected, leader. A pure
// state machine in the style of etcd's raft: the shell feeds it messages
// (step), clock ticks (tick) and client commands (propose), and collects a
// Ready batch of durable records, messages and slots to apply.
//
// The rules that keep it safe, and where they live:
// - a leader runs phase 1 once, for every slot from its first unchosen one,
//   and adopts per slot the value of the highest ballot a quorum reports
//   (becomeLeader); holes become no-ops;
// - acks count only for the ballot they answer (onPrepareAck, onAcceptAck);
// - an acceptor votes at ballot n iff n >= its promise (onAccept);
// - a ballot is never reused: the candidate's own ballot is a promise,
//   written before anything that depends on it leaves (Ready order);
// - a slot is applied only once every slot before it is (advance);
// - a leader's commit covers only slots it chose or adopted at its ballot:
//   one that learns values from a peer's log stops leading (stopLeading);
// - a read is answered only once its leader has heard, after the read
//   arrived, from a quorum that still follows its ballot, and only from a
//   state that holds every slot the leader had proposed by then (read);
// - a replica that may have lost durable state votes for nothing, and acks
//   no heartbeat, until it has recovered from every other replica and caught
//   up (recovery.ts, docs/recovery.md).

import type { PeerId } from '../core/types.js';
import { ballotOwner, nextBallot } from './ballot.js';
import { quorumOf } from './quorum.js';
import { Recovery } from './recovery.js';
import {
  DEFAULT_LOG_TIMING,
  type Batch,
  type LogMessage,
  type LogRecord,
  type LogTiming,
  type LogVariant,
  type Ready,
  type Recovered,
  type SlotReport,
  type Vote,
} from './types.js';

export interface LogConfig {
  readonly self: PeerId;
  /** Number of replicas; their ids are 1..replicas. */
  readonly replicas: number;
  readonly timing?: LogTiming;
  /** Randomness for election timeouts (seeded in the simulator). */
  readonly random: () => number;
  readonly variant?: LogVariant;
  /**
   * Distinct for every start of this replica (e.g. random, or a restart
   * count): names its reads' ids to the leader. Default: from `random`,
   * which is fine unless `random` is seeded the same way on every start.
   */
  readonly life?: number;
  /**
   * This replica may have lost durable state (a new or wiped data directory,
   * a corrupt record): it must recover from the others before it votes.
   */
  readonly recover?: boolean;
}

export type Role = 'follower' | 'candidate' | 'leader';

type Msg<T extends LogMessage['type']> = Extract<LogMessage, { type: T }>;

interface ReadBatch {
  readonly from: PeerId;
  /** The asking replica's life (its readLife); 0 for our own reads. */
  readonly life: number;
  readonly ids: readonly number[];
}

interface Proposal {
  readonly v: Batch;
  readonly acks: Set<PeerId>;
  age: number;
}

/** Encoded size of a command, for batching by bytes. */
function sizeOf(cmd: unknown): number {
  return JSON.stringify(cmd).length;
}

export class LogNode {
  readonly self: PeerId;
  readonly replicas: number;
  readonly quorum: number;
  private readonly timing: LogTiming;
  private readonly random: () => number;
  private readonly variant: LogVariant;
  private readonly others: PeerId[];

  // Acceptor (durable).
  private promised: number;
  private readonly votes = new Map<number, Vote>();
  // Learner: chosen values above the snapshot, still held for catch-up.
  private readonly chosen = new Map<number, Batch>();
  /** Every slot below commit is known chosen. */
  private commitIndex: number;
  /** The last slot handed out to apply. */
  private appliedIndex: number;
  /** The lowest slot whose value or vote this replica still holds; below it, only the snapshot. */
  private logStart: number;

  private roleNow: Role = 'follower';
  /** The leader we follow (0: none known), and its ballot. */
  private leaderId: PeerId = 0;
  private leaderCommit = 0;
  private electionElapsed = 0;
  private electionTimeout = 0;
  private ticks = 0;

  // Candidate.
  private ballot = 0;
  private prepareSlot = 0;
  private readonly prepareAcks = new Map<PeerId, Msg<'prepare_ack'>>();
  // Leader.
  private readonly proposals = new Map<number, Proposal>();
  private nextSlot = 1;
  private heartbeatElapsed = 0;
  private readonly heardAt = new Map<PeerId, number>();
  /** Client commands waiting for a slot. */
  private pending: unknown[] = [];
  /** Follower: client commands to pass on to the leader in the next batch. */
  private toForward: unknown[] = [];
  // Reads (read index, as in the Raft thesis, section 6.4).
  /** Leader or candidate: reads waiting for the next round, by the replica that asked. */
  private readQueue: ReadBatch[] = [];
  /** Leader: the round in flight, confirmed by a quorum of heartbeat acks echoing `r`. */
  private readRound: { readonly r: number; readonly index: number; readonly acks: Set<PeerId>; readonly batches: ReadBatch[] } | null = null;
  private readRounds = 0;
  /**
   * Names this life's reads to the leader (with their ids), so an answer to
   * a read asked before a restart never answers a new read with the same id.
   */
  private readonly readLife: number;
  /** Follower: our reads the leader has not answered yet, and the tick we last asked. */
  private readonly readsAsked = new Map<number, number>();
  /** Follower: reads to ask the leader about in the next batch. */
  private readsToAsk: number[] = [];
  // Catch-up.
  private fetchAt = -Infinity;
  // Recovery (recovery.ts): asking the others, then catching up to `recoverCommit`.
  private recovery: Recovery | null = null;
  private recoverCommit = 0;
  private recoverFrom: PeerId = 0;
  private recoverAskedAt = -Infinity;
  /** Catching up: the commit index last seen to move, and since when it has not. */
  private recoverSeen = 0;
  private recoverStuckSince = 0;

  private out: Ready = LogNode.emptyReady();

  constructor(cfg: LogConfig, recovered: Recovered) {
    this.self = cfg.self;
    this.replicas = cfg.replicas;
    this.quorum = quorumOf(cfg.replicas);
    this.timing = cfg.timing ?? DEFAULT_LOG_TIMING;
    this.random = cfg.random;
    this.variant = cfg.variant ?? {};
    this.others = [];
    for (let id = 1; id <= cfg.replicas; id++) if (id !== cfg.self) this.others.push(id);
    this.promised = recovered.promised;
    for (const [s, v] of recovered.votes) if (s > recovered.snapshotIndex) this.votes.set(s, v);
    for (const [s, v] of recovered.chosen) if (s > recovered.snapshotIndex) this.chosen.set(s, v);
    this.appliedIndex = recovered.snapshotIndex;
    this.commitIndex = recovered.snapshotIndex + 1;
    this.logStart = recovered.snapshotIndex + 1;
    this.resetElectionTimer();
    this.readLife = cfg.life ?? 1 + Math.floor(this.random() * 2 ** 40);
    // Slots learned before the restart are applied again on top of the snapshot.
    this.advance();
    if (cfg.recover === true) {
      this.recovery = new Recovery(this.others, this.readLife, this.variant.recoverAnswers);
      this.askToRecover();
    }
  }

  static emptyReady(): Ready {
    return { early: [], records: [], messages: [], received: [], learned: [], committed: [], snapshot: null, sendSnapshotTo: [], unplaced: [], reads: [], unreadable: [], rejoined: false };
  }

  get role(): Role {
    return this.roleNow;
  }
  /** The leader this replica knows of (itself when leading), or 0. */
  get leader(): PeerId {
    return this.roleNow === 'leader' ? this.self : this.leaderId;
  }
  get commit(): number {
    return this.commitIndex;
  }
  get applied(): number {
    return this.appliedIndex;
  }
  get promise(): number {
    return this.promised;
  }
  get currentBallot(): number {
    return this.ballot;
  }
  /**
   * Whether this replica is still recovering (it votes for nothing yet):
   * 'asking' until every other replica has answered, then 'catching-up'
   * until it has learned every slot they had chosen; null once it votes.
   */
  get recovering(): 'asking' | 'catching-up' | null {
    if (this.recovery !== null) return 'asking';
    return this.recoverCommit > 0 ? 'catching-up' : null;
  }
  /** This life's id (LogConfig.life): prepares carry it, and only acks that echo it count. */
  get life(): number {
    return this.readLife;
  }
  /** Recovery: the replicas that have not answered yet. */
  get recoveryMissing(): PeerId[] {
    return this.recovery?.missing ?? [];
  }
  /** Whether anything is waiting to go out. */
  get hasReady(): boolean {
    const o = this.out;
    const n = o.early.length + o.records.length + o.messages.length + o.received.length + o.learned.length + o.committed.length + o.sendSnapshotTo.length + o.unplaced.length;
    const slotsToGive = this.roleNow === 'leader' && this.pending.length > 0 && this.proposals.size < this.timing.window;
    return n + o.reads.length + o.unreadable.length + this.readsToAsk.length + this.toForward.length > 0 || o.snapshot !== null || o.rejoined || slotsToGive;
  }

  /** Take the work accumulated since the last call. */
  ready(): Ready {
    if (this.toForward.length > 0) {
      const cmds = this.toForward;
      this.toForward = [];
      if (this.roleNow !== 'follower') this.pending.push(...cmds);
      else if (this.leaderId !== 0) this.send([this.leaderId], { type: 'forward', from: this.self, cmds }, true);
      else this.out.unplaced.push(...cmds);
    }
    this.flush();
    // A follower's reads go to the leader in one message per batch.
    if (this.readsToAsk.length > 0) {
      const ids = this.readsToAsk;
      this.readsToAsk = [];
      this.askForReadIndex(ids);
    }
    const r = this.out;
    this.out = LogNode.emptyReady();
    return r;
  }

  /** The value chosen for `slot`, if this replica still holds it. */
  chosenAt(slot: number): Batch | undefined {
    return this.chosen.get(slot);
  }

  /**
   * Records that rebuild the current durable state, for a log checkpoint
   * after a snapshot at `snapshotIndex`: the promise, the votes and the chosen
   * values still held.
   */
  liveRecords(): LogRecord[] {
    const recs: LogRecord[] = [{ t: 'p', n: this.promised }];
    const slots = new Set([...this.votes.keys(), ...this.chosen.keys()]);
    for (const s of [...slots].sort((a, b) => a - b)) {
      const vote = this.votes.get(s);
      const c = this.chosen.get(s);
      if (vote !== undefined) recs.push({ t: 'v', s, n: vote.n, v: vote.v });
      if (c !== undefined) recs.push(vote !== undefined && vote.v === c ? { t: 'c', s } : { t: 'e', s, v: c });
    }
    return recs;
  }

  /**
   * The shell saved a snapshot of the state machine at `index` (<= applied).
   * Forget votes and values at or below `keepFrom - 1` (all chosen and
   * applied), keeping recent ones to catch followers up from the log, but
   * no more than `keepBytes` of their values.
   */
  compact(index: number, keepFrom: number, keepBytes = Infinity): void {
    let from = keepFrom;
    if (keepBytes !== Infinity) {
      let bytes = 0;
      for (let s = Math.min(index, this.appliedIndex); s >= from; s--) {
        const v = this.chosen.get(s);
        if (v === undefined) break;
        bytes += sizeOf(v);
        if (bytes > keepBytes) {
          from = s + 1;
          break;
        }
      }
    }
    const upTo = Math.min(index + 1, from, this.appliedIndex + 1);
    if (upTo <= this.logStart) return;
    for (const s of [...this.votes.keys()]) if (s < upTo) this.votes.delete(s);
    for (const s of [...this.chosen.keys()]) if (s < upTo) this.chosen.delete(s);
    this.logStart = upTo;
  }

  // ---- inputs -------------------------------------------------------------

  /**
   * Client commands arriving at this replica. They get slots (or are passed
   * on to the leader) when the shell next takes a Ready: commands that arrive
   * while the shell waits for a disk write share one slot and one message.
   */
  propose(cmds: readonly unknown[]): void {
    if (cmds.length === 0) return;
    // A candidate knows no leader, and may never win (it may be cut off):
    // new commands come back unplaced at once, so their clients try another
    // replica instead of waiting out their timeout. Commands already pending
    // when it stood (from its leadership) stay pending. A recovering replica
    // takes none.
    if (this.recovering !== null) {
      this.out.unplaced.push(...cmds);
    } else if (this.roleNow === 'leader') {
      this.pending.push(...cmds);
    } else if (this.roleNow === 'follower' && this.leaderId !== 0) {
      this.toForward.push(...cmds);
    } else {
      this.out.unplaced.push(...cmds);
    }
  }

  /**
   * Reads arriving at this replica, by ids of the shell's choosing. Each comes
   * back in Ready.reads with a log index: answered from the state machine
   * once every slot up to it is applied, it is linearizable, with nothing
   * written to the log. The leader takes the index (its last proposed slot:
   * every write acknowledged before the read holds a slot up to it) and
   * sends a heartbeat; once a quorum acks that heartbeat at its ballot, no
   * higher ballot can have chosen anything before the read arrived, so the
   * leader was still the leader. Reads that arrive meanwhile wait for the
   * next round: one round of heartbeats serves them all. A follower asks the
   * leader for the index and answers from its own state.
   */
  read(ids: readonly number[]): void {
    if (ids.length === 0) return;
    if (this.recovering !== null) {
      this.out.unreadable.push(...ids);
      return;
    }
    if (this.roleNow === 'leader') return this.queueReads(this.self, ids);
    // A candidate, like a follower with no leader, cannot confirm a read now.
    if (this.roleNow === 'candidate' || this.leaderId === 0) {
      this.out.unreadable.push(...ids);
      return;
    }
    for (const id of ids) this.readsAsked.set(id, this.ticks);
    this.readsToAsk.push(...ids);
  }

  tick(): void {
    this.ticks += 1;
    if (this.recovering !== null) return this.tickRecovering();
    if (this.roleNow === 'leader') {
      this.heartbeatElapsed += 1;
      if (this.heartbeatElapsed >= this.timing.heartbeatTicks) {
        this.heartbeatElapsed = 0;
        // A read round's heartbeat or acks may be lost: every heartbeat asks again.
        const r = this.readRound?.r;
        this.send(this.others, r === undefined ? { type: 'heartbeat', from: this.self, n: this.ballot, commit: this.commitIndex } : { type: 'heartbeat', from: this.self, n: this.ballot, commit: this.commitIndex, r }, true);
      }
      for (const [slot, p] of this.proposals) {
        p.age += 1;
        if (p.age >= this.timing.resendTicks) {
          p.age = 0;
          const missing = this.others.filter((id) => !p.acks.has(id));
          this.send(missing, { type: 'accept', from: this.self, n: this.ballot, slot, v: p.v, commit: this.commitIndex }, true);
        }
      }
      // Check quorum: a leader cut off from a majority steps down, so clients
      // stop waiting on it and find the new one.
      if (!this.hasQuorumContact()) this.stepDown(0);
      return;
    }
    this.electionElapsed += 1;
    if (this.readsAsked.size > 0) this.reaskReads();
    if (this.electionElapsed >= this.electionTimeout) this.becomeCandidate();
    if (this.leaderCommit > this.commitIndex && this.ticks - this.fetchAt >= this.timing.resendTicks && this.leaderId !== 0) {
      this.fetch(this.leaderId);
    }
  }

  step(m: LogMessage): void {
    if (m.from === this.self || m.from < 1 || m.from > this.replicas) return;
    this.heardAt.set(m.from, this.ticks);
    if (this.recovering !== null) return this.stepRecovering(m);
    switch (m.type) {
      case 'prepare':
        return this.onPrepare(m);
      case 'prepare_ack':
        return this.onPrepareAck(m);
      case 'accept':
        return this.onAccept(m);
      case 'accept_ack':
        return this.onAcceptAck(m);
      case 'chose':
        return this.onChose(m);
      case 'heartbeat':
        return this.onHeartbeat(m);
      case 'heartbeat_ack':
        if (m.n > this.ballot && this.roleNow === 'leader') return this.rescout(m.n);
        if (m.r !== undefined) this.onReadAck(m.from, m.n, m.r);
        return;
      case 'read_index':
        // A follower that asked someone who no longer leads asks again later.
        if (this.roleNow !== 'follower') this.queueReads(m.from, m.ids, m.life);
        return;
      case 'read_index_ack':
        return this.onReadIndex(m);
      case 'fetch':
        return this.onFetch(m);
      case 'entries':
        return this.onEntries(m);
      case 'snapshot':
        return this.onSnapshot(m);
      case 'forward':
        if (this.roleNow === 'leader' || this.roleNow === 'candidate') this.pending.push(...m.cmds);
        return;
      case 'recover':
        return this.onRecover(m);
      case 'recover_ack':
        return; // for an earlier life of ours, or a duplicate
    }
  }

  // ---- recovery (recovery.ts) ------------------------------------------------

  /**
   * While recovering, this replica is a learner only: it answers other
   * replicas' recovery, follows the leader's commit and fetches chosen
   * values, but promises nothing, votes for nothing and acks no heartbeat
   * (an ack would confirm a leader's reads on a promise it cannot vouch for).
   */
  private stepRecovering(m: LogMessage): void {
    switch (m.type) {
      case 'recover':
        return this.onRecover(m);
      case 'recover_ack':
        if (this.recovery?.take(m) === true) this.recovered();
        return;
      case 'heartbeat':
      case 'accept':
        if (m.n >= this.promised) this.leaderId = ballotOwner(m.n, this.replicas) === m.from ? m.from : 0;
        this.leaderCommit = Math.max(this.leaderCommit, m.commit);
        return this.maybeRejoined();
      case 'fetch':
        // Chosen values are facts, whoever passes them on.
        return this.onFetch(m);
      case 'entries':
        m.values.forEach((v, i) => this.learn(m.start + i, v, 0, false));
        if (this.commitIndex < this.recoverCommit) this.fetch(m.from);
        return this.maybeRejoined();
      case 'snapshot':
        this.onSnapshot(m);
        return this.maybeRejoined();
      default:
        return; // prepare, acks, reads, forwards: not while recovering
    }
  }

  private tickRecovering(): void {
    if (this.ticks - this.recoverAskedAt < this.timing.resendTicks) return;
    if (this.recovery !== null) return this.askToRecover();
    if (this.commitIndex >= this.recoverCommit) return;
    // Still behind: ask the leader, if one is known (asking again does not
    // restart a snapshot on its way). With none, the replica that reported
    // the highest commit may have gone down: after a long while without
    // progress, ask the next one.
    this.recoverAskedAt = this.ticks;
    if (this.commitIndex > this.recoverSeen) {
      this.recoverSeen = this.commitIndex;
      this.recoverStuckSince = this.ticks;
    }
    if (this.leaderId !== 0) this.recoverFrom = this.leaderId;
    else if (this.ticks - this.recoverStuckSince >= 4 * this.timing.electionTicks) {
      this.recoverFrom = this.others[(this.others.indexOf(this.recoverFrom) + 1) % this.others.length]!;
      this.recoverStuckSince = this.ticks;
    }
    this.fetch(this.recoverFrom);
  }

  /** Ask the replicas that have not answered (all of them, at first). */
  private askToRecover(): void {
    const r = this.recovery!;
    this.recoverAskedAt = this.ticks;
    if (r.complete) return this.recovered();
    this.send(r.missing, { type: 'recover', from: this.self, life: r.life, slot: this.commitIndex }, true);
  }

  /** Another replica is recovering: tell it our durable promise, votes and commit. */
  private onRecover(m: Msg<'recover'>): void {
    this.send([m.from], { type: 'recover_ack', from: this.self, life: m.life, promised: this.promised, votes: this.reportFrom(m.slot), base: this.logStart, commit: this.commitIndex }, true);
  }

  /** Every other replica answered: adopt the strongest memory they add up to, then catch up. */
  private recovered(): void {
    const o = this.recovery!.outcome({ promised: this.promised, votes: this.votes, commit: this.commitIndex }, this.self);
    this.recovery = null;
    // Written even when unchanged: a voting replica's log is never empty, so
    // an empty one beside its identity file is known to be a lost log.
    this.promise_(Math.max(o.promised, this.promised));
    for (const [s, v] of o.chosen) this.learn(s, v, 0, false);
    for (const [s, vote] of o.votes) {
      if (s < this.logStart || s < this.commitIndex || this.chosen.has(s)) continue;
      const cur = this.votes.get(s);
      if (cur !== undefined && cur.n >= vote.n) continue;
      this.votes.set(s, vote);
      this.out.records.push({ t: 'v', s, n: vote.n, v: vote.v });
    }
    this.recoverCommit = Math.max(1, o.commit);
    this.recoverFrom = o.source;
    this.leaderCommit = Math.max(this.leaderCommit, o.commit);
    if (this.commitIndex < this.recoverCommit && o.source !== this.self) this.fetch(o.source);
    this.maybeRejoined();
  }

  /** Caught up with what the others had chosen: vote again. */
  private maybeRejoined(): void {
    if (this.recovery !== null || this.recoverCommit === 0 || this.commitIndex < this.recoverCommit) return;
    this.recoverCommit = 0;
    this.out.rejoined = true;
    this.resetElectionTimer();
  }

  // ---- acceptor -----------------------------------------------------------

  /**
   * Whether a leader other than `from` is known to be alive: heard from
   * within the minimum election timeout (or, for a leader, it has a quorum).
   * Such a replica ignores prepares, so a replica that was cut off and comes
   * back with a high ballot cannot depose a working leader (Raft's "leader
   * stickiness"). Only liveness depends on this, never safety.
   */
  private leaderAlive(from: PeerId): boolean {
    if (this.roleNow === 'leader') return this.hasQuorumContact();
    return this.roleNow === 'follower' && this.leaderId !== 0 && this.leaderId !== from && this.electionElapsed < this.timing.electionTicks;
  }

  private hasQuorumContact(): boolean {
    const window = 2 * this.timing.electionTicks;
    return 1 + this.others.filter((id) => this.ticks - (this.heardAt.get(id) ?? -Infinity) <= window).length >= this.quorum;
  }

  private onPrepare(m: Msg<'prepare'>): void {
    if (m.n > this.promised && this.leaderAlive(m.from)) return;
    // n == promised is this same candidate asking again (ballots are unique).
    if (m.n >= this.promised) {
      if (m.n > this.promised) {
        this.promise_(m.n);
        this.out.received.push(m);
      }
      if (this.roleNow !== 'follower' && m.n > this.ballot) this.stepDown(0);
      // Give the candidate time to finish before standing ourselves.
      this.electionElapsed = 0;
      this.leaderId = 0;
      this.send([m.from], { type: 'prepare_ack', from: this.self, n: m.n, slot: m.slot, life: m.life, promised: this.promised, votes: this.reportFrom(m.slot), base: this.logStart });
    } else {
      this.send([m.from], { type: 'prepare_ack', from: this.self, n: m.n, slot: m.slot, life: m.life, promised: this.promised, votes: [], base: this.logStart });
    }
  }

  /** Every slot from `slot` up that this replica voted for or knows chosen. */
  private reportFrom(slot: number): SlotReport[] {
    const slots = new Set<number>();
    for (const s of this.votes.keys()) if (s >= slot) slots.add(s);
    for (const s of this.chosen.keys()) if (s >= slot) slots.add(s);
    return [...slots]
      .sort((a, b) => a - b)
      .map((s) => {
        const c = this.chosen.get(s);
        if (c !== undefined) return { s, n: this.votes.get(s)?.n ?? 0, v: c, chosen: true as const };
        const vote = this.votes.get(s)!;
        return { s, n: vote.n, v: vote.v };
      });
  }

  private onAccept(m: Msg<'accept'>): void {
    if (m.n < this.promised) {
      this.send([m.from], { type: 'accept_ack', from: this.self, n: m.n, slot: m.slot, promised: this.promised });
      return;
    }
    if (m.n > this.promised) this.promise_(m.n);
    this.follow(m.from, m.n);
    const prev = this.votes.get(m.slot);
    const fresh = prev === undefined || prev.n !== m.n;
    if (fresh) {
      this.out.received.push(m);
      if (m.slot >= this.logStart) {
        this.votes.set(m.slot, { n: m.n, v: m.v });
        this.out.records.push({ t: 'v', s: m.slot, n: m.n, v: m.v });
      }
    }
    this.send([m.from], { type: 'accept_ack', from: this.self, n: m.n, slot: m.slot, promised: this.promised }, fresh ? undefined : true);
    this.learnUpTo(m.commit, m.n);
  }

  private promise_(n: number): void {
    this.promised = n;
    this.out.records.push({ t: 'p', n });
  }

  /** A message from the leader of ballot n (>= our promise): follow it. */
  private follow(from: PeerId, n: number): void {
    if (this.roleNow !== 'follower' && n > this.ballot) this.stepDown(from);
    if (this.roleNow === 'follower') {
      const was = this.leaderId;
      this.leaderId = ballotOwner(n, this.replicas) === from ? from : 0;
      this.electionElapsed = 0;
      // Reads asked of a leader that is gone: ask the new one.
      if (this.leaderId !== was && this.leaderId !== 0 && this.readsAsked.size > 0) this.readsToAsk.push(...this.readsAsked.keys());
      if (this.pending.length > 0 && this.leaderId !== 0) {
        this.send([this.leaderId], { type: 'forward', from: this.self, cmds: this.pending }, true);
        this.pending = [];
      }
    }
  }

  // ---- learner ------------------------------------------------------------

  private onChose(m: Msg<'chose'>): void {
    if (m.n >= this.promised) this.follow(m.from, m.n);
    if (m.slot < this.commitIndex || this.chosen.has(m.slot)) return;
    const vote = this.votes.get(m.slot);
    if (vote !== undefined && vote.n === m.n) {
      this.out.received.push(m);
      this.learn(m.slot, vote.v, m.n, true);
    } else {
      // We did not vote for the value of ballot n here: ask for it.
      this.leaderCommit = Math.max(this.leaderCommit, m.slot + 1);
      this.fetch(m.from);
    }
  }

  private onHeartbeat(m: Msg<'heartbeat'>): void {
    if (m.n < this.promised) {
      // A leader below our promise (we promised a candidate that did not
      // win, or stood ourselves while cut off): it is alive, so do not stand
      // again; tell it our promise, so it moves above it.
      if (this.roleNow === 'follower') this.electionElapsed = 0;
      // No read round echoed: this ack confirms nothing (the heartbeat may be
      // from an earlier life of a leader that now leads at our promise).
      this.send([m.from], { type: 'heartbeat_ack', from: this.self, n: this.promised }, true);
      return;
    }
    this.follow(m.from, m.n);
    this.send([m.from], m.r === undefined ? { type: 'heartbeat_ack', from: this.self, n: m.n } : { type: 'heartbeat_ack', from: this.self, n: m.n, r: m.r }, true);
    this.learnUpTo(m.commit, m.n);
  }

  /** The leader of ballot n says every slot below `commit` is chosen. */
  private learnUpTo(commit: number, n: number): void {
    this.leaderCommit = Math.max(this.leaderCommit, commit);
    for (let s = this.commitIndex; s < commit; s++) {
      if (this.chosen.has(s)) continue;
      const vote = this.votes.get(s);
      // The leader of ballot n proposed one value per slot at n: a vote at n is it.
      if (vote !== undefined && vote.n === n) this.learn(s, vote.v, n, true);
    }
    if (this.commitIndex < this.leaderCommit && this.ticks - this.fetchAt >= this.timing.resendTicks) {
      const from = ballotOwner(n, this.replicas);
      if (from !== this.self) this.fetch(from);
    }
  }

  private fetch(from: PeerId): void {
    this.fetchAt = this.ticks;
    this.send([from], { type: 'fetch', from: this.self, slot: this.commitIndex }, true);
  }

  private onFetch(m: Msg<'fetch'>): void {
    if (m.slot < this.logStart) {
      this.out.sendSnapshotTo.push(m.from);
      return;
    }
    const values: Batch[] = [];
    let bytes = 0;
    for (let s = m.slot; values.length < this.timing.maxEntries && bytes < this.timing.maxBatchBytes; s++) {
      const v = this.chosen.get(s);
      if (v === undefined) break;
      values.push(v);
      bytes += sizeOf(v);
    }
    if (values.length > 0) this.send([m.from], { type: 'entries', from: this.self, start: m.slot, values }, true);
  }

  private onEntries(m: Msg<'entries'>): void {
    if (m.values.some((_, i) => this.isNews(m.start + i))) this.stopLeading();
    m.values.forEach((v, i) => this.learn(m.start + i, v, 0, false));
    if (this.commitIndex < this.leaderCommit) this.fetch(m.from);
  }

  private onSnapshot(m: Msg<'snapshot'>): void {
    if (m.index < this.commitIndex) return; // nothing new in it
    this.stopLeading();
    this.out.snapshot = { index: m.index, data: m.data };
    this.out.committed.length = 0; // superseded by the snapshot
    for (const s of [...this.votes.keys()]) if (s <= m.index) this.votes.delete(s);
    for (const s of [...this.chosen.keys()]) if (s <= m.index) this.chosen.delete(s);
    this.appliedIndex = m.index;
    this.commitIndex = m.index + 1;
    this.logStart = m.index + 1;
    this.advance();
    if (this.commitIndex < this.leaderCommit) this.fetch(m.from);
  }

  /** Whether learning slot s would be new to this replica. */
  private isNews(s: number): boolean {
    return s >= this.commitIndex && s >= this.logStart && !this.chosen.has(s);
  }

  /**
   * A leader or candidate that learns chosen values from a peer's log (a late
   * reply to a fetch it sent while behind) gives up its ballot first. Its
   * followers read "commit c at ballot b" as "every slot below c holds the
   * value proposed at b", so a leader's commit must only ever cover slots it
   * chose itself or adopted in phase 1. A slot learned from a peer may have
   * been chosen at a higher ballot over this leader's own proposal, and a
   * follower holding that proposal's vote would learn it. Its next ballot
   * runs phase 1 again from its (now larger) commit.
   */
  private stopLeading(): void {
    if (this.roleNow !== 'follower') this.stepDown(0);
  }

  /** Slot s is chosen with value v (n: the ballot, 0 if learned from a peer's log). */
  private learn(s: number, v: Batch, n: number, fromVote: boolean): void {
    if (s < this.commitIndex || s < this.logStart || this.chosen.has(s)) return;
    this.chosen.set(s, v);
    this.out.records.push(fromVote ? { t: 'c', s } : { t: 'e', s, v });
    this.out.learned.push({ slot: s, n, v });
    this.advance();
  }

  private advance(): void {
    while (this.chosen.has(this.commitIndex)) this.commitIndex += 1;
    if (this.variant.applyPastHole === true) {
      // Broken on purpose: applies whatever is chosen, skipping holes.
      for (const s of [...this.chosen.keys()].sort((a, b) => a - b)) {
        if (s > this.appliedIndex) {
          this.appliedIndex = s;
          this.out.committed.push({ slot: s, v: this.chosen.get(s)! });
        }
      }
      return;
    }
    while (this.appliedIndex < this.commitIndex - 1) {
      this.appliedIndex += 1;
      this.out.committed.push({ slot: this.appliedIndex, v: this.chosen.get(this.appliedIndex)! });
    }
  }

  // ---- candidate and leader ------------------------------------------------

  private resetElectionTimer(): void {
    const t = this.timing.electionTicks;
    this.electionElapsed = 0;
    this.electionTimeout = t + Math.floor(this.random() * t);
  }

  private stepDown(leader: PeerId): void {
    const pending = this.pending;
    // Our own waiting reads go to the new leader; other replicas ask again.
    const reads = [...this.readQueue, ...(this.readRound?.batches ?? [])].filter((b) => b.from === this.self).flatMap((b) => b.ids);
    this.readQueue = [];
    this.readRound = null;
    this.roleNow = 'follower';
    this.proposals.clear();
    this.prepareAcks.clear();
    this.leaderId = leader;
    this.pending = [];
    this.resetElectionTimer();
    // Commands that were waiting for us to lead go to whoever leads now.
    if (pending.length > 0) {
      if (leader !== 0) this.send([leader], { type: 'forward', from: this.self, cmds: pending }, true);
      else this.out.unplaced.push(...pending);
    }
    // With no leader known yet, they wait (resendTicks at most) for one.
    for (const id of reads) this.readsAsked.set(id, this.ticks);
    if (leader !== 0) this.readsToAsk.push(...reads);
  }

  /**
   * A leader that met a promise above its ballot runs phase 1 again at once,
   * above it, rather than stepping down and waiting out an election: the
   * replica that rejected us may only have come back from a partition. If a
   * newer leader really exists, the others ignore our prepare (it is alive)
   * and its heartbeats make us follow it.
   */
  private rescout(seen: number): void {
    const pending = this.pending;
    this.pending = [];
    this.ballot = Math.max(this.ballot, seen);
    this.becomeCandidate();
    this.pending = pending;
  }

  private becomeCandidate(): void {
    this.resetElectionTimer();
    // Reads in a round of the old ballot wait for a round of the new one, and
    // reads we asked a leader about are now ours to confirm.
    if (this.readRound !== null) this.readQueue.unshift(...this.readRound.batches);
    this.readRound = null;
    if (this.readsAsked.size > 0) this.readQueue.push({ from: this.self, life: 0, ids: [...this.readsAsked.keys()] });
    this.readsAsked.clear();
    this.roleNow = 'candidate';
    this.leaderId = 0;
    this.ballot = nextBallot(Math.max(this.promised, this.ballot), this.self, this.replicas);
    // Our own promise, written before the prepare leaves: never reused.
    this.promise_(this.ballot);
    this.prepareSlot = this.commitIndex;
    this.prepareAcks.clear();
    this.proposals.clear();
    if (this.variant.skipPhase1 === true) {
      // Broken on purpose: leads without asking what the acceptors accepted.
      this.roleNow = 'leader';
      this.nextSlot = this.commitIndex;
      this.heartbeatElapsed = this.timing.heartbeatTicks;
      for (const id of this.others) this.heardAt.set(id, this.ticks);
      this.flush();
      return;
    }
    this.send(this.others, { type: 'prepare', from: this.self, n: this.ballot, slot: this.prepareSlot, life: this.readLife });
    this.maybeLead();
  }

  private onPrepareAck(m: Msg<'prepare_ack'>): void {
    // An answer to an earlier life's prepare, which may have used this ballot too.
    if (m.life !== this.readLife) return;
    if (m.promised > m.n) {
      // Rejected: someone promised a higher ballot. Let it lead.
      if (this.roleNow === 'candidate' && m.n === this.ballot) this.stepDown(0);
      return;
    }
    if (this.roleNow !== 'candidate' || m.n !== this.ballot || this.prepareAcks.has(m.from)) return;
    if (m.base > this.prepareSlot) {
      // That acceptor compacted slots we have not learned: catch up first.
      this.leaderCommit = Math.max(this.leaderCommit, m.base);
      this.stepDown(0);
      this.fetch(m.from);
      return;
    }
    this.out.received.push(m);
    this.prepareAcks.set(m.from, m);
    this.maybeLead();
  }

  private maybeLead(): void {
    if (this.roleNow !== 'candidate' || 1 + this.prepareAcks.size < this.quorum) return;
    this.roleNow = 'leader';
    this.leaderId = this.self;
    this.heartbeatElapsed = this.timing.heartbeatTicks; // announce at the next tick
    for (const id of this.others) this.heardAt.set(id, this.ticks);
    // Adopt, slot by slot, a value known chosen, else the highest-ballot vote.
    const adopt = new Map<number, SlotReport>();
    const reports = [...this.prepareAcks.values()].flatMap((a) => a.votes);
    reports.push(...this.reportFrom(this.prepareSlot));
    let top = this.prepareSlot - 1;
    for (const r of reports) {
      if (r.s < this.prepareSlot) continue;
      top = Math.max(top, r.s);
      const cur = adopt.get(r.s);
      if (cur === undefined || cur.chosen !== true && (r.chosen === true || r.n > cur.n)) adopt.set(r.s, r);
    }
    this.prepareAcks.clear();
    for (const [s, r] of adopt) if (r.chosen === true) this.learn(s, r.v, 0, false);
    this.nextSlot = top + 1;
    for (let s = this.prepareSlot; s <= top; s++) {
      if (this.chosen.has(s) || s < this.commitIndex) continue;
      const r = adopt.get(s);
      this.proposeSlot(s, r === undefined ? [] : r.v); // a hole: fill it with a no-op
    }
    this.flush();
    this.startReadRound();
  }

  /** Give waiting commands slots, a batch per slot, while the window has room. */
  private flush(): void {
    if (this.roleNow !== 'leader') return;
    while (this.pending.length > 0 && this.proposals.size < this.timing.window) {
      let n = 0;
      let bytes = 0;
      while (n < this.pending.length && n < this.timing.maxBatch) {
        const b = sizeOf(this.pending[n]);
        if (n > 0 && bytes + b > this.timing.maxBatchBytes) break;
        bytes += b;
        n += 1;
      }
      const batch = this.pending.slice(0, n);
      this.pending = this.pending.slice(n);
      this.proposeSlot(this.nextSlot, batch);
      this.nextSlot += 1;
    }
  }

  private proposeSlot(slot: number, v: Batch): void {
    // Our own vote first: we promised this ballot, so we may accept it.
    this.votes.set(slot, { n: this.ballot, v });
    this.out.records.push({ t: 'v', s: slot, n: this.ballot, v });
    this.proposals.set(slot, { v, acks: new Set([this.self]), age: 0 });
    // Early: it may leave while our own vote is still on its way to disk.
    if (this.others.length > 0) this.out.early.push({ to: this.others, msg: { type: 'accept', from: this.self, n: this.ballot, slot, v, commit: this.commitIndex } });
    this.maybeChosen(slot);
  }

  private onAcceptAck(m: Msg<'accept_ack'>): void {
    if (m.promised > m.n) {
      if (this.roleNow === 'leader' && m.n === this.ballot) this.rescout(m.promised);
      return;
    }
    if (this.roleNow !== 'leader' || m.n !== this.ballot) return;
    const p = this.proposals.get(m.slot);
    if (p === undefined || p.acks.has(m.from)) return;
    this.out.received.push(m);
    p.acks.add(m.from);
    this.maybeChosen(m.slot);
  }

  private maybeChosen(slot: number): void {
    const p = this.proposals.get(slot);
    if (p === undefined || p.acks.size < this.quorum) return;
    this.proposals.delete(slot);
    this.learn(slot, p.v, this.ballot, true);
    this.send(this.others, { type: 'chose', from: this.self, n: this.ballot, slot });
  }

  // ---- reads ----------------------------------------------------------------

  private queueReads(from: PeerId, ids: readonly number[], life = 0): void {
    this.readQueue.push({ from, life, ids });
    this.startReadRound();
  }

  /** Start a round for the reads queued, unless one is in flight: its acks predate them. */
  private startReadRound(): void {
    if (this.roleNow !== 'leader' || this.readRound !== null || this.readQueue.length === 0) return;
    const stale = this.variant.staleReads === true;
    // Broken on purpose (stale): answers from what it has applied, without asking whether it still leads.
    const index = stale ? this.appliedIndex : Math.max(this.nextSlot, this.commitIndex) - 1;
    const round = { r: ++this.readRounds, index, acks: new Set([this.self]), batches: this.readQueue };
    this.readQueue = [];
    this.readRound = round;
    if (stale) {
      for (const id of this.others) round.acks.add(id);
    } else {
      this.send(this.others, { type: 'heartbeat', from: this.self, n: this.ballot, commit: this.commitIndex, r: round.r }, true);
    }
    this.maybeReadsConfirmed();
  }

  private onReadAck(from: PeerId, n: number, r: number): void {
    const round = this.readRound;
    // Only an ack at our ballot to this round's heartbeat says `from` still follows us.
    if (this.roleNow !== 'leader' || round === null || r !== round.r || n !== this.ballot) return;
    round.acks.add(from);
    this.maybeReadsConfirmed();
  }

  private maybeReadsConfirmed(): void {
    const round = this.readRound;
    if (round === null || round.acks.size < this.quorum) return;
    this.readRound = null;
    for (const b of round.batches) {
      if (b.from === this.self) for (const id of b.ids) this.out.reads.push({ id, index: round.index });
      else this.send([b.from], { type: 'read_index_ack', from: this.self, n: this.ballot, life: b.life, ids: b.ids, index: round.index }, true);
    }
    this.startReadRound();
  }

  /** Ask the leader about those of `ids` still unanswered (each once). */
  private askForReadIndex(ids: readonly number[]): void {
    const wanted = [...new Set(ids)].filter((id) => this.readsAsked.has(id));
    if (wanted.length === 0) return;
    if (this.roleNow !== 'follower' || this.leaderId === 0) {
      for (const id of wanted) this.readsAsked.delete(id);
      if (this.roleNow !== 'follower') this.queueReads(this.self, wanted);
      else this.out.unreadable.push(...wanted);
      return;
    }
    for (const id of wanted) this.readsAsked.set(id, this.ticks);
    this.send([this.leaderId], { type: 'read_index', from: this.self, life: this.readLife, ids: wanted }, true);
  }

  /** Ask again for reads the leader has not answered in a while (it may be gone). */
  private reaskReads(): void {
    const late: number[] = [];
    for (const [id, at] of this.readsAsked) if (this.ticks - at >= this.timing.resendTicks) late.push(id);
    if (late.length > 0) this.readsToAsk.push(...late);
  }

  private onReadIndex(m: Msg<'read_index_ack'>): void {
    if (m.life !== this.readLife) return; // asked by an earlier life of ours
    for (const id of m.ids) {
      if (!this.readsAsked.delete(id)) continue; // answered already, or not ours
      this.out.reads.push({ id, index: m.index });
    }
  }

  private send(to: readonly PeerId[], msg: LogMessage, silent?: true): void {
    if (to.length === 0) return;
    this.out.messages.push(silent === true ? { to, msg, silent } : { to, msg });
  }
}

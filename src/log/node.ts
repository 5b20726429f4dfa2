// One replica of the replicated log (Multi-Paxos, as in "Paxos Made
// Moderately Complex"): acceptor, learner and, when elected, leader. A pure
// state machine in the style of etcd's raft: the shell feeds it messages
// (step), clock ticks (tick) and client commands (propose), and collects a
// Ready batch of durable records, messages and slots to apply. This file
// routes the inputs to the roles, assembles the Ready, and tracks whom the
// replica follows; the roles share one LogState (state.ts).
//
// The rules that keep it safe, and where they live:
// - a leader runs phase 1 once, for every slot from its first unchosen one,
//   and adopts per slot the value of the highest ballot a quorum reports
//   (leader.ts, maybeLead); holes become no-ops;
// - acks count only for the ballot they answer (leader.ts, onPrepareAck and
//   onAcceptAck); a majority is paxos/quorum.ts;
// - an acceptor votes at ballot n iff n >= its promise (acceptor.ts, onAccept);
// - a ballot is never reused: the candidate's own ballot is a promise,
//   written before anything that depends on it leaves (Ready order);
// - a slot is applied only once every slot before it is (learner.ts, advance);
// - a leader's commit covers only slots it chose or adopted at its ballot:
//   one that learns values from a peer's log stops leading (learner.ts,
//   stopLeading);
// - with 3 replicas (LogState.pairIsQuorum) the leader's accept leaves only
//   once its vote is durable, and a follower's durable vote for it makes the
//   slot chosen there (leader.ts, proposeSlot; acceptor.ts, onAccept);
// - a read is answered only once a quorum is known to have still followed
//   its leader's ballot after the read arrived, and only from a state that
//   holds every slot acknowledged by then (read-index.ts, Leader.readIndex);
// - a replica that may have lost durable state votes for nothing, and acks
//   no heartbeat, until it has recovered from every other replica and caught
//   up (recovery.ts, docs/recovery.md).

import type { PeerId } from '../paxos/ids.js';
import { Acceptor } from './acceptor.js';
import { change, memberChangeOf, type Membership } from '../paxos/membership.js';
import { ballotOwner } from './ballot.js';
import { Leader } from './leader.js';
import { Learner } from './learner.js';
import { ReadIndex } from './read-index.js';
import { Recovering } from './recovery.js';
import { emptyReady, LogState, type LogConfig, type Role, type Roles } from './state.js';
import type { Batch, LogMessage, LogRecord, Ready, Recovered } from './types.js';

export type { LogConfig, Role } from './state.js';

export class LogNode {
  readonly self: PeerId;
  private readonly s: LogState;
  private readonly acceptor: Acceptor;
  private readonly leadership: Leader;
  private readonly learner: Learner;
  private readonly reads: ReadIndex;
  private readonly recovery: Recovering;
  /** Follower: client commands to pass on to the leader in the next batch. */
  private toForward: unknown[] = [];

  constructor(cfg: LogConfig, recovered: Recovered) {
    const s = (this.s = new LogState(cfg, recovered));
    this.self = s.self;
    const roles: Roles = {
      stepDown: (leader) => this.stepDown(leader),
      follow: (from, n) => this.follow(from, n),
      reportFrom: (slot) => this.acceptor.reportFrom(slot),
      learn: (slot, v, n, fromVote) => this.learner.learn(slot, v, n, fromVote),
      learnUpTo: (commit, n) => this.learner.learnUpTo(commit, n),
      fetch: (from) => this.learner.fetch(from),
      readIndex: () => this.leadership.readIndex(),
      heartbeat: (r) => this.leadership.heartbeat(r),
      readRoundInFlight: () => this.reads.inFlight,
      startReadRound: () => this.reads.startRound(),
      takeOverReads: () => this.reads.takeOver(),
    };
    this.acceptor = new Acceptor(s, roles);
    this.leadership = new Leader(s, roles);
    this.learner = new Learner(s, roles);
    this.reads = new ReadIndex(s, roles);
    // Slots learned before the restart are applied again on top of the snapshot.
    this.learner.advance();
    this.recovery = new Recovering(s, roles, cfg.recover === true);
  }

  static emptyReady(): Ready {
    return emptyReady();
  }

  get role(): Role {
    return this.s.role;
  }
  /** The leader this replica knows of (itself when leading), or 0. */
  get leader(): PeerId {
    return this.s.role === 'leader' ? this.self : this.s.leaderId;
  }
  get commit(): number {
    return this.s.commitIndex;
  }
  get applied(): number {
    return this.s.appliedIndex;
  }
  /**
   * The highest commit index a leader has told this replica of (in an accept
   * or heartbeat), or its own when higher: every slot below it is chosen.
   */
  get leaderCommit(): number {
    return Math.max(this.s.leaderCommit, this.s.commitIndex);
  }
  /** The voters this replica counts slot `slot`'s quorums among (known up to commit + ALPHA). */
  votersAt(slot: number): readonly PeerId[] {
    return this.s.votersAt(slot);
  }

  /** The configuration after the last slot handed out to apply (paxos/membership.ts). */
  get membership(): Membership {
    return this.s.membership;
  }

  /**
   * Broken on purpose (memberOutsideLog): take a change at once, as if it
   * were chosen at our first unchosen slot, without the log.
   */
  changeOutsideLog(cmd: unknown): void {
    const c = memberChangeOf(cmd);
    if (c === null) return;
    const o = change(this.s.membership, c, this.s.commitIndex, true);
    if (o.ok) this.s.setMembership(o.m);
  }

  get promise(): number {
    return this.s.promised;
  }
  get currentBallot(): number {
    return this.s.ballot;
  }
  /**
   * Whether this replica is still recovering (it votes for nothing yet):
   * 'asking' until every other replica has answered, then 'catching-up'
   * until it has learned every slot they had chosen; null once it votes.
   */
  get recovering(): 'asking' | 'catching-up' | null {
    return this.recovery.phase;
  }
  /** This life's id (LogConfig.life): prepares carry it, and only acks that echo it count. */
  get life(): number {
    return this.s.life;
  }
  /** Recovery: the replicas that have not answered yet. */
  get recoveryMissing(): PeerId[] {
    return this.recovery.missing;
  }
  /** Whether anything is waiting to go out. */
  get hasReady(): boolean {
    const o = this.s.out;
    const n =
      o.early.length +
      o.records.length +
      o.messages.length +
      o.received.length +
      o.learned.length +
      o.committed.length +
      o.sendSnapshotTo.length +
      o.unplaced.length;
    return (
      n + o.reads.length + o.unreadable.length + this.toForward.length > 0 ||
      this.reads.hasToAsk ||
      o.snapshot !== null ||
      o.rejoined ||
      this.leadership.canFill
    );
  }

  /** Take the work accumulated since the last call. */
  ready(): Ready {
    if (this.toForward.length > 0) {
      const cmds = this.toForward;
      this.toForward = [];
      if (this.s.role !== 'follower') this.leadership.queue(cmds);
      else this.passOn(cmds, this.s.leaderId);
    }
    this.leadership.flush();
    // A follower's reads go to the leader in one message per batch.
    this.reads.askBatch();
    const r = this.s.out;
    this.s.out = emptyReady();
    return r;
  }

  /** The value chosen for `slot`, if this replica still holds it. */
  chosenAt(slot: number): Batch | undefined {
    return this.s.chosen.get(slot);
  }

  /**
   * Records that rebuild the current durable state, for a log checkpoint
   * after a snapshot at `snapshotIndex`: the promise, and the votes and
   * chosen values after it. Those at or below it are the snapshot's: a
   * restart replays none of them (types.ts, replay), so the slots kept for
   * followers a little behind are kept in memory only. Writing them again at
   * every checkpoint (up to KEEP_LOG_BYTES) was most of a loaded replica's
   * checkpoint, about once a second.
   */
  liveRecords(snapshotIndex: number): LogRecord[] {
    return this.learner.liveRecords(snapshotIndex);
  }

  /**
   * The shell saved a snapshot of the state machine at `index` (<= applied).
   * Forget votes and values at or below `keepFrom - 1` (all chosen and
   * applied), keeping recent ones to catch followers up from the log, but
   * no more than `keepBytes` of their values.
   */
  compact(index: number, keepFrom: number, keepBytes = Infinity): void {
    this.learner.compact(index, keepFrom, keepBytes);
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
    const s = this.s;
    if (this.recovering !== null) {
      s.out.unplaced.push(...cmds);
    } else if (s.role === 'leader') {
      this.leadership.queue(cmds);
    } else if (s.role === 'follower' && s.leaderId !== 0) {
      this.toForward.push(...cmds);
    } else {
      s.out.unplaced.push(...cmds);
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
      this.s.out.unreadable.push(...ids);
      return;
    }
    this.reads.read(ids);
  }

  tick(): void {
    const s = this.s;
    s.ticks += 1;
    if (this.recovering !== null) return this.recovery.tick();
    if (s.role === 'leader') return this.leadership.tick();
    s.electionElapsed += 1;
    this.reads.reaskLate();
    if (s.electionElapsed >= s.electionTimeout) this.leadership.becomeCandidate();
    this.learner.tick();
  }

  step(m: LogMessage): void {
    const s = this.s;
    // Not from ourselves, nor from a replica removed from the configuration (LogState.knows).
    if (!s.knows(m.from)) return;
    s.heardAt.set(m.from, s.ticks);
    if (this.recovering !== null) return this.stepRecovering(m);
    switch (m.type) {
      case 'prepare':
        return this.acceptor.onPrepare(m);
      case 'prepare_ack':
        return this.leadership.onPrepareAck(m);
      case 'accept':
        return this.acceptor.onAccept(m);
      case 'accept_ack':
        return this.leadership.onAcceptAck(m);
      case 'chose':
        return this.learner.onChose(m);
      case 'heartbeat':
        return this.acceptor.onHeartbeat(m);
      case 'heartbeat_ack':
        if (m.n > s.ballot && s.role === 'leader') return this.leadership.rescout(m.n);
        if (m.r !== undefined) this.reads.onReadAck(m.from, m.n, m.r);
        return;
      case 'read_index':
        return this.reads.onReadIndex(m);
      case 'read_index_ack':
        return this.reads.onReadIndexAck(m);
      case 'fetch':
        return this.learner.onFetch(m);
      case 'entries':
        return this.learner.onEntries(m);
      case 'snapshot':
        return this.learner.onSnapshot(m);
      case 'forward':
        return this.leadership.onForward(m);
      case 'recover':
        return this.recovery.onRecover(m);
      case 'recover_ack':
        return; // for an earlier life of ours, or a duplicate
    }
  }

  /**
   * While recovering, this replica is a learner only: it answers other
   * replicas' recovery, follows the leader's commit and fetches chosen
   * values, but promises nothing, votes for nothing and acks no heartbeat
   * (an ack would confirm a leader's reads on a promise it cannot vouch for).
   */
  private stepRecovering(m: LogMessage): void {
    switch (m.type) {
      case 'recover':
        return this.recovery.onRecover(m);
      case 'recover_ack':
        return this.recovery.onAck(m);
      case 'heartbeat':
      case 'accept':
        return this.recovery.onLeader(m);
      case 'fetch':
        // Chosen values are facts, whoever passes them on.
        return this.learner.onFetch(m);
      case 'entries':
        return this.recovery.onEntries(m);
      case 'snapshot':
        this.learner.onSnapshot(m);
        return this.recovery.maybeRejoined();
      default:
        return; // prepare, acks, reads, forwards: not while recovering
    }
  }

  // ---- whom this replica follows ---------------------------------------------

  /** Follow `leader` (0: none known yet), giving up any candidacy or leadership. */
  private stepDown(leader: PeerId): void {
    const s = this.s;
    const pending = this.leadership.stop();
    this.reads.stepDown(leader);
    s.role = 'follower';
    s.leaderId = leader;
    s.resetElectionTimer();
    // Commands that were waiting for us to lead go to whoever leads now.
    this.passOn(pending, leader);
  }

  /** A message from the leader of ballot n (>= our promise): follow it. */
  private follow(from: PeerId, n: number): void {
    const s = this.s;
    if (s.role !== 'follower' && n > s.ballot) this.stepDown(from);
    if (s.role !== 'follower') return;
    const was = s.leaderId;
    s.leaderId = ballotOwner(n) === from ? from : 0;
    s.electionElapsed = 0;
    // Reads asked of a leader that is gone: ask the new one.
    if (s.leaderId !== was && s.leaderId !== 0) this.reads.reaskAll();
    if (s.leaderId !== 0) this.passOn(this.leadership.takePending(), s.leaderId);
  }

  /** Pass commands on to `leader`, or hand them back unplaced when none is known. */
  private passOn(cmds: readonly unknown[], leader: PeerId): void {
    if (cmds.length === 0) return;
    if (leader !== 0) this.s.send([leader], { type: 'forward', from: this.self, cmds }, true);
    else this.s.out.unplaced.push(...cmds);
  }
}

// What the roles of one replica of the replicated log share (node.ts wires
// them): the configuration, the acceptor's durable promise and votes, the
// values learned, whom the replica follows, its logical clock, and the Ready
// being built. The rules live in the roles' files; this holds the data and
// the few writes every role makes to the Ready.

import type { PeerId } from '../paxos/ids.js';
import { quorumOf } from '../paxos/quorum.js';
import { jsonLength } from '../util/json-length.js';
import { DEFAULT_LOG_TIMING } from '../paxos/defaults.js';
import {
  ALPHA,
  currentVoters,
  effectiveSlot,
  initialMembership,
  participants,
  type Membership,
} from '../paxos/membership.js';
import {
  type Batch,
  type LogMessage,
  type LogTiming,
  type LogVariant,
  type Ready,
  type Recovered,
  type SlotReport,
  type Vote,
} from './types.js';

export interface LogConfig {
  readonly self: PeerId;
  /** Number of replicas in the hostsfile: the first configuration's voters are 1..replicas. */
  readonly replicas: number;
  /**
   * The configuration after every slot up to the snapshot (or the recovered
   * one), when it is not the hostsfile's: from the store's snapshot.
   */
  readonly membership?: Membership;
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
  /**
   * Whether a command may join a batch: each new batch asks a fresh rule
   * about each command in turn, and one it refuses starts the next batch.
   * The log keeps commands opaque; the state machine says what may share
   * a slot (node/replica-node.ts: no two writes of one key). Default: any.
   */
  readonly batchRule?: () => (cmd: unknown) => boolean;
}

const ANY = (): ((cmd: unknown) => boolean) => () => true;

export type Role = 'follower' | 'candidate' | 'leader';

export type Msg<T extends LogMessage['type']> = Extract<LogMessage, { type: T }>;

/** Encoded size of a command, for batching by bytes. */
export function sizeOf(cmd: unknown): number {
  return jsonLength(cmd);
}

export function emptyReady(): Ready {
  return {
    early: [],
    records: [],
    messages: [],
    received: [],
    learned: [],
    committed: [],
    snapshot: null,
    sendSnapshotTo: [],
    unplaced: [],
    reads: [],
    unreadable: [],
    rejoined: false,
  };
}

/** What one role asks of another. The node wires these, so no role imports another. */
export interface Roles {
  /** Node: follow `leader` (0: none known yet), giving up any candidacy or leadership. */
  stepDown(leader: PeerId): void;
  /** Node: a message from the leader of ballot n (>= our promise). */
  follow(from: PeerId, n: number): void;
  /** Acceptor: every slot from `slot` up that this replica voted for or knows chosen. */
  reportFrom(slot: number): SlotReport[];
  /** Learner: slot s is chosen with value v (n: the ballot, 0 if learned from a peer's log). */
  learn(s: number, v: Batch, n: number, fromVote: boolean): void;
  /** Learner: the leader of ballot n says every slot below `commit` is chosen. */
  learnUpTo(commit: number, n: number): void;
  /** Learner: ask `from` for the chosen values from our commit index on. */
  fetch(from: PeerId): void;
  /** Leader: the slot a read confirmed now must see applied. */
  readIndex(): number;
  /** Leader: tell the others our ballot and commit; `r`: a read round, for the acks to echo. */
  heartbeat(r?: number): void;
  /** Read index: the round in flight, if any. */
  readRoundInFlight(): number | undefined;
  /** Read index: a new leader confirms the reads that waited for it. */
  startReadRound(): void;
  /** Read index: a new candidate confirms the reads of its old round, and those it had asked a leader about. */
  takeOverReads(): void;
}

export class LogState {
  readonly self: PeerId;
  readonly timing: LogTiming;
  readonly random: () => number;
  readonly variant: LogVariant;
  readonly batchRule: () => (cmd: unknown) => boolean;
  /** The configuration after the last slot applied (paxos/membership.ts). */
  membership: Membership;
  /** Every other replica that takes part: members (voters and learners), and the voters before the last change. */
  others: readonly PeerId[] = [];
  /** The voters of slots from `effective` on, and of those below it (paxos/membership.ts, votersAt). */
  private voters: readonly PeerId[] = [];
  private votersBefore: readonly PeerId[] = [];
  private effective = 0;
  /**
   * Names this life's reads to the leader (with their ids), so an answer to
   * a read asked before a restart never answers a new read with the same id.
   */
  readonly life: number;

  // Acceptor (durable).
  promised: number;
  readonly votes = new Map<number, Vote>();
  // Learner: chosen values above the snapshot, still held for catch-up.
  readonly chosen = new Map<number, Batch>();
  /** Every slot below commit is known chosen. */
  commitIndex: number;
  /** The last slot handed out to apply. */
  appliedIndex: number;
  /** The lowest slot whose value or vote this replica still holds; below it, only the snapshot. */
  logStart: number;
  /** The highest commit index a leader has told us of. */
  leaderCommit = 0;

  role: Role = 'follower';
  /** The leader we follow (0: none known). */
  leaderId: PeerId = 0;
  /** Our ballot as candidate or leader (the last we stood with). */
  ballot = 0;
  ticks = 0;
  electionElapsed = 0;
  electionTimeout = 0;
  /** The tick each other replica was last heard from. */
  readonly heardAt = new Map<PeerId, number>();

  out: Ready = emptyReady();

  constructor(cfg: LogConfig, recovered: Recovered) {
    this.self = cfg.self;
    this.timing = cfg.timing ?? DEFAULT_LOG_TIMING;
    this.random = cfg.random;
    this.variant = cfg.variant ?? {};
    this.batchRule = cfg.batchRule ?? ANY;
    this.membership =
      cfg.membership ??
      initialMembership(Array.from({ length: cfg.replicas }, (_, i) => ({ id: i + 1, name: `${i + 1}` })));
    this.setMembership(this.membership);
    this.promised = recovered.promised;
    for (const [s, v] of recovered.votes) if (s > recovered.snapshotIndex) this.votes.set(s, v);
    for (const [s, v] of recovered.chosen) if (s > recovered.snapshotIndex) this.chosen.set(s, v);
    this.appliedIndex = recovered.snapshotIndex;
    this.commitIndex = recovered.snapshotIndex + 1;
    this.logStart = recovered.snapshotIndex + 1;
    // The timer draws from `random` before the life does: seeded runs depend on it.
    this.resetElectionTimer();
    this.life = cfg.life ?? 1 + Math.floor(this.random() * 2 ** 40);
  }

  /** Take a new configuration (applied from the log, or a snapshot's). */
  setMembership(m: Membership): void {
    this.membership = m;
    this.others = participants(m).filter((id) => id !== this.self);
    this.voters = currentVoters(m);
    this.votersBefore = m.before;
    this.effective = effectiveSlot(m);
  }

  /**
   * Whether to hear `id`: one that takes part, or one added after the
   * configuration we know (we learn of it as we catch up). Not one removed:
   * ids are never reused. Safety never rests on this (quorums count only the
   * voters of each slot); it keeps a removed replica from disturbing us.
   */
  knows(id: PeerId): boolean {
    return id !== this.self && id >= 1 && (id >= this.membership.nextId || this.others.includes(id));
  }

  /** The voters of slot `slot`: known for every slot below commitIndex + ALPHA. */
  votersAt(slot: number): readonly PeerId[] {
    return slot >= this.effective ? this.voters : this.votersBefore;
  }

  /**
   * The configurations of the slots a leader may propose in now, from the
   * first unchosen one up to ALPHA slots on: one, or two while a change is
   * taking effect. Phase 1, read rounds and the contact check need a quorum
   * of each.
   */
  frontier(): Array<readonly PeerId[]> {
    const a = this.votersAt(this.commitIndex);
    const b = this.votersAt(this.commitIndex + ALPHA - 1);
    return a === b ? [a] : [a, b];
  }

  /** The slot from which the last change governs. */
  get changeEffective(): number {
    return this.effective;
  }

  /** Whether `ids` hold a majority of `voters`. */
  static quorumIn(voters: readonly PeerId[], ids: ReadonlySet<PeerId>): boolean {
    let n = 0;
    for (const v of voters) if (ids.has(v)) n += 1;
    return n >= quorumOf(voters.length);
  }

  /** Whether `ids` hold a majority of every configuration of the frontier. */
  isFrontierQuorum(ids: ReadonlySet<PeerId>): boolean {
    return this.frontier().every((voters) => LogState.quorumIn(voters, ids));
  }

  /** Whether this replica votes in slot `slot` (default: its first unchosen slot). */
  isVoter(slot = this.commitIndex): boolean {
    return this.votersAt(slot).includes(this.self);
  }

  /**
   * The leader and any one other voter of `slot` are a quorum of its voters
   * (3 or fewer). Then the leader sends an accept only once its own vote is
   * durable, and a follower whose vote for it is durable knows the value
   * chosen, with no word from the leader (Acceptor.onAccept); and a
   * follower's read needs only the leader's answer (ReadIndex.onReadIndex).
   */
  pairIsQuorum(slot: number, leader = this.self): boolean {
    const voters = this.votersAt(slot);
    return quorumOf(voters.length) <= 2 && voters.includes(leader);
  }

  /** Whether we and `other` are a quorum of every configuration of the frontier. */
  pairWith(other: PeerId): boolean {
    return this.isFrontierQuorum(new Set([this.self, other]));
  }

  /** Whether a pair is a quorum in any configuration of the frontier (reads then wait for all we proposed). */
  anyPairQuorum(): boolean {
    return this.frontier().some((voters) => quorumOf(voters.length) <= 2);
  }

  /** Whether a quorum, this replica included, was heard from within two election timeouts. */
  hasQuorumContact(): boolean {
    const window = 2 * this.timing.electionTicks;
    const heard = new Set([this.self]);
    for (const id of this.others) if (this.ticks - (this.heardAt.get(id) ?? -Infinity) <= window) heard.add(id);
    return this.isFrontierQuorum(heard);
  }

  resetElectionTimer(): void {
    const t = this.timing.electionTicks;
    this.electionElapsed = 0;
    this.electionTimeout = t + Math.floor(this.random() * t);
  }

  /** Promise ballot n; the record is written before anything that depends on it leaves (Ready order). */
  promise(n: number): void {
    this.promised = n;
    this.out.records.push({ t: 'p', n });
  }

  /** Vote for v in `slot` at ballot n, durably. */
  vote(slot: number, n: number, v: Batch): void {
    this.votes.set(slot, { n, v });
    this.out.records.push({ t: 'v', s: slot, n, v });
  }

  send(to: readonly PeerId[], msg: LogMessage, silent?: true): void {
    if (to.length === 0) return;
    this.out.messages.push(silent === true ? { to, msg, silent } : { to, msg });
  }
}

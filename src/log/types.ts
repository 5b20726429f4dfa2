// Types of the replicated log (Multi-Paxos): messages between replicas,
// durable records, and the Ready batch the pure core hands its shell.
// Nothing here touches sockets, timers, clocks or disks.

import type { PeerId } from '../paxos/ids.js';
import type { Membership } from '../paxos/membership.js';

/** A slot's value: a batch of client commands in their wire form; [] is a no-op. */
export type Batch = readonly unknown[];

/** An acceptor's vote for one slot. */
export interface Vote {
  readonly n: number;
  readonly v: Batch;
}

/**
 * What a prepare_ack reports for one slot: the acceptor's vote, or, when the
 * replica already knows the slot is chosen, the chosen value with `chosen`.
 */
export interface SlotReport {
  readonly s: number;
  readonly n: number;
  readonly v: Batch;
  readonly chosen?: true;
}

/**
 * Replica-to-replica messages. `n` is always a ballot. Ballots are integers;
 * ballot b belongs to replica ((b - 1) mod N) + 1, so no two replicas ever
 * use the same one.
 */
/**
 * A state machine snapshot, opaque to the core: it only passes one from a
 * `snapshot` message to Ready.snapshot. The shell builds it (a replica
 * reassembles it from streamed chunks, src/daemon/snapshot-transfer.ts; the
 * simulator restores it from bytes) and installs it.
 */
export interface StateSnapshot {
  readonly appliedIndex: number;
  /** The configuration after its last slot; absent or null: the hostsfile's. */
  readonly membership?: Membership | null;
}

export type LogMessage =
  /**
   * Phase 1a, once, for every slot from `slot` (the candidate's first
   * unchosen) up. `life`: the candidate's life, echoed in the ack, so an ack
   * sent to an earlier life of the candidate is never counted (a replica that
   * lost its disk may pick a ballot its earlier life already used).
   */
  | {
      readonly type: 'prepare';
      readonly from: PeerId;
      readonly n: number;
      readonly slot: number;
      readonly life: number;
    }
  | {
      readonly type: 'prepare_ack';
      readonly from: PeerId;
      readonly n: number;
      readonly slot: number;
      /** The prepare's `life`. */
      readonly life: number;
      /** The acceptor's promise after handling it: above n means rejected. */
      readonly promised: number;
      /** Every slot >= `slot` the acceptor voted for or knows chosen. */
      readonly votes: readonly SlotReport[];
      /**
       * Slots below this are compacted into the acceptor's snapshot. Above
       * `slot`, the candidate is behind and must catch up before it leads.
       */
      readonly base: number;
    }
  /** Phase 2a for one slot. `commit`: every slot below it is chosen. */
  | {
      readonly type: 'accept';
      readonly from: PeerId;
      readonly n: number;
      readonly slot: number;
      readonly v: Batch;
      readonly commit: number;
    }
  | {
      readonly type: 'accept_ack';
      readonly from: PeerId;
      readonly n: number;
      readonly slot: number;
      readonly promised: number;
    }
  /** `slot` was chosen with the value proposed for it at ballot n. */
  | { readonly type: 'chose'; readonly from: PeerId; readonly n: number; readonly slot: number }
  /**
   * The leader is alive; every slot below `commit` is chosen. Not shown on
   * stdout. `r`: a read round (see LogNode.read), echoed in the ack.
   */
  | {
      readonly type: 'heartbeat';
      readonly from: PeerId;
      readonly n: number;
      readonly commit: number;
      readonly r?: number;
    }
  /** `n` above the heartbeat's: a promise above it (the leader is deposed). */
  | { readonly type: 'heartbeat_ack'; readonly from: PeerId; readonly n: number; readonly r?: number }
  /** A follower's reads (ids of its own, unique within its `life`), asking the leader for a read index. */
  | { readonly type: 'read_index'; readonly from: PeerId; readonly life: number; readonly ids: readonly number[] }
  /** Leader of ballot n, still leading after the reads arrived: serve them once slot `index` is applied. */
  | {
      readonly type: 'read_index_ack';
      readonly from: PeerId;
      readonly n: number;
      readonly life: number;
      readonly ids: readonly number[];
      readonly index: number;
    }
  /** Send me the chosen values from `slot` on. */
  | { readonly type: 'fetch'; readonly from: PeerId; readonly slot: number }
  /** Chosen values for slots start, start+1, ... */
  | { readonly type: 'entries'; readonly from: PeerId; readonly start: number; readonly values: readonly Batch[] }
  /**
   * The sender's state machine after applying every slot up to `index` (built by the shell; never on the wire as one
   * message).
   */
  | { readonly type: 'snapshot'; readonly from: PeerId; readonly index: number; readonly data: StateSnapshot }
  /** Client commands a follower passes on to the leader it knows. */
  | { readonly type: 'forward'; readonly from: PeerId; readonly cmds: readonly unknown[] }
  /**
   * A replica that may have lost durable state (a new or wiped disk, a
   * corrupt record) asks what the others hold from `slot` on; `life` names
   * the asking life, so answers to an earlier one are ignored. See
   * src/log/recovery.ts.
   */
  | { readonly type: 'recover'; readonly from: PeerId; readonly life: number; readonly slot: number }
  /**
   * The answer: the sender's durable promise, every slot >= the asked one it
   * voted for or knows chosen, where its log starts, and its commit index.
   */
  | {
      readonly type: 'recover_ack';
      readonly from: PeerId;
      readonly life: number;
      readonly promised: number;
      readonly votes: readonly SlotReport[];
      readonly base: number;
      readonly commit: number;
    };

export type LogMessageType = LogMessage['type'];

/** The message types that print `sent`/`received` lines (the lab's five). */
export const LOGGED_TYPES: ReadonlySet<LogMessageType> = new Set([
  'prepare',
  'prepare_ack',
  'accept',
  'accept_ack',
  'chose',
]);

/**
 * Durable records, appended to the write-ahead log. Replaying them in order
 * rebuilds the acceptor and what the replica learned.
 */
export type LogRecord =
  /** Promised ballot n (also the candidate's own ballot: never reused after a restart). */
  | { readonly t: 'p'; readonly n: number }
  /** Voted for v in slot s at ballot n. */
  | { readonly t: 'v'; readonly s: number; readonly n: number; readonly v: Batch }
  /** Slot s is chosen, with the value of this replica's latest vote for it. */
  | { readonly t: 'c'; readonly s: number }
  /** Slot s is chosen with value v (learned from another replica). */
  | { readonly t: 'e'; readonly s: number; readonly v: Batch };

/** What a replica finds again after a restart. */
export interface Recovered {
  readonly promised: number;
  readonly votes: ReadonlyMap<number, Vote>;
  /** Chosen slots and their values (above the snapshot). */
  readonly chosen: ReadonlyMap<number, Batch>;
  /** The snapshot's index: every slot up to it is applied in the snapshot (0 = none). */
  readonly snapshotIndex: number;
}

export const EMPTY_RECOVERED: Recovered = { promised: 0, votes: new Map(), chosen: new Map(), snapshotIndex: 0 };

/**
 * Whether a batch's records must be durable before the rest of its batch. A
 * promise or a vote must: others act on it. Records that only say a slot is
 * chosen ('c', 'e') need not: a majority holds the value durably, so one lost
 * in a crash is learned again. They are appended in order with the rest and
 * made durable by the next fsync; a batch of nothing else waits for no disk.
 */
export function mustSync(records: readonly LogRecord[]): boolean {
  return records.some((r) => r.t === 'p' || r.t === 'v');
}

/** Rebuild durable state from records, in order, on top of a snapshot. */
export function replay(records: readonly LogRecord[], snapshotIndex = 0): Recovered {
  let promised = 0;
  const votes = new Map<number, Vote>();
  const chosen = new Map<number, Batch>();
  for (const r of records) {
    switch (r.t) {
      case 'p':
        promised = Math.max(promised, r.n);
        break;
      case 'v':
        if (r.s > snapshotIndex) votes.set(r.s, { n: r.n, v: r.v });
        break;
      case 'c': {
        const vote = votes.get(r.s);
        if (vote !== undefined && r.s > snapshotIndex) chosen.set(r.s, vote.v);
        break;
      }
      case 'e':
        if (r.s > snapshotIndex) chosen.set(r.s, r.v);
        break;
    }
  }
  return { promised, votes, chosen, snapshotIndex };
}

/** A message out, to one or more replicas. */
export interface Outbound {
  readonly to: readonly PeerId[];
  readonly msg: LogMessage;
  /** A retransmission: print no `sent` line for it. */
  readonly silent?: true;
}

/** Slot values to apply, in slot order, with no holes. */
export interface Committed {
  readonly slot: number;
  readonly v: Batch;
}

/**
 * One batch of work for the shell, in this order:
 *  0. send `early`;
 *  1. append `records` to the log and make them durable (one fsync), if
 *     mustSync(records); else just append them;
 *  2. then send `messages`, print `lines`-worthy events, restore a
 *     `snapshot` if any, and apply `committed` in order.
 * Nothing of 2 may happen before 1 is on disk.
 */
export interface Ready {
  /**
   * Messages that may leave before `records` are durable: a leader's
   * accepts. Each depends only on the leader's promise of its ballot, made
   * durable before its prepare left; the leader's own vote in `records` is
   * counted, but nothing that follows from the count (a chose, an answer)
   * leaves before a later batch's fsync. So the leader's disk write and its
   * followers' overlap instead of running one after the other.
   */
  readonly early: Outbound[];
  readonly records: LogRecord[];
  readonly messages: Outbound[];
  /** Messages this replica received that are news (one `received` line each). */
  readonly received: LogMessage[];
  /** Slots this replica learned were chosen (one `chose` line each), with the ballot. */
  readonly learned: Array<{ slot: number; n: number; v: Batch }>;
  readonly committed: Committed[];
  /** Install this state machine snapshot before applying `committed`. */
  snapshot: { index: number; data: StateSnapshot } | null;
  /** Peers that need our state machine snapshot (they are behind our log). */
  readonly sendSnapshotTo: PeerId[];
  /** Client commands this replica could not place: no leader known. */
  readonly unplaced: unknown[];
  /**
   * Reads (ids given to LogNode.read) confirmed linearizable: answer each
   * from the state machine once every slot up to `index` is applied. No
   * record backs them; they may be answered in any batch, after `committed`.
   */
  readonly reads: Array<{ id: number; index: number }>;
  /** Reads this replica cannot serve: no leader known. */
  readonly unreadable: number[];
  /**
   * Recovery is complete: once this batch's records are durable, and before
   * any of its messages leave, the shell marks the data directory as a
   * voting member's (its identity file). Only then does this replica vote.
   */
  rejoined: boolean;
}

/**
 * The log core's timing and sizes. The defaults are DEFAULT_LOG_TIMING in
 * src/paxos/defaults.ts; a replica's come from its settings (logTiming,
 * src/config/settings.ts).
 */
export interface LogTiming {
  /** Leader heartbeat interval, in ticks. */
  readonly heartbeatTicks: number;
  /** Election timeout: a follower that hears no leader for a random [T, 2T) ticks stands. */
  readonly electionTicks: number;
  /** A slot not chosen after this many ticks has its accept resent to replicas that did not answer. */
  readonly resendTicks: number;
  /** Most slots a leader has in flight (proposed, not yet chosen). */
  readonly window: number;
  /** Most commands in one slot. */
  readonly maxBatch: number;
  /** Most encoded bytes of commands in one slot. */
  readonly maxBatchBytes: number;
  /** Most chosen values in one `entries` reply. */
  readonly maxEntries: number;
}

/** Deliberately broken variants, for the simulator's negative controls. */
export interface LogVariant {
  /** A new leader proposes without running phase 1. */
  readonly skipPhase1?: boolean;
  /** A replica applies chosen slots even past a hole. */
  readonly applyPastHole?: boolean;
  /** A leader answers reads at once from what it has applied, without confirming it still leads. */
  readonly staleReads?: boolean;
  /** The read index is the commit index even where a follower learns a slot from its own vote. */
  readonly commitReads?: boolean;
  /** The leader's accept leaves before its own vote is durable, though a follower learns from its vote. */
  readonly earlyPairAccept?: boolean;
  /** A replica's watches lose one change in 50 (node/watch-hub.ts). */
  readonly skipWatchEvent?: boolean;
  /** The leader puts two writes of one key in one slot, so they share a revision (sm/slot-rule.ts). */
  readonly batchAnyKeys?: boolean;
  /** A new leader expires leases on the old timing, without extending them first (node/lease-clock.ts). */
  readonly leaseNoExtension?: boolean;
  /** A replica takes a membership change a client sends it at once, without the log (node/replica-node.ts). */
  readonly memberOutsideLog?: boolean;
  /** A change is taken while the last one is still taking effect: two in flight (paxos/membership.ts). */
  readonly twoChangesInFlight?: boolean;
  /** Recovery ends once this many other replicas have answered (correct: all of them). */
  readonly recoverAnswers?: number;
}

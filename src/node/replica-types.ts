// What a replica (replica-node.ts) is given and what it answers: its
// configuration, its effects (a store, a network, a clock), the probes the
// simulator watches it with, and a client's answer.

import type { Membership } from '../paxos/membership.js';
import type { PeerId } from '../core/types.js';
import type { Batch, LogMessage, LogTiming, LogVariant } from '../log/types.js';
import type { LogNode, Role } from '../log/node.js';
import type { Result } from '../sm/command.js';
import type { KvStore, KvView } from '../sm/kv.js';
import type { RangeAnswer } from '../sm/range.js';
import type { LogStore } from '../storage/log-store.js';
import type { Logger } from '../util/logger.js';
import type { MaybePromise } from '../util/maybe.js';
import type { Network } from './loop.js';
import type { WatchAnswer } from './watch-hub.js';

/** What a client is told. */
export type Answer =
  | { readonly status: 'done'; readonly slot: number; readonly result: Result }
  /** A range, read at slot `applied`. */
  | ({ readonly status: 'range'; readonly applied: number } & RangeAnswer)
  | WatchAnswer
  | { readonly status: 'no_leader' }
  | { readonly status: 'not_ready'; readonly why: string };

/** A client waiting for an answer. */
export interface ReplicaClient {
  reply(a: Answer): void;
  /** Call `gone` if the client goes away before it is answered; returns what cancels that. */
  onClose(gone: () => void): () => void;
}

/** Probes for the simulator's invariants (none in the daemon). */
export interface ReplicaWatch {
  learned?(slot: number, v: Batch): void;
  /** Before slot `slot` is applied (`applied`: the slot applied before it). */
  applying?(slot: number, v: Batch): void;
  /** A leader proposes that lease `id`, last renewed at slot `at`, expire (at `now` ms). */
  expiring?(id: number, at: number, now: number): void;
  /** Before a snapshot from the leader replaces the store. */
  installing?(index: number, kv: KvStore): void;
  rejoined?(core: LogNode): void;
  /** After each batch. */
  performed?(core: LogNode): void;
}

/**
 * What became of a client command submitted to this replica (not a read by
 * index): each ends in one of these, once. 'chosen': applied and answered;
 * 'unplaced': answered "no leader" (none known, never passed on);
 * 'not_ready': refused while recovering; 'abandoned': its client went away
 * first.
 */
export type ProposalOutcome = 'chosen' | 'unplaced' | 'not_ready' | 'abandoned';

/**
 * Counts and timings for the daemon's /metrics (src/daemon/metrics.ts), as
 * plain calls: the node knows no metrics library. Optional (the simulator
 * gives none); what can be read at any time (role, indexes) is read through
 * ReplicaNode.status() instead.
 */
export interface ReplicaMetrics {
  proposal(outcome: ProposalOutcome): void;
  /** Commands this replica passed on to the leader, in one forward message (a retry counts again). */
  forwarded(commands: number): void;
  /** A slot was applied, `lagSeconds` after this replica learned it was chosen. */
  applied(lagSeconds: number): void;
  /** This replica came to know a leader: a new one, or one again after a time with none. */
  leaderChanged(): void;
}

/** What a replica is now, for `paxos status`, /readyz and /metrics. */
export interface ReplicaStatus {
  readonly role: Role;
  /** The leader it knows (itself when leading), or 0. */
  readonly leader: PeerId;
  /** Its ballot as candidate or leader (the last it stood with). */
  readonly ballot: number;
  /** The highest ballot it promised. */
  readonly promise: number;
  /** The last slot it knows chosen, every one before it too. */
  readonly commit: number;
  /** The last slot the leader said was chosen, as it last heard (its own commit when higher). */
  readonly leaderCommit: number;
  /** The last slot applied to its store. */
  readonly applied: number;
  /** Why it recovers before it votes, or null. */
  readonly recovering: string | null;
}

export interface ReplicaConfig {
  readonly self: PeerId;
  readonly replicas: number;
  /** A replica's name, for diagnostics. */
  readonly nameOf: (id: PeerId) => string | undefined;
  /** Print sent/received lines (true) or only chose lines (false). */
  readonly messageLines: boolean;
  readonly timing?: LogTiming;
  readonly random: () => number;
  /** Distinct for every start (LogConfig.life). */
  readonly life: number;
  readonly variant?: LogVariant;
  /**
   * How long a new leader waits, past every lease's TTL, before it may expire one (lease-clock.ts): an election's
   * worth, so holders can find it. Default DEFAULT_LEASE_EXTENSION_MS.
   */
  readonly leaseExtensionMs?: number;
}

export interface ReplicaEffects {
  readonly store: LogStore;
  readonly network: Network<LogMessage>;
  /** Stream `view` (frozen; closed once this resolves) to `to`: null once sent, or why it stopped. */
  readonly sendSnapshot: (to: PeerId, view: KvView, cancelled: () => boolean) => MaybePromise<string | null>;
  /** Milliseconds, for timeouts counted in time rather than ticks. */
  readonly now: () => number;
  /** The protocol's output lines (stdout). */
  readonly out: (line: string) => void;
  readonly log: Logger;
  readonly fatal: (err: Error) => void;
  /** See LoopEffects.defer: the daemon batches a turn's inputs; the simulator runs at once. */
  readonly defer?: (run: () => void) => void;
  /** A snapshot was saved and the log compacted behind it (for the daemon's report). */
  readonly snapshotSaved?: (index: number, viewMs: number, writeMs: number) => void;
  readonly watch?: ReplicaWatch;
  /** Counts and timings for /metrics (the daemon); none in the simulator. */
  readonly metrics?: ReplicaMetrics;
  /** A new configuration was applied (or the first one, at start): paxos/membership.ts. */
  readonly members?: (m: Membership, inForce: boolean) => void;
}

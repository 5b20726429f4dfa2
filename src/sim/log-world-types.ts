// The log simulator's vocabulary: its options, variants (negative
// controls), results, coverage counts, and the violation it stops on.

import type { PeerId } from '../core/types.js';
import type { LogMessage } from '../log/types.js';
import type { Agenda } from './agenda.js';

export type LogWorldVariant =
  | 'skipPhase1'
  | 'forgetLog'
  | 'applyPastHole'
  | 'staleReads'
  | 'commitReads'
  | 'earlyPairAccept'
  | 'skipWatchEvent'
  | 'batchAnyKeys'
  | 'leaseNoExtension'
  | 'voteAtOnce'
  | 'corruptAsTorn'
  | 'fewRecoverers'
  | 'memberOutsideLog'
  | 'twoChangesInFlight';
export const LOG_WORLD_VARIANTS: readonly LogWorldVariant[] = [
  'skipPhase1',
  'forgetLog',
  'applyPastHole',
  'staleReads',
  'commitReads',
  'earlyPairAccept',
  'skipWatchEvent',
  'batchAnyKeys',
  'leaseNoExtension',
  'voteAtOnce',
  'corruptAsTorn',
  'fewRecoverers',
  'memberOutsideLog',
  'twoChangesInFlight',
];
/** The variants about membership changes: their runs have spare replicas to add (log-members.ts). */
export const MEMBER_VARIANTS: ReadonlySet<LogWorldVariant> = new Set(['memberOutsideLog', 'twoChangesInFlight']);
/** The variants about lost or damaged disks: storage faults come more often with them. */
export const STORAGE_VARIANTS: ReadonlySet<LogWorldVariant> = new Set(['voteAtOnce', 'corruptAsTorn', 'fewRecoverers']);

export interface LogWorldOptions {
  readonly seed: number;
  /** 3 or 5 (any n >= 1 works); default 5. */
  readonly replicas?: number;
  /** Concurrent clients; default 4. */
  readonly clients?: number;
  /**
   * Replicas not in the hostsfile, added, promoted and swapped for voters by
   * membership changes (log-members.ts); default 0, or 2 for a membership
   * variant. The hostsfile holds the other `replicas - spares`.
   */
  readonly spares?: number;
  /** Lease holders (log-leases.ts); default 2. */
  readonly leaseHolders?: number;
  readonly variant?: LogWorldVariant;
  /** Simulated ms with faults; default 3000. */
  readonly faultMs?: number;
  /** Simulated ms without faults afterwards, for liveness; default 3000. */
  readonly quietMs?: number;
  /** Take a snapshot every this many applied slots; default 20. */
  readonly snapshotEvery?: number;
  /**
   * Check durability (promise kept across restarts, ballots never reused);
   * default true. Off, a forgetLog run must be caught by what the lost
   * votes do: two values chosen or a history that is not linearizable.
   */
  readonly durabilityChecks?: boolean;
  /** Keep this many trace lines (the last events); default 40. */
  readonly traceLines?: number;
  /** Linearizability checker step budget; default 3,000,000. */
  readonly checkSteps?: number;
}

export type ViolationKind = 'safety' | 'durability' | 'linearizability';

export interface LogWorldStats {
  crashes: number;
  /** Crashes in the middle of a Ready (before or after its records are durable). */
  midReadyCrashes: number;
  restarts: number;
  /** Leaderships observed (distinct ballots). */
  leaders: number;
  partitions: number;
  messages: number;
  dropped: number;
  entriesDelivered: number;
  /** `entries` or `snapshot` delivered to a leader or candidate (a stale catch-up reply). */
  catchUpToNonFollower: number;
  snapshotsSent: number;
  /** Membership changes applied (log-members.ts). */
  memberChanges: number;
  snapshotsInstalled: number;
  /** Events the replicas' watches were sent, all checked against the log's. */
  watchedEvents: number;
  snapshotsTaken: number;
  /** Disks wiped, logs with a corrupt record, damaged snapshots (each while its replica was down). */
  wipes: number;
  corruptions: number;
  damagedSnapshots: number;
  /** Recoveries finished (a replica that had lost its identity votes again). */
  rejoins: number;
  /** Slots whose batch held more than one command. */
  multiCommandSlots: number;
  forwards: number;
  unplaced: number;
  retries: number;
  /** Gets answered by read index, off the log. */
  indexReads: number;
  /** Expiries leaders proposed; leases their holders walked away from; leases lost while kept alive. */
  leaseExpiries: number;
  leasesAbandoned: number;
  leasesLostWhileKept: number;
}

/** Every count at zero: one world's start, and the sum over a sweep. */
export function noStats(): LogWorldStats {
  return {
    crashes: 0,
    midReadyCrashes: 0,
    restarts: 0,
    leaders: 0,
    partitions: 0,
    messages: 0,
    dropped: 0,
    entriesDelivered: 0,
    catchUpToNonFollower: 0,
    snapshotsSent: 0,
    memberChanges: 0,
    snapshotsInstalled: 0,
    watchedEvents: 0,
    snapshotsTaken: 0,
    wipes: 0,
    corruptions: 0,
    damagedSnapshots: 0,
    rejoins: 0,
    multiCommandSlots: 0,
    forwards: 0,
    unplaced: 0,
    retries: 0,
    indexReads: 0,
    leaseExpiries: 0,
    leasesAbandoned: 0,
    leasesLostWhileKept: 0,
  };
}

export interface LogWorldResult {
  readonly seed: number;
  readonly replicas: number;
  readonly shape: string;
  /** The first invariant broken, or null. */
  readonly violation: string | null;
  readonly kind: ViolationKind | null;
  /** The last events before the end or the violation. */
  readonly trace: readonly string[];
  /** Every replica applied the same last slot and every client finished, once faults stopped. */
  readonly live: boolean;
  /** Why not live, or null. */
  readonly notLive: string | null;
  readonly lincheck: 'ok' | 'illegal' | 'unknown' | 'skipped';
  readonly ops: { readonly ok: number; readonly fail: number; readonly info: number };
  /** The highest slot any replica learned. */
  readonly slots: number;
  readonly events: number;
  readonly stats: LogWorldStats;
}

/** A broken invariant: the run stops there. */
export class Violation extends Error {
  constructor(
    readonly kind: ViolationKind,
    message: string,
  ) {
    super(message);
  }
}

/** What the parts of a world share: its clock, agenda, randomness, counts and trace. */
export interface SimContext {
  readonly agenda: Agenda<() => void>;
  readonly rng: () => number;
  readonly stats: LogWorldStats;
  /** Simulated milliseconds. */
  readonly now: number;
  note(what: string, msg?: LogMessage, to?: PeerId): void;
  fail(kind: ViolationKind, why: string): never;
}

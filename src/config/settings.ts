// One settings type per mode, with its defaults and a validate() that
// refuses impossible combinations. The command line (src/cli/peer-command.ts)
// parses the flags into one of these, validates it, and hands it to the
// daemon (src/daemon/launch.ts), which opens storage and starts the peer.
//
//   LabSettings      a single-decree peer (proposer, acceptor, learner roles)
//   ReplicaSettings  a replica of the replicated log (HOST:replica hostsfiles)
//
// A daemon takes its mode's settings and nothing else that is configuration
// (src/daemon/peer.ts, src/daemon/replica.ts): what it is handed besides is
// a dependency (storage, where lines go, the logger). The pure cores' own
// configs (NodeConfig, LogConfig) get their timing from one function each
// here, labTiming and logTiming, so no shell restates it.
//
// DEFAULTS names every default a flag (or a setting without one) has; the
// values themselves live in src/paxos/defaults.ts, with every other protocol,
// timing and size constant. The CLI's help text prints them from DEFAULTS.
// validate() throws a ConfigError whose one line names the flag (or, for a
// setting no flag reaches, the field), which the CLI prints and exits 2 on.

import { initialMembership, type Membership } from '../paxos/membership.js';
import type { NodeConfig } from '../core/node.js';
import { inTicks, tickTiming, type TickTiming } from '../core/timing.js';
import type { LogTiming } from '../log/types.js';
import type { Cluster, HostEntry } from '../paxos/cluster.js';
import {
  DEFAULT_IDLE_MS,
  DEFAULT_LAB_TIMING,
  DEFAULT_LOG_TIMING,
  DEFAULT_PEER_TIMEOUT_MS,
  DEFAULT_PORT,
  DEFAULT_QUOTA_BYTES,
  DEFAULT_START_DELAY_MS,
  LAB_TICK_MS,
  MAX_VALUE_BYTES,
  MIN_PEER_TIMEOUT_MS,
  REPLICA_TICK_MS,
  SNAPSHOT_EVERY_SLOTS,
} from '../paxos/defaults.js';
import type { MessageType } from '../paxos/logline.js';
import type { KvOptions } from '../sm/kv.js';
import type { LogLevel } from '../util/logger.js';
import { mulberry32 } from '../util/prng.js';
import { ConfigError } from './errors.js';
import { livenessFor, type Liveness } from './liveness.js';
import type { Secret } from './secret.js';
import type { PeerTls } from './tls-files.js';

/** Where a peer listens, or is reached. */
export interface Address {
  readonly host: string;
  readonly port: number;
}

/** --delay TYPE:HOST=MS: hold outbound TYPE messages to HOST for MS ms (lab only). */
export interface DelayRule {
  readonly type: MessageType | '*';
  readonly host: string;
  readonly ms: number;
}

/** The defaults of the peer's flags, and of the settings no flag reaches (values: src/paxos/defaults.ts). */
export const DEFAULTS = {
  /** --port: where peers listen, and are reached. */
  port: DEFAULT_PORT,
  /** --peer-timeout: a link that hears nothing for this long is down (links ping every fifth of it). */
  peerTimeoutMs: DEFAULT_PEER_TIMEOUT_MS,
  /** --peer-timeout's floor: below it, pings (every fifth, at least 10 ms apart) no longer fit. */
  minPeerTimeoutMs: MIN_PEER_TIMEOUT_MS,
  /** --round-timeout (lab): a round with no majority after this long is retried. */
  roundTimeoutMs: DEFAULT_LAB_TIMING.roundTimeoutMs,
  /** -t (lab): wait this long before proposing. */
  startDelayMs: DEFAULT_START_DELAY_MS,
  /** --exit-after-idle (lab): 0, never. */
  idleMs: DEFAULT_IDLE_MS,
  /** --log-level. */
  logLevel: 'warn' as LogLevel,
  /** The lab peer's tick: its core counts every wait in ticks of this many ms (no flag). */
  labTickMs: LAB_TICK_MS,
  /** --quota-bytes (replica): the store's largest size, keys and values in UTF-8. */
  quotaBytes: DEFAULT_QUOTA_BYTES,
  /** --snapshot-every (replica): snapshot after this many applied slots. */
  snapshotEvery: SNAPSHOT_EVERY_SLOTS,
  /** The replica's tick: its core counts timeouts in ticks of this many ms (no flag). */
  replicaTickMs: REPLICA_TICK_MS,
  /** The replica core's timing, in ticks, and its sizes (no flags). */
  replicaTiming: DEFAULT_LOG_TIMING,
} as const;

/** What every peer, lab or replica, is told. */
interface CommonSettings {
  readonly cluster: Cluster;
  /** This peer's line in the hostsfile. */
  readonly self: HostEntry;
  readonly listen: Address;
  readonly endpointOf: (peer: HostEntry) => Address;
  /** --resolve HOST=ADDR for `host`, if given: it also wins over a later member's address (paxos member add). */
  readonly resolved?: (host: string) => Address | undefined;
  /** --data-dir (default ./paxos-data/HOST). */
  readonly dataDir: string;
  /** --secret-file or PAXOS_SECRET; null runs open. */
  readonly secret: Secret | null;
  /** --ca, --cert, --key (and --client-ca): TLS on the listener and the links; null or absent: plain NDJSON. */
  readonly tls?: PeerTls | null;
  /** --peer-timeout, in ms (default DEFAULTS.peerTimeoutMs). */
  readonly peerTimeoutMs: number;
  readonly logLevel: LogLevel;
  readonly exitOnStdinClose: boolean;
  /** --rng-seed; undefined: Math.random. */
  readonly rngSeed: number | undefined;
  /** Non-fatal problems to print once at startup. */
  readonly warnings: readonly string[];
}

/** A single-decree (lab) peer. */
export interface LabSettings extends CommonSettings {
  readonly mode: 'lab';
  /** -v: what a proposer proposes; undefined: it waits for a client. */
  readonly value: string | undefined;
  /** -t, in ms. */
  readonly startDelayMs: number;
  /** --round-timeout, in ms; the rest of the proposer's timing is DEFAULT_LAB_TIMING's. */
  readonly roundTimeoutMs: number;
  /** Milliseconds per core tick (DEFAULTS.labTickMs; no flag): every wait is counted in them. */
  readonly tickMs: number;
  /** --exit-after-idle, in ms; 0: never. */
  readonly idleMs: number;
  /** --replica-file (default DATA_DIR/value): the chosen value, once learned. */
  readonly replicaFile: string;
  /** --delay: hold matching outbound messages this long, for scripted scenarios. */
  readonly delays: readonly DelayRule[];
}

/** A replica of the replicated log. */
export interface ReplicaSettings extends CommonSettings {
  readonly mode: 'log';
  /** --replica-file: the store's readable copy; undefined: DATA_DIR/store.jsonl. */
  readonly replicaFile: string | undefined;
  /** Print sent/received lines (default) or, with --no-message-lines, only chose lines. */
  readonly messageLines: boolean;
  /** --snapshot-every; undefined: the store's default (DEFAULTS.snapshotEvery). */
  readonly snapshotEvery: number | undefined;
  /** --quota-bytes (default DEFAULTS.quotaBytes). */
  readonly quotaBytes: number;
  /** Milliseconds per core tick (DEFAULTS.replicaTickMs; no flag). */
  readonly tickMs: number;
  /** The core's timing in ticks and its sizes (DEFAULTS.replicaTiming; no flag). */
  readonly timing: LogTiming;
  /** --metrics ADDR:PORT: where /healthz, /readyz and /metrics listen (port 0: any free one); undefined: off. */
  readonly metrics?: Address;
  /**
   * --join: a member added after the cluster started (paxos member add): it is
   * in no hostsfile, and `self.id` is 0 until the cluster names its id.
   */
  readonly join?: boolean;
}

export type PeerSettings = LabSettings | ReplicaSettings;

/** What a lab core's config (NodeConfig) takes from the settings: every wait, in its ticks. */
export interface LabTiming {
  readonly timing: TickTiming;
  /** -t in ticks: how long a proposer given -v waits before proposing. */
  readonly startTicks: number;
  readonly idleTicks: NonNullable<NodeConfig['idleTicks']>;
}

/** The lab core's timing from its settings: the flags' milliseconds, the rest DEFAULT_LAB_TIMING's, in ticks. */
export function labTiming(s: LabSettings): LabTiming {
  return {
    timing: tickTiming({ ...DEFAULT_LAB_TIMING, roundTimeoutMs: s.roundTimeoutMs }, s.tickMs),
    startTicks: inTicks(s.startDelayMs, s.tickMs),
    idleTicks: inTicks(s.idleMs, s.tickMs),
  };
}

/** The log core's timing and sizes (LogConfig.timing) from a replica's settings. */
export function logTiming(s: ReplicaSettings): LogTiming {
  return s.timing;
}

/** A new leader's extension of every lease (src/node/lease-clock.ts): two of the longest election timeouts. */
export function leaseExtensionMs(s: ReplicaSettings): number {
  return 2 * 2 * s.timing.electionTicks * s.tickMs;
}

/** How a replica builds its store (the same on every replica): its quota. */
export function kvOptionsOf(s: ReplicaSettings): KvOptions {
  return { quotaBytes: s.quotaBytes, members: firstMembers(s.cluster) };
}

/** The hostsfile's configuration: its replicas, ids 1..N (paxos/membership.ts). */
export function firstMembers(cluster: Cluster): Membership {
  return initialMembership(cluster.replicas.map((id) => ({ id, name: cluster.byId(id)!.host })));
}

/** The randomness a peer runs with: seeded by --rng-seed, else Math.random. */
export function rngOf(s: PeerSettings): () => number {
  return s.rngSeed === undefined ? Math.random : mulberry32(s.rngSeed);
}

/** How fast either kind of peer notices a dead link. */
export function livenessOf(s: PeerSettings): Liveness {
  return livenessFor(s.peerTimeoutMs);
}

/** Throws a ConfigError naming the flag (or field) of the first impossible setting or combination. */
export function validate(s: PeerSettings): void {
  if (s.dataDir.trim() === '') throw new ConfigError('--data-dir must not be empty');
  // Links ping every fifth of the peer timeout, at least 10 ms apart: below
  // the floor, a link would be declared dead between two of its pings.
  if (!(s.peerTimeoutMs >= DEFAULTS.minPeerTimeoutMs)) {
    throw new ConfigError(`--peer-timeout must be at least ${DEFAULTS.minPeerTimeoutMs / 1000} seconds`);
  }
  if (s.mode === 'lab') validateLab(s);
  else validateReplica(s);
}

/** -v: a value a proposer may propose (1..MAX_VALUE_BYTES bytes of UTF-8). */
export function checkProposal(value: string): void {
  if (value === '') throw new ConfigError('-v: the value must not be empty');
  if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES)
    throw new ConfigError(`-v: the value is over ${MAX_VALUE_BYTES} bytes`);
}

function validateLab(s: LabSettings): void {
  if (s.value !== undefined) checkProposal(s.value);
  if (!(s.tickMs > 0)) throw new ConfigError(`tickMs must be above 0, got ${s.tickMs}`);
  if (!(s.startDelayMs >= 0)) throw new ConfigError('-t must not be negative');
  if (!(s.roundTimeoutMs > 0)) throw new ConfigError('--round-timeout must be above 0');
  if (!(s.idleMs >= 0)) throw new ConfigError('--exit-after-idle must be above 0');
  if (s.replicaFile.trim() === '') throw new ConfigError('--replica-file must not be empty');
  for (const d of s.delays)
    if (!(d.ms >= 0)) throw new ConfigError(`--delay ${d.type}:${d.host}=${d.ms}: MS must not be negative`);
}

function validateReplica(s: ReplicaSettings): void {
  if (s.replicaFile !== undefined && s.replicaFile.trim() === '')
    throw new ConfigError('--replica-file must not be empty');
  if (s.snapshotEvery !== undefined && !(Number.isSafeInteger(s.snapshotEvery) && s.snapshotEvery >= 1)) {
    throw new ConfigError(`--snapshot-every must be a whole number >= 1, got ${s.snapshotEvery}`);
  }
  if (!(Number.isSafeInteger(s.quotaBytes) && s.quotaBytes >= 1))
    throw new ConfigError(`--quota-bytes must be at least 1, got ${s.quotaBytes}`);
  if (!(s.tickMs > 0)) throw new ConfigError(`tickMs must be above 0, got ${s.tickMs}`);
  const t = s.timing;
  for (const field of [
    'heartbeatTicks',
    'electionTicks',
    'resendTicks',
    'window',
    'maxBatch',
    'maxBatchBytes',
    'maxEntries',
  ] as const) {
    if (!(Number.isSafeInteger(t[field]) && t[field] >= 1))
      throw new ConfigError(`timing.${field} must be a whole number >= 1, got ${t[field]}`);
  }
  if (t.heartbeatTicks >= t.electionTicks) {
    throw new ConfigError(
      `timing.heartbeatTicks (${t.heartbeatTicks}) must be below timing.electionTicks (${t.electionTicks}): ` +
        'a leader that beats no faster than the election timeout is deposed while alive',
    );
  }
}

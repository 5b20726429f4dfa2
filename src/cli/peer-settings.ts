// PeerSettings: what `paxos -h FILE ...` decides, shared by peer-command.ts
// (which parses it) and replica-command.ts (which runs a replica from it).

import type { DelayRule, PeerOptions } from '../daemon/peer.js';
import type { Secret } from '../transport/auth.js';
import type { LogLevel } from '../util/logger.js';

/** What the command line decides; the daemon's options (PeerOptions) are built from it. */
export interface PeerSettings
  extends Pick<PeerOptions, 'cluster' | 'self' | 'value' | 'startDelayMs' | 'listen' | 'endpointOf' | 'delays' | 'replicaFile'> {
  readonly roundTimeoutMs: number;
  readonly peerTimeoutMs: number;
  readonly dataDir: string;
  readonly replicaFile: string;
  readonly delays: readonly DelayRule[];
  readonly secret: Secret | null;
  /** 0: never. */
  readonly idleMs: number;
  readonly logLevel: LogLevel;
  readonly exitOnStdinClose: boolean;
  /** Replicated log: print sent/received lines (default) or only chose lines. */
  readonly messageLines: boolean;
  /** Replicated log: snapshot every this many applied slots. */
  readonly snapshotEvery: number | undefined;
  /** Replicated log: the store's quota in bytes (undefined: the default, 2 GiB). */
  readonly quotaBytes: number | undefined;
  /** The --replica-file flag as given (undefined: the mode's default). */
  readonly replicaFileFlag: string | undefined;
  /** Undefined: Math.random. */
  readonly rngSeed: number | undefined;
  /** Non-fatal problems to print once at startup. */
  readonly warnings: readonly string[];
}

// A peer built from its settings (src/config/settings.ts): the daemon side
// opens the storage and wires the core, so the command line only parses,
// validates and supervises. One function per mode.

import { labTiming, livenessOf, type LabSettings, type ReplicaSettings } from '../config/settings.js';
import { prepareDataDir } from '../storage/data-dir.js';
import { WalStorage } from '../storage/wal-state.js';
import type { Logger } from '../util/logger.js';
import { mulberry32 } from '../util/prng.js';
import { PeerDaemon } from './peer.js';
import type { ReplicaDaemon } from './replica.js';

/** Where a peer prints its protocol lines (stdout, for the CLI). */
export type Out = (line: string) => void;

export interface LabPeer {
  readonly daemon: PeerDaemon;
  /** Stops the daemon, then gives up the data directory. */
  stop(): Promise<void>;
  /** What start-up found worth a warning (a torn last write it cut off). */
  notices(): string[];
}

/** A lab peer over its state log in DATA_DIR (opened when the daemon starts). */
export function labPeer(s: LabSettings, log: Logger, out: Out): LabPeer {
  const storage = new WalStorage(s.dataDir, {
    replicaFile: s.replicaFile,
    identity: { host: s.self.host, id: s.self.id },
  });
  const daemon = new PeerDaemon({
    cluster: s.cluster,
    self: s.self,
    value: s.value,
    startDelayMs: s.startDelayMs,
    listen: s.listen,
    endpointOf: s.endpointOf,
    storage,
    timing: labTiming(s),
    rng: s.rngSeed === undefined ? Math.random : mulberry32(s.rngSeed),
    idleMs: s.idleMs,
    delays: s.delays,
    replicaFile: s.replicaFile,
    secret: s.secret,
    liveness: livenessOf(s),
    out,
    log,
  });
  return {
    daemon,
    stop: () => daemon.stop().then(() => storage.release()),
    notices: () =>
      storage.truncatedBytes > 0
        ? [
            `${storage.logDir}: cut off a torn last write of ${storage.truncatedBytes} bytes (a crash mid-save); every completed save is kept`,
          ]
        : [],
  };
}

/**
 * A replica over DATA_DIR, checked first: a directory it cannot write is one line at start-up, not a failure
 * mid-protocol.
 */
export async function replicaPeer(s: ReplicaSettings, log: Logger, out: Out): Promise<ReplicaDaemon> {
  await prepareDataDir(s.dataDir);
  // Loaded only for replicas: a lab peer never needs the replicated log's code.
  const { ReplicaDaemon } = await import('./replica.js');
  return new ReplicaDaemon({
    cluster: s.cluster,
    self: s.self,
    listen: s.listen,
    endpointOf: s.endpointOf,
    dataDir: s.dataDir,
    ...(s.replicaFile === undefined ? {} : { replicaFile: s.replicaFile }),
    secret: s.secret,
    liveness: livenessOf(s),
    messageLines: s.messageLines,
    ...(s.snapshotEvery === undefined ? {} : { snapshotEvery: s.snapshotEvery }),
    quotaBytes: s.quotaBytes,
    tickMs: s.tickMs,
    timing: s.timing,
    random: s.rngSeed === undefined ? Math.random : mulberry32(s.rngSeed),
    out,
    log,
  });
}

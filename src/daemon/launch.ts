// A peer built from its settings (src/config/settings.ts): the daemon side
// builds the storage and hands it, with the settings, to the daemon, so the
// command line only parses, validates and supervises. One function per mode.

import { kvOptionsOf, type LabSettings, type ReplicaSettings } from '../config/settings.js';
import { prepareDataDir } from '../storage/data-dir.js';
import { WalStorage } from '../storage/wal-state.js';
import type { Logger } from '../util/logger.js';
import { PeerDaemon } from './peer.js';
import type { ReplicaDaemon, ReplicaDeps } from './replica.js';

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
  const daemon = new PeerDaemon(s, { storage, out, log });
  return {
    daemon,
    stop: () => daemon.stop().then(() => storage.release()),
    notices: () =>
      storage.truncatedBytes > 0
        ? [
            `${storage.logDir}: cut off a torn last write of ${storage.truncatedBytes} bytes (a crash mid-save); ` +
              `every completed save is kept`,
          ]
        : [],
  };
}

/**
 * A replica over DATA_DIR, checked first: a directory it cannot write is one line at start-up, not a failure
 * mid-protocol.
 */
export async function replicaPeer(
  s: ReplicaSettings,
  log: Logger,
  out: Out,
  join?: ReplicaDeps['join'],
): Promise<ReplicaDaemon> {
  await prepareDataDir(s.dataDir);
  // Loaded only for replicas: a lab peer never needs the replicated log's code.
  const [{ ReplicaDaemon }, { FileLogStore }] = await Promise.all([
    import('./replica.js'),
    import('../storage/file-log-store.js'),
  ]);
  const store = new FileLogStore(s.dataDir, log, s.replicaFile, s.snapshotEvery, kvOptionsOf(s));
  return new ReplicaDaemon(s, { store, out, log, ...(join === undefined ? {} : { join }) });
}

// Running one replica of a replicated-log cluster: what `paxos -h FILE`
// does when every line of FILE is HOST:replica.

import { ReplicaDaemon } from '../daemon/replica.js';
import { livenessFor } from '../transport/liveness.js';
import type { Logger } from '../util/logger.js';
import { mulberry32 } from '../util/prng.js';
import type { PeerSettings } from './peer-settings.js';
import { supervise } from './supervise.js';
import { prepareDataDir } from '../storage/data-dir.js';

/** The core counts its timeouts in ticks of this many milliseconds. */
export const TICK_MS = 50;

export async function runReplica(settings: PeerSettings, log: Logger): Promise<void> {
  // A data directory it cannot write is one line at start-up, not a failure mid-protocol.
  await prepareDataDir(settings.dataDir);
  const daemon = new ReplicaDaemon({
    cluster: settings.cluster,
    self: settings.self,
    listen: settings.listen,
    endpointOf: settings.endpointOf,
    dataDir: settings.dataDir,
    ...(settings.replicaFileFlag === undefined ? {} : { replicaFile: settings.replicaFileFlag }),
    secret: settings.secret,
    liveness: livenessFor(settings.peerTimeoutMs),
    messageLines: settings.messageLines,
    ...(settings.snapshotEvery === undefined ? {} : { snapshotEvery: settings.snapshotEvery }),
    ...(settings.quotaBytes === undefined ? {} : { quotaBytes: settings.quotaBytes }),
    tickMs: TICK_MS,
    random: settings.rngSeed === undefined ? Math.random : mulberry32(settings.rngSeed),
    out: (line) => process.stdout.write(`${line}\n`),
    log,
  });
  // A few seconds to flush the log and write the replica file.
  await supervise(daemon, { log, listen: settings.listen, exitOnStdinClose: settings.exitOnStdinClose, graceMs: 3000 });
}

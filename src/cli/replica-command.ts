// Running one replica of a replicated-log cluster: what `paxos -h FILE`
// does when every line of FILE is HOST:replica.

import { ConfigError } from '../config/errors.js';
import { ReplicaDaemon } from '../daemon/replica.js';
import { livenessFor } from '../transport/liveness.js';
import type { Logger } from '../util/logger.js';
import { mulberry32 } from '../core/prng.js';
import type { PeerSettings } from './peer-command.js';

/** The core counts its timeouts in ticks of this many milliseconds. */
export const TICK_MS = 50;

export async function runReplica(settings: PeerSettings, log: Logger): Promise<void> {
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
    tickMs: TICK_MS,
    random: settings.rngSeed === undefined ? Math.random : mulberry32(settings.rngSeed),
    out: (line) => process.stdout.write(`${line}\n`),
    log,
  });
  let stopping = false;
  const shutdown = (why: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`${why}; shutting down`);
    // Never hang on the way out: a few seconds is plenty to flush the log.
    setTimeout(() => process.exit(0), 3000).unref();
    void daemon.stop().then(() => process.exit(0));
  };
  daemon.on('fatal', (err) => {
    // A replica that cannot write its log must not go on answering.
    log.error(`stopping: ${err.message}`);
    process.exit(1);
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  if (settings.exitOnStdinClose) {
    process.stdin.on('end', () => shutdown('stdin closed'));
    process.stdin.on('error', () => shutdown('stdin closed'));
    process.stdin.resume();
  }
  try {
    await daemon.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES') {
      throw new ConfigError(`cannot listen on ${settings.listen.host}:${settings.listen.port} (${e.code}); is another peer running there? use --port or --resolve`);
    }
    throw err;
  }
}

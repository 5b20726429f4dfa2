// Running one replica of a replicated-log cluster: what `paxos -h FILE`
// does when every line of FILE is HOST:replica.

import type { ReplicaSettings } from '../config/settings.js';
import { replicaPeer } from '../daemon/launch.js';
import type { Logger } from '../util/logger.js';
import { joiner } from './join.js';
import { supervise } from './supervise.js';

export async function runReplica(settings: ReplicaSettings, log: Logger): Promise<void> {
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const daemon = await replicaPeer(settings, log, out, settings.join === true ? joiner(settings, log) : undefined);
  // A few seconds to flush the log and write the replica file.
  const shutdown = await supervise(daemon, {
    log,
    listen: settings.listen,
    exitOnStdinClose: settings.exitOnStdinClose,
    graceMs: 3000,
  });
  // Removed from the cluster (paxos member remove): nothing left to do here; exit 0.
  const stop = (why: string): void => {
    log.warn(`${why}: stopping`);
    shutdown(why);
  };
  daemon.on('removed', stop);
  if (daemon.removed !== null) stop(daemon.removed); // found while it started
  const at = daemon.metricsAddress;
  // At any --log-level: with port 0 this line is the only way to find the port.
  if (at !== null) {
    const host = at.host.includes(':') ? `[${at.host}]` : at.host;
    process.stderr.write(`${settings.self.host}: metrics on http://${host}:${at.port} (/healthz, /readyz, /metrics)\n`);
  }
}

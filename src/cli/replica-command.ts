// Running one replica of a replicated-log cluster: what `paxos -h FILE`
// does when every line of FILE is HOST:replica.

import type { ReplicaSettings } from '../config/settings.js';
import { replicaPeer } from '../daemon/launch.js';
import type { Logger } from '../util/logger.js';
import { supervise } from './supervise.js';

export async function runReplica(settings: ReplicaSettings, log: Logger): Promise<void> {
  const daemon = await replicaPeer(settings, log, (line) => process.stdout.write(`${line}\n`));
  // A few seconds to flush the log and write the replica file.
  await supervise(daemon, { log, listen: settings.listen, exitOnStdinClose: settings.exitOnStdinClose, graceMs: 3000 });
  const at = daemon.metricsAddress;
  // At any --log-level: with port 0 this line is the only way to find the port.
  if (at !== null) {
    const host = at.host.includes(':') ? `[${at.host}]` : at.host;
    process.stderr.write(`${settings.self.host}: metrics on http://${host}:${at.port} (/healthz, /readyz, /metrics)\n`);
  }
}

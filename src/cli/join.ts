// --join, a first start: which id the cluster gave this replica. It asks the
// hostsfile's members (as a client, through the log) for the member list,
// with randomized backoff, until one of them has run paxos member add NAME.

import { ConfigError } from '../config/errors.js';
import type { ReplicaSettings } from '../config/settings.js';
import type { PeerId } from '../paxos/ids.js';
import type { Member } from '../paxos/membership.js';
import { backoffDelay } from '../util/backoff.js';
import type { Logger } from '../util/logger.js';
import { cliClient } from './kv-command.js';

export function joiner(
  s: ReplicaSettings,
  log: Logger,
): (name: string) => Promise<{ readonly id: PeerId; readonly voter: boolean; readonly members: readonly Member[] }> {
  return async (name) => {
    const targets = s.cluster.hosts.map((h) => ({ name: h.host, at: s.endpointOf(h) }));
    const tls = s.tls === null || s.tls === undefined ? null : { ca: s.tls.ca, cert: s.tls.cert, key: s.tls.key };
    const client = cliClient(targets, { timeoutMs: 10_000, secret: s.secret, tls });
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const members = await client.members();
          const m = members.find((x) => x.name.toLowerCase() === name.toLowerCase());
          if (m !== undefined) return { id: m.id, voter: m.voter, members };
          if (attempt === 1 || attempt % 10 === 0)
            log.info(`not a member yet: waiting for paxos member add ${name}=HOST:PORT`);
        } catch (err) {
          if (err instanceof ConfigError) throw err;
          if (attempt === 1 || attempt % 10 === 0)
            log.info(`cannot list the members yet (${(err as Error).message}); trying again`);
        }
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, 200, 5000, Math.random)));
      }
    } finally {
      await client.close();
    }
  };
}

// `paxos lease grant TTL | keepalive ID | revoke ID | list`: the store's
// leases from outside, through the client library (KvClient.executeLease,
// and a Lease for keepalive's renewals). The answer goes to stdout, human
// or --json; a failure to stderr.

import { ConfigError } from '../config/errors.js';
import { parseFlags } from '../config/flags.js';
import { Lease, type LeaseOperation } from '../client/api.js';
import { MAX_LEASE_TTL } from '../sm/lease.js';
import { EXIT } from './client-command.js';
import { CLIENT_FLAGS, TARGET_HELP, callSettings } from './client-flags.js';
import { cliClient, replicaTargets } from './kv-command.js';
import { describeLease } from './lease-report.js';
import { failure, leaseIdArg, refuseNegative, ttlArg } from './lease-flags.js';

export const LEASE_HELP = `Usage: paxos lease grant TTL [options]
       paxos lease keepalive ID [--once] [options]
       paxos lease revoke ID [options]
       paxos lease list [options]

Leases of the replicated key-value store. A key put with a lease
(paxos put KEY VALUE --lease ID) is deleted when the lease is revoked or
expires. A lease expires when no keepalive reaches the store for TTL
seconds: the leader then deletes it and its keys.

grant TTL     a new lease of TTL whole seconds (1..${MAX_LEASE_TTL}); prints
              its ID alone, e.g. ID=$(paxos lease grant 30)
keepalive ID  renew lease ID now, then every TTL/3, printing a line per
              renewal, until Ctrl-C (which leaves the lease to expire in
              its TTL; revoke it to delete its keys now); --once renews
              it once and exits
revoke ID     delete lease ID and every key attached to it, in one slot
list          every lease, one line each: ID<TAB>TTL<TAB>KEYS (its TTL
              as granted, and how many keys are attached to it)

Each goes through the replicated log, as put does.

      --once             keepalive: renew once, then exit
${TARGET_HELP}
      --timeout SECS     how long one call keeps trying, in all (default 10)
      --json             one JSON object (keepalive: one per renewal):
                         "outcome" ("ok", "fail" or "unknown"), "status",
                         "id", "ttl" (list: "leases"), peer, slot, attempts
      --help             show this help

Exit status:
  0  done (keepalive: until Ctrl-C, or --once)
  1  lease ID does not exist: it was revoked or expired, or never granted
     (keepalive: it is gone now); or grant: the store holds the most
     leases it may; nothing was done
  2  usage error: a TTL that is not 1..${MAX_LEASE_TTL} whole seconds, a bad ID
  4  outcome unknown: sent, but no answer came in time
  5  no replica could take the command (keepalive: none did for a whole
     TTL, so the store may have expired it); nothing was done`;

const VERBS = ['grant', 'keepalive', 'revoke', 'list'] as const;
type Verb = (typeof VERBS)[number];

export async function leaseCommand(argv: readonly string[]): Promise<number> {
  refuseNegative(argv, 'a TTL or lease ID', 'paxos lease');
  const { values, positionals } = parseFlags(argv, { ...CLIENT_FLAGS, once: { type: 'boolean' } }, true);
  if (values.help === true) {
    process.stdout.write(`${LEASE_HELP}\n`);
    return EXIT.ok;
  }
  const [verb, arg, ...rest] = positionals;
  if (verb === undefined || !(VERBS as readonly string[]).includes(verb))
    throw new ConfigError(
      `lease needs one of ${VERBS.join(', ')}` +
        `${verb === undefined ? '' : `; got ${JSON.stringify(verb)}`}; see paxos lease --help`,
    );
  const v = verb as Verb;
  const usage = { grant: 'grant TTL', keepalive: 'keepalive ID', revoke: 'revoke ID', list: 'list' }[v];
  const want = v === 'list' ? 0 : 1;
  if ((arg === undefined ? 0 : 1 + rest.length) !== want)
    throw new ConfigError(`lease ${v} takes ${want === 0 ? 'no arguments' : 'one argument'}: paxos lease ${usage}`);
  if (values.once === true && v !== 'keepalive') throw new ConfigError('--once is for lease keepalive only');
  for (const f of ['from', 'value-file'] as const)
    if (values[f] !== undefined) throw new ConfigError(`lease takes no --${f}; see paxos lease --help`);
  const op: LeaseOperation =
    v === 'grant'
      ? { op: 'grant', ttl: ttlArg('TTL', arg!, 'paxos lease') }
      : v === 'list'
        ? { op: 'leases' }
        : { op: v === 'keepalive' ? 'keep' : 'revoke', id: leaseIdArg('ID', arg!, 'paxos lease') };

  const { targets } = replicaTargets('lease', values);
  const { timeoutMs, secret, tls } = callSettings('lease', values);
  const client = cliClient(targets, { timeoutMs, secret, tls });
  const call = values.to === undefined ? {} : { first: values.to };
  const json = values.json === true;
  try {
    const sent = Date.now();
    const { command, outcome } = await client.executeLease(op, call);
    const report = describeLease(command, outcome);
    if (json) process.stdout.write(`${JSON.stringify(report.json)}\n`);
    else {
      if (report.out !== undefined) process.stdout.write(report.out);
      if (report.err !== undefined) process.stderr.write(report.err);
    }
    if (op.op !== 'keep' || values.once === true || report.code !== EXIT.ok) return report.code;
    if (outcome.kind !== 'done' || outcome.result.status !== 'lease') return EXIT.unknown; // never: code was ok
    return await keepRenewing(op.id, outcome.result.ttl, sent, client, call, json);
  } finally {
    await client.close();
  }
}

/** keepalive: renew every TTL/3 until Ctrl-C (exit 0) or the lease is lost (1: gone; 5: no renewal for a TTL). */
async function keepRenewing(
  id: number,
  ttl: number,
  sent: number,
  client: ReturnType<typeof cliClient>,
  call: { readonly first?: string },
  json: boolean,
): Promise<number> {
  const lease = new Lease(client, id, ttl, sent, {
    ...call,
    onKeepAlive: (t) =>
      process.stdout.write(
        json
          ? `${JSON.stringify({ outcome: 'ok', status: 'lease', op: 'keepalive', id, ttl: t })}\n`
          : `lease ${id} kept alive, TTL ${t} s\n`,
      ),
  });
  const stop = (): void => lease.abandon();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const lost = await lease.lost;
    if (lost.reason === 'closed') return EXIT.ok;
    const { code, line } = failure('lease keepalive', lost);
    process.stderr.write(line);
    return lost.reason === 'expired' ? EXIT.refused : code;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

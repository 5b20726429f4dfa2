// `paxos elect NAME VALUE`: campaign in election NAME with VALUE, say so
// when elected, and lead until Ctrl-C (then resign). `paxos elect NAME
// --listen`: print the leader's value now and at each change. Both through
// the client library's Election (KvClient.election).

import { ConfigError } from '../config/errors.js';
import { parseFlags } from '../config/flags.js';
import { DEFAULT_HOLD_TTL, MAX_LEASE_TTL, type Election, type Leader } from '../client/api.js';
import { checkValue } from '../sm/check.js';
import { EXIT } from './client-command.js';
import { CLIENT_FLAGS, TARGET_HELP_NO_TO, callSettings } from './client-flags.js';
import { cliClient, replicaTargets } from './kv-command.js';
import { escape } from './kv-report.js';
import { failure, nameArg, refuseNegative, ttlArg } from './lease-flags.js';

export const ELECT_HELP = `Usage: paxos elect NAME VALUE [options]
       paxos elect NAME --listen [options]

A leader election on the replicated key-value store.

elect NAME VALUE campaigns to lead NAME with VALUE (an address, a name:
what followers should know of the leader). It waits while another
candidate leads, prints a line when this one is elected, and leads until
Ctrl-C or SIGTERM, which resign it: the next candidate in line leads.
Candidates lead in the order they stood. A candidate is a key,
NAME/<lease id in hex> = VALUE, on a lease of its own (--ttl seconds) kept
alive meanwhile: if this process dies, the next candidate leads once its
lease expires.

elect NAME --listen prints the leader's VALUE now (if there is one) and
each time it changes, one line each (escaped as paxos dump writes values),
until Ctrl-C.

      --listen           print the leader's value at each change; no VALUE
      --ttl SECS         the candidate's lease TTL, whole seconds (default
                         ${DEFAULT_HOLD_TTL}, at most ${MAX_LEASE_TTL})
      --json             one JSON object a line: "outcome" ("elected",
                         "resigned"; --listen: "leader"), name, value, key,
                         revision, lease
${TARGET_HELP_NO_TO}
      --timeout SECS     how long one call keeps trying, in all (default 10)
      --help             show this help

Exit status: 0 resigned or stopped by Ctrl-C (or SIGTERM); 1 leadership
was lost (its lease expired or was revoked, or its key deleted); 2 usage
error; 4 or 5 as for paxos put (the store could not be asked).`;

export async function electCommand(argv: readonly string[]): Promise<number> {
  refuseNegative(argv, '--ttl', 'paxos elect');
  const { values, positionals } = parseFlags(
    argv,
    { ...CLIENT_FLAGS, ttl: { type: 'string' }, listen: { type: 'boolean' } },
    true,
  );
  if (values.help === true) {
    process.stdout.write(`${ELECT_HELP}\n`);
    return EXIT.ok;
  }
  const name = nameArg('elect', positionals[0]);
  const listen = values.listen === true;
  const value = positionals[1];
  if (listen ? positionals.length !== 1 : positionals.length !== 2)
    throw new ConfigError(
      listen
        ? "elect NAME --listen takes no VALUE: it prints the leader's"
        : `elect takes NAME and VALUE (got ${positionals.length} arguments): paxos elect NAME VALUE, or ` +
            'paxos elect NAME --listen; quote a VALUE that has spaces',
    );
  if (listen && values.ttl !== undefined) throw new ConfigError('--ttl is for a campaign, not --listen');
  const bad = value === undefined ? undefined : checkValue(value, 'VALUE');
  if (bad !== undefined) throw new ConfigError(`elect: ${bad}`);
  for (const f of ['from', 'to', 'value-file'] as const)
    if (values[f] !== undefined) throw new ConfigError(`elect takes no --${f}; see paxos elect --help`);
  const ttl = values.ttl === undefined ? DEFAULT_HOLD_TTL : ttlArg('--ttl', values.ttl, 'paxos elect');

  const { targets } = replicaTargets('elect', values);
  const { timeoutMs, secret, tls } = callSettings('elect', values);
  const client = cliClient(targets, { timeoutMs, secret, tls, concurrency: 2 });
  const json = values.json === true;
  const stop = new AbortController();
  const interrupt = (): void => stop.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const election = client.election(name, listen ? {} : { ttl });
  try {
    return listen ? await listenTo(election, stop.signal, json) : await lead(election, value!, stop.signal, json);
  } catch (err) {
    if (stop.signal.aborted) {
      if (!listen) process.stderr.write(`paxos elect: stopped campaigning for ${name}\n`);
      return EXIT.ok;
    }
    const { code, line } = failure('elect', err);
    process.stderr.write(line);
    return code;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await client.close();
  }
}

/** Campaign, then lead until `stop` (resign: 0) or leadership is lost (1). */
async function lead(election: Election, value: string, stop: AbortSignal, json: boolean): Promise<number> {
  await election.campaign(value, { signal: stop });
  const lost = election.signal!;
  const key = election.key;
  const show = (outcome: string, text: string): void => {
    const e = { outcome, name: election.name, value, key };
    process.stdout.write(json ? `${JSON.stringify(e)}\n` : `${text}\n`);
  };
  show('elected', `elected: leading ${election.name} as ${JSON.stringify(value)} (key ${key})`);
  await new Promise<void>((resolve) => {
    if (stop.aborted || lost.aborted) return resolve();
    stop.addEventListener('abort', () => resolve(), { once: true });
    lost.addEventListener('abort', () => resolve(), { once: true });
  });
  if (lost.aborted) {
    const { line } = failure('elect', lost.reason);
    process.stderr.write(line.replace('paxos elect: ', `paxos elect: lost leadership of ${election.name}: `));
    return EXIT.lost;
  }
  await election.resign();
  show('resigned', `resigned: ${election.name}`);
  return EXIT.ok;
}

/** Print the leader at each change until `stop`. */
async function listenTo(election: Election, stop: AbortSignal, json: boolean): Promise<number> {
  for await (const l of election.observe({ signal: stop })) {
    const line = json ? JSON.stringify({ outcome: 'leader', name: election.name, ...leaderJson(l) }) : escape(l.value);
    if (!process.stdout.write(`${line}\n`)) await new Promise((r) => process.stdout.once('drain', r));
  }
  return EXIT.ok;
}

function leaderJson(l: Leader): Record<string, unknown> {
  return { value: l.value, key: l.key, revision: l.revision, lease: l.lease };
}

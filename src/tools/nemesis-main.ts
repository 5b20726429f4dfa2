// `npm run nemesis -- [--seconds 60] [--replicas 5] [--clients 10] [--keys 4]
// [--interval 4] [--seed N] [--history FILE] [--watchers 2] [--lease-keepers 2] [--disk-faults] [--spares N]`:
// see nemesis.ts.

import { decimal, integer, parseFlags, runTool } from '../config/flags.js';
import { runNemesis } from './nemesis.js';

const HELP = `Usage: npm run nemesis -- [options]

Starts a replicated-log cluster of real processes behind a fault network,
runs concurrent clients of the client library (put, get, cas and one-key
transactions), watchers of every key and lease keepers, injects a fault
every few seconds (kill -9 and restart, SIGSTOP/SIGCONT, a partition
isolating the leader, a minority/majority split), then checks that the
replicas agree, that the clients' history is linearizable, that every
watcher saw each acknowledged write once and nothing refused, that no lease
expired while it was kept alive, and that every lease expired once no one
kept it alive. Exit status 0 if so, 1 if not.

  --seconds N    how long to run, at least 5 (default 60)
  --replicas N   cluster size, at least 3 (default 5)
  --clients N    concurrent clients (default 10)
  --keys N       keys they share (default 4)
  --interval S   seconds between faults, at least 1; each lasts half of it
                 (default 4)
  --seed N       seed for the clients' and faults' choices (default random)
  --history FILE save the client history (for paxos lincheck FILE)
                 (default: not saved)
  --watchers N   watchers of every key, each a client of its own; every
                 stream is checked against the writes (default 2)
  --lease-keepers N  clients that keep leases alive (3 s TTL, a keepalive a
                 second), then revoke them or let them expire (default 2)
  --disk-faults  half the faults damage a down replica's disk instead: its
                 data directory wiped, or bytes flipped in its log or
                 snapshot files; it restarts and recovers from the others
                 (default off)
  --spares N     replicas not in the hostsfile: during the faults, each is
                 added (paxos member add), started with --join, promoted once
                 it has caught up, and a voter (the leader half the time) is
                 removed and must exit by itself (default 0)
  --help         print this and exit`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    seconds: { type: 'string' },
    replicas: { type: 'string' },
    clients: { type: 'string' },
    keys: { type: 'string' },
    interval: { type: 'string' },
    seed: { type: 'string' },
    history: { type: 'string' },
    watchers: { type: 'string' },
    'lease-keepers': { type: 'string' },
    'disk-faults': { type: 'boolean' },
    spares: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help === true) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const opt = <T>(text: string | undefined, fallback: T, parse: (text: string) => T): T =>
    text === undefined ? fallback : parse(text);
  // Every flag is read before the cluster starts.
  const settings = {
    seconds: opt(values.seconds, 60, (t) => decimal('--seconds', t, 5)),
    replicas: opt(values.replicas, 5, (t) => integer('--replicas', t, 3)),
    clients: opt(values.clients, 10, (t) => integer('--clients', t, 1)),
    keys: opt(values.keys, 4, (t) => integer('--keys', t, 1)),
    interval: opt(values.interval, 4, (t) => decimal('--interval', t, 1)),
    seed: opt(values.seed, Math.floor(Math.random() * 1e9), (t) => integer('--seed', t, 0)),
    watchers: opt(values.watchers, 2, (t) => integer('--watchers', t, 0)),
    leaseKeepers: opt(values['lease-keepers'], 2, (t) => integer('--lease-keepers', t, 0)),
    spares: opt(values.spares, 0, (t) => integer('--spares', t, 0)),
  };
  const report = await runNemesis({
    ...settings,
    ...(values.history === undefined ? {} : { historyFile: values.history }),
    diskFaults: values['disk-faults'] === true,
    say: (l) => process.stderr.write(`${l}\n`),
  });
  for (const l of report.lines) process.stdout.write(`${l}\n`);
  return report.ok ? 0 : 1;
}

runTool('nemesis', main, { exit: true });

// `npm run nemesis -- [--seconds 60] [--replicas 5] [--clients 10] [--keys 4]
// [--interval 4] [--seed N] [--history FILE] [--disk-faults]`: see nemesis.ts.

import { ConfigError } from '../config/errors.js';
import { parseFlags } from '../config/flags.js';
import { runNemesis } from './nemesis.js';

const HELP = `Usage: npm run nemesis -- [options]

Starts a replicated-log cluster of real processes behind a fault network,
runs concurrent clients, injects a fault every few seconds (kill -9 and
restart, SIGSTOP/SIGCONT, a partition isolating the leader, a
minority/majority split), then checks that the replicas agree and that the
clients' history is linearizable. Exit status 0 if so, 1 if not.

  --seconds N    how long to run (default 60)
  --replicas N   cluster size (default 5)
  --clients N    concurrent clients (default 10)
  --keys N       keys they share (default 4)
  --interval S   seconds between faults; each lasts half of it (default 4)
  --seed N       seed for the clients' and faults' choices (default random)
  --history FILE save the client history (for paxos lincheck FILE)
  --disk-faults  half the faults damage a down replica's disk instead: its
                 data directory wiped, or bytes flipped in its log or
                 snapshot files; it restarts and recovers from the others`;

function num(flag: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const x = Number(text);
  if (!Number.isFinite(x) || x < min) throw new ConfigError(`--${flag} expects a number >= ${min}, got ${JSON.stringify(text)}`);
  return x;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    seconds: { type: 'string' },
    replicas: { type: 'string' },
    clients: { type: 'string' },
    keys: { type: 'string' },
    interval: { type: 'string' },
    seed: { type: 'string' },
    history: { type: 'string' },
    'disk-faults': { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (values.help === true) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const seed = num('seed', values.seed, Math.floor(Math.random() * 1e9), 0);
  const report = await runNemesis({
    seconds: num('seconds', values.seconds, 60, 5),
    replicas: num('replicas', values.replicas, 5, 3),
    clients: num('clients', values.clients, 10, 1),
    keys: num('keys', values.keys, 4, 1),
    interval: num('interval', values.interval, 4, 1),
    seed,
    ...(values.history === undefined ? {} : { historyFile: values.history }),
    diskFaults: values['disk-faults'] === true,
    say: (l) => process.stderr.write(`${l}\n`),
  });
  for (const l of report.lines) process.stdout.write(`${l}\n`);
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`nemesis: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  },
);

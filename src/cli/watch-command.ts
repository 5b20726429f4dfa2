// `paxos watch KEY | --prefix P [--rev R] [--count N]`: the put and delete
// events of a key or prefix, one line each, as they are applied, through
// the client library (KvClient.watch): it goes on at another replica when
// the one serving it goes away, with no event missed or repeated.

import { ConfigError } from '../config/errors.js';
import { integer, parseFlags } from '../config/flags.js';
import { DefiniteError } from '../client/errors.js';
import { EXIT } from './client-command.js';
import { callSettings, CLIENT_FLAGS } from './client-flags.js';
import { cliClient, replicaTargets } from './kv-command.js';
import { escape } from './kv-report.js';

export const WATCH_HELP = `Usage: paxos watch KEY [options]
       paxos watch --prefix P [options]

Prints the changes to KEY, or to every key that starts with P, as the
replicated key-value store applies them, one line each, until Ctrl-C:

  REVISION<TAB>put<TAB>KEY<TAB>VALUE
  REVISION<TAB>del<TAB>KEY

(a tab, newline, carriage return or backslash inside a key or value is
written \\t, \\n, \\r or \\\\, as dump writes them). The revision is the log
slot that applied the change; one transaction's changes share one. Any
replica serves a watch; when the one serving it goes away, the watch goes
on at another from the next revision, with no change missed or repeated.

      --prefix P         every key that starts with P
      --rev R            start at revision R (default: from now); a replica
                         that no longer holds R says "compacted: oldest
                         revision is N" (exit 1)
      --count N          stop after N changes
      --json             one JSON object per change: rev, type, key, value
      --endpoints, -h, --to, --port, --resolve, --secret-file, --ca, --cert,
      --key
                         as for paxos put
      --timeout SECS     give up when no replica has taken the watch for
                         this long (default 10)
      --help             show this help

Exit status: 0 after --count changes (or Ctrl-C); 1 compacted; 2 usage
error; 5 no replica could take the watch.`;

export async function watchCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    { ...CLIENT_FLAGS, prefix: { type: 'string' }, rev: { type: 'string' }, count: { type: 'string' } },
    true,
  );
  if (values.help === true) {
    process.stdout.write(`${WATCH_HELP}\n`);
    return EXIT.ok;
  }
  if ((values.prefix === undefined) === (positionals.length === 0) || positionals.length > 1)
    throw new ConfigError('watch takes one KEY, or --prefix P (not both); see paxos watch --help');
  const rev = values.rev === undefined ? undefined : integer('--rev', values.rev, 1);
  const count = values.count === undefined ? Infinity : integer('--count', values.count, 1);
  const { targets } = replicaTargets('watch', values);
  const { timeoutMs, secret, tls } = callSettings('watch', values);
  const client = cliClient(targets, { timeoutMs, secret, tls });
  const filter = values.prefix === undefined ? { key: positionals[0]! } : { prefix: values.prefix };
  let w;
  try {
    w = client.watch({ ...filter, ...(rev === undefined ? {} : { fromRevision: rev }) });
  } catch (err) {
    await client.close();
    if (err instanceof DefiniteError && err.reason === 'invalid') throw new ConfigError(err.message);
    throw err;
  }
  const stop = (): void => w.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let seen = 0;
  try {
    for await (const e of w) {
      const line =
        values.json === true
          ? JSON.stringify(e)
          : `${e.rev}\t${e.type === 'put' ? 'put' : 'del'}\t${escape(e.key)}` +
            (e.value === null ? '' : `\t${escape(e.value)}`);
      if (!process.stdout.write(`${line}\n`)) await new Promise((r) => process.stdout.once('drain', r));
      seen += 1;
      if (seen >= count) break;
    }
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof DefiniteError)) throw err;
    process.stderr.write(`paxos watch: ${err.message}\n`);
    return err.reason === 'compacted' ? EXIT.lost : EXIT.refused;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    w.close();
    await client.close();
  }
}

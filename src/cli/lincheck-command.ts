// `paxos lincheck HISTORY [--json] [--timeout SECS]`: is a client history of
// the key-value store linearizable?

import { readFile } from 'node:fs/promises';
import { ConfigError } from '../config/errors.js';
import { checkHistory, type CheckResult } from '../lincheck/checker.js';
import { HistoryError, parseHistory, type History } from '../lincheck/history.js';
import { parseFlags } from '../config/flags.js';

export const LINCHECK_HELP = `Usage: paxos lincheck HISTORY [--json] [--timeout SECS]

Checks that a history of key-value operations is linearizable: that each
operation can be given one instant between its invoke and its completion at
which it took effect, in an order that a single register per key explains.

HISTORY has one JSON event per line, Jepsen-style:
  {"process":"c3","type":"invoke","f":"put","key":"k1","value":"v7","time":12.5}
  {"process":"c3","type":"ok","f":"put","key":"k1","time":14.0}
f is put, get, del or cas (invoke value [expected, new], expected null =
absent); type is invoke, ok (a get's value is what it read, null if absent),
fail (did not happen; for cas, a mismatch) or info (outcome unknown).

  --json          print the result as one JSON object
  --timeout SECS  give up after SECS seconds (exit 3); default 60
  --help          show this help

Exit status: 0 linearizable, 1 not linearizable, 2 usage or history error,
3 the time budget ran out before an answer.`;

/** `out` receives everything printed on stdout (tests pass their own). */
export async function lincheckCommand(
  argv: string[],
  out: (s: string) => void = (s) => void process.stdout.write(s),
): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    { json: { type: 'boolean' }, timeout: { type: 'string' }, help: { type: 'boolean' } },
    true,
  );
  if (values.help === true) {
    out(`${LINCHECK_HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1)
    throw new ConfigError(`lincheck expects one HISTORY file; got ${positionals.length}; see paxos lincheck --help`);
  const file = positionals[0]!;
  const secs = values.timeout === undefined ? 60 : Number(values.timeout);
  if (!Number.isFinite(secs) || secs <= 0)
    throw new ConfigError(`--timeout ${values.timeout ?? ''}: must be a positive number of seconds`);

  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let history: History;
  try {
    history = parseHistory(text, file);
  } catch (err) {
    if (err instanceof HistoryError) throw new ConfigError(err.message);
    throw err;
  }
  const result = checkHistory(history, { timeoutMs: secs * 1000 });
  out(values.json === true ? `${JSON.stringify({ ...result, dropped: history.dropped })}\n` : report(result));
  return result.verdict === 'ok' ? 0 : result.verdict === 'illegal' ? 1 : 3;
}

function report(r: CheckResult): string {
  switch (r.verdict) {
    case 'ok':
      return `linearizable: ${r.ops} ops on ${r.keys} keys\n`;
    case 'illegal':
      return r.failures.map((f) => `NOT linearizable: ${f.message}\n`).join('');
    case 'unknown':
      return (
        `unknown: the budget ran out on key ${JSON.stringify(r.key)} after ${r.steps} search steps (` +
        `${r.reason}); try a larger --timeout\n`
      );
  }
}

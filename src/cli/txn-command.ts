// `paxos txn`: a transaction, read from standard input or --file, in three
// parts separated by blank lines, as etcdctl's txn reads it:
//
//   alice = 100          compares, all of which must hold: KEY = VALUE,
//   carol absent         KEY != VALUE, KEY absent, KEY present, or on a
//   bob mod < 90         revision: KEY create|mod|version =|!=|<|> N
//
//   put alice 90         then: put KEY VALUE, del KEY, get KEY
//   put bob 10
//
//   get alice            else: the same
//
// Words are shell words (quote one with spaces); a line starting with #
// is a comment. It goes through the client library (KvClient.txn).

import { readFileSync } from 'node:fs';
import { parse as parseShell } from 'shell-quote';
import { ConfigError } from '../config/errors.js';
import { parseFlags } from '../config/flags.js';
import { DefiniteError, UnknownOutcomeError } from '../client/errors.js';
import {
  invalidTxn,
  compareToWire,
  opToWire,
  REVISION_TARGETS,
  type RevisionOp,
  type RevisionTarget,
  type TxnBody,
  type TxnCompare,
  type TxnOp,
} from '../sm/txn.js';
import { EXIT } from './client-command.js';
import { CLIENT_FLAGS, TARGET_HELP, callSettings } from './client-flags.js';
import { cliClient, replicaTargets } from './kv-command.js';

export const TXN_HELP = `Usage: paxos txn [--file FILE] [options]

Runs a transaction on the replicated key-value store: compares, then one
list of operations if every compare holds, else another, all in one log
slot. It reads the transaction from FILE, or else from standard input, in
three parts separated by a blank line (as etcdctl txn does):

  alice = 100          compares: KEY = VALUE, KEY != VALUE,
  carol absent         KEY absent, KEY present, or a revision:
  bob mod < 90         KEY create|mod|version =|!=|<|> N (absent: 0)
                       (blank line)
  put alice 90         then: put KEY VALUE, del KEY, get KEY
  put bob 10
                       (blank line)
  get alice            else: the same

Words are shell words: quote one that has spaces or starts with #. A line
that starts with # is a comment. It prints which list ran, then one line
per operation: a get's value and revisions, a put's or del's value before.

      --file FILE        read the transaction from FILE (- for standard input)
${TARGET_HELP}
      --timeout SECS     how long to keep trying, in all (default 10)
      --json             print one JSON object: "outcome" ("ok", "fail" or
                         "unknown"), "succeeded" and the results
      --help             show this help

At most 128 compares and operations, and 128 KiB of keys and values.

Exit status: 0 done (either list ran: see "succeeded"); 1 refused by the
store's quota, nothing done; 2 usage error or a bad transaction; 4 outcome
unknown; 5 no replica could take it, nothing done.`;

export async function txnCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { ...CLIENT_FLAGS, file: { type: 'string' } }, true);
  if (values.help === true) {
    process.stdout.write(`${TXN_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 0)
    throw new ConfigError(`txn takes no arguments (got ${JSON.stringify(positionals[0])}); see paxos txn --help`);
  const file = values.file ?? '-';
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const body = parseTxn(text, file === '-' ? 'standard input' : file);
  const { targets } = replicaTargets('txn', values);
  const { timeoutMs, secret, tls } = callSettings('txn', values);
  const client = cliClient(targets, { timeoutMs, secret, tls });
  const json = values.json === true;
  const say = (code: number, text: string, o: Record<string, unknown>): number => {
    process.stdout.write(json ? `${JSON.stringify(o)}\n` : text);
    return code;
  };
  try {
    const b = client.txn();
    for (const c of body.compares)
      if ('target' in c) b.if(c.key, c.target, c.op, c.value);
      else b.if(c.key, c.op, c.value);
    b.then(...body.success).else(...body.failure);
    const r = await b.commit(values.to === undefined ? {} : { first: values.to });
    const shown = (v: string | null | undefined): string => (v === null ? 'absent' : JSON.stringify(v));
    const lines = r.results.map((x) =>
      x.op === 'get'
        ? `get ${JSON.stringify(x.key)}: ${shown(x.value)}`
        : `${x.op} ${JSON.stringify(x.key)}: ok (it was ${shown(x.prev)})`,
    );
    const head = r.succeeded ? 'then: every compare held' : 'else: a compare did not hold';
    return say(EXIT.ok, `${[`${head} (slot ${r.slot})`, ...lines].join('\n')}\n`, {
      outcome: 'ok',
      succeeded: r.succeeded,
      slot: r.slot,
      results: r.results,
    });
  } catch (err) {
    if (err instanceof UnknownOutcomeError)
      return say(EXIT.unknown, `outcome unknown: ${err.message}\n`, { outcome: 'unknown', why: err.message });
    if (err instanceof DefiniteError && err.reason !== 'invalid') {
      const code = err.reason === 'quota' ? EXIT.lost : EXIT.refused;
      return say(code, `refused: ${err.message}\n`, { outcome: 'fail', status: err.reason, why: err.message });
    }
    if (err instanceof DefiniteError) throw new ConfigError(err.message);
    throw err;
  } finally {
    await client.close();
  }
}

/** The three parts of a transaction's text, or a ConfigError naming the line. */
export function parseTxn(text: string, where: string): TxnBody {
  // Each blank line ends a part (so an empty part is two blank lines in a row); blank lines at the end do not.
  const parts: string[][][] = [[]];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line.startsWith('#')) continue;
    if (line === '') {
      parts.push([]);
      continue;
    }
    const words = parseShell(line).map((w) => {
      if (typeof w !== 'string') throw new ConfigError(`${where} line ${i + 1}: ${JSON.stringify(line)}: quote it`);
      return w;
    });
    parts.at(-1)!.push([String(i + 1), ...words]);
  }
  while (parts.length > 0 && parts.at(-1)!.length === 0) parts.pop();
  if (parts.length > 3)
    throw new ConfigError(
      `${where}: ${parts.length} parts; a transaction has 3 (compares, then, else), blank lines apart`,
    );
  const [cmp = [], then = [], els = []] = parts;
  const body = {
    compares: cmp.map((w) => compareOf(w, where)),
    success: then.map((w) => opOf(w, where)),
    failure: els.map((w) => opOf(w, where)),
  };
  const why = invalidTxn(body.compares.map(compareToWire), body.success.map(opToWire), body.failure.map(opToWire));
  if (why !== null) throw new ConfigError(`${where}: ${why}`);
  return body;
}

function compareOf([line, key, op, value, ...rest]: string[], where: string): TxnCompare {
  const at = `${where} line ${line}`;
  if (key !== undefined && op !== undefined && REVISION_TARGETS.includes(op as RevisionTarget) && rest.length === 1) {
    const [n] = rest as [string];
    if (['=', '!=', '<', '>'].includes(value ?? '') && /^\d+$/.test(n) && Number.isSafeInteger(Number(n)))
      return { key, target: op as RevisionTarget, op: value as RevisionOp, value: Number(n) };
    throw new ConfigError(`${at}: a revision compare is KEY ${op} =|!=|<|> N, N a whole number`);
  }
  if (key !== undefined && rest.length === 0) {
    if ((op === '=' || op === '!=') && value !== undefined) return { key, op, value };
    if (op === 'absent' && value === undefined) return { key, op: '=', value: null };
    if (op === 'present' && value === undefined) return { key, op: '!=', value: null };
  }
  throw new ConfigError(
    `${at}: a compare is KEY = VALUE, KEY != VALUE, KEY absent, KEY present or KEY create|mod|version =|!=|<|> N`,
  );
}

function opOf([line, op, key, value, ...rest]: string[], where: string): TxnOp {
  if (key !== undefined && rest.length === 0) {
    if (op === 'put' && value !== undefined) return { op, key, value };
    if ((op === 'del' || op === 'get') && value === undefined) return { op, key };
  }
  throw new ConfigError(`${where} line ${line}: an operation is put KEY VALUE, del KEY or get KEY`);
}

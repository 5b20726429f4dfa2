// `paxos put/get/del/cas/dump`: the replicated key-value store from
// outside. Replicas come from a replicated-log hostsfile (every line
// `host:replica`, and --resolve, as for peers); the command goes to one of
// them and on to the others while they are down or know no leader
// (src/client/kv.ts). The answer goes to stdout, human or --json.

import { once } from 'node:events';
import { ConfigError } from '../config/errors.js';
import { loadHostsfile } from '../config/hostsfile.js';
import { checkKey, checkValue } from '../sm/command.js';
import { kvCall, newClientId, type Attempt, type CallOutcome, type KvTarget } from '../client/kv.js';
import { KvClient, type Operation, type RevisionExpect, type SentOperation } from '../client/api.js';
import type { Secret } from '../config/secret.js';
import type { ClientTls } from '../config/tls-files.js';
import { EXIT } from './client-command.js';
import { describe, describeDump, describeRange, type Report } from './kv-report.js';
import {
  callSettings,
  CLIENT_FLAGS,
  endpointList,
  endpointsFrom,
  readValue,
  SECURITY_HELP,
  unresolvable,
  type EndpointList,
} from './client-flags.js';
import { integer, parseFlags } from '../config/flags.js';
import { leaseIdArg } from './lease-flags.js';
import { checkRangeQuery, MAX_RANGE_LIMIT, type RangeQuery } from '../sm/range.js';
import { ATTEMPT_MS, DEFAULT_PORT, MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../paxos/defaults.js';

export type KvVerb = 'put' | 'get' | 'del' | 'cas' | 'dump';

export const KV_HELP = `Usage: paxos put KEY VALUE [options]
       paxos put KEY --value-file FILE [options]
       paxos put KEY VALUE --lease ID [options]
       paxos get KEY [options]
       paxos get --prefix P | FROM [END] [--limit N] [--keys-only | --count-only] [options]
       paxos del KEY [options]
       paxos cas KEY EXPECTED NEW [options]
       paxos cas KEY --absent NEW [options]
       paxos cas KEY --mod-revision N | --version N NEW [options]
       paxos dump --from HOST [options]

The replicated key-value store of a replicated-log cluster (a hostsfile
whose every line is HOST:replica, e.g. testcases/kv3/hostsfile).

put sets KEY to VALUE; with --lease ID, KEY is attached to lease ID
(paxos lease grant TTL prints one), and is deleted when the lease is
revoked or expires. get prints KEY's value. del removes KEY. cas sets KEY
to NEW only if its value is EXPECTED now; with --absent, only if KEY is
absent now; with --mod-revision N or --version N, only if KEY's mod
revision or version is N now (0: absent).
A key's revisions: the log slots that created it and last changed it,
and its changes since it was created; get --json prints them.
put, del and cas go through the replicated log. get reads the latest
value without writing to the log: the leader first confirms, with a
majority, that it still leads (a read index), and the replica answers once
it has applied every slot up to that index. (A client's first get goes
through the log, so the store learns its session.) get --prefix P prints
the keys that start with P, and get FROM END the keys from FROM up to,
not including, END (get FROM --limit N, with no END: up to the last key),
in key order, one KEY<TAB>VALUE line each (escaped as for dump), read by
index like get; at most --limit keys (default and most ${MAX_RANGE_LIMIT})
and 4 MiB an answer. dump prints what
replica HOST has applied so far, without going through the log: one
KEY<TAB>VALUE line per key, sorted by key (a tab, newline, carriage return
or backslash inside a key or value is written
\\t, \\n, \\r or \\\\), and the applied slot and known leader on stderr.

The command goes to --to HOST, or else to a random replica; while a replica
is down or knows no leader, it goes to the next, with growing pauses (50 ms
up to 1 s). A replica that takes the command but does not answer within
${ATTEMPT_MS / 1000} s is not asked again: the same command (same client id and
sequence number) goes to the next replica, and the store applies it at
most once.

      --endpoints HOST=ADDR[:PORT],...
                         the replicas and where to reach them, no hostsfile
                         needed (or PAXOS_ENDPOINTS, same syntax; \`paxos run
                         --keep-running\` prints it). Where the replicas are:
                         --endpoints, else PAXOS_ENDPOINTS, else -h and --resolve
  -h, --hostsfile FILE   the cluster's hostsfile (default ./hostsfile)
      --to HOST          try replica HOST first
      --from HOST        dump: the replica to dump
      --absent           cas: KEY must be absent (instead of EXPECTED)
      --mod-revision N   cas: KEY's mod revision must be N (instead of EXPECTED)
      --version N        cas: KEY's version must be N (instead of EXPECTED)
      --prefix P         get: every key that starts with P
      --end END          get FROM: the key after the range (the same as
                         get FROM END; --to names a replica, not a key)
      --limit N          get, a range: at most N keys (1..${MAX_RANGE_LIMIT})
      --keys-only        get, a range: the keys, not their values
      --count-only       get, a range: how many keys, nothing else
      --lease ID         put: attach KEY to lease ID (see paxos lease --help)
      --value-file FILE  put: VALUE, cas: NEW, from FILE (- for standard
                         input), byte for byte
      --port N           the replicas' port (default ${DEFAULT_PORT})
      --resolve HOST=ADDR[:PORT]
                         reach HOST at ADDR (repeatable; \`paxos run\` prints these)
      --timeout SECS     how long to keep trying, in all (default 10)
${SECURITY_HELP}
      --json             print one JSON object: "outcome" is "ok", "fail"
                         (nothing was done) or "unknown" (it may or may not
                         have been done), with status, key, value, peer,
                         slot and the attempts
      --verbose          report each attempt on stderr
      --help             show this help

Keys are 1..${MAX_KEY_BYTES} bytes of UTF-8, values 0..${MAX_VALUE_BYTES}. A KEY or VALUE
that starts with '-' goes after -- (and every flag before it),
e.g. paxos put --to peer1 -- -k -1.
get prints the value alone (and a newline) on stdout; its other messages go
to stderr. (\`paxos get --from HOST\`, without KEY, is the single-decree
lab's get; see paxos get --help.)

Exit status:
  0  put, del, cas: done; get: KEY has a value (printed); dump: printed
  1  cas: the value was not EXPECTED (or KEY was not absent); the current
     value is printed and nothing was changed; also a request the store
     refused as stale or expired, or a put or cas that would take the store
     past its quota (--quota-bytes on the replicas), or a put whose
     --lease no longer exists (revoked or expired): nothing was done
  2  usage error
  3  get: KEY is absent
  4  outcome unknown: the command was sent but no answer came in time; it
     may or may not take effect (check with get)
  5  refused or unreachable: no replica could take the command (down, no
     leader, not a replica, failed authentication); nothing was done`;

/** kv's own flags, beside the clients' (CLIENT_FLAGS). */
const KV_FLAGS = {
  absent: { type: 'boolean' },
  'mod-revision': { type: 'string' },
  version: { type: 'string' },
  verbose: { type: 'boolean' },
  prefix: { type: 'string' },
  end: { type: 'string' },
  limit: { type: 'string' },
  'keys-only': { type: 'boolean' },
  'count-only': { type: 'boolean' },
  lease: { type: 'string' },
} as const;

/** Flags that take a value, kv's and the lab client's: for telling `get KEY` from the lab's `get --from HOST`. */
const VALUE_FLAGS = new Set(
  Object.entries({ ...CLIENT_FLAGS, ...KV_FLAGS }).flatMap(([name, o]) => (o.type === 'string' ? [name] : [])),
);

/**
 * Whether `paxos get ARGS` is the key-value store's get: ARGS hold a KEY (an
 * argument that is neither a flag nor a flag's value) and no --from.
 */
export function isKvGet(argv: readonly string[]): boolean {
  let key = false;
  let from = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      key ||= i + 1 < argv.length;
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      if (name === 'from') from = true;
      if (name === 'prefix') key = true; // get --prefix P: the store's range
      if (eq < 0 && VALUE_FLAGS.has(name)) i += 1;
    } else if (a.startsWith('-') && a.length > 1) {
      if (a === '-h') i += 1; // -hFILE carries its value
    } else {
      key = true;
    }
  }
  return key && !from;
}

export async function kvCommand(verb: KvVerb, argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { ...CLIENT_FLAGS, ...KV_FLAGS }, true);
  if (values.help === true) {
    process.stdout.write(`${KV_HELP}\n`);
    return EXIT.ok;
  }

  // The command line, checked before anything is read or sent.
  for (const f of ['absent', 'mod-revision', 'version'] as const)
    if (values[f] !== undefined && verb !== 'cas')
      throw new ConfigError(`--${f} is for cas only; see paxos ${verb} --help`);
  if (values.lease !== undefined && verb !== 'put')
    throw new ConfigError(`--lease is for put only; see paxos ${verb} --help`);
  const lease = values.lease === undefined ? undefined : leaseIdArg('--lease', values.lease, 'paxos put');
  if (values['value-file'] !== undefined && verb !== 'put' && verb !== 'cas')
    throw new ConfigError(`--value-file is for put and cas only; see paxos ${verb} --help`);
  if (verb === 'dump') {
    if (values.to !== undefined) throw new ConfigError('dump takes --from HOST (the replica to dump), not --to');
    if (values.from === undefined) throw new ConfigError('dump needs --from HOST: the replica whose store to print');
    if (positionals.length > 0)
      throw new ConfigError(`dump takes no KEY (got ${JSON.stringify(positionals[0])}); it prints every key`);
  } else if (values.from !== undefined) {
    throw new ConfigError(
      verb === 'get'
        ? 'get KEY takes --to HOST (the replica to try first), not --from; `paxos get --from HOST` without KEY is ' +
            "the single-decree lab's get"
        : `${verb} takes --to HOST (the replica to try first), not --from`,
    );
  }
  const range = rangeQuery(verb, values, positionals);
  const operands =
    verb === 'dump' || range !== null
      ? null
      : parseOperands(verb, positionals, casExpect(values), values['value-file']);
  const spec = operands?.op === 'put' && lease !== undefined ? { ...operands, lease } : operands;

  const { targets, listed, given } = replicaTargets(verb, values);
  const named = values.to ?? values.from;
  let first: number | undefined;
  if (named !== undefined) {
    first = targets.findIndex((t) => t.name.toLowerCase() === named.toLowerCase());
    if (first < 0)
      throw new ConfigError(`${named} is not in ${listed}; it lists ${targets.map((t) => t.name).join(', ')}`);
  }
  const { timeoutMs, secret, tls } = callSettings(verb, values);

  const onAttempt =
    values.verbose === true
      ? (a: Attempt, n: number): void => {
          process.stderr.write(
            `paxos ${verb}: attempt ${n}: ${a.peer}: ${a.outcome}${a.why === undefined ? '' : ` (${a.why})`}, ` +
              `${a.ms} ms\n`,
          );
        }
      : undefined;
  const common = { secret, tls, timeoutMs, ...(onAttempt === undefined ? {} : { onAttempt }) };

  // Names that resolve nowhere fail now, not after --timeout seconds of retries.
  const asked = verb === 'dump' ? [targets[first!]!] : targets;
  const unresolved = await unresolvable(asked, given?.source);
  let report: Report;
  if (unresolved !== undefined) {
    const outcome: CallOutcome = { kind: 'failed', reason: 'refused', why: unresolved, attempts: [] };
    report =
      range !== null
        ? describeRange(range, outcome)
        : spec === null
          ? describeDump(asked[0]!.name, outcome)
          : describe({ ...spec, client: newClientId(), seq: 1 } as SentOperation, outcome);
  } else if (range !== null || spec !== null) {
    // The client library (paxos-prj4/client), one session, one call.
    const client = cliClient(targets, { timeoutMs, secret, tls }, onAttempt);
    const o = named === undefined ? {} : { first: named };
    try {
      if (range !== null) report = describeRange(range, (await client.executeRange(range, o)).outcome);
      else {
        const { command, outcome } = await client.execute(spec!, o);
        report = describe(command, outcome);
      }
    } finally {
      await client.close();
    }
  } else {
    // A dump asks HOST alone: it is HOST's store we want, not anyone's.
    const target = targets[first!]!;
    // One attempt, whose timeout counts from the last line heard (a big store streams for a while).
    const outcome = await kvCall(
      [target],
      { type: 'dump' },
      { ...common, first: 0, maxAttempts: 1, attemptMs: timeoutMs },
    );
    report = describeDump(target.name, outcome);
  }
  if (values.json === true) {
    if (report.lines === undefined) process.stdout.write(`${JSON.stringify(report.json)}\n`);
    else {
      // {"...":...,"data":{ members }}: the members streamed in after the rest.
      const head = JSON.stringify({ ...report.json, data: {} }).slice(0, -2);
      await writeOut([head, ...report.lines.json, '}}\n']);
    }
  } else {
    if (report.out !== undefined) process.stdout.write(report.out);
    if (report.lines !== undefined) await writeOut(report.lines.text);
    if (report.err !== undefined) process.stderr.write(report.err);
  }
  return report.code;
}

/**
 * The client library for one command: the replicas the command found, its
 * --timeout and secret, and nothing from the environment (the command read
 * PAXOS_ENDPOINTS and PAXOS_SECRET itself, with its own precedence).
 */
export function cliClient(
  targets: readonly KvTarget[],
  settings: {
    readonly timeoutMs: number;
    readonly secret: Secret | null;
    readonly tls?: ClientTls | null;
    readonly concurrency?: number;
  },
  onAttempt?: (a: Attempt, n: number) => void,
): KvClient {
  return new KvClient({
    endpoints: targets.map((t) => ({ name: t.name, host: t.at.host, port: t.at.port })),
    timeoutMs: settings.timeoutMs,
    concurrency: settings.concurrency ?? 1,
    env: {},
    ...(settings.secret === null ? {} : { secret: settings.secret.key }),
    ...(settings.tls === undefined || settings.tls === null ? {} : { tls: settings.tls }),
    ...(onAttempt === undefined ? {} : { onAttempt }),
  });
}

/** The replicas a kv command may ask: --endpoints, else PAXOS_ENDPOINTS, else the hostsfile and --resolve. */
export function replicaTargets(
  verb: string,
  values: Parameters<typeof endpointList>[1] & Parameters<typeof endpointsFrom>[0],
): { targets: KvTarget[]; listed: string; given: EndpointList | undefined } {
  const given = endpointList(verb, values);
  let targets: KvTarget[];
  let listed: string;
  if (given !== undefined) {
    targets = given.endpoints.map(([name, at]) => ({ name, at }));
    listed = given.source;
  } else {
    const cluster = loadHostsfile(values.hostsfile ?? 'hostsfile');
    if (cluster.mode !== 'log') {
      throw new ConfigError(
        `${cluster.file} is a single-decree lab hostsfile (proposers, acceptors, learners), not a replicated ` +
          `key-value store's: ` +
          `for the lab use npx paxos submit VALUE --to HOST and npx paxos get --from HOST, or pass a replica ` +
          `hostsfile (e.g. -h testcases/kv3/hostsfile)`,
      );
    }
    const endpoint = endpointsFrom(values);
    targets = cluster.replicas.map((id) => {
      const host = cluster.byId(id)!.host;
      return { name: host, at: endpoint(host) };
    });
    listed = cluster.file;
  }
  return { targets, listed, given };
}

/** `get --prefix P`, `get FROM END` or `get FROM --end END`, with --limit, --keys-only, --count-only; else null. */
function rangeQuery(
  verb: KvVerb,
  values: {
    readonly prefix?: string | undefined;
    readonly end?: string | undefined;
    readonly limit?: string | undefined;
    readonly 'keys-only'?: boolean | undefined;
    readonly 'count-only'?: boolean | undefined;
  },
  positionals: readonly string[],
): RangeQuery | null {
  const flags = (['prefix', 'end', 'limit', 'keys-only', 'count-only'] as const).filter((f) => values[f] !== undefined);
  const isRange = flags.length > 0 || (verb === 'get' && positionals.length === 2);
  if (!isRange) return null;
  if (verb !== 'get') throw new ConfigError(`--${flags[0]!} is for get only; see paxos ${verb} --help`);
  const limit = values.limit === undefined ? undefined : integer('--limit', values.limit, 1, MAX_RANGE_LIMIT);
  let q: RangeQuery;
  if (values.prefix !== undefined) {
    if (positionals.length > 0 || values.end !== undefined)
      throw new ConfigError('get --prefix P takes no KEY and no --end: the range is every key starting with P');
    q = { prefix: values.prefix };
  } else {
    if (positionals.length === 0 || positionals.length > 2)
      throw new ConfigError(
        'a range is get FROM END, get FROM --end END, or get --prefix P; got ' +
          `${positionals.length} arguments; see paxos get --help`,
      );
    if (positionals.length === 2 && values.end !== undefined)
      throw new ConfigError('get FROM END takes the end once: as the second argument or --end, not both');
    const end = positionals[1] ?? values.end;
    q = { from: positionals[0]!, ...(end === undefined ? {} : { to: end }) };
  }
  q = {
    ...q,
    ...(limit === undefined ? {} : { limit }),
    ...(values['keys-only'] === true ? { keysOnly: true } : {}),
    ...(values['count-only'] === true ? { countOnly: true } : {}),
  };
  const why = checkRangeQuery(q);
  if (why !== undefined) throw new ConfigError(`get: ${why}`);
  return q;
}

/** What cas's flags say it expects instead of EXPECTED: absent (null), a revision, or nothing (undefined). */
function casExpect(values: {
  absent?: boolean;
  'mod-revision'?: string;
  version?: string;
}): null | RevisionExpect | undefined {
  const given = (['absent', 'mod-revision', 'version'] as const).filter((f) => values[f] !== undefined);
  if (given.length > 1)
    throw new ConfigError(`cas takes one of --absent, --mod-revision and --version; got --${given.join(' and --')}`);
  if (values.absent === true) return null;
  const n = (flag: string, s: string): number => {
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s)))
      throw new ConfigError(`--${flag} must be a whole number from 0 up (0: KEY absent); got ${JSON.stringify(s)}`);
    return Number(s);
  };
  if (values['mod-revision'] !== undefined) return { modRevision: n('mod-revision', values['mod-revision']) };
  if (values.version !== undefined) return { version: n('version', values.version) };
  return undefined;
}

function parseOperands(
  verb: Exclude<KvVerb, 'dump'>,
  positionals: readonly string[],
  expect: null | RevisionExpect | undefined,
  valueFile: string | undefined,
): Operation {
  const absent = expect === null;
  const fromFile = valueFile === undefined ? undefined : readValue(valueFile);
  const want = (names: string[]): string[] => {
    const need = names.length - (fromFile === undefined ? 0 : 1);
    if (positionals.length !== need) {
      const usage =
        `paxos ${verb} ${names.slice(0, need).join(' ')}` +
        `${fromFile === undefined ? '' : ' --value-file FILE'}${absent ? ' --absent' : ''}`;
      throw new ConfigError(
        `${verb} expects ${need === 1 ? 'one argument' : `${need} arguments`} (${usage}), got ${positionals.length}${
          positionals.length > need ? ': quote a KEY or VALUE that has spaces' : ''
        }; see paxos ${verb} --help`,
      );
    }
    return fromFile === undefined ? [...positionals] : [...positionals, fromFile];
  };
  let spec: Operation;
  switch (verb) {
    case 'put': {
      const [key, value] = want(['KEY', 'VALUE']) as [string, string];
      spec = { op: 'put', key, value };
      break;
    }
    case 'get':
    case 'del': {
      const [key] = want(['KEY']) as [string];
      spec = { op: verb, key };
      break;
    }
    case 'cas':
      if (expect !== undefined) {
        const [key, value] = want(['KEY', 'NEW']) as [string, string];
        spec = { op: 'cas', key, expected: expect, value };
      } else {
        const [key, expected, value] = want(['KEY', 'EXPECTED', 'NEW']) as [string, string, string];
        spec = { op: 'cas', key, expected, value };
      }
      break;
  }
  const badKey = checkKey(spec.key);
  if (badKey !== undefined) {
    throw new ConfigError(
      spec.key === ''
        ? `${verb}: the key must not be empty`
        : `${verb}: bad key: ${badKey.replace('"k" (key)', 'the key')}; keys are 1..${MAX_KEY_BYTES} bytes of UTF-8`,
    );
  }
  if (spec.op === 'put' || spec.op === 'cas') {
    const badValue = checkValue(spec.value, spec.op === 'put' ? 'the value' : 'NEW');
    if (badValue !== undefined) throw new ConfigError(`${verb}: ${badValue}`);
    if (spec.op === 'cas' && typeof spec.expected === 'string') {
      const badExpected = checkValue(spec.expected, 'EXPECTED');
      if (badExpected !== undefined) throw new ConfigError(`cas: ${badExpected}`);
    }
  }
  return spec;
}

/**
 * Write `pieces` to stdout in writes of about 1 MiB, waiting for it to drain: a dump can be bigger than any one string.
 */
async function writeOut(pieces: Iterable<string>): Promise<void> {
  let buf: string[] = [];
  let size = 0;
  const flush = async (): Promise<void> => {
    if (size > 0 && !process.stdout.write(buf.join(''))) await once(process.stdout, 'drain');
    buf = [];
    size = 0;
  };
  for (const p of pieces) {
    buf.push(p);
    size += p.length;
    if (size >= 1024 * 1024) await flush();
  }
  await flush();
}

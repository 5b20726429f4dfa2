// What the lab's client (`submit`, `get --from`) and the key-value store's
// commands (`put`, `get KEY`, ...) share of their command lines: the flags
// that say how to reach the cluster, and --value-file.

import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';
import { loadSecret, type Secret } from '../config/secret.js';
import { loadClientTls, type ClientTls, type TlsFlagValues } from '../config/tls-files.js';
import type { Endpoint } from '../transport/link.js';
import { parseEndpoints, parseResolve, portNumber, seconds } from '../config/flags.js';
import { DEFAULT_PORT } from '../paxos/defaults.js';

/** parseFlags options common to both clients; each adds its own. */
/** The help lines of the secret and TLS flags, as the replicas' clients (paxos put, paxos status) take them. */
export const SECURITY_HELP = `      --secret-file FILE the cluster's shared secret (or PAXOS_SECRET)
      --ca FILE          TLS: the CA that signed the replicas' certificates
                         (or PAXOS_CA); needed for replicas started with
                         --ca, --cert and --key. A replica's certificate must
                         hold its name (HOST), or the address dialled
      --cert FILE, --key FILE
                         TLS: this client's certificate and key (or
                         PAXOS_CERT, PAXOS_KEY), for replicas that require
                         one (--client-ca)`;

export const CLIENT_FLAGS = {
  hostsfile: { type: 'string', short: 'h' },
  endpoints: { type: 'string' },
  to: { type: 'string' },
  from: { type: 'string' },
  port: { type: 'string' },
  resolve: { type: 'string', multiple: true },
  timeout: { type: 'string' },
  'secret-file': { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  'value-file': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

/**
 * --port and --resolve: where to reach a host of the hostsfile. Hostnames
 * match case-insensitively, and the last --resolve for a host wins.
 */
export function endpointsFrom(values: {
  readonly port?: string | undefined;
  readonly resolve?: readonly string[] | undefined;
}): (host: string) => Endpoint {
  const port = values.port === undefined ? DEFAULT_PORT : portNumber('--port', values.port);
  const resolved = new Map<string, Endpoint>();
  for (const spec of values.resolve ?? []) {
    const [h, e] = parseResolve(spec, port);
    resolved.set(h.toLowerCase(), e);
  }
  return (host) => resolved.get(host.toLowerCase()) ?? { host, port };
}

/** The environment variable that gives the endpoints when --endpoints does not (as etcdctl reads ETCDCTL_ENDPOINTS). */
export const ENDPOINTS_VAR = 'PAXOS_ENDPOINTS';

/** The cluster as --endpoints or PAXOS_ENDPOINTS gives it: names, in order, and where to reach each. */
export interface EndpointList {
  readonly source: '--endpoints' | typeof ENDPOINTS_VAR;
  readonly endpoints: ReadonlyArray<readonly [string, Endpoint]>;
}

/**
 * --endpoints, else PAXOS_ENDPOINTS (unset or empty: none), else undefined:
 * the hostsfile (-h) and --resolve say where the peers are. When endpoints
 * are given, -h and --resolve are not used, and a warning says so.
 */
export function endpointList(
  verb: string,
  values: {
    readonly endpoints?: string | undefined;
    readonly hostsfile?: string | undefined;
    readonly resolve?: readonly string[] | undefined;
    readonly port?: string | undefined;
  },
  env: NodeJS.ProcessEnv = process.env,
): EndpointList | undefined {
  const fromEnv = env[ENDPOINTS_VAR];
  const [source, text] =
    values.endpoints !== undefined
      ? (['--endpoints', values.endpoints] as const)
      : fromEnv !== undefined && fromEnv.trim() !== ''
        ? ([ENDPOINTS_VAR, fromEnv] as const)
        : [undefined, undefined];
  if (source === undefined) return undefined;
  const port = values.port === undefined ? DEFAULT_PORT : portNumber('--port', values.port);
  const endpoints = parseEndpoints(text, port, source);
  const ignored = [
    values.hostsfile === undefined ? [] : ['-h'],
    (values.resolve ?? []).length === 0 ? [] : ['--resolve'],
  ].flat();
  if (ignored.length > 0) {
    const unset = source === ENDPOINTS_VAR ? ` (unset ${ENDPOINTS_VAR} to use them)` : '';
    process.stderr.write(
      `paxos ${verb}: warning: ${ignored.join(' and ')} ignored: the peers come from ${source}${unset}\n`,
    );
  }
  return { source, endpoints };
}

/**
 * Why the first of `targets` whose address does not resolve cannot be
 * reached, as one line that names it and the flag or variable to set; or
 * undefined when some target resolves (or only
 * fails for another reason, which connecting will report). A name that does
 * not resolve now will not in the next few seconds either: better to say so
 * at once than to retry it until the timeout.
 */
export async function unresolvable(
  targets: ReadonlyArray<{ readonly name: string; readonly at: Endpoint }>,
  source: EndpointList['source'] | undefined,
): Promise<string | undefined> {
  const failed = await Promise.all(
    targets.map(async (t) => {
      try {
        await lookup(t.at.host);
        return undefined;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        return code === 'ENOTFOUND' || code === 'EAI_NONAME' ? code : undefined;
      }
    }),
  );
  if (failed.some((f) => f === undefined)) return undefined;
  const t = targets[0]!;
  const given = source ?? (t.at.host.toLowerCase() === t.name.toLowerCase() ? undefined : '--resolve');
  if (given !== undefined)
    return `cannot resolve ${t.at.host}, the address ${given} gives ${t.name} (${failed[0]}); fix ${given}`;
  return (
    `cannot resolve ${t.name} (${failed[0]}); say where the peers are with --endpoints ${t.name}` +
    `=ADDR:PORT,... or ${ENDPOINTS_VAR}=${t.name}=ADDR:PORT,... (\`npx paxos run DIR --keep-running\` prints it), ` +
    `or --resolve ${t.name}=ADDR:PORT`
  );
}

/**
 * --timeout, the shared secret (--secret-file or PAXOS_SECRET), and TLS
 * (--ca, --cert, --key, else PAXOS_CA, PAXOS_CERT, PAXOS_KEY); warnings on stderr.
 */
export function callSettings(
  verb: string,
  values: { readonly timeout?: string | undefined; readonly 'secret-file'?: string | undefined } & TlsFlagValues,
): { timeoutMs: number; secret: Secret | null; tls: ClientTls | null } {
  const timeoutMs = seconds('--timeout', values.timeout ?? '10') * 1000;
  if (timeoutMs === 0) throw new ConfigError('--timeout must be above 0');
  const warnings: string[] = [];
  const secret = loadSecret(values['secret-file'], process.env, warnings);
  for (const w of warnings) process.stderr.write(`paxos ${verb}: warning: ${w}\n`);
  const tls = loadClientTls(values, process.env);
  return { timeoutMs, secret, tls };
}

/** --value-file FILE (- for standard input), byte for byte, as UTF-8 text. */
export function readValue(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file === '-' ? 0 : file);
  } catch (err) {
    throw new ConfigError(`--value-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError(`--value-file ${file}: not valid UTF-8; values are UTF-8 text`);
  }
}

/** The help lines of the flags that say which replicas a client asks (one text for every client command). */
export const TARGET_HELP_NO_TO = `      --endpoints HOST=ADDR[:PORT],...
                         the replicas (or PAXOS_ENDPOINTS), as for paxos put
  -h, --hostsfile FILE   the cluster's hostsfile (default ./hostsfile)
      --port N, --resolve HOST=ADDR[:PORT], --secret-file FILE,
      --ca FILE, --cert FILE, --key FILE
                         as for paxos put`;

/** TARGET_HELP_NO_TO, with --to. */
export const TARGET_HELP = TARGET_HELP_NO_TO.replace(
  '(default ./hostsfile)\n',
  '(default ./hostsfile)\n      --to HOST          try replica HOST first\n',
);

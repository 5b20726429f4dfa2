// What connect() takes (api.ts), and how it is read: checked once, when the
// client is made, so a bad option fails there and not at the first call.

import type { Secret } from '../transport/auth.js';
import { loadClientTls, type ClientTls } from '../config/tls-files.js';
import type { Attempt, KvTarget } from './kv.js';
import { DefiniteError } from './errors.js';
import { ENDPOINTS_ENV, parseTargets, SECRET_ENV, type EndpointSpec } from './targets.js';

export interface ConnectOptions {
  /**
   * The replicas: `NAME=ADDR[:PORT]` or `ADDR[:PORT]` items (port 8080 by
   * default; IPv6 as `[ADDR]:PORT`), as an array or one comma-separated
   * string. Default: the PAXOS_ENDPOINTS environment variable.
   */
  readonly endpoints?: string | readonly (string | EndpointSpec)[];
  /** The cluster's shared secret, if it has one. Default: PAXOS_SECRET, else none. */
  readonly secret?: string | Uint8Array;
  /**
   * TLS, for replicas started with --ca, --cert and --key: `ca`, the CA that
   * signed their certificates (PEM; default: the system's CAs); `cert` and
   * `key`, this client's certificate and key (PEM), for replicas that ask
   * clients for one (--client-ca). Each replica's certificate must hold its
   * endpoint name, or the address dialled. Default: the files named by
   * PAXOS_CA, PAXOS_CERT and PAXOS_KEY, else plain NDJSON.
   */
  readonly tls?: {
    readonly ca?: string | Uint8Array;
    readonly cert?: string | Uint8Array;
    readonly key?: string | Uint8Array;
  };
  /** How long one call keeps trying, in all, in ms (default 10,000). connect() waits as long for a first replica. */
  readonly timeoutMs?: number;
  /** Calls in flight at once, each with a session of its own (default 4); more wait their turn. */
  readonly concurrency?: number;
  /** Called after every attempt at a replica (for logging). */
  readonly onAttempt?: (a: Attempt, n: number) => void;
  /** For tests: the environment to read (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** ConnectOptions read against the environment and checked: what the pool (pool.ts) runs on. */
export interface ConnectSettings {
  readonly endpoints: readonly KvTarget[];
  readonly secret: Secret | null;
  readonly tls: ClientTls | null;
  readonly timeoutMs: number;
  readonly concurrency: number;
}

/** The settings `options` give, with the environment's defaults; DefiniteError ('invalid') for a bad one. */
export function connectSettings(options: ConnectOptions): ConnectSettings {
  const env = options.env ?? process.env;
  const endpoints = parseTargets(options.endpoints ?? env[ENDPOINTS_ENV]);
  const given = options.secret ?? env[SECRET_ENV];
  const secret =
    given === undefined
      ? null
      : { source: options.secret === undefined ? SECRET_ENV : 'connect({ secret })', key: Buffer.from(given) };
  if (secret !== null && secret.key.length === 0) throw new DefiniteError('invalid', 'connect: the secret is empty');
  const tls = clientTls(options.tls, env);
  const timeoutMs = positive('timeoutMs', options.timeoutMs ?? 10_000);
  const concurrency = positive('concurrency', options.concurrency ?? 4);
  if (!Number.isSafeInteger(concurrency))
    throw new DefiniteError('invalid', `connect: concurrency must be a whole number; got ${concurrency}`);
  return { endpoints, secret, tls, timeoutMs, concurrency };
}

/** connect()'s `tls`, else the files PAXOS_CA, PAXOS_CERT and PAXOS_KEY name, else null (plain). */
function clientTls(given: ConnectOptions['tls'], env: Readonly<Record<string, string | undefined>>): ClientTls | null {
  if (given === undefined) {
    try {
      return loadClientTls({}, env);
    } catch (err) {
      throw new DefiniteError('invalid', `connect: ${(err as Error).message}`);
    }
  }
  if ((given.cert === undefined) !== (given.key === undefined))
    throw new DefiniteError('invalid', 'connect: tls.cert and tls.key go together: give both, or neither');
  const pem = (x: string | Uint8Array | undefined): Buffer | undefined =>
    x === undefined ? undefined : Buffer.from(x);
  const [ca, cert, key] = [pem(given.ca), pem(given.cert), pem(given.key)];
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
  };
}

function positive(name: string, x: number): number {
  if (!(typeof x === 'number' && Number.isFinite(x) && x > 0))
    throw new DefiniteError('invalid', `connect: ${name} must be a number above 0; got ${String(x)}`);
  return x;
}

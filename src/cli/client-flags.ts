// What the lab's client (`submit`, `get --from`) and the key-value store's
// commands (`put`, `get KEY`, ...) share of their command lines: the flags
// that say how to reach the cluster, and --value-file.

import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';
import { loadSecret, type Secret } from '../transport/auth.js';
import type { Endpoint } from '../transport/link.js';
import { DEFAULT_PORT, parseResolve, portNumber, seconds } from '../config/flags.js';

/** parseFlags options common to both clients; each adds its own. */
export const CLIENT_FLAGS = {
  hostsfile: { type: 'string', short: 'h' },
  to: { type: 'string' },
  from: { type: 'string' },
  port: { type: 'string' },
  resolve: { type: 'string', multiple: true },
  timeout: { type: 'string' },
  'secret-file': { type: 'string' },
  'value-file': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

/**
 * --port and --resolve: where to reach a host of the hostsfile. Hostnames
 * match case-insensitively, and the last --resolve for a host wins.
 */
export function endpointsFrom(values: { readonly port?: string | undefined; readonly resolve?: readonly string[] | undefined }): (host: string) => Endpoint {
  const port = values.port === undefined ? DEFAULT_PORT : portNumber('--port', values.port);
  const resolved = new Map<string, Endpoint>();
  for (const spec of values.resolve ?? []) {
    const [h, e] = parseResolve(spec, port);
    resolved.set(h.toLowerCase(), e);
  }
  return (host) => resolved.get(host.toLowerCase()) ?? { host, port };
}

/** --timeout and the shared secret (--secret-file or PAXOS_SECRET), warnings on stderr. */
export function callSettings(
  verb: string,
  values: { readonly timeout?: string | undefined; readonly 'secret-file'?: string | undefined },
): { timeoutMs: number; secret: Secret | null } {
  const timeoutMs = seconds('--timeout', values.timeout ?? '10') * 1000;
  if (timeoutMs === 0) throw new ConfigError('--timeout must be above 0');
  const warnings: string[] = [];
  const secret = loadSecret(values['secret-file'], process.env, warnings);
  for (const w of warnings) process.stderr.write(`paxos ${verb}: warning: ${w}\n`);
  return { timeoutMs, secret };
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

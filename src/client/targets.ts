// The replicas a client is given (connect's `endpoints`), parsed into targets.

import { parseEndpoints } from '../config/flags.js';
import { DEFAULT_PORT } from '../paxos/defaults.js';
import { DefiniteError } from './errors.js';
import type { KvTarget } from './kv.js';

/** The environment variables connect() reads when its options do not say. */
export const ENDPOINTS_ENV = 'PAXOS_ENDPOINTS';
export const SECRET_ENV = 'PAXOS_SECRET';

/** A replica: where to reach it, and its name in messages (default HOST:PORT). */
export interface EndpointSpec {
  readonly name?: string;
  readonly host: string;
  /** Default 8080. */
  readonly port?: number;
}

/** `NAME=ADDR[:PORT]` or `ADDR[:PORT]` items, or EndpointSpecs; an item without a name is named by itself. */
export function parseTargets(given: string | readonly (string | EndpointSpec)[] | undefined): KvTarget[] {
  const list = typeof given === 'string' ? given.split(',') : (given ?? []);
  const items = list.map((e) => (typeof e === 'string' ? e.trim() : specText(e))).filter((e) => e !== '');
  if (items.length === 0)
    throw new DefiniteError(
      'invalid',
      `connect: no endpoints: pass { endpoints: 'NAME=ADDR:PORT,...' } or set ${ENDPOINTS_ENV}`,
    );
  try {
    const named = items.map((item) => (item.includes('=') ? item : `${item}=${item}`));
    return parseEndpoints(named.join(','), DEFAULT_PORT, 'endpoints').map(([name, at]) => ({ name, at }));
  } catch (err) {
    throw new DefiniteError('invalid', `connect: ${(err as Error).message}`);
  }
}

function specText(e: EndpointSpec): string {
  const port = e.port ?? DEFAULT_PORT;
  const host = e.host.includes(':') ? `[${e.host}]` : e.host;
  return `${e.name ?? `${host}:${port}`}=${host}:${port}`;
}

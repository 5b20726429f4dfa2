// Where each peer of a local run listens. On Linux every 127.x.y.z is a
// loopback address, so each peer gets its own address with the real port
// 8080, as in compose. Runs may overlap (ava runs test files in parallel), so
// a run claims a whole 127.A.B.0/24 block by holding a socket on
// 127.A.B.254:8080 until it ends; another run finds that taken and moves on.
// Where extra loopback addresses do not exist (macOS), peers share 127.0.0.1
// on distinct free ports instead.

import net from 'node:net';
import type { Endpoint } from '../transport/link.js';

export interface Allocation {
  readonly mode: 'loopback' | 'ports';
  readonly endpoints: ReadonlyMap<string, Endpoint>;
  /** Call just before starting peers (frees ports held in 'ports' mode). */
  beforeSpawn(): Promise<void>;
  /** Give the addresses back when the run ends. */
  release(): Promise<void>;
}

const PEER_PORT = 8080;
const CLAIM_HOST = 254;

export async function allocate(hostnames: readonly string[], mode: 'auto' | 'ports' = 'auto'): Promise<Allocation> {
  if (hostnames.length >= CLAIM_HOST) throw new Error(`a local run supports at most ${CLAIM_HOST - 1} peers`);
  if (mode === 'auto') {
    for (let attempt = 0; attempt < 64; attempt++) {
      const block = `127.${64 + Math.floor(Math.random() * 190)}.${Math.floor(Math.random() * 256)}`;
      const claim = await tryListen(`${block}.${CLAIM_HOST}`, PEER_PORT);
      if (claim === 'unavailable') break; // no extra loopback addresses here
      if (claim === 'taken') continue;
      const endpoints = new Map(hostnames.map((h, i) => [h, { host: `${block}.${i + 1}`, port: PEER_PORT }]));
      return { mode: 'loopback', endpoints, beforeSpawn: async () => {}, release: () => close(claim) };
    }
  }
  // Distinct ports on 127.0.0.1: hold each until just before the peers start.
  const held: net.Server[] = [];
  const endpoints = new Map<string, Endpoint>();
  for (const h of hostnames) {
    const s = await tryListen('127.0.0.1', 0);
    if (typeof s === 'string') throw new Error(`cannot find a free port on 127.0.0.1 (${s})`);
    held.push(s);
    endpoints.set(h, { host: '127.0.0.1', port: (s.address() as net.AddressInfo).port });
  }
  const freeAll = async (): Promise<void> => {
    await Promise.all(held.splice(0).map(close));
  };
  return { mode: 'ports', endpoints, beforeSpawn: freeAll, release: freeAll };
}

function tryListen(host: string, port: number): Promise<net.Server | 'taken' | 'unavailable'> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE' ? 'taken' : 'unavailable'));
    server.listen({ host, port, exclusive: true }, () => resolve(server));
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

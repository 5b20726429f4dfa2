// A bare key-value client for tests: one request on one connection, the
// answer or null on timeout. (The CLI's client, with leader finding and
// retries, is tested on its own.)

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { introduce } from '../../src/transport/auth.js';
import type { KvResult } from '../../src/transport/kv-wire.js';
import type { Endpoint } from '../../src/transport/link.js';

export async function kvAsk(at: Endpoint, body: Record<string, unknown>, timeoutMs = 5000): Promise<KvResult | null> {
  const id = randomBytes(6).toString('hex');
  const socket = net.connect({ host: at.host, port: at.port });
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  try {
    const connected = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
    });
    if (!connected) return null;
    const intro = await introduce(socket, { from: 0, to: 0, secret: null, timeoutMs });
    if (!intro.ok) return null;
    return await new Promise<KvResult | null>((resolve) => {
      let buf = '';
      const timer = setTimeout(() => resolve(null), timeoutMs);
      socket.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          try {
            const r = JSON.parse(line) as KvResult;
            if (r.type === 'kv_result' && r.id === id) {
              clearTimeout(timer);
              resolve(r);
            }
          } catch {
            // not ours
          }
        }
      });
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(null);
      });
      socket.write(`${JSON.stringify({ ...body, id })}\n`);
    });
  } finally {
    socket.destroy();
  }
}

/**
 * A put/get/del/cas as a fresh client's first command (client id of its own,
 * seq 1): a store that never saw a client takes only its seq 1.
 */
export function cmd(o: 'put' | 'get' | 'del' | 'cas', k: string, v?: string, e?: string | null): Record<string, unknown> {
  const base = { o, c: `t-${randomBytes(6).toString('hex')}`, s: 1, k };
  if (o === 'put') return { type: 'kv', cmd: { ...base, v } };
  if (o === 'cas') return { type: 'kv', cmd: { ...base, e: e ?? null, v } };
  return { type: 'kv', cmd: base };
}

// A benchmark's connection to a replica: many requests in flight on one
// socket, each matched to its answer by id. (Benchmarks only: no timeouts,
// no retries; see src/client/kv.ts for the real client.)

import type net from 'node:net';
import type { ClientTls } from '../src/config/tls-files.js';
import { introduce } from '../src/transport/auth.js';
import { dial } from '../src/transport/tls.js';
import type { KvResult } from '../src/wire/kv.js';
import type { Endpoint } from '../src/transport/link.js';

export class KvConn {
  private buf = '';
  private next = 0;
  private readonly waiting = new Map<string, (r: KvResult) => void>();

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('utf8');
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const r = JSON.parse(this.buf.slice(0, nl)) as KvResult;
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiting.get(r.id);
        this.waiting.delete(r.id);
        w?.(r);
      }
    });
  }

  /** `tls`: connect with TLS (the replicas' certificates must hold the address dialled). */
  static async open(at: Endpoint, tls: ClientTls | null = null): Promise<KvConn> {
    return new KvConn(await openIntroduced(at, tls));
  }

  /** Send `body` ({type: 'kv', cmd} or {type: 'dump'}) with a fresh id; resolves with its answer. */
  request(body: object): Promise<KvResult> {
    const id = String(++this.next);
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.socket.write(`${JSON.stringify({ ...body, id })}\n`);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A connection to a replica's client port (TLS with `tls`), introduced as a client (no secret), noDelay set. */
export async function openIntroduced(at: Endpoint, tls: ClientTls | null = null): Promise<net.Socket> {
  const { socket, ready } = dial(at, tls);
  await new Promise<void>((resolve, reject) => {
    socket.once(ready, resolve);
    socket.once('error', reject);
  });
  const intro = await introduce(socket, { from: 0, to: 0, secret: null, timeoutMs: 5000, tls: tls !== null });
  if (!intro.ok) throw new Error(intro.why);
  return socket;
}

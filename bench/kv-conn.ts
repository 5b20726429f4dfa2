// A benchmark's connection to a replica: many requests in flight on one
// socket, each matched to its answer by id. (Benchmarks only: no timeouts,
// no retries; see src/client/kv.ts for the real client.)

import net from 'node:net';
import { introduce } from '../src/transport/auth.js';
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

  static async open(at: Endpoint): Promise<KvConn> {
    return new KvConn(await openIntroduced(at));
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

/** A connection to a replica's client port, introduced as a client (no secret), noDelay set. */
export async function openIntroduced(at: Endpoint): Promise<net.Socket> {
  const socket = net.connect({ host: at.host, port: at.port });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const intro = await introduce(socket, { from: 0, to: 0, secret: null, timeoutMs: 5000 });
  if (!intro.ok) throw new Error(intro.why);
  return socket;
}

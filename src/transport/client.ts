// One client request to one peer: connect, authenticate (with a secret),
// send, wait for the result on the same connection. The three ways it can
// end are kept apart, because a client must not guess:
//   reply:       the peer answered;
//   unreachable: the request never left (nothing happened);
//   unknown:     it was sent, but no answer came in time (it may or may not
//                take effect).

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { MAX_LINE_BYTES } from '../core/limits.js';
import { introduce, type Secret } from './auth.js';
import type { Endpoint } from './link.js';
import { LineReader } from './lines.js';
import type { ClientRequest, ClientResult } from './wire.js';

export type Outcome =
  | { readonly kind: 'reply'; readonly result: ClientResult }
  | { readonly kind: 'unreachable'; readonly why: string }
  | { readonly kind: 'unknown'; readonly why: string };

type Body = { readonly type: 'submit'; readonly value: string } | { readonly type: 'get' };

export function request(at: Endpoint, body: Body, secret: Secret | null, timeoutMs: number): Promise<Outcome> {
  const id = randomBytes(8).toString('hex');
  const req: ClientRequest = { ...body, id };
  return new Promise((resolve) => {
    let sent = false;
    let done = false;
    let handshaking = false;
    const socket = net.connect({ host: at.host, port: at.port });
    socket.setNoDelay(true);
    const finish = (o: Outcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(
      () => finish(sent ? { kind: 'unknown', why: `no answer within ${timeoutMs / 1000} s` } : { kind: 'unreachable', why: `could not connect within ${timeoutMs / 1000} s` }),
      timeoutMs,
    );
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code ?? err.message;
      finish(sent ? { kind: 'unknown', why: `the connection failed after sending (${why})` } : { kind: 'unreachable', why });
    });
    socket.once('close', () => {
      if (handshaking) return; // the handshake reports why
      finish(sent ? { kind: 'unknown', why: 'the peer closed the connection before answering' } : { kind: 'unreachable', why: 'the peer closed the connection' });
    });
    socket.once('connect', async () => {
      handshaking = true;
      const intro = await introduce(socket, { from: 0, to: 0, secret, timeoutMs });
      handshaking = false;
      if (!intro.ok) return finish({ kind: 'unreachable', why: `authentication failed: ${intro.why}` });
      const reader = new LineReader(MAX_LINE_BYTES, (line) => {
        let res: ClientResult | { type: 'challenge' };
        try {
          res = JSON.parse(line) as ClientResult | { type: 'challenge' };
        } catch {
          return; // not for us
        }
        // A peer that challenges us will not read an unauthenticated request.
        if (res.type === 'challenge') finish({ kind: 'unreachable', why: 'it requires the shared secret (pass --secret-file FILE or set PAXOS_SECRET)' });
        else if (res.type === 'result' && res.id === id) finish({ kind: 'reply', result: res });
      }, () => undefined);
      socket.on('data', (chunk: Buffer) => reader.push(chunk));
      sent = true;
      socket.write(`${JSON.stringify(req)}\n`);
    });
  });
}

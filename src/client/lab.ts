// One client request to one peer: connect, authenticate (with a secret),
// send, wait for the result on the same connection. The three ways it can
// end are kept apart, because a client must not guess:
//   reply:       the peer answered;
//   unreachable: the request never left (nothing happened);
//   unknown:     it was sent, but no answer came in time (it may or may not
//                take effect).

import { randomBytes } from 'node:crypto';
import type { ClientTls } from '../config/tls-files.js';
import { MAX_LINE_BYTES } from '../paxos/defaults.js';
import { introduce, type Secret } from '../transport/auth.js';
import type { MessageMac } from '../transport/message-mac.js';
import type { Endpoint } from '../transport/link.js';
import { LineReader } from '../transport/lines.js';
import { dial, refusedWhy, tlsFailure } from '../transport/tls.js';
import type { ClientRequest, ClientResult } from '../wire/lab.js';

export type Outcome =
  | { readonly kind: 'reply'; readonly result: ClientResult }
  | { readonly kind: 'unreachable'; readonly why: string }
  | { readonly kind: 'unknown'; readonly why: string };

/** How one request/answer exchange ended; `auth`: refused for want of (the right) shared secret. */
export type Exchange<R> =
  | { readonly kind: 'reply'; readonly result: R }
  | { readonly kind: 'unreachable'; readonly why: string; readonly auth?: true }
  | { readonly kind: 'unknown'; readonly why: string };

export interface ExchangeOptions {
  readonly secret: Secret | null;
  readonly timeoutMs: number;
  readonly maxLineBytes: number;
  /** What the other end is called in messages: "peer", "replica". */
  readonly who: string;
  /** Restart the timeout at every line that comes back: for a long answer in many lines (a dump). */
  readonly idleTimeout?: boolean;
  /** Connect with TLS (--ca, --cert, --key), checking the far end's certificate for `name` (tls.ts's serverName). */
  readonly tls?: ClientTls | null;
  /** The far end's hostsfile or endpoint name. */
  readonly name?: string;
}

/**
 * Connect, introduce ourselves as a client (proving the secret if there is
 * one), send `body` as one line, and hand every JSON object that comes back
 * to `read` until it returns an outcome (undefined: not our answer, or not
 * all of it yet). `read` may `say` more lines to the other end.
 */
export function exchange<R>(
  at: Endpoint,
  body: object,
  opts: ExchangeOptions,
  read: (o: Record<string, unknown>, say: (o: object) => void) => Exchange<R> | undefined,
): Promise<Exchange<R>> {
  const { secret, timeoutMs, who } = opts;
  return new Promise((resolve) => {
    let sent = false;
    let done = false;
    let handshaking = false;
    const tls = opts.tls ?? null;
    const { socket, ready, checked } = dial(at, tls, opts.name);
    let connected = false;
    const finish = (o: Exchange<R>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const expire = (): void =>
      finish(
        sent
          ? { kind: 'unknown', why: `no answer within ${timeoutMs / 1000} s` }
          : { kind: 'unreachable', why: `could not connect within ${timeoutMs / 1000} s` },
      );
    let timer = setTimeout(expire, timeoutMs);
    // With a secret, every line after the handshake is sealed, each way (transport/message-mac.ts).
    let mac: MessageMac | null = null;
    const say = (o: object): void => {
      const line = JSON.stringify(o);
      socket.write(`${mac === null ? line : mac.seal(line)}\n`);
    };
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A TLS handshake that fails is refused credentials (exit 5), said in words; a refused connect is not.
      if (tls !== null && !connected && err.code !== 'ECONNREFUSED')
        return finish({ kind: 'unreachable', why: tlsFailure(err, false, checked), auth: true });
      const why = err.code ?? err.message;
      finish(
        sent ? { kind: 'unknown', why: `the connection failed after sending (${why})` } : { kind: 'unreachable', why },
      );
    });
    socket.once('close', () => {
      if (handshaking) return; // the handshake reports why
      finish(
        sent
          ? { kind: 'unknown', why: `the ${who} closed the connection before answering` }
          : { kind: 'unreachable', why: `the ${who} closed the connection` },
      );
    });
    socket.once(ready, async () => {
      connected = true;
      handshaking = true;
      const intro = await introduce(socket, { from: 0, to: 0, secret, timeoutMs, tls: tls !== null });
      handshaking = false;
      if (done) return;
      if (!intro.ok) return finish({ kind: 'unreachable', why: `authentication failed: ${intro.why}`, auth: true });
      mac = intro.mac;
      const reader = new LineReader(
        opts.maxLineBytes,
        (sealed) => {
          const line = mac === null ? sealed : mac.open(sealed);
          if (line === null)
            return finish({
              kind: sent ? 'unknown' : 'unreachable',
              why:
                `a line from the ${who} failed its integrity check (altered in flight, replayed or out of ` +
                `order?); closed the connection`,
            });
          let m: unknown;
          try {
            m = JSON.parse(line);
          } catch {
            return; // not for us
          }
          if (typeof m !== 'object' || m === null || Array.isArray(m)) return;
          const o = m as Record<string, unknown>;
          // One that challenges us will not read an unauthenticated request:
          // nothing is read before the handshake, so ours was dropped.
          if (o['type'] === 'challenge')
            return finish({
              kind: 'unreachable',
              why: 'it requires the shared secret (pass --secret-file FILE or set PAXOS_SECRET)',
              auth: true,
            });
          // A TLS listener refused us (tls.ts): it read nothing of ours.
          if (o['type'] === 'refused') return finish({ kind: 'unreachable', why: refusedWhy(o), auth: true });
          if (opts.idleTimeout === true && !done) {
            clearTimeout(timer);
            timer = setTimeout(expire, timeoutMs);
          }
          const out = read(o, say);
          if (out !== undefined) finish(out);
        },
        () => undefined,
      );
      socket.on('data', (chunk: Buffer) => reader.push(chunk));
      // Without a secret, a client sends at once; one that wants a secret
      // challenges instead of reading it (above).
      sent = true;
      say(body);
    });
  });
}

type Body = { readonly type: 'submit'; readonly value: string } | { readonly type: 'get' };

export function request(
  at: Endpoint,
  body: Body,
  secret: Secret | null,
  timeoutMs: number,
  tls: { readonly tls: ClientTls; readonly name: string } | null = null,
): Promise<Outcome> {
  const id = randomBytes(8).toString('hex');
  const req: ClientRequest = { ...body, id };
  const how = { secret, timeoutMs, maxLineBytes: MAX_LINE_BYTES, who: 'peer', ...(tls ?? {}) };
  return exchange<ClientResult>(at, req, how, (o) =>
    o['type'] === 'result' && o['id'] === id ? { kind: 'reply', result: o as unknown as ClientResult } : undefined,
  );
}

// The listening side: peers connect here (port 8080) and send NDJSON. A line
// that is not JSON, not a valid message, or longer than MAX_LINE_BYTES is
// dropped with a warning on stderr; the connection and the peer carry on.
// Lines are framed by LineReader (see lines.ts for why not ndjson.parse).

import net from 'node:net';
import { MAX_LINE_BYTES } from '../core/limits.js';
import type { Message } from '../core/types.js';
import type { Logger } from '../daemon/logger.js';
import type { Endpoint } from './link.js';
import { AUTH_TIMEOUT_MS, isNonce, mac, newNonce, sameMac, type Secret } from './auth.js';
import { LineReader } from './lines.js';
import { decode, type ClientRequest, type ClientResult } from './wire.js';

export interface Inbound {
  readonly server: net.Server;
  close(): Promise<void>;
}

export interface InboundHandlers {
  readonly message: (msg: Message) => void;
  /** A peer opened a connection to us and said who it is. */
  readonly hello?: (from: number) => void;
  /**
   * A client's request; answer with `reply`, on the same connection.
   * `gone` is aborted when that connection closes, so no one waits for it.
   */
  readonly client?: (req: ClientRequest, reply: (res: ClientResult) => void, gone: AbortSignal) => void;
}

/** Connections still in the handshake; more are refused, so a flood of them cannot pile up. */
const MAX_UNAUTHENTICATED = 64;

export async function listen(
  at: Endpoint,
  on: InboundHandlers | ((msg: Message) => void),
  log: Logger,
  secret: Secret | null = null,
): Promise<Inbound> {
  const handlers: InboundHandlers = typeof on === 'function' ? { message: on } : on;
  const sockets = new Set<net.Socket>();
  const handshaking = { count: 0 };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (secret !== null && handshaking.count >= MAX_UNAUTHENTICATED) {
      log.warn(`refusing a connection from ${socket.remoteAddress ?? '?'}: ${MAX_UNAUTHENTICATED} connections are already authenticating`);
      socket.destroy();
      return;
    }
    serveConnection(socket, handlers, log, secret, handshaking);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error(`listener on ${at.host}:${at.port}: ${err.message}`));
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function serveConnection(socket: net.Socket, on: InboundHandlers, log: Logger, secret: Secret | null, handshaking: { count: number }): void {
  socket.setNoDelay(true);
  const who = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
  const gone = new AbortController();
  socket.once('close', () => gone.abort());
  // With a secret, nothing but the handshake is read until it succeeds.
  const serverNonce = secret === null ? '' : newNonce();
  let authed: number | null = secret === null ? null : -1; // -1: not yet; else the proven id (0 = client)
  const refuse = (why: string): void => {
    log.warn(`closing connection from ${who}: ${why}`);
    socket.destroy();
  };
  let authTimer: NodeJS.Timeout | undefined;
  let endHandshake = (): void => undefined;
  if (secret !== null) {
    handshaking.count += 1;
    let counted = true;
    const done = (): void => {
      if (counted) handshaking.count -= 1;
      counted = false;
    };
    socket.write(`${JSON.stringify({ type: 'challenge', nonce: serverNonce })}\n`);
    authTimer = setTimeout(() => refuse(`no authentication within ${AUTH_TIMEOUT_MS / 1000} s`), AUTH_TIMEOUT_MS);
    socket.once('close', () => {
      clearTimeout(authTimer);
      done();
    });
    endHandshake = done;
  }

  const reader = new LineReader(
    MAX_LINE_BYTES,
    (line) => {
      if (socket.destroyed) return;
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch {
        if (authed === -1) return refuse('it sent something other than the authentication handshake');
        log.warn(`dropping malformed line from ${who} (not JSON): ${line.slice(0, 60)}${line.length > 60 ? '...' : ''}`);
        return;
      }
      if (authed === -1 && secret !== null) {
        const a = raw as { type?: unknown; from?: unknown; nonce?: unknown; mac?: unknown };
        if (a?.type !== 'auth' || !Number.isSafeInteger(a.from) || (a.from as number) < 0 || !isNonce(a.nonce)) {
          return refuse('it did not authenticate (is it running without the shared secret?)');
        }
        const from = a.from as number;
        if (!sameMac(a.mac, mac(secret, 'client', serverNonce, a.nonce, from))) return refuse(`${from === 0 ? 'a client' : `peer_id ${from}`} failed authentication (a wrong secret?)`);
        clearTimeout(authTimer);
        endHandshake();
        authed = from;
        socket.write(`${JSON.stringify({ type: 'auth_ok', mac: mac(secret, 'server', serverNonce, a.nonce, from) })}\n`);
        if (from > 0) on.hello?.(from);
        return;
      }
      const reply = (res: ClientResult): void => void (socket.writable && socket.write(`${JSON.stringify(res)}\n`));
      const d = decode(raw);
      if (!d.ok) {
        log.warn(`dropping invalid message from ${who}: ${d.why}`);
        // A client gets told why, instead of waiting for an answer that never comes.
        const r = raw as { type?: unknown; id?: unknown };
        if ((r?.type === 'submit' || r?.type === 'get') && typeof r.id === 'string' && r.id.length <= 64) {
          reply({ type: 'result', id: r.id, status: 'invalid', peer: '', why: d.why });
        }
      } else if ('hello' in d) on.hello?.(d.hello);
      else if ('client' in d) {
        if (authed !== null && authed !== 0) return log.warn(`dropping a client request from ${who}: it authenticated as peer_id ${authed}`);
        log.info(`client ${who}: ${d.client.type}`);
        on.client?.(d.client, reply, gone.signal);
      } else if (authed !== null && d.msg.from !== authed) {
        log.warn(`dropping ${d.msg.type} from ${who}: it claims peer_id ${d.msg.from} but authenticated as ${authed}`);
      } else on.message(d.msg);
    },
    (why) => (authed === -1 ? refuse(`it sent ${why} before authenticating`) : log.warn(`dropping ${why} from ${who}`)),
  );
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  socket.on('error', (err: NodeJS.ErrnoException) => log.debug(`connection from ${who}: ${err.code ?? err.message}`));
  // An unfinished last line is dropped with the connection: it may be cut short.
}

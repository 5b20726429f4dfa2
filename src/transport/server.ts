// The listening side: peers and clients connect here (port 8080) and send
// NDJSON. This file accepts connections (with TLS, after its handshake),
// bounds the half-open ones, and sweeps the silent and the unread; each
// connection is served by connection.ts. There, a line that is not JSON,
// not a valid message, or longer than MAX_LINE_BYTES is dropped; the
// connection and the peer carry on. The first few of a connection get a
// warning each on stderr, and a connection that sends MAX_BAD_LINES of them
// is closed (src/paxos/defaults.ts). Lines are framed by LineReader (see
// lines.ts for why not ndjson.parse).
//
// Liveness: a peer's link pings every heartbeat and we answer each ping with
// a pong, so the link can tell a live peer from a dead or frozen one. A peer
// connection that sends nothing at all for `deadAfterMs` is closed here too:
// its far end is gone, and holding it only hides that.

import net from 'node:net';
import {
  MAX_CLIENT_IN_FLIGHT,
  MAX_HALF_OPEN,
  MAX_LINE_BYTES,
  NOTICE_EVERY_MS,
  UNFINISHED_LINES_BYTES,
} from '../paxos/defaults.js';
import type { PeerId } from '../paxos/ids.js';
import type { Logger } from '../util/logger.js';
import type { Endpoint } from './link.js';
import { type Secret } from './auth.js';
import { HalfOpenBudget } from './half-open.js';
import { LineBudget } from './lines.js';
import { DEFAULT_LIVENESS, type Liveness } from '../config/liveness.js';
import type { PeerTls } from '../config/tls-files.js';
import type { Codec, PeerMessage } from './codec.js';
import { refusedLine, TlsAcceptor, type CertCheck } from './tls.js';

export interface Inbound {
  readonly server: net.Server;
  close(): Promise<void>;
}

import {
  mib,
  OUTPUT_LIMITS,
  refuseWithLine,
  serveConnection,
  type Conn,
  type InboundHandlers,
  type OutputLimits,
} from './connection.js';

export { OUTPUT_LIMITS, type ClientConn, type InboundHandlers, type OutputLimits } from './connection.js';

export interface ListenOptions<M extends PeerMessage, Req, Res> {
  readonly log: Logger;
  /** The shared secret every connection must prove; null runs open. */
  readonly secret?: Secret | null;
  /** --ca, --cert, --key (tls.ts): the listener speaks TLS only, and peers must present certificates; null: plain. */
  readonly tls?: PeerTls | null;
  /** A peer id's hostsfile name, which its TLS certificate must hold. */
  readonly nameOf?: (id: PeerId) => string | undefined;
  /** Our own peer id: named in the welcome, and checked against a hello's `to`. */
  readonly self?: PeerId;
  readonly liveness?: Liveness;
  /** The protocol spoken: the lab's (src/wire/lab.ts) or the replicated log's (src/wire/log.ts). */
  readonly codec: Codec<M, Req, Res>;
  /** Longest line a connection that introduced itself as a peer may send (default MAX_LINE_BYTES). */
  readonly maxPeerLineBytes?: number;
  /** Half-open connections held at once (default MAX_HALF_OPEN; smaller in tests). */
  readonly maxHalfOpen?: number;
  /** Unread output allowed per connection (default OUTPUT_LIMITS; smaller in tests). */
  readonly output?: OutputLimits;
  /** Client requests in flight per connection before it is no longer read (default MAX_CLIENT_IN_FLIGHT). */
  readonly maxInFlight?: number;
  /** Bytes held in unfinished lines over all connections (default UNFINISHED_LINES_BYTES + maxPeerLineBytes). */
  readonly maxUnfinishedBytes?: number;
}

export async function listen<M extends PeerMessage, Req, Res>(
  at: Endpoint,
  on: InboundHandlers<M, Req, Res> | ((msg: M) => void),
  opts: ListenOptions<M, Req, Res>,
): Promise<Inbound> {
  const handlers: InboundHandlers<M, Req, Res> = typeof on === 'function' ? { message: on } : on;
  const { codec } = opts;
  const maxPeerLineBytes = opts.maxPeerLineBytes ?? MAX_LINE_BYTES;
  const { log } = opts;
  const secret = opts.secret ?? null;
  const liveness = opts.liveness ?? DEFAULT_LIVENESS;
  const conns = new Set<Conn>();
  const halfOpen = new HalfOpenBudget<Conn>(opts.maxHalfOpen ?? MAX_HALF_OPEN);
  const output = opts.output ?? OUTPUT_LIMITS;
  const maxInFlight = opts.maxInFlight ?? MAX_CLIENT_IN_FLIGHT;
  const unfinished = new LineBudget(opts.maxUnfinishedBytes ?? UNFINISHED_LINES_BYTES + maxPeerLineBytes);
  const notice = throttled(log);
  const tlsNotice = throttled(log);
  const acceptor = opts.tls === undefined || opts.tls === null ? null : new TlsAcceptor(opts.tls);
  const server = net.createServer((socket) => {
    const conn: Conn = { socket, peer: null, lastHeard: performance.now(), overSince: 0 };
    conns.add(conn);
    const evicted = halfOpen.admit(socket.remoteAddress ?? '?', conn);
    socket.once('close', () => {
      conns.delete(conn);
      halfOpen.release(conn);
    });
    if (evicted !== null) {
      notice(
        `closing a half-open connection from ${evicted.socket.remoteAddress ?? '?'} to make room: ` +
          `${halfOpen.max} connections are ${secret === null ? 'silent' : 'authenticating'} (a flood?)`,
      );
      evicted.socket.destroy();
    }
    const serve = (check: CertCheck | null): void =>
      serveConnection(
        conn,
        handlers,
        {
          log,
          notice,
          output,
          maxInFlight,
          unfinished,
          secret,
          self: opts.self ?? 0,
          codec,
          maxPeerLineBytes,
          check,
          nameOf: opts.nameOf ?? (() => undefined),
        },
        () => halfOpen.release(conn),
      );
    if (acceptor === null) return serve(null);
    socket.setNoDelay(true);
    const who = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.on('error', (err: NodeJS.ErrnoException) => log.debug(`connection from ${who}: ${err.code ?? err.message}`));
    acceptor.accept(socket, {
      plain: (what) => {
        tlsNotice(
          `closing connection from ${who}: ${what}, but this peer speaks TLS only (a client needs --ca FILE, a ` +
            `peer --ca, --cert and --key)`,
        );
        refuseWithLine(socket, refusedLine('tls_required', 'this peer speaks TLS only'));
      },
      failed: (why) => tlsNotice(`closing connection from ${who}: ${why}`),
      secure: (s) => {
        conn.socket = s;
        s.once('close', () => {
          conns.delete(conn);
          halfOpen.release(conn);
        });
        const check = acceptor.check(s);
        if (check.ok) return serve(check);
        tlsNotice(`closing connection from ${who}: ${check.why}`);
        refuseWithLine(s, refusedLine('certificate', check.why));
      },
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error(`listener on ${at.host}:${at.port}: ${err.message}`));
  // One sweep per heartbeat closes peer connections that went silent, and
  // connections that have left their answers unread for too long.
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const c of conns) {
      if (c.overSince > 0 && now - c.overSince > output.softMs) {
        log.warn(
          `closing the connection from ${c.socket.remoteAddress ?? '?'}:${c.socket.remotePort ?? '?'}: ` +
            `it is not reading its answers ` +
            `(${mib(c.socket.writableLength)} MiB unread for over ${output.softMs / 1000} s)`,
        );
        c.socket.destroy();
        continue;
      }
      if (c.peer === null || now - c.lastHeard <= liveness.deadAfterMs) continue;
      log.info(
        `closing the connection from peer ${c.peer} (${c.socket.remoteAddress ?? '?'}): nothing heard for ` +
          `${((now - c.lastHeard) / 1000).toFixed(1)} s`,
      );
      c.socket.destroy();
    }
  }, liveness.heartbeatMs);
  sweep.unref();
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(sweep);
        for (const c of conns) c.socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** log.warn, but at most once per NOTICE_EVERY_MS, with a count of what it held back. */
function throttled(log: Logger): (msg: string) => void {
  let last = -Infinity;
  let quiet = 0;
  return (msg) => {
    const now = performance.now();
    if (now - last < NOTICE_EVERY_MS) {
      quiet += 1;
      return;
    }
    log.warn(quiet > 0 ? `${msg} (and ${quiet} more like it in the last ${((now - last) / 1000).toFixed(0)} s)` : msg);
    last = now;
    quiet = 0;
  };
}

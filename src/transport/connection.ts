// One accepted connection, peer's or client's, served line by line: the
// handshake (with a secret, and with TLS the certificate's name), then
// messages to the node and requests to their handler, each answer written
// back under the connection's output limits. The listener (server.ts)
// accepts connections and hands each one here.

import net from 'node:net';
import {
  AUTH_TIMEOUT_MS,
  BAD_LINES_WARNED,
  MAX_BAD_LINES,
  MAX_LINE_BYTES,
  OUTPUT_HARD_BYTES,
  OUTPUT_SOFT_BYTES,
  OUTPUT_SOFT_MS,
} from '../paxos/defaults.js';
import type { PeerId } from '../paxos/ids.js';
import type { Logger } from '../util/logger.js';
import { isNonce, mac as handshakeMac, newNonce, sameMac, type Secret } from './auth.js';
import { LineBudget, LineReader } from './lines.js';
import { LineWriter } from './line-writer.js';
import { MessageMac } from './message-mac.js';
import type { Codec, PeerMessage } from './codec.js';
import { peerCertProblem, refusedLine, type CertCheck } from './tls.js';

export interface InboundHandlers<M, Req, Res> {
  readonly message: (msg: M) => void;
  /** A peer opened a connection to us and said who it is. */
  readonly hello?: (from: number) => void;
  /**
   * A client's request; answer with `reply`, on the same connection (once:
   * until then it counts against the connection's requests in flight).
   * `conn.onClose` tells when that connection closes, so no one waits for it.
   */
  readonly client?: (req: Req, reply: (res: Res) => void, conn: ClientConn) => void;
}

/** A client's connection, as the handler of its requests sees it. */
export interface ClientConn {
  /** Its address and port, for messages. */
  readonly who: string;
  /**
   * Call `cb` once, when the connection closes; returns a function that
   * cancels it. Both are O(1), however many requests are waiting: one
   * listener on the socket serves them all (an AbortSignal walks its
   * listeners on every add, which made pipelined requests cost quadratic time).
   */
  onClose(cb: () => void): () => void;
}

/** The callbacks waiting for one connection to close, in a Set. */
class Closers implements ClientConn {
  private readonly cbs = new Set<() => void>();
  private closed = false;

  constructor(readonly who: string) {}

  onClose(cb: () => void): () => void {
    if (this.closed) {
      queueMicrotask(cb);
      return () => undefined;
    }
    const entry = (): void => cb(); // a fresh function: the same cb twice is two entries
    this.cbs.add(entry);
    return () => void this.cbs.delete(entry);
  }

  close(): void {
    this.closed = true;
    const cbs = [...this.cbs];
    this.cbs.clear();
    for (const cb of cbs) cb();
  }
}

/** How much unread output a connection may leave (see src/paxos/defaults.ts). */
export interface OutputLimits {
  readonly softBytes: number;
  readonly hardBytes: number;
  readonly softMs: number;
}

export const OUTPUT_LIMITS: OutputLimits = {
  softBytes: OUTPUT_SOFT_BYTES,
  hardBytes: OUTPUT_HARD_BYTES,
  softMs: OUTPUT_SOFT_MS,
};

export interface Conn {
  /** The accepted socket; with TLS, the TLS socket on it once its handshake is done. */
  socket: net.Socket;
  /** The peer id it proved or announced; null for clients and the unintroduced. */
  peer: PeerId | null;
  lastHeard: number;
  /** When its unread output passed the soft limit (reading paused since); 0: under it. */
  overSince: number;
}

export function serveConnection<M extends PeerMessage, Req, Res>(
  conn: Conn,
  on: InboundHandlers<M, Req, Res>,
  opts: {
    log: Logger;
    notice: (msg: string) => void;
    output: OutputLimits;
    maxInFlight: number;
    unfinished: LineBudget;
    secret: Secret | null;
    self: PeerId;
    codec: Codec<M, Req, Res>;
    maxPeerLineBytes: number;
    /** With TLS: what the connection's certificate lets it be; null: a plain connection. */
    check: CertCheck | null;
    nameOf: (id: PeerId) => string | undefined;
  },
  /** It proved itself (or, running open, spoke): it no longer counts as half-open. */
  established: () => void,
): void {
  const { socket } = conn;
  const { log, secret, self, codec } = opts;
  const { softBytes, hardBytes } = opts.output;
  socket.setNoDelay(true);
  const who = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
  const closers = new Closers(who);
  socket.once('close', () => closers.close());
  // With a secret, nothing but the handshake is read until it succeeds.
  const serverNonce = secret === null ? '' : newNonce();
  let authed: number | null = secret === null ? null : -1; // -1: not yet; else the proven id (0 = client)
  // With a secret, every line after the handshake carries a MAC, each way (message-mac.ts).
  let mac: MessageMac | null = null;
  const refuse = (why: string): void => {
    log.warn(`closing connection from ${who}: ${why}`);
    socket.destroy();
  };
  /** With TLS, a connection that says it is peer `from` must hold a certificate for it; else it is refused. */
  const badPeerCert = (from: number): boolean => {
    if (opts.check === null || from === 0) return false;
    const problem = peerCertProblem(opts.check, from, opts.nameOf(from));
    if (problem === undefined) return false;
    log.warn(`closing connection from ${who}: ${problem}`);
    refuseWithLine(socket, refusedLine('certificate', problem));
    return true;
  };
  // A bad line is dropped. The first few get a warning each, then one says
  // the rest go unreported; a connection that keeps at it is closed.
  let badLines = 0;
  const dropBad = (warning: string): void => {
    badLines += 1;
    if (badLines >= MAX_BAD_LINES) {
      return refuse(
        `it sent ${badLines} lines that had to be dropped (not JSON, not a valid message, too long or not ` +
          `UTF-8); is it the right program, and version?`,
      );
    }
    if (badLines <= BAD_LINES_WARNED) log.warn(warning);
    if (badLines === BAD_LINES_WARNED)
      log.warn(`suppressing further warnings about bad lines from ${who}; it is closed at ${MAX_BAD_LINES}`);
  };
  // Lines written in one turn of the event loop go out in one write
  // (line-writer.ts): a replica answers clients in bursts.
  const out = new LineWriter(socket, (v: object) => (mac === null ? JSON.stringify(v) : mac.seal(JSON.stringify(v))));
  const send = (obj: object): void => {
    if (!socket.writable) return;
    const before = out.backlog;
    out.write(obj);
    if (out.backlog > softBytes) backpressure(before);
  };
  // Backpressure: answers pile up in memory when the other end does not read
  // them. Past the soft limit, read no more requests from it until they
  // drain; past the hard limit (on top of the soft one), cut it off.
  const backpressure = (before: number): void => {
    if (before > softBytes && out.backlog > hardBytes) {
      log.warn(
        `closing the connection from ${who}: it is not reading its answers (${mib(out.backlog)} MiB unread, ` +
          `over the ${mib(hardBytes)} MiB limit)`,
      );
      socket.destroy();
      return;
    }
    if (conn.overSince > 0) return;
    conn.overSince = performance.now();
    log.debug(`not reading from ${who} until it reads its answers (${mib(out.backlog)} MiB unread)`);
    // The answers gathered this turn leave at its end; the pause ends once
    // they and the socket's buffer have drained.
    out.whenDrained(() => {
      conn.overSince = 0;
      repause();
    });
    repause();
  };
  // Client requests read and not yet answered. Past maxInFlight, read no
  // more until answers bring them down to half (hysteresis: no flapping).
  let inFlight = 0;
  let tooManyInFlight = false;
  const answered = (): void => {
    inFlight -= 1;
    if (!tooManyInFlight || inFlight > opts.maxInFlight / 2) return;
    tooManyInFlight = false;
    repause();
  };
  // Two reasons pause reading (unread output, too many requests in flight):
  // read again only when neither holds. socket.pause stops reading from the
  // kernel (the client's writes back up into its own buffers); reader.pause
  // holds the rest of the chunk already read.
  const repause = (): void => {
    const paused = (): boolean => conn.overSince > 0 || tooManyInFlight;
    if (paused()) {
      socket.pause();
      reader.pause();
      return;
    }
    reader.resume(); // may hand out held lines, which may pause again
    if (!socket.destroyed && !paused()) socket.resume();
  };
  /** A connector that names a peer other than us reached us by a stale address. */
  const wrongPeer = (to: number): boolean => {
    if (to === 0 || self === 0 || to === self) return false;
    refuse(`it meant peer_id ${to}, but this is peer_id ${self} (a stale address?)`);
    return true;
  };
  let authTimer: NodeJS.Timeout | undefined;
  let halfOpen = true;

  const reader = new LineReader(
    MAX_LINE_BYTES,
    (sealed) => {
      if (socket.destroyed) return;
      const line = mac === null ? sealed : mac.open(sealed);
      if (line === null) {
        const sender = authed === 0 ? 'a client' : `peer_id ${authed}`;
        return refuse(
          `a line from ${sender} failed its integrity check (no MAC, or not this line's: altered in flight, ` +
            `replayed or out of order?); dropped it`,
        );
      }
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch {
        if (authed === -1) return refuse('it sent something other than the authentication handshake');
        return dropBad(
          `dropping malformed line from ${who} (not JSON): ${line.slice(0, 60)}${line.length > 60 ? '...' : ''}`,
        );
      }
      if (halfOpen && secret === null) {
        halfOpen = false;
        established();
      }
      if (authed === -1 && secret !== null) {
        const a = raw as { type?: unknown; from?: unknown; to?: unknown; nonce?: unknown; mac?: unknown };
        const to = a?.to ?? 0;
        if (
          a?.type !== 'auth' ||
          !Number.isSafeInteger(a.from) ||
          (a.from as number) < 0 ||
          !Number.isSafeInteger(to) ||
          (to as number) < 0 ||
          !isNonce(a.nonce)
        ) {
          // The challenge may still wait in our writer (a TLS client's request comes with its handshake):
          // out first, so the client learns it needs the secret, then close.
          log.warn(
            `closing connection from ${who}: it did not authenticate (is it running without the shared secret?)`,
          );
          out.flush();
          return void refuseWithLine(socket, '');
        }
        const from = a.from as number;
        if (wrongPeer(to as number)) return;
        if (badPeerCert(from)) return;
        if (!sameMac(a.mac, handshakeMac(secret, 'client', serverNonce, a.nonce, from, to as number))) {
          return refuse(`${from === 0 ? 'a client' : `peer_id ${from}`} failed authentication (a wrong secret?)`);
        }
        clearTimeout(authTimer);
        halfOpen = false;
        established();
        authed = from;
        send({ type: 'auth_ok', mac: handshakeMac(secret, 'server', serverNonce, a.nonce, from, to as number) });
        // The auth_ok went out as it is; every line after it, each way, is sealed (on a TLS connection, TLS does).
        if (opts.check === null)
          mac = new MessageMac(secret, { serverNonce, clientNonce: a.nonce, from, to: to as number }, 'server');
        if (from > 0) {
          conn.peer = from;
          reader.setMaxBytes(opts.maxPeerLineBytes);
          reader.unbudgeted(); // it proved the secret
          on.hello?.(from);
        }
        return;
      }
      const d = codec.decode(raw, line);
      const reply = (res: Res): void => send(res as object);
      if (!d.ok) {
        dropBad(`dropping invalid message from ${who}: ${d.why}`);
        if (socket.destroyed) return;
        // A client gets told why, instead of waiting for an answer that never comes.
        const answer = codec.invalidReply(raw, d.why);
        if (answer !== null) reply(answer);
      } else if ('ping' in d) send({ type: 'pong' });
      else if ('hello' in d) {
        if (wrongPeer(d.hello.to)) return;
        if (badPeerCert(d.hello.from)) return;
        conn.peer = d.hello.from;
        // Only an unauthenticated connection is held to the client limit after this.
        if (d.hello.from > 0 && (secret === null || authed === d.hello.from)) reader.setMaxBytes(opts.maxPeerLineBytes);
        send({ type: 'welcome', from: self });
        on.hello?.(d.hello.from);
      } else if ('client' in d) {
        if (authed !== null && authed !== 0)
          return dropBad(`dropping a client request from ${who}: it authenticated as peer_id ${authed}`);
        log.debug(`client ${who}: ${JSON.stringify(d.client).slice(0, 80)}`);
        if (on.client === undefined) return;
        // Nothing will answer it, so it must not count as in flight: a dump's
        // acks would fill the window and stop the reads that bring the next ack.
        if (d.oneWay === true) return on.client(d.client, () => undefined, closers);
        let done = false;
        const answer = (res: Res): void => {
          if (!done) {
            done = true;
            answered();
          }
          send(res as object);
        };
        inFlight += 1;
        if (inFlight >= opts.maxInFlight && !tooManyInFlight) {
          tooManyInFlight = true;
          log.debug(
            `not reading from ${who} until its ${inFlight} requests in flight are down to ` +
              `${Math.floor(opts.maxInFlight / 2)}`,
          );
          repause();
        }
        on.client(d.client, answer, closers);
      } else if (authed !== null && d.msg.from !== authed) {
        dropBad(`dropping ${d.msg.type} from ${who}: it claims peer_id ${d.msg.from} but authenticated as ${authed}`);
      } else on.message(d.msg);
    },
    (why) =>
      authed === -1
        ? refuse(`it sent ${why} before authenticating`)
        : // A sealed line dropped unread leaves the counts apart: every later line would fail its MAC.
          mac !== null
          ? refuse(`it sent ${why}, which cannot be checked and skipped`)
          : dropBad(`dropping ${why} from ${who}`),
    {
      of: opts.unfinished,
      over: (bytes) => {
        // Throttled: a flood of such connections must not flood stderr too.
        opts.notice(
          `closing the connection from ${who}: its unfinished line (${bytes} bytes) does not fit in what this ` +
            `listener holds for unfinished lines (${mib(opts.unfinished.max)} MiB over all connections; a ` +
            `flood of slow senders?)`,
        );
        socket.destroy();
      },
    },
  );
  socket.once('close', () => reader.discard());
  // The challenge goes out once the reader exists (send may pause it).
  if (secret !== null) {
    send({ type: 'challenge', nonce: serverNonce });
    authTimer = setTimeout(() => {
      opts.notice(`closing a connection from ${who}: no authentication within ${AUTH_TIMEOUT_MS / 1000} s`);
      socket.destroy();
    }, AUTH_TIMEOUT_MS);
    socket.once('close', () => clearTimeout(authTimer));
  }
  let first = true;
  socket.on('data', (chunk: Buffer) => {
    conn.lastHeard = performance.now();
    // A TLS handshake's first byte: no line starts so. Said in words, not as a bad line.
    if (first && opts.check === null && chunk[0] === 0x16)
      return refuse(
        'it speaks TLS, and this peer does not (no --ca, --cert, --key): connect without TLS, or give this peer ' +
          'TLS flags',
      );
    first = false;
    reader.push(chunk);
  });
  socket.on('error', (err: NodeJS.ErrnoException) => log.debug(`connection from ${who}: ${err.code ?? err.message}`));
  // An unfinished last line is dropped with the connection: it may be cut short.
}

/** Write `line` (a refusal said in words), then close: the other end reads why before the connection ends. */
export function refuseWithLine(socket: net.Socket, line: string): void {
  socket.pause();
  if (!socket.writable) return void socket.destroy();
  socket.end(line);
  socket.once('finish', () => socket.destroy());
  // A peer that never reads its end must not hold the socket open.
  setTimeout(() => socket.destroy(), 5000).unref();
}

export function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

// One outbound, persistent connection to a peer. Each peer sends on its own
// outbound links and reads on the connections others opened to it, so a pair
// of peers shares two long-lived sockets, one per direction.
//
// Messages are queued (p-queue, one at a time, so in order) until the link
// is up. A peer that is not up yet, whose name does not resolve yet, or that
// went away is retried with capped, randomized exponential backoff, and
// every attempt looks its name up again: a restarted container may come
// back at another address, and its old address may now be another peer's.
//
// A link is up only once the peer has said who it is (a welcome, or the
// proof of a shared secret) and that is the peer we meant. From then on it
// pings every heartbeat; the peer answers each ping, and a link that hears
// nothing for `deadAfterMs` is declared down, closed and redialed (see
// liveness.ts for why TCP alone cannot tell).

import dns from 'node:dns';
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import PQueue from 'p-queue';
import { backoffDelay } from '../util/backoff.js';
import type { PeerId } from '../paxos/ids.js';
import type { Logger } from '../util/logger.js';
import { introduce, type Secret } from './auth.js';
import { dial, tlsFailure } from './tls.js';
import type { PeerTls } from '../config/tls-files.js';
import { LineWriter } from './line-writer.js';
import { LineReader } from './lines.js';
import { DEFAULT_LIVENESS, type Liveness } from '../config/liveness.js';
import {
  MAX_LINE_BYTES,
  MAX_QUEUED,
  RECONNECT_BASE_MS,
  RECONNECT_CAP_MS,
  WARN_AFTER_FAILURES,
} from '../paxos/defaults.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** The heartbeat; the one line a link writes that is not the protocol's. */
const PING = Object.freeze({ type: 'ping' });
const PING_LINE = JSON.stringify(PING);

export interface LinkOptions<M extends object = object> {
  /** Our own peer id, announced (or proven, with a secret) when a connection opens. */
  readonly self: PeerId;
  /** The peer id we mean to reach; a peer that says otherwise is hung up on. */
  readonly peer: PeerId;
  readonly secret?: Secret | null;
  /** --ca, --cert, --key: connect with TLS, present our certificate, and check the peer's (for its hostsfile name). */
  readonly tls?: PeerTls | null;
  readonly liveness?: Liveness;
  readonly log: Logger;
  /**
   * Hold messages while the link is down and send them once it is up
   * (default), or drop them: the replicated log resends what matters and
   * catches a returning peer up from its log or a snapshot, so replaying a
   * backlog of stale messages would only delay it.
   */
  readonly queueWhileDown?: boolean;
  /** Name resolution, once per connection attempt (tests count the calls). */
  readonly lookup?: typeof dns.lookup;
  /** A message's JSON, on one line (default JSON.stringify): the protocol's own encoder, if it has one. */
  readonly encode?: (msg: M) => string;
}

interface Conn {
  readonly socket: net.Socket;
  /** Lines out, one write per turn of the event loop (line-writer.ts). */
  readonly out: LineWriter;
  readonly closed: Promise<void>;
  /** Whether a protocol message (not just the handshake) went out on it. */
  used: boolean;
  /** performance.now() when the peer last sent us anything on it. */
  lastHeard: number;
  /** performance.now() when the oldest ping not yet answered left, or null. */
  pingAt: number | null;
}

/** `p`, or `late` once `ms` have passed without it (the timer does not keep the process alive). */
function orAfter<T, L>(p: Promise<T>, ms: number, late: L): Promise<T | L> {
  return Promise.race([p, new Promise<L>((resolve) => setTimeout(() => resolve(late), ms).unref())]);
}

export class PeerLink<M extends object = object> extends EventEmitter<{ up: []; down: [] }> {
  private readonly queue = new PQueue({ concurrency: 1 });
  private conn: Conn | null = null;
  /** The socket being connected or connected, so close() can end it either way. */
  private socket: net.Socket | null = null;
  private failures = 0;
  private warnedSecret = false;
  private warnedFull = false;
  /**
   * The kinds of failure warned about since the link was last up. Each is
   * warned once per outage, not on every redial: behind a fault proxy a down
   * peer's every redial is accepted and closed during the handshake, and
   * would otherwise fill stderr. Cleared, with a word that the peer is back,
   * when the link comes up.
   */
  private readonly warnedDown = new Set<string>();
  private wasUp = false;
  private rtt: number | null = null;
  /** Failures since the link was last up (`failures`, for the backoff, outlives a connection that closed unused). */
  private failuresSinceUp = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private stopped = false;
  private waiters: Array<(c: Conn | null) => void> = [];
  /** The address the name resolved to last, to say when it changes. */
  private address = '';
  /**
   * The name lookup under way, if any. getaddrinfo runs on libuv's small
   * thread pool, which disk writes share; a name Docker's DNS cannot answer
   * can take many seconds. So a link never has two lookups going: a redial
   * waits for the one it already started.
   */
  private lookingUp: Promise<{ address: string; family: number } | { error: string }> | null = null;
  private readonly liveness: Liveness;
  private readonly secret: Secret | null;
  private readonly log: Logger;

  constructor(
    readonly name: string,
    readonly endpoint: Endpoint,
    private readonly opts: LinkOptions<M>,
  ) {
    super();
    this.liveness = opts.liveness ?? DEFAULT_LIVENESS;
    this.secret = opts.secret ?? null;
    this.log = opts.log;
  }

  get isUp(): boolean {
    return this.conn !== null;
  }

  /**
   * The last round trip measured, in ms: from a ping to the first bytes the
   * peer sent back after it (its pong), or null before the first. Kept while
   * the link is down (isUp says so).
   */
  get rttMs(): number | null {
    return this.rtt;
  }

  start(): void {
    this.connect();
  }

  /** Queue `msg`; it is written, in order, once the link is up. */
  send(msg: M): void {
    if (this.conn === null && this.opts.queueWhileDown === false) return;
    if (this.queue.size >= MAX_QUEUED) {
      if (!this.warnedFull)
        this.log.warn(
          `${this.name} is down and ${MAX_QUEUED} messages wait for it; dropping new ones until it is back`,
        );
      this.warnedFull = true;
      return;
    }
    // Up, nothing waiting, no backpressure: write now (the common case under
    // load, and much cheaper than a queued task per message).
    const up = this.conn;
    if (up !== null && this.queue.size === 0 && this.queue.pending === 0 && !up.out.needsDrain) {
      this.write(up, msg);
      return;
    }
    void this.queue.add(async () => {
      const c = this.conn ?? (await this.nextConn());
      if (c === null) return; // the link was closed
      if (!this.write(c, msg)) await Promise.race([once(c.socket, 'drain').catch(() => undefined), c.closed]);
    });
  }

  /** Everything written in one turn of the event loop leaves in one write (LineWriter). False: wait for 'drain'. */
  private write(c: Conn, msg: M): boolean {
    c.used = true;
    c.out.write(msg);
    return !c.out.needsDrain;
  }

  /** Write what this turn sent now, not at the end of the turn (LineWriter.flush). */
  flush(): void {
    this.conn?.out.flush();
  }

  /**
   * The peer is up (it just connected to us): if we are waiting out a
   * backoff, try again now rather than when the timer fires.
   */
  kick(): void {
    if (this.conn !== null || this.retryTimer === null || this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  /**
   * The peer did not answer a protocol round. If the link has also missed
   * two heartbeats' worth of pongs, do not wait for the full timeout: a
   * retry into this socket would only be lost with it.
   */
  suspect(): void {
    const c = this.conn;
    if (c === null) return;
    const silent = performance.now() - c.lastHeard;
    if (silent > 2 * this.liveness.heartbeatMs) this.declareDead(c, silent, 'it did not answer a round');
  }

  /**
   * Resolves once every queued message is written and the connection takes
   * more without buffering (true), or as soon as the link is down or closed
   * (false): a sender of a long stream (a snapshot) waits on this between
   * pieces, so it never holds more than a socket's buffer in memory.
   */
  async drained(): Promise<boolean> {
    await this.queue.onIdle();
    const c = this.conn;
    if (c === null) return false;
    // What this turn wrote goes to the socket now, so that its buffer, not a string here, says when to wait.
    c.out.flush();
    while (this.conn === c && c.socket.writableNeedDrain) {
      await Promise.race([once(c.socket, 'drain').catch(() => undefined), c.closed]);
    }
    return this.conn === c;
  }

  /** Messages written or waiting. */
  get pending(): number {
    return this.queue.size + this.queue.pending;
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.stopHeartbeat();
    this.queue.clear();
    for (const w of this.waiters.splice(0)) w(null);
    this.socket?.destroy();
    this.socket = null;
    this.conn = null;
  }

  private nextConn(): Promise<Conn | null> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private connect(): void {
    if (this.stopped) return;
    void this.resolve().then((r) => {
      if (this.stopped) return;
      if ('error' in r) return this.retryAfterFailure(r.error);
      if (r.address !== this.address) {
        if (this.address !== '') this.log.info(`${this.name} now resolves to ${r.address} (was ${this.address})`);
        this.address = r.address;
      }
      this.dial(r.address);
    });
  }

  /** Look the name up again (every attempt: a restarted container may be elsewhere now). */
  private resolve(): Promise<{ address: string; family: number } | { error: string }> {
    const host = this.endpoint.host;
    const family = net.isIP(host);
    if (family !== 0) return Promise.resolve({ address: host, family });
    const lookup = this.opts.lookup ?? dns.lookup;
    if (this.lookingUp === null) {
      const pending: Promise<{ address: string; family: number } | { error: string }> = new Promise((resolve) =>
        lookup(host, {}, (err, address, fam) =>
          resolve(err === null ? { address, family: fam } : { error: err.code ?? err.message }),
        ),
      );
      this.lookingUp = pending;
      // Cleared when it settles (the callback may even run synchronously).
      void pending.then(() => {
        if (this.lookingUp === pending) this.lookingUp = null;
      });
    }
    const ms = this.liveness.deadAfterMs;
    return orAfter(this.lookingUp, ms, { error: `no answer to the name lookup within ${ms / 1000} s` });
  }

  /**
   * `accepted`: the peer's address took the connection, so a failed handshake was warned about already (by its kind).
   */
  private retryAfterFailure(why: string, accepted = false): void {
    this.failures += 1;
    this.failuresSinceUp += 1;
    const msg = `${this.name} at ${this.where()} not reachable (${why}); retrying`;
    if (!accepted && this.failuresSinceUp >= WARN_AFTER_FAILURES)
      this.warnDown(why, `${msg} (still trying after ${this.failuresSinceUp} attempts)`);
    else this.log.debug(msg);
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = null;
        this.connect();
      },
      backoffDelay(this.failures, RECONNECT_BASE_MS, RECONNECT_CAP_MS, Math.random),
    );
  }

  private dial(address: string): void {
    const tls = this.opts.tls ?? null;
    // With TLS, the peer's certificate must hold its hostsfile name (or the name or address dialled: tls.ts).
    const dialed = dial(
      { host: address, port: this.endpoint.port },
      tls,
      this.endpoint.host === address ? this.name : this.endpoint.host,
    );
    const socket = dialed.socket;
    this.socket = socket;
    let conn: Conn | null = null;
    let accepted = false;
    let secure = false;
    let lastError = '';
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // A connect to an address nobody holds any more (a container that came
    // back elsewhere) gets no answer at all: the kernel would resend the SYN
    // for about two minutes. Give up after the peer timeout, and look again.
    const connectTimer = setTimeout(() => {
      lastError = `no answer to connect within ${this.liveness.deadAfterMs / 1000} s`;
      socket.destroy();
    }, this.liveness.deadAfterMs);
    socket.once('close', () => clearTimeout(connectTimer));
    socket.once(dialed.ready, async () => {
      clearTimeout(connectTimer);
      accepted = true;
      secure = true;
      if (this.stopped) {
        socket.destroy();
        return;
      }
      // Nothing goes out before the handshake: the peer must say who it is
      // (and, with a secret, prove it holds it too).
      const intro = await introduce(socket, {
        from: this.opts.self,
        to: this.opts.peer,
        secret: this.secret,
        timeoutMs: this.liveness.deadAfterMs,
        tls: tls !== null,
      });
      if (!intro.ok) {
        lastError = `handshake failed: ${intro.why}`;
        // Said once per outage and kind (retryAfterFailure then stays quiet
        // about it too); a missing secret, once for good.
        const msg = `${this.name} at ${this.where()}: ${intro.why}; closing`;
        const starting = intro.closed === true && !this.wasUp;
        if (starting && this.failuresSinceUp < WARN_AFTER_FAILURES) this.log.debug(msg);
        else if (starting) this.warnDown(lastError, `${msg} (still trying after ${this.failuresSinceUp} attempts)`);
        else if (intro.needsSecret !== true) this.warnDown(lastError, msg);
        else if (!this.warnedSecret) this.warnDown(lastError, `${this.name} at ${this.where()} ${intro.why}`);
        if (intro.needsSecret === true) this.warnedSecret = true;
        socket.destroy();
        return;
      }
      if (this.stopped || socket.destroyed) {
        socket.destroy();
        return;
      }
      const encode = this.opts.encode;
      const line = (m: object): string =>
        m === PING ? PING_LINE : encode === undefined ? JSON.stringify(m) : encode(m as M);
      // The link writes only its messages and its own pings; with a secret, each sealed (message-mac.ts).
      const mac = intro.mac;
      const out = new LineWriter(socket, mac === null ? line : (m: object) => mac.seal(line(m)));
      const c: Conn = { socket, out, closed, used: false, lastHeard: performance.now(), pingAt: null };
      conn = c;
      // The peer only ever writes pongs here: any byte means it is alive, and
      // answers the oldest ping. With a secret, each pong's MAC is checked too,
      // and one that fails ends the link.
      const reader =
        mac === null
          ? null
          : new LineReader(
              MAX_LINE_BYTES,
              (l) => {
                if (mac.open(l) !== null || socket.destroyed) return;
                lastError = 'a line failed its integrity check';
                this.log.warn(
                  `${this.name} at ${this.where()}: a line from it failed its integrity check (no MAC, or not ` +
                    `this line's: altered in flight, replayed or out of order?); dropped it, closing the link`,
                );
                socket.destroy();
              },
              () => socket.destroy(),
            );
      socket.on('data', (chunk: Buffer) => {
        c.lastHeard = performance.now();
        if (c.pingAt !== null) this.rtt = c.lastHeard - c.pingAt;
        c.pingAt = null;
        reader?.push(chunk);
      });
      this.conn = c;
      this.startHeartbeat(c);
      this.log.debug(`connected to ${this.name} at ${this.where()}`);
      if (this.warnedDown.size > 0) {
        // At the warnings' level: whoever saw them is told it is over.
        this.log.warn(`${this.name} is reachable ${this.wasUp ? 'again' : 'now'} (at ${this.where()})`);
        this.warnedDown.clear();
      }
      this.wasUp = true;
      this.failuresSinceUp = 0;
      this.emit('up');
      for (const w of this.waiters.splice(0)) w(c);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      lastError = err.code ?? err.message;
      // A TLS handshake that fails is a setting to fix, not a peer still starting: said at once (once per outage).
      if (tls === null || secure || err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH') return;
      lastError = `TLS: ${tlsFailure(err, false, dialed.checked)}`;
      accepted = true;
      this.warnDown(lastError, `${this.name} at ${this.where()}: ${lastError}; retrying`);
    });
    socket.once('close', () => {
      if (this.socket === socket) this.socket = null;
      if (conn !== null && this.conn === conn) {
        this.conn = null;
        this.stopHeartbeat();
        this.log.info(
          `connection to ${this.name} at ${this.where()} closed${lastError ? ` (${lastError})` : ''}; reconnecting`,
        );
        this.emit('down');
      }
      if (this.stopped) return;
      // A connection that carried messages was healthy: come straight back.
      // One that never connected, or closed unused (a peer that accepts and
      // hangs up), backs off, so a flapping peer cannot make us spin.
      if (conn === null) return this.retryAfterFailure(lastError || 'closed', accepted);
      if (!conn.used) return this.retryAfterFailure('it closed an unused connection');
      this.failures = 0;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.connect();
      }, 0);
    });
  }

  /** Warn about a kind of failure the first time in an outage; later times only at debug level. */
  private warnDown(kind: string, msg: string): void {
    if (this.warnedDown.has(kind)) return this.log.debug(msg);
    this.warnedDown.add(kind);
    this.log.warn(msg);
  }

  /** Ping every heartbeat; a link that heard nothing for deadAfterMs is dead. */
  private startHeartbeat(c: Conn): void {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      const silent = performance.now() - c.lastHeard;
      if (silent > this.liveness.deadAfterMs) return this.declareDead(c, silent, 'no answer to heartbeats');
      // A peer that stopped reading fills the socket; more pings would only queue.
      if (!c.out.needsDrain) {
        c.out.write(PING);
        c.pingAt ??= performance.now();
      }
    }, this.liveness.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private declareDead(c: Conn, silentMs: number, why: string): void {
    if (this.conn !== c) return;
    this.log.warn(
      `${this.name} at ${this.where()}: nothing heard for ${(silentMs / 1000).toFixed(1)} s (${why}); closing ` +
        `the link and redialing`,
    );
    // Written but unanswered, the connection's messages are as good as
    // lost; Paxos retries what matters. Treat it as used: redial at once.
    c.used = true;
    c.socket.destroy();
  }

  private where(): string {
    const resolved = this.address !== '' && this.address !== this.endpoint.host ? ` (${this.address})` : '';
    return `${this.endpoint.host}:${this.endpoint.port}${resolved}`;
  }
}

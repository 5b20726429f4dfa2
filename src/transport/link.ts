// One outbound, persistent connection to a peer. Each peer sends on its own
// outbound links and reads on the connections others opened to it, so a pair
// of peers shares two long-lived sockets, one per direction.
//
// Messages are queued (p-queue, one at a time, so in order) until the link
// is up. A peer that is not up yet, whose name does not resolve yet, or that
// went away is retried with capped, randomized exponential backoff.

import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import type { Transform } from 'node:stream';
import ndjson from 'ndjson';
import PQueue from 'p-queue';
import { backoffDelay } from '../core/backoff.js';
import type { Message, PeerId } from '../core/types.js';
import type { Logger } from '../daemon/logger.js';
import { introduce, type Secret } from './auth.js';
import { LineReader } from './lines.js';
import { MAX_LINE_BYTES } from '../core/limits.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export const RECONNECT_BASE_MS = 20;
export const RECONNECT_CAP_MS = 1000;
/** Consecutive failures before a still-unreachable peer earns a warning. */
const WARN_AFTER_FAILURES = 20;

interface Conn {
  readonly socket: net.Socket;
  readonly out: Transform;
  readonly closed: Promise<void>;
  /** Whether a protocol message (not just the hello) went out on it. */
  used: boolean;
}

export class PeerLink extends EventEmitter<{ up: []; down: [] }> {
  private readonly queue = new PQueue({ concurrency: 1 });
  private conn: Conn | null = null;
  /** The socket being connected or connected, so close() can end it either way. */
  private socket: net.Socket | null = null;
  private failures = 0;
  private warnedSecret = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private waiters: Array<(c: Conn | null) => void> = [];

  constructor(
    readonly name: string,
    readonly endpoint: Endpoint,
    private readonly log: Logger,
    /** Our own peer id, announced (or proven, with a secret) when a connection opens. */
    private readonly self: PeerId = 0,
    private readonly secret: Secret | null = null,
  ) {
    super();
  }

  get isUp(): boolean {
    return this.conn !== null;
  }

  start(): void {
    this.connect();
  }

  /** Queue `msg`; it is written, in order, once the link is up. */
  send(msg: Message): void {
    void this.queue.add(async () => {
      const c = this.conn ?? (await this.nextConn());
      if (c === null) return; // the link was closed
      c.used = true;
      if (!c.out.write(msg)) await Promise.race([once(c.out, 'drain').catch(() => undefined), c.closed]);
    });
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

  /** Messages written or waiting. */
  get pending(): number {
    return this.queue.size + this.queue.pending;
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
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
    const socket = net.connect({ host: this.endpoint.host, port: this.endpoint.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    // We never read on this socket, but must consume so a remote close is seen.
    socket.resume();
    let conn: Conn | null = null;
    let lastError = '';
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.once('connect', async () => {
      if (this.stopped) {
        socket.destroy();
        return;
      }
      // Nothing goes out before the handshake: with a secret, the peer must
      // prove it holds it too.
      const intro = await introduce(socket, this.self, this.secret);
      if (!intro.ok) {
        lastError = `handshake failed: ${intro.why}`;
        this.log.warn(`${this.name} at ${this.where()}: ${intro.why}; closing`);
        socket.destroy();
        return;
      }
      if (this.stopped || socket.destroyed) {
        socket.destroy();
        return;
      }
      if (this.secret === null) this.watchForChallenge(socket);
      const out = ndjson.stringify();
      out.on('error', (err: Error) => this.log.debug(`encoder for ${this.name}: ${err.message}`));
      out.pipe(socket);
      conn = { socket, out, closed, used: false };
      this.conn = conn;
      this.log.debug(`connected to ${this.name} at ${this.where()}`);
      this.emit('up');
      for (const w of this.waiters.splice(0)) w(conn);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      lastError = err.code ?? err.message;
    });
    socket.once('close', () => {
      if (this.socket === socket) this.socket = null;
      if (conn !== null) {
        this.conn = null;
        this.log.info(`connection to ${this.name} at ${this.where()} closed${lastError ? ` (${lastError})` : ''}; reconnecting`);
        this.emit('down');
      }
      if (this.stopped) return;
      // A connection that carried messages was healthy: come straight back.
      // One that never connected, or closed unused (a peer that accepts and
      // hangs up), backs off, so a flapping peer cannot make us spin.
      if (conn?.used === true) this.failures = 0;
      else this.failures += 1;
      if (conn === null) {
        const msg = `${this.name} at ${this.where()} not reachable (${lastError || 'closed'}); retrying`;
        if (this.failures === WARN_AFTER_FAILURES) this.log.warn(`${msg} (still trying after ${this.failures} attempts)`);
        else this.log.debug(msg);
      }
      const ms = this.failures === 0 ? 0 : backoffDelay(this.failures, RECONNECT_BASE_MS, RECONNECT_CAP_MS, Math.random);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.connect();
      }, ms);
    });
  }

  /**
   * We have no secret. A peer that challenges us will drop what we send:
   * say so once, and hang up (an unused connection, so retries back off).
   */
  private watchForChallenge(socket: net.Socket): void {
    const reader = new LineReader(
      MAX_LINE_BYTES,
      (line) => {
        if (!line.includes('"challenge"')) return;
        if (!this.warnedSecret) this.log.warn(`${this.name} at ${this.where()} requires a shared secret, and this peer has none (--secret-file or PAXOS_SECRET)`);
        this.warnedSecret = true;
        socket.destroy();
      },
      () => undefined,
    );
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
  }

  private where(): string {
    return `${this.endpoint.host}:${this.endpoint.port}`;
  }
}

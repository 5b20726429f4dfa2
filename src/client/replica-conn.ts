// One long-lived connection to one replica, for the client library
// (api.ts): authenticated once, then any number of requests in flight on
// it, each matched to its answer by id. Each request ends as kv.ts's
// kvRequest does, in one of three ways kept apart:
//   reply:       the replica answered;
//   unreachable: the request never left (nothing happened);
//   unknown:     it was sent, but no answer came in time, the connection
//                broke, or the caller gave up (it may or may not take effect).
// A long-lived connection is what lets a client's gets use the read index:
// a new process per command sends every first get through the log.

import net from 'node:net';
import type { ClientTls } from '../config/tls-files.js';
import { MAX_LINE_BYTES } from '../paxos/defaults.js';
import { introduce, type Secret } from '../transport/auth.js';
import type { MessageMac } from '../transport/message-mac.js';
import type { Endpoint } from '../transport/link.js';
import { LineReader } from '../transport/lines.js';
import { dial, refusedWhy, tlsFailure } from '../transport/tls.js';
import { rangeRequestWire, type KvRequest, type KvResult } from '../wire/kv.js';
import { encodeCommand } from '../sm/command.js';
import { checkKvResult, type KvOutcome } from './kv.js';

interface Waiting {
  readonly settle: (o: KvOutcome) => void;
}

/** A stream of answers to one request (a watch): each as it comes, then why it ended. */
export interface Subscriber {
  readonly answer: (r: KvResult) => void;
  /** The connection ended (or the replica wanted a secret): no more answers. */
  readonly ended: (why: string) => void;
}

export class ReplicaConn {
  private readonly waiting = new Map<string, Waiting>();
  private readonly streams = new Map<string, Subscriber>();
  private dead: string | null = null;
  /** It died asking for the shared secret: requests on it were never read. */
  private wantsSecret = false;

  private constructor(
    private readonly socket: net.Socket,
    private readonly who: string,
    /** With a secret: seals what we send, opens what comes back (transport/message-mac.ts). */
    private readonly mac: MessageMac | null,
  ) {
    const reader = new LineReader(
      MAX_LINE_BYTES * 64,
      (line) => this.onLine(line),
      (why) => this.fail(`it sent ${why}`),
    );
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(`the connection failed (${err.code ?? err.message})`));
    socket.once('close', () => this.fail(`${who} closed the connection`));
  }

  /**
   * Connect (with TLS when `tls` is given, checking the replica's certificate
   * for `who`, its name, or its address: transport/tls.ts) and authenticate;
   * `why` says what went wrong (`auth`: the secret or TLS refused us).
   */
  static open(
    at: Endpoint,
    who: string,
    secret: Secret | null,
    timeoutMs: number,
    tls: ClientTls | null = null,
  ): Promise<ReplicaConn | { readonly why: string; readonly auth?: true }> {
    return new Promise((resolve) => {
      let done = false;
      const { socket, ready, checked } = dial(at, tls, who);
      const finish = (r: ReplicaConn | { why: string; auth?: true }): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.off('error', onError);
        if (!(r instanceof ReplicaConn)) socket.destroy();
        resolve(r);
      };
      const timer = setTimeout(() => finish({ why: `could not connect within ${timeoutMs / 1000} s` }), timeoutMs);
      const onError = (err: NodeJS.ErrnoException): void =>
        finish(
          tls !== null && err.code !== 'ECONNREFUSED'
            ? { why: tlsFailure(err, false, checked), auth: true }
            : { why: err.code ?? err.message },
        );
      socket.on('error', onError);
      socket.once(ready, () => {
        void introduce(socket, { from: 0, to: 0, secret, timeoutMs, tls: tls !== null, program: true }).then(
          (intro) => {
            if (!intro.ok) return finish({ why: `authentication failed: ${intro.why}`, auth: true });
            if (socket.destroyed) return finish({ why: `${who} closed the connection` });
            finish(new ReplicaConn(socket, who, intro.mac));
          },
        );
      });
    });
  }

  get closed(): boolean {
    return this.dead !== null;
  }

  /**
   * Send `req` and wait for its answer, at most `timeoutMs`; `signal` gives
   * up early (an unknown outcome: it was sent).
   */
  request(
    req: Extract<KvRequest, { type: 'kv' | 'range' }>,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<KvOutcome> {
    if (this.dead !== null)
      return Promise.resolve({ kind: 'unreachable', why: this.dead, ...(this.wantsSecret ? { auth: true } : {}) });
    return new Promise((resolve) => {
      const settle = (o: KvOutcome): void => {
        if (!this.waiting.delete(req.id)) return;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(o);
      };
      const timer = setTimeout(
        () => settle({ kind: 'unknown', why: `no answer within ${timeoutMs / 1000} s` }),
        timeoutMs,
      );
      const onAbort = (): void => settle({ kind: 'unknown', why: 'the caller gave up (aborted) after sending' });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(req.id, { settle });
      const wire =
        req.type === 'kv'
          ? { type: 'kv', id: req.id, cmd: encodeCommand(req.cmd) }
          : rangeRequestWire(req.id, req.query);
      this.send(wire);
    });
  }

  /** Send `wire` (a request with id `id`) and hand every answer to it to `sub` until cancelled or the end. */
  subscribe(id: string, wire: Record<string, unknown>, sub: Subscriber): () => void {
    if (this.dead !== null) {
      sub.ended(this.dead);
      return () => undefined;
    }
    this.streams.set(id, sub);
    this.send(wire);
    return () => {
      if (this.streams.delete(id) && this.dead === null) this.send({ type: 'watch_cancel', id });
    };
  }

  /** One line to the replica, sealed when there is a secret. */
  private send(o: object): void {
    const line = JSON.stringify(o);
    this.socket.write(`${this.mac === null ? line : this.mac.seal(line)}\n`);
  }

  close(): void {
    this.fail('the client closed the connection');
    this.socket.destroy();
  }

  private onLine(sealed: string): void {
    const line = this.mac === null ? sealed : this.mac.open(sealed);
    if (line === null)
      return this.fail(
        `a line from ${this.who} failed its integrity check (altered in flight, replayed or out of order?); ` +
          `closed the connection`,
      );
    let m: unknown;
    try {
      m = JSON.parse(line);
    } catch {
      return this.fail(`${this.who} sent a line that is not JSON`);
    }
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return;
    const o = m as Record<string, unknown>;
    // One that challenges us reads nothing before the handshake: our requests were dropped, undone.
    if (o['type'] === 'challenge')
      return this.fail(
        'it requires the shared secret (pass --secret-file FILE or set PAXOS_SECRET; in a program, ' +
          'connect({ secret }))',
        true,
      );
    // A TLS listener refused us (transport/tls.ts): it read nothing of ours.
    if (o['type'] === 'refused') return this.fail(refusedWhy(o, true), true);
    if (o['type'] !== 'kv_result' || typeof o['id'] !== 'string') return;
    const stream = this.streams.get(o['id']);
    if (stream !== undefined) {
      const r = checkKvResult(o);
      if (r.ok) return stream.answer(r.result);
      this.streams.delete(o['id']);
      return stream.ended(`it answered with something we cannot read (${r.why})`);
    }
    const w = this.waiting.get(o['id']);
    if (w === undefined) return; // an answer we gave up on
    const r = checkKvResult(o);
    w.settle(
      r.ok
        ? { kind: 'reply', result: r.result satisfies KvResult }
        : { kind: 'unknown', why: `it answered with something we cannot read (${r.why})` },
    );
  }

  /**
   * The connection is over: every request on it ends unknown (each was
   * sent), unless the replica wanted a secret (`auth`: none was read).
   */
  private fail(why: string, auth = false): void {
    if (this.dead !== null) return;
    this.dead = why;
    this.wantsSecret = auth;
    this.socket.destroy();
    for (const sub of [...this.streams.values()]) sub.ended(why);
    this.streams.clear();
    for (const w of [...this.waiting.values()])
      w.settle(auth ? { kind: 'unreachable', why, auth: true } : { kind: 'unknown', why: `${why} before answering` });
  }
}

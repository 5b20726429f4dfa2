// The client's way to the replicas (api.ts's KvClient holds one): one
// long-lived connection per replica (replica-conn.ts), opened when first
// needed, and a few sessions. A session is a client id and its sequence
// numbers, which the store uses to apply each command at most once
// (src/sm/kv.ts); a call takes a free session, so calls in flight at once
// never share one (two in one session could overtake each other, and the
// store would refuse the older as stale). A call starts at the replica that
// answered last (kv.ts's kvCall carries it on from there).

import { ATTEMPT_MS } from '../paxos/defaults.js';
import type { ClientCommand } from '../sm/command.js';
import type { Secret } from '../transport/auth.js';
import type { ClientTls } from '../config/tls-files.js';
import type { KvRequest } from '../wire/kv.js';
import type { CallOptions } from './call-options.js';
import { connectSettings, type ConnectOptions } from './connect-options.js';
import { DefiniteError } from './errors.js';
import { kvCall, newClientId, type CallOutcome, type KvBody, type KvOutcome, type KvTarget } from './kv.js';
import { ReplicaConn } from './replica-conn.js';

interface Session {
  id: string;
  seq: number;
}

export class KvPool {
  /** The replicas, in the order given. */
  readonly endpoints: readonly KvTarget[];
  private readonly secret: Secret | null;
  private readonly tls: ClientTls | null;
  /** The client's limit for one call, in ms. */
  readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly conns = new Map<string, Promise<ReplicaConn | { why: string; auth?: true }>>();
  private readonly idle: Session[] = [];
  private sessions = 0;
  private readonly queue: Array<(s: Session | null) => void> = [];
  /** The replica that answered last: calls start there. */
  private first = 0;
  private stopped = false;

  constructor(private readonly options: ConnectOptions) {
    const s = connectSettings(options);
    this.endpoints = s.endpoints;
    this.secret = s.secret;
    this.tls = s.tls;
    this.timeoutMs = s.timeoutMs;
    this.concurrency = s.concurrency;
    this.first = Math.floor(Math.random() * this.endpoints.length);
  }

  /** Whether stop() was called: no call starts after it. */
  get closed(): boolean {
    return this.stopped;
  }

  /** The index of the replica that answered last. */
  get preferred(): number {
    return this.first;
  }

  /** Resolves once a connection to some replica is open, authenticated if there is a secret. */
  async ready(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    const why = new Map<string, string>();
    for (let i = 0; Date.now() < deadline; i++) {
      const t = this.endpoints[(this.first + i) % this.endpoints.length]!;
      const c = await this.conn(t, Math.max(1, Math.min(ATTEMPT_MS, deadline - Date.now())));
      if (c instanceof ReplicaConn) {
        this.first = this.endpoints.indexOf(t);
        return;
      }
      // An attempt the deadline cut short says less than the refusal before it: keep that one.
      if (!(why.has(t.name) && c.why.startsWith('could not connect within'))) why.set(t.name, c.why);
      if (c.auth === true && why.size === this.endpoints.length) break;
      if (i % this.endpoints.length === this.endpoints.length - 1)
        await new Promise((r) => setTimeout(r, Math.min(250, Math.max(0, deadline - Date.now()))));
    }
    const all = [...why].map(([n, w]) => `${n}: ${w}`).join('; ');
    throw new DefiniteError('unavailable', `connect: no replica answered within ${this.timeoutMs / 1000} s (${all})`);
  }

  /** One command in a session of its own, carried to whichever replica takes it. */
  async run<C extends ClientCommand>(
    body: Omit<C, 'client' | 'seq'>,
    o: CallOptions,
  ): Promise<{ command: C; outcome: CallOutcome }> {
    const session = await this.acquire();
    if (session === null) throw new DefiniteError('closed', `${body.op}: the client is closed`);
    try {
      for (;;) {
        const command = { ...body, client: session.id, seq: session.seq + 1 } as C;
        // A seq once sent is spent, whatever became of it: the next command takes a new one.
        session.seq = command.seq;
        const outcome = await this.call({ type: 'kv', cmd: command }, o);
        // The store forgot this session (more clients than its table holds): nothing was done; once more, in
        // a new session. (A store never says so of a session's first command: that one is reported as it is.)
        if (outcome.kind === 'done' && outcome.result.status === 'expired' && command.seq > 1) {
          session.id = newClientId();
          session.seq = 0;
          continue;
        }
        return { command, outcome };
      }
    } finally {
      this.release(session);
    }
  }

  /** No more calls: calls still waiting for a session fail ('closed'). closeConns() then ends the connections. */
  stop(): void {
    this.stopped = true;
    for (const w of this.queue.splice(0)) w(null);
  }

  /** Close every connection (after stop(), so none opens again). */
  async closeConns(): Promise<void> {
    const conns = await Promise.all(this.conns.values());
    this.conns.clear();
    for (const c of conns) if (c instanceof ReplicaConn) c.close();
  }

  /** One request body, carried to whichever replica takes it (kvCall), outside any session. */
  async call(body: KvBody, o: CallOptions): Promise<CallOutcome> {
    const first = o.first === undefined ? this.first : this.indexOf(o.first);
    const outcome = await kvCall(this.endpoints, body, {
      secret: this.secret,
      tls: this.tls,
      timeoutMs: o.timeoutMs ?? this.timeoutMs,
      first,
      send: (t, req, ms, signal) => this.send(t, req, ms, signal),
      ...(o.signal === undefined ? {} : { signal: o.signal }),
      ...(this.options.onAttempt === undefined ? {} : { onAttempt: this.options.onAttempt }),
    });
    if (outcome.kind === 'done' || outcome.kind === 'range') {
      const i = this.endpoints.findIndex((t) => t.name === outcome.attempts.at(-1)?.peer);
      if (i >= 0) this.first = i;
    }
    return outcome;
  }

  /** The connection to `t`, opened now if there is none (or it broke). */
  async conn(t: KvTarget, ms: number): Promise<ReplicaConn | { why: string; auth?: true }> {
    const open = this.conns.get(t.name);
    const c = open === undefined ? undefined : await open;
    if (c instanceof ReplicaConn && !c.closed) return c;
    if (open !== undefined && this.conns.get(t.name) !== open) return this.conn(t, ms); // another call reopened it
    const next = ReplicaConn.open(t.at, t.name, this.secret, ms, this.tls);
    this.conns.set(t.name, next);
    const r = await next;
    if (!(r instanceof ReplicaConn) && this.conns.get(t.name) === next) this.conns.delete(t.name);
    if (r instanceof ReplicaConn && this.stopped) r.close();
    return r;
  }

  private indexOf(name: string): number {
    const i = this.endpoints.findIndex((t) => t.name.toLowerCase() === name.toLowerCase());
    if (i < 0)
      throw new DefiniteError(
        'invalid',
        `${name} is not one of the endpoints (${this.endpoints.map((t) => t.name).join(', ')})`,
      );
    return i;
  }

  private async send(t: KvTarget, req: KvRequest, ms: number, signal?: AbortSignal): Promise<KvOutcome> {
    if (req.type !== 'kv' && req.type !== 'range') return { kind: 'unreachable', why: 'the library sends no dumps' };
    if (this.stopped) return { kind: 'unreachable', why: 'the client is closed' };
    const c = await this.conn(t, ms);
    if (!(c instanceof ReplicaConn)) return { kind: 'unreachable', why: c.why, ...(c.auth ? { auth: true } : {}) };
    return c.request(req, ms, signal);
  }

  private acquire(): Promise<Session | null> {
    if (this.stopped) return Promise.resolve(null);
    const s = this.idle.pop();
    if (s !== undefined) return Promise.resolve(s);
    if (this.sessions < this.concurrency) {
      this.sessions += 1;
      return Promise.resolve({ id: newClientId(), seq: 0 });
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }

  private release(s: Session): void {
    const next = this.queue.shift();
    if (next !== undefined) next(s);
    else this.idle.push(s);
  }
}

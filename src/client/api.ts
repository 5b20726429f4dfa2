// The key-value store's client library: `import { connect } from
// 'paxos-prj4/client'` (docs/client.md documents every call).
//
//   const kv = await connect({ endpoints: 'peer1=127.0.0.1:8080,peer2=127.0.0.2:8080' });
//   await kv.put('greeting', 'hello');
//   const v = await kv.get('greeting'); // 'hello'
//   await kv.close();
//
// A client holds one long-lived connection per replica (replica-conn.ts),
// opened when first needed, and a few sessions: a session is a client id
// and its sequence numbers, which the store uses to apply each command at
// most once (src/sm/kv.ts). A call takes a free session, so calls in
// flight at once never share one (two in one session could overtake each
// other, and the store would refuse the older as stale). A call goes to
// the replica that answered last, and on to the others while replicas are
// down or know no leader, with randomized backoff (kv.ts's kvCall: the CLI
// runs on the same path). A replica that took a command and did not answer
// is not asked again: the same command goes to the next replica, and the
// store applies it at most once.
//
// Outcomes are typed (errors.ts): DefiniteError (nothing was done) or
// UnknownOutcomeError (it may or may not take effect). A cas that finds
// another value is not an error: it returns { swapped: false, current }.

import { ATTEMPT_MS } from '../paxos/defaults.js';
import type { ClientCommand, KeyCommand, Result } from '../sm/command.js';
import type { Secret } from '../transport/auth.js';
import { loadClientTls, type ClientTls } from '../config/tls-files.js';
import type { KvRequest } from '../wire/kv.js';
import { checkRangeQuery, type RangeQuery } from '../sm/range.js';
import { checkWatch } from '../node/watch-hub.js';
import { compareToWire, invalidTxn, opToWire, type TxnBody } from '../sm/txn.js';
import type { Revisions } from '../sm/key-entry.js';
import { TxnBuilder, type TxnResult } from './txn-builder.js';
import { Watcher } from './watcher.js';
import type { CallOptions } from './call-options.js';
import { DefiniteError, LeaseNotFoundError, PaxosError, UnknownOutcomeError } from './errors.js';
import {
  checkLeaseOperation,
  checkOperation,
  type CasExpect,
  type LeaseOperation,
  type Operation,
  type SentLeaseOperation,
  type SentOperation,
} from './operation.js';
import type { CasResult, KeyValue, LeaseGrant, LeaseStatus, RangeResult, WriteResult } from './results.js';
import { Lease, type LeaseOptions } from './lease.js';
import { acquireLock, type Lock, type LockOptions } from './lock.js';
import { Election, type ElectionOptions } from './election.js';
import type { KvOps } from './kv-ops.js';
import { ENDPOINTS_ENV, parseTargets, SECRET_ENV, type EndpointSpec } from './targets.js';
import {
  kvCall,
  newClientId,
  type Attempt,
  type CallOutcome,
  type KvBody,
  type KvOutcome,
  type KvTarget,
} from './kv.js';
import { ReplicaConn } from './replica-conn.js';
import { outcomeError } from './outcome-error.js';
import {
  addMember,
  checkMemberOperation,
  listMembers,
  promoteMember,
  removeMember,
  type Member,
  type MemberOperation,
} from './members.js';

export {
  DefiniteError,
  LeaseLostError,
  LeaseNotFoundError,
  PaxosError,
  UnknownOutcomeError,
  type DefiniteReason,
  type LostReason,
} from './errors.js';
export type { CasResult, KeyValue, LeaseGrant, LeaseStatus, RangeResult, WriteResult } from './results.js';
export { Lease, type LeaseOptions } from './lease.js';
export { MembershipChangeError, type Member, type MemberOperation } from './members.js';
export { Lock, type LockOptions } from './lock.js';
export { Election, type ElectionOptions, type Leader } from './election.js';
export { DEFAULT_HOLD_TTL } from './held.js';
export { MAX_LEASE_TTL } from '../sm/lease.js';
export { ENDPOINTS_ENV, SECRET_ENV, parseTargets, type EndpointSpec } from './targets.js';
export type {
  CasExpect,
  LeaseOperation,
  Operation,
  RevisionExpect,
  SentLeaseOperation,
  SentOperation,
} from './operation.js';
export type { Attempt, CallOutcome } from './kv.js';
export type { RangeQuery } from '../sm/range.js';
export type { TxnCompare, TxnOp } from '../sm/txn.js';
export { TxnBuilder, type TxnOpResult, type TxnResult } from './txn-builder.js';
export { Watcher, type WatchEvent } from './watcher.js';
export type { CallOptions } from './call-options.js';

export interface ConnectOptions {
  /**
   * The replicas: `NAME=ADDR[:PORT]` or `ADDR[:PORT]` items (port 8080 by
   * default; IPv6 as `[ADDR]:PORT`), as an array or one comma-separated
   * string. Default: the PAXOS_ENDPOINTS environment variable.
   */
  readonly endpoints?: string | readonly (string | EndpointSpec)[];
  /** The cluster's shared secret, if it has one. Default: PAXOS_SECRET, else none. */
  readonly secret?: string | Uint8Array;
  /**
   * TLS, for replicas started with --ca, --cert and --key: `ca`, the CA that
   * signed their certificates (PEM; default: the system's CAs); `cert` and
   * `key`, this client's certificate and key (PEM), for replicas that ask
   * clients for one (--client-ca). Each replica's certificate must hold its
   * endpoint name, or the address dialled. Default: the files named by
   * PAXOS_CA, PAXOS_CERT and PAXOS_KEY, else plain NDJSON.
   */
  readonly tls?: {
    readonly ca?: string | Uint8Array;
    readonly cert?: string | Uint8Array;
    readonly key?: string | Uint8Array;
  };
  /** How long one call keeps trying, in all, in ms (default 10,000). connect() waits as long for a first replica. */
  readonly timeoutMs?: number;
  /** Calls in flight at once, each with a session of its own (default 4); more wait their turn. */
  readonly concurrency?: number;
  /** Called after every attempt at a replica (for logging). */
  readonly onAttempt?: (a: Attempt, n: number) => void;
  /** For tests: the environment to read (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

interface Session {
  id: string;
  seq: number;
}

/**
 * Connect to a cluster: resolves once a connection to one replica is open
 * (and, with a secret, that replica has proved it holds it).
 */
export async function connect(options: ConnectOptions = {}): Promise<KvClient> {
  const client = new KvClient(options);
  await client.ready();
  return client;
}

export class KvClient implements KvOps {
  /** The replicas, in the order given. */
  readonly endpoints: readonly KvTarget[];
  private readonly secret: Secret | null;
  private readonly tls: ClientTls | null;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly conns = new Map<string, Promise<ReplicaConn | { why: string; auth?: true }>>();
  private readonly idle: Session[] = [];
  private sessions = 0;
  private readonly queue: Array<(s: Session | null) => void> = [];
  /** The replica that answered last: calls start there. */
  private preferred = 0;
  private closed = false;
  private readonly watchers = new Set<Watcher>();
  /** Leases kept alive by this client (lease()): abandoned when it closes. */
  private readonly held = new Set<Lease>();

  constructor(private readonly options: ConnectOptions = {}) {
    const env = options.env ?? process.env;
    this.endpoints = parseTargets(options.endpoints ?? env[ENDPOINTS_ENV]);
    const secret = options.secret ?? env[SECRET_ENV];
    this.secret =
      secret === undefined
        ? null
        : { source: options.secret === undefined ? SECRET_ENV : 'connect({ secret })', key: Buffer.from(secret) };
    if (this.secret !== null && this.secret.key.length === 0)
      throw new DefiniteError('invalid', 'connect: the secret is empty');
    this.tls = clientTls(options.tls, env);
    this.timeoutMs = positive('timeoutMs', options.timeoutMs ?? 10_000);
    this.concurrency = positive('concurrency', options.concurrency ?? 4);
    if (!Number.isSafeInteger(this.concurrency))
      throw new DefiniteError('invalid', `connect: concurrency must be a whole number; got ${this.concurrency}`);
    this.preferred = Math.floor(Math.random() * this.endpoints.length);
  }

  /** Resolves once a connection to some replica is open, authenticated if there is a secret (connect() awaits it). */
  async ready(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    const why = new Map<string, string>();
    for (let i = 0; Date.now() < deadline; i++) {
      const t = this.endpoints[(this.preferred + i) % this.endpoints.length]!;
      const c = await this.conn(t, Math.max(1, Math.min(ATTEMPT_MS, deadline - Date.now())));
      if (c instanceof ReplicaConn) {
        this.preferred = this.endpoints.indexOf(t);
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

  /** KEY's value, or null if it is absent. Linearizable: by read index, not through the log. */
  async get(key: string, o: CallOptions = {}): Promise<string | null> {
    const r = await this.done({ op: 'get', key }, o);
    return 'value' in r.result ? r.result.value : null;
  }

  /** KEY's value and revisions, or null if it is absent. Read as get() is. */
  async getEntry(key: string, o: CallOptions = {}): Promise<KeyValue | null> {
    const r = await this.done({ op: 'get', key }, o);
    return 'rev' in r.result ? keyValue(key, r.result.value, r.result.rev) : null;
  }

  /**
   * Set KEY to `value`. With `lease` (an id, or a Lease), the key is
   * attached to that lease: revoking it, or its expiry, deletes the key. A
   * lease that is gone fails with LeaseNotFoundError, and nothing changes.
   */
  async put(key: string, value: string, o: PutOptions = {}): Promise<WriteResult> {
    const { lease, ...call } = o;
    const id = typeof lease === 'object' ? lease.id : lease;
    const r = await this.done({ op: 'put', key, value, ...(id === undefined ? {} : { lease: id }) }, call);
    return { prev: 'prev' in r.result ? (r.result.prev ?? null) : null, slot: r.slot };
  }

  async del(key: string, o: CallOptions = {}): Promise<WriteResult> {
    const r = await this.done({ op: 'del', key }, o);
    return { prev: 'prev' in r.result ? (r.result.prev ?? null) : null, slot: r.slot };
  }

  /**
   * Set KEY to `value` if its value is `expected` now (null: if it is
   * absent), or if its mod revision or version is the one given (0: absent;
   * as a transaction, in one slot).
   */
  async cas(key: string, expected: CasExpect, value: string, o: CallOptions = {}): Promise<CasResult> {
    const r = await this.done({ op: 'cas', key, expected, value }, o);
    return r.result.status === 'mismatch'
      ? { swapped: false, current: r.result.current }
      : { swapped: true, slot: r.slot };
  }

  /**
   * The keys of a range, in order, as of one slot: `{ prefix }`, or
   * `{ from?, to? }` (`to` excluded); `limit` (default and most 10,000),
   * `keysOnly` (values ""), `countOnly`. Linearizable, by read index, never
   * through the log. `count` is how many keys the range holds; `more`,
   * whether the answer left some out (the limit, or 4 MiB of keys and values).
   */
  async range(query: RangeQuery, o: CallOptions = {}): Promise<RangeResult> {
    const { outcome } = await this.executeRange(query, o);
    if (outcome.kind === 'range') {
      const { count, more, data } = outcome.answer;
      const entries = data.map(([key, value, c, m, n]) => keyValue(key, value, [c, m, n]));
      return { entries, count, more, slot: outcome.applied };
    }
    throw outcomeError(outcome, `range ${JSON.stringify(query)}`, true);
  }

  /** The lower level of range: how the call ended, never thrown (the CLI's path). */
  async executeRange(query: RangeQuery, o: CallOptions = {}): Promise<{ outcome: CallOutcome }> {
    const why = checkRangeQuery(query);
    if (why !== undefined) throw new DefiniteError('invalid', `range: ${why}`);
    if (this.closed) throw new DefiniteError('closed', 'range: the client is closed');
    return { outcome: await this.call({ type: 'range', query }, o) };
  }

  /** A new lease of `ttl` whole seconds (1 to MAX_LEASE_TTL): it expires unless kept alive. See lease() too. */
  async leaseGrant(ttl: number, o: CallOptions = {}): Promise<LeaseGrant> {
    const r = await this.leaseDone({ op: 'grant', ttl }, `grant a lease of ${String(ttl)} s`, o);
    if (r.status !== 'lease') throw unexpected('grant', r);
    return { id: r.id, ttl: r.ttl };
  }

  /** Renew lease `id` once (a keepalive): its TTL counts again from now. LeaseNotFoundError if it is gone. */
  async leaseKeepAlive(id: number, o: CallOptions = {}): Promise<LeaseGrant> {
    const r = await this.leaseDone({ op: 'keep', id }, `keep lease ${String(id)} alive`, o);
    if (r.status !== 'lease') throw unexpected('keep', r);
    return { id: r.id, ttl: r.ttl };
  }

  /** Revoke lease `id`: the store deletes every key attached to it, in one slot. LeaseNotFoundError if it is gone. */
  async leaseRevoke(id: number, o: CallOptions = {}): Promise<{ slot: number }> {
    const { outcome } = await this.executeLease({ op: 'revoke', id }, o);
    const r = leaseResult(outcome, `revoke lease ${String(id)}`);
    if (r.status !== 'ok') throw unexpected('revoke', r);
    return { slot: outcome.kind === 'done' ? outcome.slot : 0 };
  }

  /** Every lease in the store, by id: its TTL and how many keys are attached to it. Goes through the log. */
  async leases(o: CallOptions = {}): Promise<LeaseStatus[]> {
    const r = await this.leaseDone({ op: 'leases' }, 'list the leases', o);
    if (r.status !== 'leases') throw unexpected('leases', r);
    return r.leases.map(([id, ttl, keys]) => ({ id, ttl, keys }));
  }

  /**
   * A lease of `ttl` seconds that keeps itself alive (a keepalive every
   * TTL/3) until revoke(), close(), or this client's close(); `signal` and
   * `lost` say when it is lost (lease.ts).
   */
  async lease(ttl: number, o: LeaseOptions = {}): Promise<Lease> {
    const sent = Date.now();
    const { onKeepAlive: _, ...call } = o;
    const g = await this.leaseGrant(ttl, call);
    const l = new Lease(this, g.id, g.ttl, sent, o);
    if (this.closed) l.abandon();
    this.held.add(l);
    void l.lost.then(() => this.held.delete(l));
    return l;
  }

  /**
   * Wait for lock `name`, and hold it (lock.ts): on a lease of its own (TTL
   * `ttl`, default 10 s) kept alive meanwhile, or on the `lease` given. The
   * lock's `signal` aborts if it is lost; `release()` lets it go.
   */
  lock(name: string, o: LockOptions = {}): Promise<Lock> {
    return acquireLock(this, name, o);
  }

  /** Election `name` (election.ts): campaign(), leader(), observe(), proclaim(), resign(). */
  election(name: string, o: ElectionOptions = {}): Election {
    return new Election(this, name, o);
  }

  /** The cluster's members (paxos member list), through the log. */
  members(o: CallOptions = {}): Promise<Member[]> {
    return listMembers(this, o);
  }

  /** Add `name` at `addr` (HOST:PORT): a learner with a new id; start it with --join. MembershipChangeError if not. */
  memberAdd(name: string, addr: string, o: CallOptions = {}): Promise<Member> {
    return addMember(this, name, addr, o);
  }

  /** Make learner `name` a voter (once it has caught up). MembershipChangeError if refused. */
  memberPromote(name: string, o: CallOptions = {}): Promise<Member> {
    return promoteMember(this, name, o);
  }

  /** Remove member `name`; its id is never reused. MembershipChangeError if refused. */
  memberRemove(name: string, o: CallOptions = {}): Promise<void> {
    return removeMember(this, name, o);
  }

  /** The lower level of the member calls: a command and how its call ended, never thrown (members.ts). */
  async executeMember(op: MemberOperation, o: CallOptions = {}): Promise<{ outcome: CallOutcome }> {
    checkMemberOperation(op);
    const body =
      op.op === 'madd'
        ? { op: op.op, name: op.name, addr: op.addr }
        : op.op === 'members'
          ? { op: op.op }
          : { op: op.op, name: op.name };
    const { outcome } = await this.run<Extract<ClientCommand, { op: MemberOperation['op'] }>>(body, o);
    return { outcome };
  }

  /** The lower level of the lease calls: a command and how its call ended, never thrown (the CLI's path). */
  async executeLease(
    op: LeaseOperation,
    o: CallOptions = {},
  ): Promise<{ command: SentLeaseOperation; outcome: CallOutcome }> {
    checkLeaseOperation(op);
    const { command, outcome } = await this.run<Extract<ClientCommand, { op: LeaseOperation['op'] }>>(op, o);
    return { command: command as SentLeaseOperation, outcome };
  }

  private async leaseDone(op: LeaseOperation, what: string, o: CallOptions): Promise<Result> {
    const { outcome } = await this.executeLease(op, o);
    return leaseResult(outcome, what);
  }

  /**
   * The lower level: one command, and how its call ended, never thrown
   * (the CLI's path: it words every outcome itself). Throws only for a bad
   * key or value, or a closed client.
   */
  async execute(op: Operation, o: CallOptions = {}): Promise<{ command: SentOperation; outcome: CallOutcome }> {
    checkOperation(op);
    if (op.op !== 'cas' || op.expected === null || typeof op.expected !== 'object')
      return this.run(op as Omit<KeyCommand, 'client' | 'seq'>, o);
    // On a revision: if it holds, the put, else a get for the value found; the answer as a cas's.
    const { key, value, expected } = op;
    const [target, n] =
      'modRevision' in expected ? (['mod', expected.modRevision] as const) : (['version', expected.version] as const);
    const body = { compares: [{ key, target, op: '=', value: n }], success: [{ op: 'put', key, value }] } as const;
    const { command, outcome } = await this.run<TxnCommand>({ op: 'txn', ...body, failure: [{ op: 'get', key }] }, o);
    const sent = { ...op, client: command.client, seq: command.seq };
    if (outcome.kind !== 'done' || outcome.result.status !== 'txn') return { command: sent, outcome };
    const r = outcome.result;
    const got = r.results[0];
    const result: Result = r.succeeded
      ? { status: 'ok' }
      : { status: 'mismatch', current: got !== undefined && 'value' in got ? got.value : null };
    return { command: sent, outcome: { ...outcome, result } };
  }

  /**
   * The put and delete events of `key` or of the keys with `prefix`, in log
   * order, from revision `fromRevision` (a log slot) or from now
   * (watcher.ts): iterate it with `for await`, and close() it when done.
   */
  watch(opts: { readonly key?: string; readonly prefix?: string; readonly fromRevision?: number }): Watcher {
    const checked = checkWatch(opts.key, opts.prefix, opts.fromRevision);
    if (typeof checked === 'string') throw new DefiniteError('invalid', `watch: ${checked}`);
    if (this.closed) throw new DefiniteError('closed', 'watch: the client is closed');
    const w: Watcher = new Watcher(checked.filter, checked.rev, {
      endpoints: this.endpoints,
      first: this.preferred,
      timeoutMs: this.timeoutMs,
      conn: (t, ms) => this.conn(t, ms),
      ended: () => this.watchers.delete(w),
    });
    this.watchers.add(w);
    return w;
  }

  /**
   * A transaction: compares, then one list of puts, dels and gets, or the
   * other, in one slot (txn-builder.ts). `await kv.txn().if(...).then(...)`
   * commits it, as `.commit()` does.
   */
  txn(): TxnBuilder {
    return new TxnBuilder((body, o) => this.commitTxn(body, o));
  }

  private async commitTxn(body: TxnBody, o: CallOptions): Promise<TxnResult> {
    const why = invalidTxn(body.compares.map(compareToWire), body.success.map(opToWire), body.failure.map(opToWire));
    if (why !== null) throw new DefiniteError('invalid', `txn: ${why}`);
    const { outcome } = await this.run({ op: 'txn', ...body }, o);
    if (outcome.kind !== 'done') throw outcomeError(outcome, 'txn', false);
    const r = outcome.result;
    if (r.status === 'quota')
      throw new DefiniteError('quota', `txn: refused: the store holds ${r.used} bytes, its quota is ${r.quota}`);
    if (r.status === 'nolease')
      throw new LeaseNotFoundError(
        r.id,
        `txn: lease ${r.id} does not exist (revoked, expired, or never granted); nothing was done`,
      );
    if (r.status !== 'txn') throw new DefiniteError('invalid', `txn: the store says ${r.status}`);
    const ops = r.succeeded ? body.success : body.failure;
    const results = r.results.map((x, i) => ({
      op: ops[i]!.op,
      key: ops[i]!.key,
      ...('rev' in x
        ? { value: x.value, createRevision: x.rev[0], modRevision: x.rev[1], version: x.rev[2] }
        : 'value' in x
          ? { value: x.value }
          : { prev: 'prev' in x ? (x.prev ?? null) : null }),
    }));
    return { succeeded: r.succeeded, results, slot: outcome.slot };
  }

  /** One command in a session of its own, carried to whichever replica takes it. */
  private async run<C extends ClientCommand>(
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

  /** Close every connection; calls still waiting for a session fail ('closed'). */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.queue.splice(0)) w(null);
    for (const w of this.watchers) w.close();
    for (const l of this.held) l.abandon();
    const conns = await Promise.all(this.conns.values());
    this.conns.clear();
    for (const c of conns) if (c instanceof ReplicaConn) c.close();
  }

  private async done(op: Operation, o: CallOptions): Promise<{ result: Result; slot: number }> {
    const { outcome } = await this.execute(op, o);
    switch (outcome.kind) {
      case 'done': {
        const r = outcome.result;
        if (r.status === 'quota')
          throw new DefiniteError(
            'quota',
            `${op.op} ${JSON.stringify(op.key)}: refused: the store holds ${r.used} bytes, its quota is ${r.quota}`,
          );
        // A session's calls never overlap, so no answer is stale; and expired was retried (execute).
        if (r.status === 'nolease')
          throw new LeaseNotFoundError(
            r.id,
            `${op.op} ${JSON.stringify(op.key)}: lease ${r.id} does not exist (revoked, expired, or never ` +
              'granted); nothing was changed',
          );
        if (r.status === 'stale' || r.status === 'expired')
          throw new DefiniteError('invalid', `${op.op} ${JSON.stringify(op.key)}: the store says ${r.status}`);
        return { result: r, slot: outcome.slot };
      }
      default:
        throw outcomeError(outcome, `${op.op} ${JSON.stringify(op.key)}`, op.op === 'get');
    }
  }

  private async call(body: KvBody, o: CallOptions): Promise<CallOutcome> {
    const first = o.first === undefined ? this.preferred : this.indexOf(o.first);
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
      if (i >= 0) this.preferred = i;
    }
    return outcome;
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
    if (this.closed) return { kind: 'unreachable', why: 'the client is closed' };
    const c = await this.conn(t, ms);
    if (!(c instanceof ReplicaConn)) return { kind: 'unreachable', why: c.why, ...(c.auth ? { auth: true } : {}) };
    return c.request(req, ms, signal);
  }

  /** The connection to `t`, opened now if there is none (or it broke). */
  private async conn(t: KvTarget, ms: number): Promise<ReplicaConn | { why: string; auth?: true }> {
    const open = this.conns.get(t.name);
    const c = open === undefined ? undefined : await open;
    if (c instanceof ReplicaConn && !c.closed) return c;
    if (open !== undefined && this.conns.get(t.name) !== open) return this.conn(t, ms); // another call reopened it
    const next = ReplicaConn.open(t.at, t.name, this.secret, ms, this.tls);
    this.conns.set(t.name, next);
    const r = await next;
    if (!(r instanceof ReplicaConn) && this.conns.get(t.name) === next) this.conns.delete(t.name);
    if (r instanceof ReplicaConn && this.closed) r.close();
    return r;
  }

  private acquire(): Promise<Session | null> {
    if (this.closed) return Promise.resolve(null);
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

type TxnCommand = Extract<ClientCommand, { readonly op: 'txn' }>;

/** A put's options: a call's, and the lease to attach the key to. */
export interface PutOptions extends CallOptions {
  /** Attach the key to this lease (an id, or a Lease): its revoke or expiry deletes the key. */
  readonly lease?: number | { readonly id: number };
}

/** A lease call's result, or the error for how it ended (LeaseNotFoundError for a lease that is gone). */
function leaseResult(outcome: CallOutcome, what: string): Result {
  if (outcome.kind !== 'done') throw outcomeError(outcome, what, false);
  const r = outcome.result;
  if (r.status === 'nolease')
    throw new LeaseNotFoundError(r.id, `${what}: lease ${r.id} does not exist (revoked, expired, or never granted)`);
  if (r.status === 'toomany')
    throw new DefiniteError('quota', `${what}: refused: the store holds ${r.max} leases, the most it may; revoke some`);
  if (r.status === 'stale' || r.status === 'expired')
    throw new DefiniteError('invalid', `${what}: the store says ${r.status}`);
  return r;
}

function unexpected(op: string, r: Result): PaxosError {
  return new UnknownOutcomeError(`${op}: the store answered with a ${r.status} result`);
}

/** connect()'s `tls`, else the files PAXOS_CA, PAXOS_CERT and PAXOS_KEY name, else null (plain). */
function clientTls(given: ConnectOptions['tls'], env: Readonly<Record<string, string | undefined>>): ClientTls | null {
  if (given === undefined) {
    try {
      return loadClientTls({}, env);
    } catch (err) {
      throw new DefiniteError('invalid', `connect: ${(err as Error).message}`);
    }
  }
  if ((given.cert === undefined) !== (given.key === undefined))
    throw new DefiniteError('invalid', 'connect: tls.cert and tls.key go together: give both, or neither');
  const pem = (x: string | Uint8Array | undefined): Buffer | undefined =>
    x === undefined ? undefined : Buffer.from(x);
  const [ca, cert, key] = [pem(given.ca), pem(given.cert), pem(given.key)];
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
  };
}

function positive(name: string, x: number): number {
  if (!(typeof x === 'number' && Number.isFinite(x) && x > 0))
    throw new DefiniteError('invalid', `connect: ${name} must be a number above 0; got ${String(x)}`);
  return x;
}

function keyValue(key: string, value: string, [createRevision, modRevision, version]: Revisions): KeyValue {
  return { key, value, createRevision, modRevision, version };
}

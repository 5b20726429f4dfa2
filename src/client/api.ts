// The key-value store's client library: `import { connect } from
// 'paxos-prj4/client'` (docs/client.md documents every call).
//
//   const kv = await connect({ endpoints: 'peer1=127.0.0.1:8080,peer2=127.0.0.2:8080' });
//   await kv.put('greeting', 'hello');
//   const v = await kv.get('greeting'); // 'hello'
//   await kv.close();
//
// This file holds KvClient's calls: what each sends and how its answer is
// read. Under them, a pool (pool.ts) holds one long-lived connection per
// replica and a few sessions (a client id and its sequence numbers, which the
// store uses to apply each command at most once); connect()'s options are
// read in connect-options.ts. A call goes to the replica that answered last,
// and on to the others while replicas are down or know no leader, with
// randomized backoff (kv.ts's kvCall: the CLI runs on the same path). A
// replica that took a command and did not answer is not asked again: the
// same command goes to the next replica, and the store applies it at most
// once.
//
// Outcomes are typed (errors.ts): DefiniteError (nothing was done) or
// UnknownOutcomeError (it may or may not take effect). A cas that finds
// another value is not an error: it returns { swapped: false, current }.

import type { ClientCommand, KeyCommand, Result } from '../sm/command.js';
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
import type { CallOutcome, KvTarget } from './kv.js';
import type { ConnectOptions } from './connect-options.js';
import { KvPool } from './pool.js';
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
export type { ConnectOptions } from './connect-options.js';

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
  /** The connections and sessions the calls run on. */
  private readonly pool: KvPool;
  private readonly watchers = new Set<Watcher>();
  /** Leases kept alive by this client (lease()): abandoned when it closes. */
  private readonly held = new Set<Lease>();

  constructor(options: ConnectOptions = {}) {
    this.pool = new KvPool(options);
    this.endpoints = this.pool.endpoints;
  }

  /** Resolves once a connection to some replica is open, authenticated if there is a secret (connect() awaits it). */
  ready(): Promise<void> {
    return this.pool.ready();
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
    if (this.pool.closed) throw new DefiniteError('closed', 'range: the client is closed');
    return { outcome: await this.pool.call({ type: 'range', query }, o) };
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
    if (this.pool.closed) l.abandon();
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
    const { outcome } = await this.pool.run<Extract<ClientCommand, { op: MemberOperation['op'] }>>(body, o);
    return { outcome };
  }

  /** The lower level of the lease calls: a command and how its call ended, never thrown (the CLI's path). */
  async executeLease(
    op: LeaseOperation,
    o: CallOptions = {},
  ): Promise<{ command: SentLeaseOperation; outcome: CallOutcome }> {
    checkLeaseOperation(op);
    const { command, outcome } = await this.pool.run<Extract<ClientCommand, { op: LeaseOperation['op'] }>>(op, o);
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
      return this.pool.run(op as Omit<KeyCommand, 'client' | 'seq'>, o);
    // On a revision: if it holds, the put, else a get for the value found; the answer as a cas's.
    const { key, value, expected } = op;
    const [target, n] =
      'modRevision' in expected ? (['mod', expected.modRevision] as const) : (['version', expected.version] as const);
    const body = { compares: [{ key, target, op: '=', value: n }], success: [{ op: 'put', key, value }] } as const;
    const { command, outcome } = await this.pool.run<TxnCommand>(
      { op: 'txn', ...body, failure: [{ op: 'get', key }] },
      o,
    );
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
    if (this.pool.closed) throw new DefiniteError('closed', 'watch: the client is closed');
    const w: Watcher = new Watcher(checked.filter, checked.rev, {
      endpoints: this.endpoints,
      first: this.pool.preferred,
      timeoutMs: this.pool.timeoutMs,
      conn: (t, ms) => this.pool.conn(t, ms),
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
    const { outcome } = await this.pool.run({ op: 'txn', ...body }, o);
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

  /** Close every connection; calls still waiting for a session fail ('closed'). */
  async close(): Promise<void> {
    this.pool.stop();
    for (const w of this.watchers) w.close();
    for (const l of this.held) l.abandon();
    await this.pool.closeConns();
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

function keyValue(key: string, value: string, [createRevision, modRevision, version]: Revisions): KeyValue {
  return { key, value, createRevision, modRevision, version };
}

// The log simulator's clients: put/get/del/cas and one-key transactions on
// a few keys, one op at a time each, to a random replica (sticky clients go back to the one that
// last answered), through the replica's real client entry
// (ReplicaNode.submit). A client's answer is the store's result once the
// replica applies its command, or, for a get from a session the store
// knows, once it can answer by read index. "No leader" or "not ready", or no
// answer in time, and the client retries the same client + seq at another
// replica (the store applies a seq once); if it gives up, the op is `info`
// (unknown) in the Jepsen-style history.
//
// A transaction compares the key's mod revision with the one this client
// last saw (a get's, or the slot its own write was answered with), then
// puts, else gets. Every value written is unique, so "the mod revision is
// the one of value V" is "the value is V": the history records it as a cas
// on V, and the checker holds revisions to the values they stand for.

import type { PeerId } from '../core/types.js';
import { pick } from '../util/prng.js';
import { readsByIndex, type Answer } from '../node/replica-node.js';
import {
  checkClientCommand,
  encodeCommand,
  type CheckedClientCommand,
  type ClientCommand,
  type Result,
} from '../sm/command.js';
import type { Invariants } from './log-checks.js';
import type { SimReplicas } from './log-replicas.js';
import type { SimContext } from './log-world-types.js';

/** A client gives up on an op (outcome unknown) this long after invoking it. */

const GIVE_UP_MS = 2000;

type Kind = 'put' | 'get' | 'del' | 'cas' | 'txn';

interface ClientOp {
  /** A command on one key (a transaction too: on one key). */
  readonly cmd: ClientCommand;
  readonly f: Kind;
  readonly key: string;
  /** The value a put, cas or transaction writes. */
  readonly value?: string;
  /** As a replica receives it: encoded as a client sends it, checked as a replica's edge does (wire/kv.ts). */
  readonly wire: CheckedClientCommand;
  readonly invokedAt: number;
  attempts: number;
  /** Bumped at every attempt: a timeout or refusal for an older one is ignored. */
  attempt: number;
  lastReplica: PeerId;
}

interface Client {
  readonly idx: number;
  /** Session id; a new one after an op of unknown outcome (the store would say expired). */
  id: string;
  seq: number;
  process: string;
  gen: number;
  op: ClientOp | null;
  /** Sticky clients go back to the replica that last answered them (a kept connection). */
  readonly sticky: boolean;
  /** The replica that last answered (0: none yet). */
  home: PeerId;
  done: boolean;
  /** Each key's value as this client last saw it, and its mod revision (0: absent; null: not known). */
  readonly seen: Map<string, { readonly value: string | null; readonly rev: number | null }>;
}

export class SimClients {
  private readonly clients: Client[] = [];
  readonly history: string[] = [];
  readonly ops = { ok: 0, fail: 0, info: 0 };
  /** Ops invoked after the faults stopped that still ended unknown. */
  quietInfos = 0;
  private valueCounter = 0;
  /** Sessions started, for unique client ids. */
  private sessions = 0;

  constructor(
    private readonly ctx: SimContext,
    private readonly replicas: SimReplicas,
    private readonly checks: Invariants,
    private readonly keys: readonly string[],
    count: number,
    /** No op is invoked from then on. */
    private readonly stopIssuingAt: number,
    /** When the faults stop. */
    private readonly faultMs: number,
  ) {
    for (let c = 0; c < count; c++) {
      const sticky = ctx.rng() < 0.5;
      const client: Client = {
        idx: c,
        id: `c${c}`,
        seq: 0,
        process: `c${c}.0`,
        gen: 0,
        sticky,
        home: 0,
        op: null,
        done: false,
        seen: new Map(),
      };
      this.clients.push(client);
      ctx.agenda.push(5 + Math.floor(ctx.rng() * 100), () => this.nextOp(client));
    }
  }

  /** Clients that did not finish, or null. */
  busy(): string | null {
    const busy = this.clients.filter((c) => !c.done || c.op !== null);
    return busy.length === 0 ? null : busy.map((c) => c.id).join(',');
  }

  private record(ev: Record<string, unknown>): void {
    this.history.push(JSON.stringify({ ...ev, time: this.ctx.now }));
  }

  private nextOp(client: Client): void {
    const { ctx } = this;
    if (ctx.now >= this.stopIssuingAt) {
      client.done = true;
      return;
    }
    const r = ctx.rng;
    const f = pick(r, ['put', 'get', 'get', 'del', 'cas', 'cas', 'txn'] as const);
    const key = pick(r, this.keys);
    client.seq += 1;
    const base = { client: client.id, seq: client.seq, key };
    let cmd: ClientCommand;
    let invoke: Record<string, unknown>;
    let value: string | undefined;
    if (f === 'put') {
      value = `v${++this.valueCounter}`;
      cmd = { op: 'put', ...base, value };
      invoke = { value };
    } else if (f === 'cas') {
      value = `v${++this.valueCounter}`;
      const expected = r() < 0.8 ? (client.seen.get(key)?.value ?? null) : null;
      cmd = { op: 'cas', ...base, expected, value };
      invoke = { value: [expected, value] };
    } else if (f === 'txn') {
      value = `v${++this.valueCounter}`;
      const seen = client.seen.get(key) ?? { value: null, rev: 0 };
      // On the mod revision if this client knows it (a cas's mismatch tells only the value).
      const compare =
        seen.rev === null
          ? { key, op: '=' as const, value: seen.value }
          : { key, target: 'mod' as const, op: '=' as const, value: seen.rev };
      cmd = {
        op: 'txn',
        client: client.id,
        seq: client.seq,
        compares: [compare],
        success: [{ op: 'put', key, value }],
        failure: [{ op: 'get', key }],
      };
      invoke = { value: [seen.value, value] };
    } else if (f === 'get') {
      cmd = { op: 'get', ...base };
      invoke = {};
    } else {
      cmd = { op: 'del', ...base };
      invoke = {};
    }
    const wire = checkClientCommand(encodeCommand(cmd));
    if (!wire.ok) throw new Error(`the simulator made an invalid command: ${wire.why}`);
    this.checks.issue(wire.value);
    client.op = {
      cmd,
      f,
      key,
      ...(value === undefined ? {} : { value }),
      wire: wire.value,
      invokedAt: ctx.now,
      attempts: 0,
      attempt: 0,
      lastReplica: 0,
    };
    this.record({ process: client.process, type: 'invoke', f: f === 'txn' ? 'cas' : f, key, ...invoke });
    this.attempt(client);
  }

  private attempt(client: Client): void {
    const { ctx } = this;
    const op = client.op!;
    // Gives up by time only: retries after a refusal come fast.
    if (ctx.now - op.invokedAt > GIVE_UP_MS) return this.complete(client, null);
    if (op.attempts > 0) ctx.stats.retries += 1;
    op.attempts += 1;
    op.attempt += 1;
    const attempt = op.attempt;
    // A first attempt goes home (sticky clients) or anywhere; a retry goes elsewhere.
    const all = this.replicas.all;
    const others = all.filter((x) => x.id !== op.lastReplica);
    const home = client.sticky && op.attempts === 1 && client.home !== 0 ? this.replicas.get(client.home) : undefined;
    const rep = home ?? pick(ctx.rng, others.length > 0 ? others : all);
    op.lastReplica = rep.id;
    const retryLater = (ms: number): void =>
      ctx.agenda.push(ctx.now + ms, () => {
        if (client.op === op && op.attempt === attempt) this.attempt(client);
      });
    if (rep.node === null) return retryLater(10 + Math.floor(ctx.rng() * 20)); // connection refused
    const byIndex = readsByIndex(rep.node.kv, op.wire);
    ctx.note(
      `client ${client.id} seq ${op.cmd.seq} ${op.f} ${op.key} -> r${rep.id}` +
        `${byIndex ? ' by read index' : ''} (attempt ${op.attempts})`,
    );
    const answered = (a: Answer): void => {
      if (client.op !== op) return; // an answer to an op already settled
      if (a.status === 'done') {
        if (byIndex) ctx.stats.indexReads += 1;
        return this.complete(client, a.result, rep.id, a.slot);
      }
      // No leader known there, or it is recovering: try another replica soon.
      if (op.attempt !== attempt) return;
      ctx.stats.unplaced += 1;
      retryLater(20 + Math.floor(ctx.rng() * 40));
    };
    this.replicas.submit(rep, op.wire, { reply: answered, onClose: () => () => undefined });
    retryLater(250 + Math.floor(ctx.rng() * 100));
  }

  private newSession(client: Client): void {
    this.sessions += 1;
    client.id = `c${client.idx}s${this.sessions}`;
    client.seq = 0;
  }

  /** The op's answer (a store result, at `slot`) from replica `from`, or null: gave up, outcome unknown. */
  private complete(client: Client, res: Result | null, from: PeerId = 0, slot = 0): void {
    const { ctx } = this;
    const op = client.op;
    if (op === null) return;
    client.op = null;
    client.home = from;
    const f = op.f === 'txn' ? 'cas' : op.f;
    const k = op.key;
    if (res === null) {
      this.ops.info += 1;
      if (op.invokedAt >= this.faultMs) this.quietInfos += 1;
      this.record({ process: client.process, type: 'info', f, key: k });
      // Jepsen style: the process that lost track of an op is retired.
      // Its session too: if that seq was never applied, the next would be
      // refused as expired, so it starts again as a new client.
      client.gen += 1;
      client.process = `c${client.idx}.${client.gen}`;
      this.newSession(client);
      client.seen.delete(k);
    } else if (res.status === 'stale' || res.status === 'expired') {
      ctx.fail(
        'safety',
        `client ${client.id} seq ${op.cmd.seq} (${f}) came back ${res.status}: its current command was not applied`,
      );
    } else if (res.status === 'mismatch') {
      if (op.f !== 'cas') ctx.fail('safety', `client ${client.id} ${op.f} came back mismatch`);
      this.ops.fail += 1;
      client.seen.set(k, { value: res.current, rev: null });
      this.record({ process: client.process, type: 'fail', f, key: k });
    } else if (res.status === 'txn') {
      if (op.f !== 'txn') ctx.fail('safety', `client ${client.id} ${op.f} came back a transaction's result`);
      if (res.succeeded) {
        this.ops.ok += 1;
        client.seen.set(k, { value: op.value!, rev: slot });
        this.record({ process: client.process, type: 'ok', f, key: k });
      } else {
        this.ops.fail += 1;
        const got = res.results[0];
        const seen = got !== undefined && 'value' in got ? got : { value: null };
        client.seen.set(k, { value: seen.value, rev: 'rev' in seen ? seen.rev[1] : 0 });
        this.record({ process: client.process, type: 'fail', f, key: k });
      }
    } else {
      this.ops.ok += 1;
      if (op.f === 'get') {
        const v = 'value' in res ? res.value : null;
        client.seen.set(k, { value: v, rev: 'rev' in res ? res.rev[1] : 0 });
        this.record({ process: client.process, type: 'ok', f, key: k, value: v });
      } else {
        // A put, del or cas: answered with the slot that applied it, its revision.
        client.seen.set(k, op.f === 'del' ? { value: null, rev: 0 } : { value: op.value!, rev: slot });
        this.record({ process: client.process, type: 'ok', f, key: k });
      }
    }
    ctx.note(`client ${client.id} seq ${op.cmd.seq} ${f} ${res === null ? 'gave up' : JSON.stringify(res)}`);
    ctx.agenda.push(ctx.now + 1 + Math.floor(ctx.rng() * 20), () => this.nextOp(client));
  }
}

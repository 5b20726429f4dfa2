// The log simulator's clients: put/get/del/cas on a few keys, one op at a
// time each, to a random replica (sticky clients go back to the one that
// last answered), through the replica's real client entry
// (ReplicaNode.submit). A client's answer is the store's result once the
// replica applies its command, or, for a get from a session the store
// knows, once it can answer by read index. "No leader" or "not ready", or no
// answer in time, and the client retries the same client + seq at another
// replica (the store applies a seq once); if it gives up, the op is `info`
// (unknown) in the Jepsen-style history.

import type { PeerId } from '../core/types.js';
import { pick } from '../util/prng.js';
import { readsByIndex, type Answer } from '../node/replica-node.js';
import {
  checkClientCommand,
  encodeCommand,
  type CheckedClientCommand,
  type KeyCommand,
  type Result,
} from '../sm/command.js';
import type { Invariants } from './log-checks.js';
import type { SimReplicas } from './log-replicas.js';
import type { SimContext } from './log-world-types.js';

/** A client gives up on an op (outcome unknown) this long after invoking it. */

const GIVE_UP_MS = 2000;

interface ClientOp {
  /** The simulated clients send single-key commands (no transactions). */
  readonly cmd: KeyCommand;
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
  readonly seen: Map<string, string | null>;
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
    const f = pick(r, ['put', 'get', 'get', 'del', 'cas', 'cas'] as const);
    const key = pick(r, this.keys);
    client.seq += 1;
    const base = { client: client.id, seq: client.seq, key };
    let cmd: KeyCommand;
    let invoke: Record<string, unknown>;
    if (f === 'put') {
      const value = `v${++this.valueCounter}`;
      cmd = { op: 'put', ...base, value };
      invoke = { value };
    } else if (f === 'cas') {
      const value = `v${++this.valueCounter}`;
      const expected = r() < 0.8 ? (client.seen.get(key) ?? null) : null;
      cmd = { op: 'cas', ...base, expected, value };
      invoke = { value: [expected, value] };
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
    client.op = { cmd, wire: wire.value, invokedAt: ctx.now, attempts: 0, attempt: 0, lastReplica: 0 };
    this.record({ process: client.process, type: 'invoke', f, key, ...invoke });
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
      `client ${client.id} seq ${op.cmd.seq} ${op.cmd.op} ${op.cmd.key} -> r${rep.id}` +
        `${byIndex ? ' by read index' : ''} (attempt ${op.attempts})`,
    );
    const answered = (a: Answer): void => {
      if (client.op !== op) return; // an answer to an op already settled
      if (a.status === 'done') {
        if (byIndex) ctx.stats.indexReads += 1;
        return this.complete(client, a.result, rep.id);
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

  /** The op's answer (a store result) from replica `from`, or null: gave up, outcome unknown. */
  private complete(client: Client, res: Result | null, from: PeerId = 0): void {
    const { ctx } = this;
    const op = client.op;
    if (op === null) return;
    client.op = null;
    client.home = from;
    const f = op.cmd.op;
    const k = op.cmd.key;
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
      if (f !== 'cas') ctx.fail('safety', `client ${client.id} ${f} came back mismatch`);
      this.ops.fail += 1;
      client.seen.set(k, res.current);
      this.record({ process: client.process, type: 'fail', f, key: k });
    } else {
      this.ops.ok += 1;
      if (op.cmd.op === 'get') {
        const v = 'value' in res ? res.value : null;
        client.seen.set(k, v);
        this.record({ process: client.process, type: 'ok', f, key: k, value: v });
      } else {
        client.seen.set(k, op.cmd.op === 'del' ? null : op.cmd.value);
        this.record({ process: client.process, type: 'ok', f, key: k });
      }
    }
    ctx.note(`client ${client.id} seq ${op.cmd.seq} ${f} ${res === null ? 'gave up' : JSON.stringify(res)}`);
    ctx.agenda.push(ctx.now + 1 + Math.floor(ctx.rng() * 20), () => this.nextOp(client));
  }
}

// A replica of the replicated log: the thin shell around the pure LogNode.
// Messages, clock ticks and client commands go into the core; its Ready
// batches come out and are performed one at a time, under a mutex, in the
// order the core's contract demands:
//   records durable (one fsync for the batch) -> stdout lines and messages
//   -> snapshot install -> apply chosen slots and answer clients.
// While one batch waits for its fsync, the core goes on taking messages, and
// everything they produce becomes the next batch: group commit, with no
// timer, at whatever rate the disk allows.
//
// A get from a client session the store knows is a read by index
// (LogNode.read): nothing is written, and it is answered from this replica's
// store once the core has confirmed it and its index is applied. A client's
// first get goes through the log, so the store knows its session before its
// next seq: a put from a session the store has never seen is refused as
// expired unless it is seq 1.

import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Mutex } from 'async-mutex';
import type { Cluster, HostEntry } from '../paxos/cluster.js';
import type { PeerId } from '../core/types.js';
import { isLogged, logChoseLine, logMessageLine } from '../log/logline.js';
import { LogNode } from '../log/node.js';
import { DEFAULT_LOG_TIMING, type Committed, type LogTiming, type Ready } from '../log/types.js';
import { decodeCommand, encodeCommand, encodeResult, type ClientCommand, type Command } from '../sm/command.js';
import { KvStore, type KvOptions } from '../sm/kv.js';
import type { Secret } from '../transport/auth.js';
import { DUMP_WINDOW, type KvRequest, type KvResult } from '../wire/kv.js';
import type { ClientResult } from '../wire/lab.js';
import { PeerLink, type Endpoint } from '../transport/link.js';
import { DEFAULT_LIVENESS, type Liveness } from '../config/liveness.js';
import { logCodec, type ReplicaWire } from '../wire/log.js';
import { listen, type ClientConn, type Inbound } from '../transport/server.js';
import type { Logger } from '../util/logger.js';
import { identityOf, KEEP_LOG_BYTES, ReplicaStore } from './replica-store.js';
import { CHUNK_CHARS, SnapshotReceiver, streamSnapshot } from './snapshot-transfer.js';

export interface ReplicaOptions {
  readonly cluster: Cluster;
  readonly self: HostEntry;
  readonly listen: Endpoint;
  readonly endpointOf: (peer: HostEntry) => Endpoint;
  readonly dataDir: string;
  /** The readable copy of the store (default DATA_DIR/store.jsonl). */
  readonly replicaFile?: string;
  readonly secret?: Secret | null;
  readonly liveness?: Liveness;
  /** Print sent/received lines (true) or only chose lines (false). */
  readonly messageLines: boolean;
  /** Snapshot every this many applied slots (default SNAPSHOT_EVERY_SLOTS). */
  readonly snapshotEvery?: number;
  /** Largest store a write may make, in UTF-8 bytes of keys and values (default DEFAULT_QUOTA_BYTES); the same on every replica. */
  readonly quotaBytes?: number;
  /** Milliseconds per core tick (the core counts its timeouts in ticks). */
  readonly tickMs: number;
  readonly timing?: LogTiming;
  readonly random: () => number;
  readonly out: (line: string) => void;
  readonly log: Logger;
}

/** Largest line a replica takes from another replica: catch-up batches (snapshots stream in chunks well under it). */
export const MAX_REPLICA_LINE_BYTES = 64 * 1024 * 1024;
/** Slowest rate at which one follower is sent our snapshot (counted from the end of the last transfer to it). */
const SNAPSHOT_RESEND_MS = 1000;
/** While recovering, say every this often who has not answered yet. */
const RECOVERY_NAG_MS = 5000;

interface Waiter {
  readonly id: string;
  readonly reply: (r: KvResult) => void;
}

interface WaitingRead extends Waiter {
  readonly key: string;
  /** The log index to wait for; -1 until the core confirms the read. */
  index: number;
  /** performance.now() when the core confirmed it. */
  confirmedAt: number;
}

/**
 * A confirmed read whose index is not applied this long after is asked again:
 * a leader that died may have given an index for a slot it proposed but no
 * one voted for, which nothing fills until some later write comes.
 */
const READ_REASK_MS = 1000;

/** Passed-on commands remembered after their clients left (as many as the store keeps sessions by default). */
const MAX_PASSED_ON = 10_000;
const sessionKey = (c: { client: string; seq: number }): string => `${c.client}\u0000${c.seq}`;

export class ReplicaDaemon extends EventEmitter<{ fatal: [Error] }> {
  private readonly store: ReplicaStore;
  private readonly mutex = new Mutex();
  private readonly links = new Map<PeerId, PeerLink<ReplicaWire>>();
  /**
   * Clients waiting here for a command to be applied, by client id and seq,
   * with the command, and whether it was ever passed on (to a leader, or into
   * our own pending queue): one that was may be chosen, so it is never
   * answered "no leader, nothing done".
   */
  private readonly waiters = new Map<string, { cmd: unknown; list: Waiter[]; placed: boolean }>();
  /**
   * Commands passed on whose clients all hung up before they were applied,
   * by client id and seq (oldest first, at most MAX_PASSED_ON): a retry of
   * one may still be chosen, so it too is never answered "nothing done".
   */
  private readonly passedOn = new Set<string>();
  private readonly snapshotSentAt = new Map<PeerId, number>();
  /** Followers a snapshot is streaming to now: one transfer each at a time. */
  private readonly snapshotSending = new Set<PeerId>();
  private readonly receiver: SnapshotReceiver;
  private readonly kvOptions: KvOptions;
  /** A snapshot being written in the background (see perform). */
  private saving = false;
  /** Event-loop delays, reported with each snapshot. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  /** Dumps streaming to clients, by request id: the last part each client acked, and a wake-up for the sender. */
  private readonly dumps = new Map<string, { acked: number; wake: () => void }>();
  /** Gets waiting to be answered by read index, by the id given to the core. */
  private readonly reads = new Map<number, WaitingRead>();
  private readIds = 0;
  private node: LogNode | null = null;
  private kv = new KvStore();
  private inbound: Inbound | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = false;
  private lastLeader: PeerId = 0;
  /** Why this replica recovers before it votes (null once it votes), and since when. */
  private recovering: string | null = null;
  private recoveringSince = 0;
  /** Whether the start of recovery was a warning (lost or damaged state, not a first start): its end is one too. */
  private recoveryWarned = false;
  private recoveryNagAt = 0;

  constructor(private readonly opts: ReplicaOptions) {
    super();
    this.kvOptions = opts.quotaBytes === undefined ? {} : { quotaBytes: opts.quotaBytes };
    this.store = new ReplicaStore(opts.dataDir, opts.log, opts.replicaFile, opts.snapshotEvery, this.kvOptions);
    this.receiver = new SnapshotReceiver(this.kvOptions, opts.log);
    this.loopDelay.enable();
  }

  get leader(): PeerId {
    return this.node?.leader ?? 0;
  }

  async start(): Promise<void> {
    const { cluster, self, log } = this.opts;
    const { recovered, kv, recover, empty } = await this.store.open(identityOf(cluster.hosts.map((h) => h.host), self.id));
    this.kv = kv;
    // life: a seeded `random` (--rng-seed) repeats itself on every start.
    this.node = new LogNode(
      { self: self.id, replicas: cluster.replicas.length, timing: this.opts.timing ?? DEFAULT_LOG_TIMING, random: this.opts.random, life: randomInt(1, 2 ** 40), recover: recover !== null },
      recovered,
    );
    log.info(`recovered: promise ${recovered.promised}, ${recovered.votes.size} votes, snapshot at slot ${recovered.snapshotIndex}, applying up to slot ${this.node.commit - 1}`);
    this.recoveringSince = this.recoveryNagAt = performance.now();
    if (recover !== null && this.node.recovering !== null) {
      this.recovering = recover;
      // A first start is routine; lost or damaged state is worth a warning.
      const say = `recovering (${recover}): voting for nothing, and answering clients "not ready", until every other replica has said what it holds and this one has caught up`;
      this.recoveryWarned = !empty;
      if (empty) log.info(say);
      else log.warn(say);
    }
    const liveness = this.opts.liveness ?? DEFAULT_LIVENESS;
    this.inbound = await listen<ReplicaWire, KvRequest, KvResult | ClientResult>(
      this.opts.listen,
      {
        message: (m) => this.onMessage(m),
        hello: (from) => this.links.get(from)?.kick(),
        client: (req, reply, conn) => this.onClient(req, reply, conn),
      },
      { log, secret: this.opts.secret ?? null, self: self.id, liveness, codec: logCodec(self.host), maxPeerLineBytes: MAX_REPLICA_LINE_BYTES },
    );
    for (const h of cluster.hosts) {
      if (h.id === self.id) continue;
      const link = new PeerLink<ReplicaWire>(h.host, this.opts.endpointOf(h), { self: self.id, peer: h.id, secret: this.opts.secret ?? null, liveness, log, queueWhileDown: false });
      this.links.set(h.id, link);
      link.start();
    }
    this.ticker = setInterval(() => {
      this.node?.tick();
      this.reaskLateReads();
      this.nagWhileRecovering();
      this.kick();
    }, this.opts.tickMs);
    this.kick(); // slots recovered from the log are applied again
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    // Dumps waiting for a client's ack see `stopped` and close their views.
    for (const d of this.dumps.values()) d.wake();
    await this.inbound?.close();
    await Promise.all([...this.links.values()].map((l) => l.close()));
    await this.mutex.runExclusive(async () => {
      // The replica file is current at every snapshot and at a clean shutdown.
      this.loopDelay.disable();
      await this.store.writeReplicaFile(this.kv.view()).catch((err: Error) => this.opts.log.warn(`could not write ${this.store.replicaFile}: ${err.message}`));
      await this.store.close();
    });
  }

  private onMessage(m: ReplicaWire): void {
    if (this.stopped || this.node === null) return;
    if (m.type === 'snapshot_chunk') {
      // Rebuilt chunk by chunk; the core sees one `snapshot` once it is whole.
      const kv = this.receiver.take(m);
      if (kv === null) return;
      this.node.step({ type: 'snapshot', from: m.from, index: m.index, data: kv });
    } else this.node.step(m);
    this.kick();
  }

  private onClient(req: KvRequest, reply: (r: KvResult) => void, conn: ClientConn): void {
    const peer = this.opts.self.host;
    if (this.node === null || this.stopped) return reply({ type: 'kv_result', id: req.id, peer, status: 'no_leader' });
    if (req.type === 'dump') return void this.dump(req.id, reply, conn);
    if (req.type === 'dump_ack') {
      const d = this.dumps.get(req.id);
      if (d !== undefined && req.seq > d.acked) {
        d.acked = req.seq;
        d.wake();
      }
      return;
    }
    const recovering = this.recoveryStatus();
    if (recovering !== null) return reply({ type: 'kv_result', id: req.id, peer, status: 'not_ready', why: recovering });
    if (req.cmd.op === 'get') {
      const session = this.kv.session(req.cmd.client);
      if (session !== undefined && req.cmd.seq > session.seq) return this.readByIndex(req.id, req.cmd.key, reply, conn);
    }
    const key = sessionKey(req.cmd);
    // Forgotten if its connection closes first; the callback is cancelled
    // when it is answered (a connection carries many requests over its life).
    const w: Waiter = {
      id: req.id,
      reply: (r) => {
        cancel();
        reply(r);
      },
    };
    const cancel = conn.onClose(() => this.dropWaiter(key, w));
    const cmd = encodeCommand(req.cmd);
    const entry = this.waiters.get(key) ?? { cmd, list: [], placed: this.passedOn.has(key) };
    // Passed on only where a leader is known (this one, or the one a follower
    // forwards to): a candidate hands a new command back unplaced (LogNode.propose).
    if (this.node.leader !== 0) entry.placed = true;
    entry.list.push(w);
    this.waiters.set(key, entry);
    this.node.propose([cmd]);
    this.kick();
  }

  /**
   * Stream the store as it is now (a frozen view) to a client: parts of about
   * CHUNK_CHARS, at most DUMP_WINDOW ahead of its acks, yielding to the event
   * loop between them, then the final line with the applied slot and leader.
   */
  private async dump(id: string, reply: (r: KvResult) => void, conn: ClientConn): Promise<void> {
    const peer = this.opts.self.host;
    const view = this.kv.view();
    const leader = this.opts.cluster.byId(this.node?.leader ?? 0)?.host ?? '';
    const recovering = this.recoveryStatus();
    const state = { acked: -1, wake: (): void => undefined };
    this.dumps.set(id, state);
    let gone = false;
    const cancel = conn.onClose(() => {
      gone = true;
      state.wake();
    });
    try {
      const pieces = view.pieces(CHUNK_CHARS);
      let next = pieces.next();
      for (let seq = 0; next.done !== true && !gone; seq++) {
        const data = next.value.entries;
        next = pieces.next();
        if (next.done === true) return reply({ type: 'kv_result', id, peer, status: 'dump', applied: view.applied, data, leader, parts: seq, keys: view.keys, ...(recovering === null ? {} : { recovering }) });
        reply({ type: 'kv_result', id, peer, status: 'dump_part', seq, data });
        while (seq - state.acked >= DUMP_WINDOW && !gone && !this.stopped) await new Promise<void>((resolve) => (state.wake = resolve));
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      view.close();
      cancel();
      this.dumps.delete(id);
    }
  }

  private readByIndex(id: string, key: string, reply: (r: KvResult) => void, conn: ClientConn): void {
    const readId = ++this.readIds;
    const cancel = conn.onClose(() => void this.reads.delete(readId));
    this.reads.set(readId, {
      id,
      key,
      index: -1,
      confirmedAt: 0,
      reply: (r) => {
        cancel();
        this.reads.delete(readId);
        reply(r);
      },
    });
    this.node!.read([readId]);
    this.kick();
  }

  private async rejoin(): Promise<void> {
    const node = this.node!;
    await this.store.syncAll();
    await this.store.markRejoined();
    const say = `recovered from the other replicas: voting again (promise ${node.promise}, caught up to slot ${node.commit - 1}, after ${((performance.now() - this.recoveringSince) / 1000).toFixed(1)} s)`;
    if (this.recoveryWarned) this.opts.log.warn(say);
    else this.opts.log.info(say);
    this.recovering = null;
  }

  /** While recovering, what it waits for (for clients, dump and the live page); null once it votes. */
  recoveryStatus(): string | null {
    const node = this.node;
    if (this.recovering === null || node === null || node.recovering === null) return null;
    if (node.recovering === 'catching-up') return `recovering (${this.recovering}): catching up before it votes`;
    const names = node.recoveryMissing.map((id) => this.opts.cluster.byId(id)?.host ?? String(id));
    return `recovering (${this.recovering}): waiting for ${names.join(', ')} to answer before it votes`;
  }

  private nagWhileRecovering(): void {
    const status = this.recoveryStatus();
    if (status === null) return;
    const now = performance.now();
    if (now - this.recoveryNagAt < RECOVERY_NAG_MS) return;
    this.recoveryNagAt = now;
    this.opts.log.warn(`still ${status} (${((now - this.recoveringSince) / 1000).toFixed(0)} s); every other replica must answer: a majority is not enough (docs/recovery.md)`);
  }

  private reaskLateReads(): void {
    if (this.reads.size === 0 || this.node === null) return;
    const late: number[] = [];
    const now = performance.now();
    for (const [readId, w] of this.reads) {
      if (w.index < 0 || now - w.confirmedAt < READ_REASK_MS) continue;
      w.index = -1;
      late.push(readId);
    }
    this.node.read(late);
  }

  /** Answer the confirmed reads whose index this replica has applied. */
  private serveReads(): void {
    const peer = this.opts.self.host;
    const applied = this.kv.appliedIndex;
    for (const w of this.reads.values()) {
      if (w.index < 0 || w.index > applied) continue;
      w.reply({ type: 'kv_result', id: w.id, peer, status: 'done', slot: applied, result: encodeResult({ status: 'ok', value: this.kv.read(w.key) }) });
    }
  }

  private dropWaiter(key: string, w: Waiter): void {
    const entry = this.waiters.get(key);
    if (entry === undefined) return;
    entry.list = entry.list.filter((x) => x !== w);
    if (entry.list.length > 0) return;
    this.waiters.delete(key);
    if (entry.placed) {
      this.passedOn.add(key);
      if (this.passedOn.size > MAX_PASSED_ON) this.passedOn.delete(this.passedOn.values().next().value!);
    }
  }

  /** Perform the core's Ready batches, one at a time, until it has none. */
  private kick(): void {
    if (this.running || this.stopped || this.node === null || !this.node.hasReady) return;
    this.running = true;
    void this.mutex
      .runExclusive(async () => {
        while (!this.stopped && this.node !== null && this.node.hasReady) await this.perform(this.node.ready());
      })
      .catch((err: Error) => this.emit('fatal', err))
      .finally(() => {
        this.running = false;
        // Work that arrived during the last perform.
        if (!this.stopped) queueMicrotask(() => this.kick());
      });
  }

  private async perform(r: Ready): Promise<void> {
    const node = this.node!;
    const { self, out, messageLines } = this.opts;
    // 0. A leader's accepts go out while its own vote is written.
    for (const o of r.early) {
      for (const to of o.to) this.links.get(to)?.send(o.msg);
      if (messageLines && o.silent !== true && isLogged(o.msg)) out(logMessageLine('sent', self.id, o.msg));
    }
    // 1. Durable before anything that depends on it leaves.
    if (r.records.length > 0) await this.store.persist(r.records);

    // 2. Lines and messages.
    if (messageLines) for (const m of r.received) if (isLogged(m)) out(logMessageLine('received', self.id, m));
    for (const o of r.messages) {
      for (const to of o.to) this.links.get(to)?.send(o.msg);
      if (messageLines && o.silent !== true && isLogged(o.msg)) out(logMessageLine('sent', self.id, o.msg));
    }
    for (const l of r.learned) out(logChoseLine(self.id, l.slot, l.n, l.v));
    // 3. A snapshot from the leader replaces the store.
    if (r.snapshot !== null) {
      // The store onMessage rebuilt from the leader's chunks.
      const kv = r.snapshot.data;
      if (!(kv instanceof KvStore) || kv.appliedIndex !== r.snapshot.index) throw new Error(`a snapshot for slot ${r.snapshot.index} that does not hold our store at that slot (a bug)`);
      this.kv = kv;
      const view = kv.view();
      this.store.lastSnapshot = view.applied;
      await this.store.writeSnapshot(view);
      await this.store.checkpoint(view.applied, () => node.liveRecords());
      this.opts.log.info(`installed a snapshot at slot ${r.snapshot.index} (${kv.size} keys, ${kv.storeBytes} bytes)`);
    }
    // Recovered: the identity file makes this directory a voting member's
    // again, once everything it learned is durable (the snapshot above, the
    // chosen values in its log), and before any vote: votes come in later
    // batches, performed after this one.
    if (r.rejoined) await this.rejoin();
    // 4. Apply, in slot order, and answer the clients waiting here.
    for (const c of r.committed) this.apply(c);
    for (const to of r.sendSnapshotTo) this.sendSnapshot(to);
    for (const raw of r.unplaced) {
      const cmd = decodeCommand(raw);
      if (!cmd.ok || cmd.value.op === 'noop') continue;
      // Passed on before: it may yet be chosen. It waits here, and goes to the
      // next leader; the client's timeout says "unknown", which is the truth.
      if (this.waiters.get(sessionKey(cmd.value))?.placed === true) continue;
      // Applied here already (a retry): "nothing done" would be false too.
      if ((this.kv.session(cmd.value.client)?.seq ?? 0) >= cmd.value.seq) continue;
      this.answer(cmd.value, (id, peer) => ({ type: 'kv_result', id, peer, status: 'no_leader' }));
    }
    const now = performance.now();
    for (const c of r.reads) {
      const w = this.reads.get(c.id);
      if (w === undefined) continue;
      w.index = c.index;
      w.confirmedAt = now;
    }
    for (const readId of r.unreadable) {
      const w = this.reads.get(readId);
      w?.reply({ type: 'kv_result', id: w.id, peer: self.host, status: 'no_leader' });
    }
    if (this.reads.size > 0) this.serveReads();
    if (node.leader !== this.lastLeader) {
      this.lastLeader = node.leader;
      const who = this.opts.cluster.byId(node.leader)?.host;
      this.opts.log.info(who === undefined ? 'no leader known' : `leader: ${who}${node.leader === self.id ? ` (this replica, ballot ${node.currentBallot})` : ''}`);
      // Commands passed on to a leader that is gone may be lost with it: pass
      // them on again. The store applies each client seq at most once.
      if (node.leader !== 0 && this.waiters.size > 0) {
        for (const e of this.waiters.values()) e.placed = true;
        node.propose([...this.waiters.values()].map((e) => e.cmd));
      }
    }
    if (!this.saving && this.store.shouldSnapshot(this.kv.appliedIndex)) {
      // A frozen view now (a copy of the key map: a few ms per 100,000 keys);
      // the file is written from it in the background while slots go on being
      // applied and answered, and the log is checkpointed once it is durable.
      const t0 = performance.now();
      const view = this.kv.view();
      const viewMs = performance.now() - t0;
      this.store.lastSnapshot = view.applied;
      this.saving = true;
      void this.saveSnapshot(view.applied, this.store.writeSnapshot(view), viewMs);
    }
  }

  /** Once the snapshot at `index` is durable, compact the log behind it (under the mutex, as a perform). */
  private async saveSnapshot(index: number, written: Promise<void>, viewMs: number): Promise<void> {
    const t0 = performance.now();
    try {
      await written;
      await this.mutex.runExclusive(async () => {
        const node = this.node;
        if (this.stopped || node === null) return;
        await this.store.checkpoint(index, () => {
          node.compact(index, index + 1 - this.store.keepSlots, KEEP_LOG_BYTES);
          return node.liveRecords();
        });
      });
      const pause = this.loopDelay.max / 1e6;
      this.loopDelay.reset();
      const mem = process.memoryUsage();
      const mib = (b: number): string => (b / 1024 / 1024).toFixed(0);
      this.opts.log.info(
        `snapshot at slot ${index}: view ${viewMs.toFixed(1)} ms, written in ${(performance.now() - t0).toFixed(0)} ms; log compacted to ${this.store.logBytes} bytes; longest event-loop pause since the last snapshot ${pause.toFixed(0)} ms; heap ${mib(mem.heapUsed)} MiB, RSS ${mib(mem.rss)} MiB`,
      );
    } catch (err) {
      this.emit('fatal', err as Error);
    } finally {
      this.saving = false;
    }
  }

  private apply(c: Committed): void {
    const cmds: Command[] = [];
    for (const raw of c.v) {
      const d = decodeCommand(raw);
      // Checked on the way in (log-wire.ts, onClient): a bad one here is a bug.
      if (!d.ok) throw new Error(`slot ${c.slot} holds an invalid command (${d.why}); stopping rather than diverge`);
      cmds.push(d.value);
    }
    const results = this.kv.applyBatch(cmds, c.slot);
    cmds.forEach((cmd, i) => {
      if (cmd.op === 'noop') return;
      const result = encodeResult(results[i]!);
      this.answer(cmd, (id, peer) => ({ type: 'kv_result', id, peer, status: 'done', slot: c.slot, result }));
    });
  }

  private answer(cmd: ClientCommand, make: (id: string, peer: string) => KvResult): void {
    const key = sessionKey(cmd);
    this.passedOn.delete(key); // applied: a retry now finds its session (see perform)
    const entry = this.waiters.get(key);
    if (entry === undefined) return;
    this.waiters.delete(key);
    for (const w of entry.list) w.reply(make(w.id, this.opts.self.host));
  }

  /**
   * Stream our store, frozen now, to a follower that is behind our log: in
   * chunks, with backpressure, in the background (snapshot-transfer.ts). One
   * transfer per follower at a time; stopped if we stop leading.
   */
  private sendSnapshot(to: PeerId): void {
    const link = this.links.get(to);
    if (link === undefined || this.snapshotSending.has(to)) return;
    if (performance.now() - (this.snapshotSentAt.get(to) ?? -Infinity) < SNAPSHOT_RESEND_MS) return;
    const who = this.opts.cluster.byId(to)?.host ?? String(to);
    const view = this.kv.view();
    this.snapshotSending.add(to);
    const t0 = performance.now();
    this.opts.log.info(`sending our snapshot (slot ${view.applied}, ${view.keys} keys) to ${who}: it is behind our log`);
    // A leader that is deposed stops (the follower asks the next one); anyone else answering a fetch finishes.
    const leading = this.node?.role === 'leader';
    const cancelled = (): boolean => this.stopped || (leading && this.node?.role !== 'leader');
    void streamSnapshot(link, this.opts.self.id, view, cancelled)
      .then((why) => this.opts.log.info(why === null ? `sent our snapshot (slot ${view.applied}) to ${who} in ${(performance.now() - t0).toFixed(0)} ms` : `stopped sending our snapshot to ${who}: ${why}`))
      .finally(() => {
        view.close();
        this.snapshotSending.delete(to);
        this.snapshotSentAt.set(to, performance.now());
      });
  }
}

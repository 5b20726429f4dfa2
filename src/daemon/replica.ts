// A replica of the replicated log: the thin wiring of a ReplicaNode
// (src/node/replica-node.ts: the core, the store, the node loop, clients,
// reads, snapshots, recovery) to the real world: its data directory
// (FileLogStore), sockets (src/transport: peer links and the listening
// side), a timer that ticks the core every tickMs, and the performance
// clock. Here too are what only sockets can do: rebuilding snapshots that
// arrive in chunks and streaming ours in chunks (snapshot-transfer.ts), and
// dumps of the store to a client, paced by its acks. It runs with its
// settings (ReplicaSettings, src/config/settings.ts) and is handed, apart,
// what is not configuration (ReplicaDeps: the opened store, output, logger).
// With --metrics, it serves /healthz, /readyz and /metrics too
// (health-http.ts, metrics.ts), and counts what its clients ask.

import { memberById, type Member, type Membership } from '../paxos/membership.js';
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  kvOptionsOf,
  livenessOf,
  firstMembers,
  leaseExtensionMs,
  logTiming,
  rngOf,
  type ReplicaSettings,
} from '../config/settings.js';
import type { PeerId } from '../core/types.js';
import { ReplicaNode, type Answer } from '../node/replica-node.js';
import { encodeResult } from '../sm/command.js';
import type { FileLogStore } from '../storage/file-log-store.js';
import { identityOf } from '../storage/log-store.js';
import { type KvResult, type ReceivedKvRequest } from '../wire/kv.js';
import type { ClientResult } from '../wire/lab.js';
import { logCodec, type ReplicaWire } from '../wire/log.js';
import { listen, type ClientConn, type Inbound } from '../transport/server.js';
import type { Logger } from '../util/logger.js';
import { SnapshotReceiver, streamSnapshot } from './snapshot-transfer.js';
import { MemberLinks } from './replica-links.js';
import { serveHealth, type HealthServer } from './health-http.js';
import { PromMetrics } from './metrics.js';
import { clientOpOf } from './client-ops.js';
import { readiness, type Readiness } from '../node/readiness.js';
import type { Address } from '../config/settings.js';
import { CHUNK_CHARS, DUMP_WINDOW, MAX_REPLICA_LINE_BYTES } from '../paxos/defaults.js';

/** What a replica is handed that is not configuration (that is its ReplicaSettings). */
export interface ReplicaDeps {
  /** Its data directory's store, not yet opened (src/daemon/launch.ts builds it from the settings). */
  readonly store: FileLogStore;
  /** Receives each stdout log line (without newline). */
  readonly out: (line: string) => void;
  readonly log: Logger;
  /**
   * --join, first start: ask the cluster (as a client) until a member has
   * run paxos member add NAME=..., and resolve to the id it got and whether
   * it is a voter yet (src/cli/join.ts).
   */
  readonly join?: (
    name: string,
  ) => Promise<{ readonly id: PeerId; readonly voter: boolean; readonly members: readonly Member[] }>;
}

export class ReplicaDaemon extends EventEmitter<{ fatal: [Error]; removed: [string] }> {
  private readonly store: FileLogStore;
  /** A link to each other replica that takes part (replica-links.ts). */
  private readonly links: MemberLinks;
  private readonly receiver: SnapshotReceiver;
  /** Event-loop delays, reported with each snapshot. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  /** Dumps streaming to clients, by request id: the last part each client acked, and a wake-up for the sender. */
  private readonly dumps = new Map<string, { acked: number; wake: () => void }>();
  private node: ReplicaNode | null = null;
  private inbound: Inbound | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private stopped = false;
  /** --metrics: the counters and gauges, and the HTTP listener that serves them. */
  private readonly metrics: PromMetrics | null;
  private health: HealthServer | null = null;
  /** performance.now() at the last tick: /healthz says the node loop stalled if it is long ago. */
  private lastTick = 0;
  /** This replica's id: its hostsfile line, or (--join) the id the cluster gave it. */
  private selfId: PeerId;
  /** --join: waiting for the cluster to name our id (alive, not ready). */
  private joining = false;
  /** Why this replica takes no part any more (removed from the configuration), or null. */
  removed: string | null = null;

  constructor(
    private readonly settings: ReplicaSettings,
    private readonly deps: ReplicaDeps,
  ) {
    super();
    this.selfId = settings.self.id;
    this.store = deps.store;
    this.links = new MemberLinks(settings, deps.log);
    this.receiver = new SnapshotReceiver(kvOptionsOf(settings), deps.log);
    this.loopDelay.enable();
    this.metrics =
      settings.metrics === undefined
        ? null
        : new PromMetrics({
            status: () => {
              const node = this.node;
              return node === null ? null : { ...node.status(), snapshot: this.store.lastSnapshot };
            },
            peers: () => [...this.links.all()].map((l) => ({ name: l.name, up: l.isUp, rttMs: l.rttMs })),
          });
    const metrics = this.metrics;
    if (metrics !== null) this.store.onFsync = (seconds, kind) => metrics.fsync(seconds, kind);
  }

  get leader(): PeerId {
    return this.node?.core.leader ?? 0;
  }

  /** Where --metrics listens, once started (null without it). */
  get metricsAddress(): Address | null {
    return this.health?.address ?? null;
  }

  /** /healthz: null while the process and its node loop run, else why not. */
  private liveness(): string | null {
    if (this.stopped) return 'stopping';
    if (this.joining) return null; // alive, waiting to be added: an orchestrator must not restart it
    if (this.node === null) return 'starting: the store is being opened';
    const gap = performance.now() - this.lastTick;
    if (gap > HEALTHY_TICK_GAP_MS) return `node loop stalled: no tick for ${(gap / 1000).toFixed(1)} s`;
    return null;
  }

  /** /readyz: the readiness rule (src/node/readiness.ts) over the node's status. */
  private readiness(): Readiness {
    if (this.stopped) return { ready: false, why: 'stopping' };
    if (this.joining) return { ready: false, why: `joining: waiting for paxos member add ${this.settings.self.host}` };
    if (this.node === null) return { ready: false, why: 'starting: the store is being opened' };
    const s = this.node.status();
    return readiness({
      leaderKnown: s.leader !== 0,
      recovering: s.recovering,
      applied: s.applied,
      commit: s.leaderCommit,
    });
  }

  async start(): Promise<void> {
    const { cluster, self, secret } = this.settings;
    const log = this.deps.log;
    // First: a bad --metrics address is a usage error before anything else starts.
    const metrics = this.metrics;
    if (this.settings.metrics !== undefined && metrics !== null) {
      this.health = await serveHealth(
        this.settings.metrics,
        { health: () => this.liveness(), readiness: () => this.readiness(), metrics: () => metrics.text() },
        log,
      );
    }
    const fresh = await this.findSelf();
    const hosts = cluster.hosts.map((h) => h.host);
    let opened = await this.store.open(identityOf(hosts, this.selfId, self.host));
    if (fresh && opened.recover !== null) {
      // A learner's first start: it never voted, so it has nothing to recover; it catches up as it goes.
      await this.store.markRejoined();
      opened = { ...opened, recover: null };
    }
    const nameOf = (id: PeerId): string | undefined =>
      (this.node?.membership === null || this.node === null ? undefined : memberById(this.node.membership, id)?.name) ??
      cluster.byId(id)?.host;
    this.node = new ReplicaNode(
      // life: a seeded `random` (--rng-seed) repeats itself on every start.
      {
        self: this.selfId,
        replicas: cluster.replicas.length,
        nameOf,
        messageLines: this.settings.messageLines,
        random: rngOf(this.settings),
        life: randomInt(1, 2 ** 40),
        timing: logTiming(this.settings),
        leaseExtensionMs: leaseExtensionMs(this.settings),
      },
      {
        store: this.store,
        network: {
          send: (to, msg) => this.links.get(to)?.send(msg),
          flush: () => this.links.all().forEach((l) => l.flush()),
        },
        sendSnapshot: (to, view, cancelled) => {
          const link = this.links.get(to);
          return link === undefined ? 'no link to it' : streamSnapshot(link, this.selfId, view, cancelled);
        },
        now: () => performance.now(),
        out: this.deps.out,
        log,
        fatal: (err) => this.emit('fatal', err),
        // After the poll phase: every socket read in this turn of the event
        // loop (many clients, a forward, acks) shares one batch, one slot
        // and one fsync; queueMicrotask would run a batch per socket read.
        defer: (run) => void setImmediate(run),
        snapshotSaved: (index, viewMs, writeMs) => this.reportSnapshot(index, viewMs, writeMs),
        members: (m, inForce) => this.members(m, inForce),
        ...(metrics === null ? {} : { metrics }),
      },
      opened,
    );
    const liveness = livenessOf(this.settings);
    this.inbound = await listen<ReplicaWire, ReceivedKvRequest, KvResult | ClientResult>(
      this.settings.listen,
      {
        message: (m) => this.onMessage(m),
        hello: (from) => this.links.get(from)?.kick(),
        client: (req, reply, conn) => this.onClient(req, reply, conn),
      },
      {
        log,
        secret,
        tls: this.settings.tls ?? null,
        nameOf,
        self: this.selfId,
        liveness,
        codec: logCodec(self.host),
        maxPeerLineBytes: MAX_REPLICA_LINE_BYTES,
      },
    );
    this.members(this.node.membership ?? firstMembers(cluster), false);
    this.lastTick = performance.now();
    this.ticker = setInterval(() => {
      this.lastTick = performance.now();
      this.node?.tick();
    }, this.settings.tickMs);
    this.node.kick(); // slots recovered from the log are applied again
  }

  /**
   * Our id: the hostsfile's line, or with --join the one identity.json names
   * (a restart), or the one the cluster gives us once a member has run
   * paxos member add (a first start). True for a first start as a learner.
   */
  private async findSelf(): Promise<boolean> {
    const { self } = this.settings;
    if (this.settings.join !== true) return false;
    const stored = await this.store.storedMember(self.host);
    if (stored !== null) {
      this.selfId = stored;
      return false;
    }
    if (this.deps.join === undefined) throw new Error('--join: this replica has no way to ask the cluster its id');
    this.joining = true;
    this.deps.log.info(
      `joining: asking the hostsfile's members for ${self.host}'s id, until one runs ` +
        `paxos member add ${self.host}=HOST:PORT`,
    );
    try {
      const { id, voter, members } = await this.deps.join(self.host);
      this.selfId = id;
      // Our log starts from the hostsfile's members; the ones added since may lead before we catch up to their adds.
      this.links.learn(members);
      this.deps.log.info(`joining as member ${id}${voter ? ' (already a voter: it recovers first)' : ' (a learner)'}`);
      return !voter;
    } finally {
      this.joining = false;
    }
  }

  /**
   * A configuration applied: a link to every replica that takes part, none
   * to the rest (replica-links.ts); and once we are removed, say so and stop (exit 0).
   */
  private members(m: Membership, inForce: boolean): void {
    if (this.stopped) return;
    this.links.sync(m, this.selfId);
    // An id once given and now gone: we were removed (ids are never reused).
    const member = m.members.some((x) => x.id === this.selfId);
    if (inForce && this.selfId < m.nextId && !member && this.removed === null) {
      this.removed = `${this.settings.self.host} was removed from the cluster (member ${this.selfId})`;
      this.emit('removed', this.removed);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    await this.health?.close();
    // Dumps waiting for a client's ack see `stopped` and close their views.
    for (const d of this.dumps.values()) d.wake();
    await this.inbound?.close();
    await Promise.all([...this.links.all()].map((l) => l.close()));
    this.loopDelay.disable();
    await (this.node?.stop() ?? this.store.close());
  }

  private onMessage(m: ReplicaWire): void {
    if (this.stopped || this.node === null) return;
    if (m.type === 'snapshot_chunk') {
      // Rebuilt chunk by chunk; the core sees one `snapshot` once it is whole.
      const kv = this.receiver.take(m);
      if (kv !== null) this.node.step({ type: 'snapshot', from: m.from, index: m.index, data: kv });
    } else this.node.step(m);
  }

  /** Each client connection's watches, by request id: what stops each. */
  private readonly watchStops = new WeakMap<ClientConn, Map<string, () => void>>();

  private watchesOf(conn: ClientConn): Map<string, () => void> {
    let m = this.watchStops.get(conn);
    if (m === undefined) this.watchStops.set(conn, (m = new Map()));
    return m;
  }

  private onClient(req: ReceivedKvRequest, answer: (r: KvResult) => void, conn: ClientConn): void {
    const metrics = this.metrics;
    let reply = answer;
    const op = metrics === null ? null : clientOpOf(req);
    if (op !== null && metrics !== null) {
      // Counted at its first answer (a watch's "watching", not its events; a dump's last part).
      const t0 = performance.now();
      let counted = false;
      reply = (r) => {
        const outcome = counted ? null : op.outcome(r);
        if (outcome !== null) {
          counted = true;
          metrics.clientOp(op.op, outcome, (performance.now() - t0) / 1000);
        }
        answer(r);
      };
    }
    const peer = this.settings.self.host;
    const node = this.node;
    if (node === null || this.stopped) return reply({ type: 'kv_result', id: req.id, peer, status: 'no_leader' });
    if (req.type === 'dump') return void this.dump(node, req.id, reply, conn);
    if (req.type === 'status') return reply(this.statusOf(node, req.id));
    if (req.type === 'dump_ack') {
      const d = this.dumps.get(req.id);
      if (d !== undefined && req.seq > d.acked) {
        d.acked = req.seq;
        d.wake();
      }
      return;
    }
    const client = { reply: (a: Answer) => reply(kvResult(req.id, peer, a)), onClose: conn.onClose.bind(conn) };
    if (req.type === 'range') return node.range(req.query, client);
    if (req.type === 'watch') {
      const watches = this.watchesOf(conn);
      watches.get(req.id)?.();
      const stop = node.watch(req.filter, req.rev, client);
      watches.set(req.id, stop);
      conn.onClose(() => watches.delete(req.id));
      return;
    }
    if (req.type === 'watch_cancel') {
      const watches = this.watchesOf(conn);
      watches.get(req.id)?.();
      watches.delete(req.id);
      return;
    }
    node.submit(req.cmd, client);
  }

  /**
   * Stream the store as it is now (a frozen view) to a client: parts of about
   * CHUNK_CHARS, at most DUMP_WINDOW ahead of its acks, yielding to the event
   * loop between them, then the final line with the applied slot and leader.
   */
  private async dump(node: ReplicaNode, id: string, reply: (r: KvResult) => void, conn: ClientConn): Promise<void> {
    const peer = this.settings.self.host;
    const view = node.kv.view();
    const leader = this.settings.cluster.byId(node.core.leader)?.host ?? '';
    const recovering = node.recoveryStatus();
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
        if (next.done === true)
          return reply({
            type: 'kv_result',
            id,
            peer,
            status: 'dump',
            applied: view.applied,
            data,
            leader,
            parts: seq,
            keys: view.keys,
            leases: view.leases.lines,
            nextLease: view.leases.next,
            ...(recovering === null ? {} : { recovering }),
          });
        reply({ type: 'kv_result', id, peer, status: 'dump_part', seq, data });
        while (seq - state.acked >= DUMP_WINDOW && !gone && !this.stopped)
          await new Promise<void>((resolve) => (state.wake = resolve));
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      view.close();
      cancel();
      this.dumps.delete(id);
    }
  }

  /** A status request's answer: this replica's own view (`paxos status`). */
  private statusOf(node: ReplicaNode, id: string): KvResult {
    const s = node.status();
    return {
      type: 'kv_result',
      id,
      peer: this.settings.self.host,
      status: 'status',
      role: s.role,
      leader: this.settings.cluster.byId(s.leader)?.host ?? '',
      ballot: s.ballot,
      promise: s.promise,
      commit: s.commit,
      leaderCommit: s.leaderCommit,
      applied: s.applied,
      snapshot: this.store.lastSnapshot,
      ...(s.recovering === null ? {} : { recovering: s.recovering }),
    };
  }

  private reportSnapshot(index: number, viewMs: number, writeMs: number): void {
    const pause = this.loopDelay.max / 1e6;
    this.loopDelay.reset();
    const mem = process.memoryUsage();
    const mib = (b: number): string => (b / 1024 / 1024).toFixed(0);
    this.deps.log.info(
      `snapshot at slot ${index}: view ${viewMs.toFixed(1)} ms, written in ${writeMs.toFixed(0)} ms; log ` +
        `compacted to ${this.store.logBytes} bytes; longest event-loop pause since the last ` +
        `snapshot ${pause.toFixed(0)} ms; heap ${mib(mem.heapUsed)} MiB, RSS ${mib(mem.rss)} MiB`,
    );
  }
}

/** /healthz fails once the node's ticks stop for this long (the loop stalled, e.g. on a disk that never answers). */
const HEALTHY_TICK_GAP_MS = 10_000;

/** A node's answer as the client's wire has it. */
function kvResult(id: string, peer: string, a: Answer): KvResult {
  const base = { type: 'kv_result', id, peer } as const;
  switch (a.status) {
    case 'done':
      return { ...base, status: 'done', slot: a.slot, result: encodeResult(a.result) };
    case 'not_ready':
      return { ...base, status: 'not_ready', why: a.why };
    case 'no_leader':
    case 'watching':
    case 'compacted':
      return { ...base, ...a };
    case 'events':
      return { ...base, status: 'events', events: a.events.map((e) => [e.rev, e.key, e.value] as const) };
    case 'range': {
      const { applied, count, more, data } = a;
      return { ...base, status: 'range', applied, count, more, data };
    }
  }
}

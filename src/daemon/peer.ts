// The peer daemon: a thin shell around the pure core. It feeds messages and
// timer events into the core under one async mutex, and performs the effects
// that come out in order: persist (awaited, still under the mutex, so no
// reply leaves before its state is durable), print, send, set timers.

import { EventEmitter } from 'node:events';
import { Mutex } from 'async-mutex';
import type { Cluster, HostEntry } from '../paxos/cluster.js';
import { choseLine, messageLine } from '../core/logline.js';
import { PaxosNode } from '../core/node.js';
import { majority, type ProposerTiming } from '../core/proposer.js';
import type { Effect, Message, MessageType, PeerId } from '../core/types.js';
import type { Storage } from '../storage/storage.js';
import { PeerLink, type Endpoint } from '../transport/link.js';
import { listen, type ClientConn, type Inbound } from '../transport/server.js';
import { LAB_CODEC, type ClientRequest, type ClientResult } from '../wire/lab.js';
import type { Secret } from '../transport/auth.js';
import { DEFAULT_LIVENESS, type Liveness } from '../config/liveness.js';
import { writeAtomically } from '../storage/atomic.js';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../util/logger.js';

export interface PeerOptions {
  readonly cluster: Cluster;
  readonly self: HostEntry;
  /** The value to propose (-v); a proposer with none waits for a client's submit. */
  readonly value: string | undefined;
  /** `-t`: how long to wait before proposing. Serving starts at once. */
  readonly startDelayMs: number;
  readonly listen: Endpoint;
  readonly endpointOf: (peer: HostEntry) => Endpoint;
  readonly storage: Storage;
  readonly timing: ProposerTiming;
  readonly rng: () => number;
  /** Emit 'idle' after this long with no protocol message in or out (0: never). */
  readonly idleMs: number;
  /** Hold matching outbound messages this long (`--delay`), for scripted scenarios. */
  readonly delays?: readonly DelayRule[];
  /** Where to write the chosen value once learned (the peer's replica); undefined: nowhere. */
  readonly replicaFile?: string | undefined;
  /** The shared secret every connection must prove; null runs open. */
  readonly secret?: Secret | null;
  /** How often links ping, and how long a silent peer takes to be declared down. */
  readonly liveness?: Liveness;
  /** Receives each stdout log line (without newline). */
  readonly out: (line: string) => void;
  readonly log: Logger;
}

/** `--delay TYPE:HOST=MS`: hold outbound TYPE messages to HOST for MS ms ('*' matches any). */
export interface DelayRule {
  readonly type: MessageType | '*';
  readonly host: string;
  readonly ms: number;
}

export interface Chosen {
  readonly v: string;
  readonly n: number;
}

/** Clients one peer lets wait for an outcome at once; more are told to come back. */
const MAX_WAITING_CLIENTS = 1000;

export class PeerDaemon extends EventEmitter<{ chose: [Chosen]; idle: []; fatal: [Error] }> {
  private readonly mutex = new Mutex();
  private readonly links = new Map<PeerId, PeerLink>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Messages held back by --delay. */
  private readonly held = new Set<NodeJS.Timeout>();
  private node: PaxosNode | null = null;
  private inbound: Inbound | null = null;
  private startTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Whether this peer's proposers have started (from -t, or a client's submit). */
  private proposing = false;
  /** Clients waiting to hear what was chosen (removed when they hang up). */
  private readonly waiting = new Set<(c: Chosen) => void>();
  /** The value in the replica file, once written. */
  private replicated: string | null = null;
  private stopped = false;
  /** Aborted by stop(), so nothing waits on links that will never come up. */
  private readonly stopping = new AbortController();

  constructor(private readonly opts: PeerOptions) {
    super();
  }

  get id(): PeerId {
    return this.opts.self.id;
  }

  async start(): Promise<void> {
    const { cluster, self, log } = this.opts;
    const durable = await this.opts.storage.load();
    if (durable.promised > 0 || durable.chosen !== null || Object.keys(durable.lastProposal).length > 0) {
      const pair = (p: { n: number; v: string } | null): string => (p === null ? 'nothing' : `${JSON.stringify(p.v)} at ${p.n}`);
      log.info(
        `recovered state: promised ${durable.promised}, accepted ${pair(durable.accepted)}, ` +
          `last proposals ${JSON.stringify(durable.lastProposal)}, chosen ${pair(durable.chosen)}`,
      );
    }
    this.node = new PaxosNode({ self: self.id, cluster, timing: this.opts.timing, rng: this.opts.rng }, durable);
    // A crash between learning the value and writing the replica loses nothing.
    if (durable.chosen !== null) await this.replicate(durable.chosen.v);
    const liveness = this.opts.liveness ?? DEFAULT_LIVENESS;
    this.inbound = await listen(
      this.opts.listen,
      {
        message: (msg) => void this.handle(msg),
        client: (req, reply, conn) => void this.serveClient(req, reply, conn),
        hello: (from) => {
          if (cluster.byId(from) === undefined) log.warn(`dropping hello from peer_id ${from}, which is not in the hostsfile`);
          else this.links.get(from)?.kick();
        },
      },
      { log, secret: this.opts.secret ?? null, self: self.id, liveness, codec: LAB_CODEC },
    );
    log.info(`${self.host} (peer ${self.id}) listening on ${this.opts.listen.host}:${this.opts.listen.port}`);
    for (const id of this.peersToTalkTo()) {
      const peer = cluster.byId(id)!;
      const link = new PeerLink(peer.host, this.opts.endpointOf(peer), { self: self.id, peer: id, secret: this.opts.secret ?? null, liveness, log });
      this.links.set(id, link);
      // After a drop, what we wrote just before it may be lost with it.
      let dropped = false;
      link.on('down', () => void (dropped = true));
      link.on('up', () => {
        if (!dropped) return;
        dropped = false;
        void this.locked(() => this.apply(this.need().reconnected(id)));
      });
      link.start();
    }
    // A proposer that won before a crash announces it again (queued until links are up).
    await this.locked(() => this.apply(this.need().resume()));
    this.touch();
    if (this.node.proposerGroups().length > 0 && this.opts.value !== undefined) {
      const value = this.opts.value;
      this.startTimer = setTimeout(() => void this.proposeWhenReachable(value), this.opts.startDelayMs);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    // Let a handler that is mid-way (say, writing the replica) finish.
    await this.mutex.waitForUnlock();
    if (this.startTimer !== null) clearTimeout(this.startTimer);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const t of this.held) clearTimeout(t);
    this.held.clear();
    await Promise.all([...this.links.values()].map((l) => l.close()));
    await this.inbound?.close();
  }

  /** Peers this one may ever send to: its groups' acceptors, learners and proposers. */
  private peersToTalkTo(): PeerId[] {
    const { cluster, self } = this.opts;
    const ids = new Set<PeerId>();
    for (const r of self.roles) {
      if (r.kind === 'proposer') {
        for (const a of cluster.acceptorsOf(r.group)) ids.add(a);
        for (const l of cluster.learnersOf(r.group)) ids.add(l);
      } else if (r.kind === 'acceptor') {
        const p = cluster.proposerOf(r.group);
        if (p !== undefined) ids.add(p.id);
      }
    }
    ids.delete(self.id);
    return [...ids].sort((a, b) => a - b);
  }

  /**
   * After `-t`, wait until a quorum of each group's acceptors can be reached,
   * then propose. Prepares sent into dead links would only sit in queues
   * while the round timer ran out and burned proposal numbers.
   */
  private async proposeWhenReachable(value: string): Promise<void> {
    const { cluster, self } = this.opts;
    const groups = this.need().proposerGroups();
    const ready = (): boolean =>
      groups.every((g) => {
        const acceptors = cluster.acceptorsOf(g);
        const up = acceptors.filter((a) => a === self.id || this.links.get(a)?.isUp === true).length;
        return up >= majority(acceptors.length);
      });
    if (!ready()) {
      this.opts.log.info(`waiting for a quorum of acceptors to be reachable before proposing`);
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (!ready() && !this.stopped) return;
          for (const l of this.links.values()) l.off('up', check);
          this.stopping.signal.removeEventListener('abort', check);
          resolve();
        };
        for (const l of this.links.values()) l.on('up', check);
        this.stopping.signal.addEventListener('abort', check);
      });
    }
    if (!this.stopped) await this.startProposing(value);
  }

  private startProposing(value: string): Promise<void> {
    return this.locked(async () => this.beginProposing(value));
  }

  /** Under the mutex. One proposal per peer: a second start (a client after -t, or -t after a client) waits for the first's outcome. */
  private async beginProposing(value: string): Promise<void> {
    if (this.proposing) return;
    this.proposing = true;
    await this.apply(this.need().propose(value));
  }

  /**
   * A client's submit or get, answered on its own connection, under the
   * mutex: a client never hears of state that is not yet saved.
   */
  private serveClient(req: ClientRequest, reply: (res: ClientResult) => void, conn: ClientConn): Promise<void> {
    return this.locked(async () => {
      const peer = this.opts.self.host;
      const node = this.need();
      const chosen = (c: { v: string; n: number }): ClientResult => ({ type: 'result', id: req.id, status: 'chosen', value: c.v, n: c.n, peer });
      if (req.type === 'get') {
        const known = node.chosen;
        reply(known === null ? { type: 'result', id: req.id, status: 'not_chosen', peer } : chosen(known));
        return;
      }
      if (node.proposerGroups().length === 0) {
        const proposers = this.opts.cluster.hosts.filter((h) => h.roles.some((r) => r.kind === 'proposer')).map((h) => h.host);
        reply({ type: 'result', id: req.id, status: 'not_proposer', peer, proposers });
        return;
      }
      const outcome = node.outcome();
      if (outcome !== null) {
        reply(chosen(outcome));
        return;
      }
      if (this.waiting.size >= MAX_WAITING_CLIENTS) {
        reply({ type: 'result', id: req.id, status: 'invalid', peer, why: `${MAX_WAITING_CLIENTS} clients are already waiting; try again later` });
        return;
      }
      const waiter = (c: Chosen): void => reply(chosen(c));
      this.waiting.add(waiter);
      conn.onClose(() => this.waiting.delete(waiter));
      this.opts.log.info(`client submits ${JSON.stringify(req.value.slice(0, 40))}${this.proposing ? '; already proposing, so it waits for the outcome' : ''}`);
      await this.beginProposing(req.value);
    });
  }

  private handle(msg: Message): Promise<void> {
    return this.locked(async () => {
      const node = this.need();
      const why = node.reject(msg);
      if (why !== null) {
        this.opts.log.warn(`dropping ${msg.type} from peer ${msg.from}: ${why}`);
        return;
      }
      await this.apply(node.receive(msg));
    });
  }

  /**
   * Run `task` under the state mutex. If it fails (the disk refused a save,
   * say), the peer must not go on answering from state it could not keep:
   * it stops, and 'fatal' says why.
   */
  private locked(task: () => Promise<void>): Promise<void> {
    return this.mutex.runExclusive(async () => {
      if (this.stopped) return;
      try {
        await task();
      } catch (err) {
        this.stopped = true;
        this.emit('fatal', err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Perform effects in order. Runs under the mutex. */
  private async apply(effects: Effect[]): Promise<void> {
    for (const e of effects) {
      switch (e.kind) {
        case 'persist':
          await this.opts.storage.save(e.state);
          break;
        case 'received':
          this.opts.out(messageLine('received', this.id, e.msg));
          this.touch();
          break;
        case 'send':
          // Retransmissions and chose_acks are silent: no line, and not activity.
          if (e.silent !== true && e.msg.type !== 'chose_ack') {
            this.opts.out(messageLine('sent', this.id, e.msg));
            this.touch();
          }
          for (const to of e.to) this.deliver(to, e.msg);
          break;
        case 'suspect':
          for (const p of e.peers) this.links.get(p)?.suspect();
          break;
        case 'stuck':
          this.opts.log.error(e.why);
          break;
        case 'chose': {
          // The replica is durable before the peer says it chose.
          await this.replicate(e.v);
          this.opts.out(choseLine(this.id, e.v, e.n));
          const c = { v: e.v, n: e.n };
          this.emit('chose', c);
          // Clients of our proposers hear our groups' outcome, not another group's.
          if (this.need().vouches(c)) {
            for (const w of this.waiting) w(c);
            this.waiting.clear();
          }
          break;
        }
        case 'setTimer':
          this.setTimer(e.id, e.ms);
          break;
        case 'clearTimer':
          clearTimeout(this.timers.get(e.id));
          this.timers.delete(e.id);
          break;
      }
    }
  }

  private deliver(to: PeerId, msg: Message): void {
    // A scripted network delay: the message is logged as sent now and
    // leaves later, as if the network were slow. Not part of the protocol.
    const host = this.opts.cluster.byId(to)?.host.toLowerCase();
    const rule = this.opts.delays?.find((r) => (r.type === '*' || r.type === msg.type) && (r.host === '*' || r.host.toLowerCase() === host));
    if (rule !== undefined && rule.ms > 0) {
      const t = setTimeout(() => {
        this.held.delete(t);
        if (!this.stopped) this.send(to, msg);
      }, rule.ms);
      this.held.add(t);
      return;
    }
    this.send(to, msg);
  }

  private send(to: PeerId, msg: Message): void {
    if (to === this.id) {
      // To ourselves: through the same path as the network, after this batch.
      setImmediate(() => void this.handle(msg));
      return;
    }
    const link = this.links.get(to);
    if (link === undefined) this.opts.log.error(`no link to peer ${to} for ${msg.type}`);
    else link.send(msg);
  }

  private setTimer(id: string, ms: number): void {
    clearTimeout(this.timers.get(id));
    const handle: NodeJS.Timeout = setTimeout(() => {
      void this.locked(async () => {
        // A timer cleared or replaced while this callback waited is stale.
        if (this.timers.get(id) !== handle) return;
        this.timers.delete(id);
        await this.apply(this.need().timeout(id));
      });
    }, ms);
    this.timers.set(id, handle);
  }

  /**
   * Write the learned value to this peer's replica file, atomically, before
   * anyone is told (still under the mutex). Every peer that learns the value
   * ends with the same bytes: the value's UTF-8, nothing else.
   */
  private async replicate(value: string): Promise<void> {
    // The first value learned, as the saved state's `chosen` is.
    const file = this.opts.replicaFile;
    if (file === undefined || this.replicated !== null) return;
    await mkdir(path.dirname(file), { recursive: true });
    await writeAtomically(file, Buffer.from(value, 'utf8'));
    this.replicated = value;
  }

  /** Protocol activity: restart the idle countdown. */
  private touch(): void {
    if (this.opts.idleMs <= 0 || this.stopped) return;
    // refresh() re-arms the same timer: this runs for every line printed.
    if (this.idleTimer !== null) this.idleTimer.refresh();
    else this.idleTimer = setTimeout(() => this.emit('idle'), this.opts.idleMs);
  }

  private need(): PaxosNode {
    if (this.node === null) throw new Error('peer not started');
    return this.node;
  }
}


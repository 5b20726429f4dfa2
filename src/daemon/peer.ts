// The lab peer daemon: the thin wiring of a LabNode (node/lab-node.ts: the
// pure core on the one node loop, which performs its Ready batches) to the
// real world: sockets (peer links and the listening side, with --delay),
// a ticker that ticks the core every 10 ms and catches up after a stall,
// the state in its data directory, and the replica file. As the replica's
// daemon (replica.ts) does for the replicated log. It runs with its
// settings (LabSettings, src/config/settings.ts) and is handed, apart, what
// is not configuration (PeerDeps).

import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { contactsOf } from '../core/admission.js';
import { labTiming, livenessOf, rngOf, type LabSettings } from '../config/settings.js';
import { PaxosNode } from '../core/node.js';
import type { ClientAnswer } from '../core/ready.js';
import type { Message, PeerId } from '../core/types.js';
import { writeAtomically } from '../storage/atomic.js';
import type { Storage } from '../storage/storage.js';
import { PeerLink } from '../transport/link.js';
import { listen, type ClientConn, type Inbound } from '../transport/server.js';
import { LAB_CODEC, type ClientRequest, type ClientResult } from '../wire/lab.js';
import type { Logger } from '../util/logger.js';
import { LabNode } from '../node/lab-node.js';
import { DelayedSends } from './delays.js';
import { Ticker } from './ticker.js';

export type { DelayRule } from './delays.js';

/** What a lab peer is handed that is not configuration (that is its LabSettings). */
export interface PeerDeps {
  /** Its durable state (WalStorage over DATA_DIR; in memory or gated in tests). */
  readonly storage: Storage;
  /** Receives each stdout log line (without newline). */
  readonly out: (line: string) => void;
  readonly log: Logger;
}

export interface Chosen {
  readonly v: string;
  readonly n: number;
}

export class PeerDaemon extends EventEmitter<{ chose: [Chosen]; idle: []; fatal: [Error] }> {
  private readonly links = new Map<PeerId, PeerLink>();
  private readonly delayed: DelayedSends;
  /** Clients waiting for an answer, by ticket. */
  private readonly clients = new Map<number, (a: ClientAnswer) => void>();
  private nextTicket = 1;
  private node: LabNode | null = null;
  private inbound: Inbound | null = null;
  private ticker: Ticker | null = null;
  /** The value in the replica file, once written. */
  private replicated: string | null = null;
  private stopped = false;

  constructor(
    private readonly settings: LabSettings,
    private readonly deps: PeerDeps,
  ) {
    super();
    this.delayed = new DelayedSends(
      settings.delays,
      (p) => settings.cluster.byId(p)?.host,
      (to, msg) => this.send(to, msg),
    );
  }

  get id(): PeerId {
    return this.settings.self.id;
  }

  async start(): Promise<void> {
    const { cluster, self, value, tickMs, secret } = this.settings;
    const { storage, log } = this.deps;
    const durable = await storage.load();
    if (durable.promised > 0 || durable.chosen !== null || Object.keys(durable.lastProposal).length > 0) {
      const pair = (p: { n: number; v: string } | null): string =>
        p === null ? 'nothing' : `${JSON.stringify(p.v)} at ${p.n}`;
      log.info(
        `recovered state: promised ${durable.promised}, accepted ${pair(durable.accepted)}, ` +
          `last proposals ${JSON.stringify(durable.lastProposal)}, chosen ${pair(durable.chosen)}`,
      );
    }
    const { timing, startTicks, idleTicks } = labTiming(this.settings);
    const core = new PaxosNode(
      {
        self: self.id,
        cluster,
        timing,
        rng: rngOf(this.settings),
        ...(value === undefined ? {} : { start: { value, afterTicks: startTicks } }),
        idleTicks,
      },
      durable,
    );
    // A crash between learning the value and writing the replica loses nothing.
    if (durable.chosen !== null) await this.replicate(durable.chosen.v);
    const node = (this.node = new LabNode(core, {
      storage,
      replicate: (v) => this.replicate(v),
      network: { send: (to, msg) => this.delayed.deliver(to, msg) },
      out: this.deps.out,
      dropped: (msg, why) => log.warn(`dropping ${msg.type} from peer ${msg.from}: ${why}`),
      learned: (c) => this.emit('chose', { v: c.v, n: c.n }),
      answer: (a) => {
        const reply = this.clients.get(a.client);
        this.clients.delete(a.client);
        reply?.(a);
      },
      suspect: (peer) => this.links.get(peer)?.suspect(),
      note: (n) => log[n.level](n.text),
      idle: () => this.emit('idle'),
      // The peer must not go on answering from state it could not keep.
      fatal: (err) => {
        this.stopped = true;
        void node.stop();
        this.emit('fatal', err);
      },
      defer: queueMicrotask,
    }));
    const liveness = livenessOf(this.settings);
    this.inbound = await listen(
      this.settings.listen,
      {
        message: (msg) => this.live?.step(msg),
        client: (req, reply, conn) => this.serveClient(req, reply, conn),
        hello: (from) => {
          if (cluster.byId(from) === undefined)
            log.warn(`dropping hello from peer_id ${from}, which is not in the hostsfile`);
          else this.links.get(from)?.kick();
        },
      },
      {
        log,
        secret,
        tls: this.settings.tls ?? null,
        nameOf: (id) => cluster.byId(id)?.host,
        self: self.id,
        liveness,
        codec: LAB_CODEC,
      },
    );
    const { host, port } = this.settings.listen;
    log.info(`${self.host} (peer ${self.id}) listening on ${host}:${port}`);
    for (const id of contactsOf(cluster, self.id)) {
      const peer = cluster.byId(id)!;
      const link = new PeerLink(peer.host, this.settings.endpointOf(peer), {
        self: self.id,
        peer: id,
        secret,
        tls: this.settings.tls ?? null,
        liveness,
        log,
      });
      this.links.set(id, link);
      link.on('up', () => this.live?.input((c) => c.linkUp(id)));
      link.on('down', () => this.live?.input((c) => c.linkDown(id)));
      link.start();
    }
    this.ticker = new Ticker(tickMs, (ticks) => this.live?.tick(ticks));
    this.ticker.start();
    // A proposer that won before a crash announces it again (queued until links are up).
    node.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ticker?.stop();
    // Let a batch that is mid-way (say, writing the replica) finish.
    await this.node?.stop();
    this.delayed.clear();
    await Promise.all([...this.links.values()].map((l) => l.close()));
    await this.inbound?.close();
  }

  /** The node, to take an input; null once the peer stopped. */
  private get live(): LabNode | null {
    return this.stopped ? null : this.node;
  }

  /**
   * A client's submit or get. The core decides the answer; it leaves with a
   * later batch, so a client never hears of state that is not yet saved.
   */
  private serveClient(req: ClientRequest, reply: (res: ClientResult) => void, conn: ClientConn): void {
    const ticket = this.nextTicket++;
    const peer = this.settings.self.host;
    this.clients.set(ticket, (a) => reply(clientResult(req.id, peer, a)));
    conn.onClose(() => {
      if (this.clients.delete(ticket)) this.live?.input((c) => c.hangUp(ticket));
    });
    this.live?.input((c) => (req.type === 'get' ? c.get(ticket) : c.submit(ticket, req.value)));
  }

  private send(to: PeerId, msg: Message): void {
    if (this.stopped) return;
    if (to === this.id) {
      // To ourselves: through the same path as the network, after this batch.
      setImmediate(() => this.live?.step(msg));
      return;
    }
    const link = this.links.get(to);
    if (link === undefined) this.deps.log.error(`no link to peer ${to} for ${msg.type}`);
    else link.send(msg);
  }

  /**
   * Write the learned value to this peer's replica file, atomically, before
   * anyone is told. Every peer that learns the value ends with the same
   * bytes: the value's UTF-8, nothing else.
   */
  private async replicate(value: string): Promise<void> {
    // The first value learned, as the saved state's `chosen` is.
    const file = this.settings.replicaFile;
    if (this.replicated !== null) return;
    await mkdir(path.dirname(file), { recursive: true });
    await writeAtomically(file, Buffer.from(value, 'utf8'));
    this.replicated = value;
  }
}

/** The core's answer to client request `id`, on the wire. */
function clientResult(id: ClientRequest['id'], peer: string, a: ClientAnswer): ClientResult {
  switch (a.status) {
    case 'chosen':
      return { type: 'result', id, status: 'chosen', value: a.v, n: a.n, peer };
    case 'not_chosen':
      return { type: 'result', id, status: 'not_chosen', peer };
    case 'not_proposer':
      return { type: 'result', id, status: 'not_proposer', peer, proposers: [...a.proposers] };
    case 'busy':
      return { type: 'result', id, status: 'invalid', peer, why: a.why };
  }
}

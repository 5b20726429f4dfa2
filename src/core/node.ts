// One lab peer's roles composed into a single pure state machine: the
// acceptor (one state for every group the peer accepts for), one proposer
// per proposer role, the learner, and the rules around them (who may send
// what, when the proposers start, what clients hear, when the peer is idle).
// It has the replicated log's shape (log/node.ts): the shell feeds it
// messages (step, which checks them first), clock ticks (tick), values
// (propose, submit), link events and client requests; it accumulates a
// Ready (ready.ts: what to save, print, send and answer, in that order),
// which the shell takes with ready() and acknowledges with advance().
// No sockets, clocks or disks here; randomness is injected.

import { handleAccept, handlePrepare, type AcceptorState } from './acceptor.js';
import { refusal, rolesOf, type ClusterView, type RoleGroups } from './admission.js';
import { Clients } from './clients.js';
import { groupOfProposal } from '../paxos/numbering.js';
import { Proposer, type ProposerVariant } from './proposer.js';
import { Outbox, type LabReady } from './ready.js';
import { StartGate, type StartConfig } from './start.js';
import type { TickTiming } from './timing.js';
import type { Accepted, DurableState, Message, PeerId } from './types.js';

export type { ClusterView } from './admission.js';

export interface NodeConfig {
  readonly self: PeerId;
  readonly cluster: ClusterView;
  readonly timing: TickTiming;
  readonly rng: () => number;
  /** Propose on its own (-v): after `afterTicks` (-t), once a majority of acceptors is reachable. */
  readonly start?: StartConfig;
  /** Ready.idle after this many ticks with no protocol message in or out (0 or absent: never). */
  readonly idleTicks?: number;
  /** Broken rules for the simulator's negative controls; never set by the daemon. */
  readonly variant?: NodeVariant;
}

export interface NodeVariant extends ProposerVariant {
  readonly prepare?: typeof handlePrepare;
  readonly accept?: typeof handleAccept;
}

export class PaxosNode {
  private acceptor: AcceptorState;
  private chosenValue: Accepted | null;
  /** Proposal numbers this peer printed a chose line for. */
  private readonly printed = new Set<number>();
  /** `chose` messages received in this life, as "from/n": a retransmission is not news. */
  private readonly choseHeard = new Set<string>();
  private readonly proposers = new Map<number, Proposer>();
  private readonly roles: RoleGroups;
  private readonly out: Outbox;
  private readonly gate: StartGate;
  private readonly clients: Clients;
  /** Peers whose link dropped: when it comes back, what went out just before may be lost. */
  private readonly linksDropped = new Set<PeerId>();
  /** Whether this peer's proposers have started (from -t, or a client's submit). */
  private proposing = false;
  /** The durable state as last saved (advance), and as handed out in the Ready being performed. */
  private saved!: DurableState;
  private saving: DurableState | null = null;
  private idleLeft: number;

  constructor(
    private readonly cfg: NodeConfig,
    durable: DurableState,
  ) {
    const { cluster, self } = cfg;
    this.roles = rolesOf(cluster, self);
    this.out = new Outbox(self);
    this.acceptor = { promised: durable.promised, accepted: durable.accepted };
    this.chosenValue = durable.chosen;
    for (const group of this.roles.proposerOf) {
      const acceptors = cluster.acceptorsOf(group);
      const notify = [...new Set([...acceptors, ...cluster.learnersOf(group)])].sort((a, b) => a - b);
      const same = (g: number): boolean => cluster.acceptorsOf(g).join() === acceptors.join();
      const sameAcceptors = new Set(Array.from({ length: cluster.stride }, (_, i) => i + 1).filter(same));
      const config = {
        self,
        group,
        stride: cluster.stride,
        acceptors,
        notify,
        sameAcceptors,
        timing: cfg.timing,
        rng: cfg.rng,
        ...(cfg.variant === undefined ? {} : { variant: cfg.variant }),
      };
      this.proposers.set(
        group,
        new Proposer(config, durable.lastProposal[group] ?? 0, this.out, (c) => this.printChose(c)),
      );
    }
    const groups = [...this.proposers.keys()].map((g) => cluster.acceptorsOf(g));
    this.gate = new StartGate(
      self,
      groups,
      cfg.start,
      (v) => this.propose(v),
      (text) => this.out.note('info', text),
    );
    this.clients = new Clients(this.out, {
      chosen: () => this.chosenValue,
      outcome: () => this.outcome(),
      proposersElsewhere: () =>
        this.proposers.size > 0
          ? null
          : cluster.hosts.filter((h) => h.roles.some((r) => r.kind === 'proposer')).map((h) => h.host),
      proposing: () => this.proposing,
      propose: (v) => this.propose(v),
    });
    this.idleLeft = cfg.idleTicks ?? 0;
    // As loaded, in this hostsfile's terms (a group no longer ours is not ours to save).
    this.saved = this.state;
    this.resume();
  }

  get state(): DurableState {
    const lastProposal: Record<number, number> = {};
    for (const [g, p] of this.proposers) if (p.lastUsed > 0) lastProposal[g] = p.lastUsed;
    return {
      promised: this.acceptor.promised,
      accepted: this.acceptor.accepted,
      lastProposal,
      chosen: this.chosenValue,
    };
  }

  get chosen(): Accepted | null {
    return this.chosenValue;
  }

  /**
   * The outcome that answers a client of this peer's proposers: what one of
   * them chose or was told, or a learned value they vouch for (same acceptors).
   */
  outcome(): Accepted | null {
    for (const p of this.proposers.values()) if (p.chosen !== null) return p.chosen;
    const known = this.chosenValue;
    return known !== null && this.vouches(known) ? known : null;
  }

  /** Whether a value chosen at `c.n` is the outcome for this peer's proposers. */
  vouches(c: Accepted): boolean {
    return [...this.proposers.values()].some((p) => p.vouchesFor(c));
  }

  proposerGroups(): number[] {
    return [...this.proposers.keys()];
  }

  proposer(group: number): Proposer | undefined {
    return this.proposers.get(group);
  }

  // ---- the Ready --------------------------------------------------------------

  /** Whether anything waits to be saved, printed, sent or answered. */
  get hasReady(): boolean {
    return !this.out.isEmpty || this.changed();
  }

  /** Take the work accumulated since the last call; perform it in ready.ts's order, then advance(). */
  ready(): LabReady {
    const persist = this.changed() ? this.state : null;
    if (persist !== null) this.saving = persist;
    return this.out.take(persist);
  }

  /** The last Ready was performed: its state is saved. */
  advance(): void {
    if (this.saving !== null) this.saved = this.saving;
    this.saving = null;
  }

  /**
   * Whether the durable state differs from what was last handed out to be
   * saved. Field by field, with nothing built: this runs after every input.
   */
  private changed(): boolean {
    const base = this.saving ?? this.saved;
    if (
      this.acceptor.promised !== base.promised ||
      !sameAccepted(this.acceptor.accepted, base.accepted) ||
      !sameAccepted(this.chosenValue, base.chosen)
    )
      return true;
    for (const [g, p] of this.proposers) if (p.lastUsed !== (base.lastProposal[g] ?? 0)) return true;
    return false;
  }

  // ---- inputs -----------------------------------------------------------------

  /**
   * Begin proposing `value` in every group this peer proposes for; where the
   * peer already knows the outcome (it survived a restart), print that
   * instead of proposing again. Once per peer: a second start (a client
   * after -t, or -t after a client) waits for the first's outcome.
   */
  propose(value: string): void {
    if (this.proposing) return;
    this.proposing = true;
    for (const p of this.proposers.values()) {
      const known = this.chosenValue;
      if (known === null || !p.vouchesFor(known)) {
        p.propose(value);
      } else {
        p.onChosen(known);
        this.printOnce(known);
      }
    }
  }

  /** A client's submit, under the shell's ticket number `client`. */
  submit(client: number, value: string): void {
    this.clients.submit(client, value);
  }

  /** A client's get. */
  get(client: number): void {
    this.clients.get(client);
  }

  /** A waiting client hung up. */
  hangUp(client: number): void {
    this.clients.hangUp(client);
  }

  /** Our link to `peer` is up (connected, or back after a drop). */
  linkUp(peer: PeerId): void {
    this.gate.linkUp(peer);
    if (!this.linksDropped.delete(peer)) return;
    for (const p of this.proposers.values()) p.onReconnect(peer);
  }

  linkDown(peer: PeerId): void {
    this.gate.linkDown(peer);
    this.linksDropped.add(peer);
  }

  tick(): void {
    for (const p of this.proposers.values()) p.tick();
    this.gate.tick();
    if (this.out.active) {
      this.out.active = false;
      this.idleLeft = this.cfg.idleTicks ?? 0;
    } else if (this.idleLeft > 0 && --this.idleLeft === 0) {
      this.out.idle();
    }
  }

  /**
   * A message from a peer. One this peer must not take from its claimed
   * sender is dropped (Ready.dropped says why) before it is logged. Else the
   * `received` line comes first when the message is news: every message but
   * a chose_ack, and a `chose` only the first time it comes from that
   * sender for that number (later copies are retransmissions).
   */
  step(msg: Message): void {
    const why = refusal(this.cfg.cluster, this.cfg.self, this.roles, msg);
    if (why !== null) return this.out.drop(msg, why);
    if (msg.type === 'chose') {
      const key = `${msg.from}/${msg.n}`;
      if (!this.choseHeard.has(key)) this.out.received(msg);
      this.choseHeard.add(key);
    } else if (msg.type !== 'chose_ack') {
      this.out.received(msg);
    }
    this.dispatch(msg);
  }

  private dispatch(msg: Message): void {
    const self = this.cfg.self;
    switch (msg.type) {
      case 'prepare':
      case 'accept': {
        const r =
          msg.type === 'prepare'
            ? (this.cfg.variant?.prepare ?? handlePrepare)(this.acceptor, msg.n)
            : (this.cfg.variant?.accept ?? handleAccept)(this.acceptor, msg.n, msg.v);
        this.acceptor = r.state;
        const ack = { from: self, n: msg.n, promised: r.promised, accepted: r.accepted, chosen: this.chosenValue };
        return this.out.send([msg.from], { type: msg.type === 'prepare' ? 'prepare_ack' : 'accept_ack', ...ack });
      }
      case 'prepare_ack':
        return this.proposers.get(groupOfProposal(msg.n, this.cfg.cluster.stride))?.onPrepareAck(msg);
      case 'accept_ack':
        return this.proposers.get(groupOfProposal(msg.n, this.cfg.cluster.stride))?.onAcceptAck(msg);
      case 'chose_ack':
        return this.proposers.get(groupOfProposal(msg.n, this.cfg.cluster.stride))?.onChoseAck(msg.from, msg.n);
      case 'chose': {
        const learned = { n: msg.n, v: msg.v };
        this.chosenValue ??= learned;
        // Print once per proposal number: a resent `chose` is not news.
        // Confirm every copy (it leaves after the save), so the sender stops.
        this.printOnce(learned);
        this.out.send([msg.from], { type: 'chose_ack', from: self, n: msg.n }, true);
        // A proposer stops only if the deciding group's acceptors are its own
        // (onChosen checks); another group's majority need not overlap ours.
        for (const p of this.proposers.values()) p.onChosen(learned);
        return;
      }
    }
  }

  /**
   * Right after a restart: if the value this peer learned was chosen with
   * one of its own proposers' numbers, that proposer won before the crash;
   * it prints chose and announces it again.
   */
  private resume(): void {
    const known = this.chosenValue;
    const p = known === null ? undefined : this.proposers.get(groupOfProposal(known.n, this.cfg.cluster.stride));
    if (known === null || p === undefined) return;
    this.printOnce(known);
    p.resumeWon(known);
  }

  private printOnce(c: Accepted): void {
    if (!this.printed.has(c.n)) this.printChose(c);
  }

  /**
   * Every chose line goes through here, a proposer's too: our own chose
   * message will come back if we also accept or learn for the group, and one
   * line per number is enough. Clients of our proposers hear our groups'
   * outcome, not another group's.
   */
  private printChose(c: Accepted): void {
    this.chosenValue ??= c;
    this.printed.add(c.n);
    this.out.chose(c);
    if (this.vouches(c)) this.clients.decided(c);
  }
}

function sameAccepted(a: Accepted | null, b: Accepted | null): boolean {
  return a === b || (a !== null && b !== null && a.n === b.n && a.v === b.v);
}

// One peer's roles composed into a single pure state machine: the acceptor
// (one state for every group the peer accepts for), one proposer per
// proposer role, and the learner. Message in, effects out; when durable
// state changed, the batch starts with a `persist` so the shell writes it
// before any reply leaves.

import { hasRole, type Cluster } from '../paxos/cluster.js';
import { handleAccept, handlePrepare, type AcceptorState } from './acceptor.js';
import { groupOfProposal } from './numbering.js';
import { Proposer, type ProposerTiming, type ProposerVariant } from './proposer.js';
import type { Accepted, DurableState, Effect, Message, PeerId } from './types.js';

/** The parts of the hostsfile the core reads. */
export type ClusterView = Pick<Cluster, 'stride' | 'byId' | 'proposerOf' | 'acceptorsOf' | 'learnersOf'>;

export interface NodeConfig {
  readonly self: PeerId;
  readonly cluster: ClusterView;
  readonly timing: ProposerTiming;
  readonly rng: () => number;
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
  private readonly isAcceptorOf = new Set<number>();
  private readonly isLearnerOf = new Set<number>();

  constructor(private readonly cfg: NodeConfig, durable: DurableState) {
    const me = cfg.cluster.byId(cfg.self);
    if (me === undefined) throw new Error(`peer ${cfg.self} is not in the hostsfile`);
    this.acceptor = { promised: durable.promised, accepted: durable.accepted };
    this.chosenValue = durable.chosen;
    for (const role of me.roles) {
      if (role.kind === 'acceptor') this.isAcceptorOf.add(role.group);
      if (role.kind === 'learner') this.isLearnerOf.add(role.group);
      if (role.kind === 'proposer') {
        const acceptors = cfg.cluster.acceptorsOf(role.group);
        const notify = [...new Set([...acceptors, ...cfg.cluster.learnersOf(role.group)])].sort((a, b) => a - b);
        const same = (g: number): boolean => cfg.cluster.acceptorsOf(g).join() === acceptors.join();
        const sameAcceptors = new Set(Array.from({ length: cfg.cluster.stride }, (_, i) => i + 1).filter(same));
        const proposer = new Proposer(
          {
            self: cfg.self,
            group: role.group,
            stride: cfg.cluster.stride,
            acceptors,
            notify,
            sameAcceptors,
            timing: cfg.timing,
            rng: cfg.rng,
            ...(cfg.variant === undefined ? {} : { variant: cfg.variant }),
          },
          durable.lastProposal[role.group] ?? 0,
        );
        this.proposers.set(role.group, proposer);
      }
    }
  }

  get state(): DurableState {
    const lastProposal: Record<number, number> = {};
    for (const [g, p] of this.proposers) if (p.lastUsed > 0) lastProposal[g] = p.lastUsed;
    return { promised: this.acceptor.promised, accepted: this.acceptor.accepted, lastProposal, chosen: this.chosenValue };
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

  /**
   * Begin proposing `value` in every group this peer proposes for; where the
   * peer already knows the outcome (it survived a restart), print that
   * instead of proposing again.
   */
  propose(value: string): Effect[] {
    return this.withPersist(() =>
      [...this.proposers.values()].flatMap((p) => {
        const known = this.chosenValue;
        if (known === null || !p.vouchesFor(known)) return p.propose(value);
        return [...p.onChosen(known), ...this.printOnce(known)];
      }),
    );
  }

  /**
   * Right after a restart: if the value this peer learned was chosen with
   * one of its own proposers' numbers, that proposer won before the crash;
   * it prints chose and announces it again.
   */
  resume(): Effect[] {
    const known = this.chosenValue;
    if (known === null) return [];
    for (const p of this.proposers.values()) {
      const announce = p.resumeWon(known);
      if (announce.length > 0) return [...this.printOnce(known), ...announce];
    }
    return [];
  }

  /** Our link to `peer` came back after dropping. */
  reconnected(peer: PeerId): Effect[] {
    return [...this.proposers.values()].flatMap((p) => p.onReconnect(peer));
  }

  /**
   * Why this peer must not take `msg` from its claimed sender, or null if it
   * may. Checked before the message is logged or handled.
   */
  reject(msg: Message): string | null {
    const { cluster, self } = this.cfg;
    const sender = cluster.byId(msg.from);
    if (sender === undefined) return `peer_id ${msg.from} is not in the hostsfile`;
    const group = groupOfProposal(msg.n, cluster.stride);
    const proposer = cluster.proposerOf(group);
    switch (msg.type) {
      case 'prepare':
      case 'accept':
      case 'chose': {
        if (proposer?.id !== msg.from) {
          return `${msg.type} with proposal ${msg.n} must come from proposer${group}, not peer ${msg.from}`;
        }
        const mine = msg.type === 'chose' ? this.isAcceptorOf.has(group) || this.isLearnerOf.has(group) : this.isAcceptorOf.has(group);
        return mine ? null : `peer ${self} is not ${msg.type === 'chose' ? 'an acceptor or learner' : 'an acceptor'} of group ${group}`;
      }
      case 'prepare_ack':
      case 'accept_ack':
        if (!this.proposers.has(group)) return `peer ${self} is not proposer${group}, which proposal ${msg.n} belongs to`;
        return hasRole(sender, 'acceptor', group) ? null : `peer ${msg.from} is not an acceptor of group ${group}`;
      case 'chose_ack':
        if (!this.proposers.has(group)) return `peer ${self} is not proposer${group}, which proposal ${msg.n} belongs to`;
        return hasRole(sender, 'acceptor', group) || hasRole(sender, 'learner', group) ? null : `peer ${msg.from} is not an acceptor or learner of group ${group}`;
    }
  }

  /**
   * Handle a message that passed `reject`. The effects start with the
   * `received` line when the message is news: every message but a
   * chose_ack, and a `chose` only the first time it comes from that sender
   * for that number (later copies are retransmissions).
   */
  receive(msg: Message): Effect[] {
    let news = msg.type !== 'chose_ack';
    if (msg.type === 'chose') {
      const key = `${msg.from}/${msg.n}`;
      news = !this.choseHeard.has(key);
      this.choseHeard.add(key);
    }
    const effects = this.withPersist(() => this.dispatch(msg));
    return news && msg.type !== 'chose_ack' ? [{ kind: 'received', msg }, ...effects] : effects;
  }

  timeout(id: string): Effect[] {
    return this.withPersist(() => [...this.proposers.values()].flatMap((p) => p.onTimer(id)));
  }

  private dispatch(msg: Message): Effect[] {
    const self = this.cfg.self;
    switch (msg.type) {
      case 'prepare': {
        const r = (this.cfg.variant?.prepare ?? handlePrepare)(this.acceptor, msg.n);
        this.acceptor = r.state;
        const ack = { from: self, n: msg.n, promised: r.promised, accepted: r.accepted, chosen: this.chosenValue };
        return [{ kind: 'send', to: [msg.from], msg: { type: 'prepare_ack', ...ack } }];
      }
      case 'accept': {
        const r = (this.cfg.variant?.accept ?? handleAccept)(this.acceptor, msg.n, msg.v);
        this.acceptor = r.state;
        const ack = { from: self, n: msg.n, promised: r.promised, accepted: r.accepted, chosen: this.chosenValue };
        return [{ kind: 'send', to: [msg.from], msg: { type: 'accept_ack', ...ack } }];
      }
      case 'prepare_ack':
      case 'accept_ack': {
        const p = this.proposers.get(groupOfProposal(msg.n, this.cfg.cluster.stride));
        const effects = (msg.type === 'prepare_ack' ? p?.onPrepareAck(msg) : p?.onAcceptAck(msg)) ?? [];
        for (const e of effects) {
          if (e.kind !== 'chose') continue;
          this.chosenValue ??= { n: e.n, v: e.v };
          // Our own chose message will come back if we also accept or learn
          // for this group; one chose line per number is enough.
          this.printed.add(e.n);
        }
        return effects;
      }
      case 'chose_ack':
        return this.proposers.get(groupOfProposal(msg.n, this.cfg.cluster.stride))?.onChoseAck(msg.from, msg.n) ?? [];
      case 'chose': {
        const learned = { n: msg.n, v: msg.v };
        this.chosenValue ??= learned;
        // Print once per proposal number: a resent `chose` is not news.
        // Confirm every copy (withPersist saves first), so the sender stops.
        const effects = this.printOnce(learned);
        effects.push({ kind: 'send', to: [msg.from], msg: { type: 'chose_ack', from: self, n: msg.n }, silent: true });
        // A proposer stops only if the deciding group's acceptors are its own
        // (onChosen checks); another group's majority need not overlap ours.
        for (const p of this.proposers.values()) effects.push(...p.onChosen(learned));
        return effects;
      }
    }
  }

  private printOnce(c: Accepted): Effect[] {
    if (this.printed.has(c.n)) return [];
    this.printed.add(c.n);
    return [{ kind: 'chose', v: c.v, n: c.n }];
  }

  /** Run `step`; if durable state changed, put a persist in front of its effects. */
  private withPersist(step: () => Effect[]): Effect[] {
    const before = this.state;
    const effects = step();
    const after = this.state;
    return sameState(before, after) ? effects : [{ kind: 'persist', state: after }, ...effects];
  }
}

/** Field by field: this runs on every message, and stringifying both states cost more than the rest of the step. */
function sameState(a: DurableState, b: DurableState): boolean {
  if (a.promised !== b.promised || !sameAccepted(a.accepted, b.accepted) || !sameAccepted(a.chosen, b.chosen)) return false;
  const ka = Object.keys(a.lastProposal);
  if (ka.length !== Object.keys(b.lastProposal).length) return false;
  return ka.every((g) => a.lastProposal[Number(g)] === b.lastProposal[Number(g)]);
}

function sameAccepted(a: Accepted | null, b: Accepted | null): boolean {
  return a === b || (a !== null && b !== null && a.n === b.n && a.v === b.v);
}

// The deterministic simulator: the real core (PaxosNode), not a copy, on a
// simulated clock and network, driven by one seeded PRNG so any run replays
// exactly from its seed.
//
// Each seed picks a cluster (3 or 5 acceptors, 1 to 3 competing proposers,
// maybe a learner, proposers that may also accept) and a fault budget. Until
// FAULT_END the network delays, reorders, drops and duplicates messages;
// peers crash (sometimes between saving their state and sending the
// messages that depend on it) and restart from their durable state; peers
// go silent without closing anything (frozen, as by SIGSTOP: what was sent
// to them waits, or is lost if their links were declared dead meanwhile);
// and links black-hole traffic both ways until they are declared dead and
// redialed. After FAULT_END the network is reliable and everyone is up,
// which is when liveness is measured: every proposer, acceptor and learner
// must learn the value.
//
// After every event the world checks the invariants (invariants.ts). Each
// peer runs on the daemon's own node loop (node/lab-node.ts) with
// synchronous effects: its state on an in-memory disk that outlives its
// crashes (storage/memory-state.ts), its messages on the simulated network,
// and each peer's clock ticks every TICK_MS of sim time.

import { parseHostsfile, type Cluster } from '../config/hostsfile.js';
import { PaxosNode, type NodeVariant } from '../core/node.js';
import { inTicks, tickTiming, type ProposerTiming, type TickTiming } from '../core/timing.js';
import { EMPTY_STATE, type DurableState, type Message, type PeerId } from '../core/types.js';
import { LabNode } from '../node/lab-node.js';
import { MemoryStorage } from '../storage/memory-state.js';
import { between, mulberry32, pick } from '../util/prng.js';
import { Agenda } from './agenda.js';
import { Invariants, Violation } from './invariants.js';

/** Sim time (ms) after which no more faults are injected. */
export const FAULT_END = 2000;

/** Liveness is judged at this sim time: everyone must have learned by then. */
export const LIVENESS_END = FAULT_END + 3000;

/** A link silent this long is declared dead and redialed (the daemon's --peer-timeout, scaled). */
const DEAD_AFTER = 150;

const TIMING: ProposerTiming = {
  roundTimeoutMs: 200,
  backoffBaseMs: 20,
  backoffCapMs: 500,
  choseRetryMs: 50,
  choseRetryCapMs: 400,
};

/** Sim time (ms) between two ticks of every peer's clock, as the daemon's ticker gives them. */
const TICK_MS = 5;

export interface SimOptions {
  readonly seed: number;
  /** Broken rules, for negative controls. */
  readonly variant?: NodeVariant;
  /** A broken store: restarted peers come back empty. */
  readonly forgetful?: boolean;
  /** Override the proposers' timing, e.g. to switch retransmission off for a liveness control. */
  readonly timing?: Partial<ProposerTiming>;
  /** Events allowed in all (a liveness budget, with LIVENESS_END in sim time). */
  readonly maxEvents?: number;
  /** Keep this many trace lines for a failure report. */
  readonly traceLines?: number;
}

export interface SimResult {
  readonly seed: number;
  readonly shape: string;
  /** The first invariant broken, or null. */
  readonly violation: string | null;
  /** The last events before the end (or the violation). */
  readonly trace: readonly string[];
  /** Every proposer printed chose within the budget. */
  readonly proposersChose: boolean;
  /** Every learner printed chose within the budget. */
  readonly learnersChose: boolean;
  /** Every peer (proposers, acceptors and learners) printed chose within the budget. */
  readonly everyoneChose: boolean;
  readonly chosen: string | null;
  readonly events: number;
  readonly endedAt: number;
}

type Event =
  | { kind: 'deliver'; to: PeerId; msg: Message }
  | { kind: 'tick' }
  | { kind: 'crash'; node: PeerId }
  | { kind: 'restart'; node: PeerId }
  | { kind: 'freeze'; node: PeerId; until: number }
  | { kind: 'thaw'; node: PeerId; since: number }
  | { kind: 'cut'; a: PeerId; b: PeerId }
  | { kind: 'heal'; a: PeerId; b: PeerId };

/** A peer crashed in the middle of a Ready: the call into it ends there. */
class Crashed extends Error {}

export class World {
  readonly rng: () => number;
  readonly cluster: Cluster;
  readonly shape: string;
  private readonly agenda = new Agenda<Event>();
  private now = 0;
  private events = 0;
  private readonly nodes = new Map<PeerId, LabNode | null>();
  private readonly life = new Map<PeerId, number>();
  /** Each peer's disk: what it saved survives its crashes. */
  private readonly disks = new Map<PeerId, MemoryStorage>();
  private readonly timing: TickTiming;
  /** Ticks a frozen peer missed: its clock catches up when it thaws, as the daemon's ticker does. */
  private readonly missedTicks = new Map<PeerId, number>();
  private readonly values = new Map<PeerId, string>();
  private readonly acceptors: PeerId[];
  private readonly proposers: PeerId[];
  private readonly learners: PeerId[];
  // Fault budget for this seed.
  private readonly dropP: number;
  private readonly dupP: number;
  private readonly maxDelay: number;
  private readonly midStepCrashP: number;
  private readonly invariants: Invariants;
  private readonly trace: string[] = [];
  /** Frozen peers, and when they thaw: their events wait until then. */
  private readonly frozenUntil = new Map<PeerId, number>();
  /** Black-holed links, as "a b" with a < b. */
  private readonly cuts = new Set<string>();

  constructor(private readonly opts: SimOptions) {
    this.rng = mulberry32(opts.seed);
    const r = this.rng;
    const nAcc = pick(r, [3, 5]);
    const nProp = 1 + Math.floor(r() * 3);
    const learner = r() < 0.5;
    const proposerAccepts = r() < 0.3;
    const groups = Array.from({ length: nProp }, (_, i) => i + 1);
    const acc = groups.map((g) => `acceptor${g}`).join(',');
    const lines = [
      ...groups.map((g) => `p${g}:proposer${g}${proposerAccepts && g === 1 ? `,${acc}` : ''}`),
      ...Array.from({ length: proposerAccepts ? nAcc - 1 : nAcc }, (_, i) => `a${i + 1}:${acc}`),
      ...(learner ? [`l1:${groups.map((g) => `learner${g}`).join(',')}`] : []),
    ];
    this.cluster = parseHostsfile(`${lines.join('\n')}\n`, `sim-seed-${opts.seed}`);
    this.acceptors = [...this.cluster.acceptorsOf(1)];
    this.proposers = groups.map((g) => this.cluster.proposerOf(g)!.id);
    this.learners = [...this.cluster.learnersOf(1)];
    this.dropP = pick(r, [0, 0.05, 0.2]);
    this.dupP = pick(r, [0, 0.05]);
    this.maxDelay = pick(r, [5, 50]);
    this.midStepCrashP = pick(r, [0, 0.02]);
    const crashes = pick(r, [0, 1, 3]);
    const freezes = pick(r, [0, 1, 2]);
    const cuts = pick(r, [0, 1, 3]);
    this.shape =
      `${nAcc} acceptors, ${nProp} proposers${proposerAccepts ? ' (p1 also accepts)' : ''}` +
      `${learner ? ', a learner' : ''}; ` +
      `drop ${this.dropP}, dup ${this.dupP}, delay <= ${this.maxDelay} ms, ${crashes} crashes, ${freezes}` +
      ` freezes, ${cuts} black-holed links`;

    this.timing = tickTiming({ ...TIMING, ...opts.timing }, TICK_MS);
    for (const p of this.proposers) this.values.set(p, `v${p}`);
    this.invariants = new Invariants(this.acceptors, [...this.values.values()], this.cluster.stride, (line) =>
      this.note(line),
    );
    for (const h of this.cluster.hosts) {
      this.life.set(h.id, 0);
      this.disks.set(h.id, new MemoryStorage());
      this.nodes.set(h.id, this.makeNode(h.id, EMPTY_STATE, 30));
    }
    this.agenda.push(TICK_MS, { kind: 'tick' });
    for (let i = 0; i < crashes; i++) {
      const victim = pick(r, this.cluster.hosts).id;
      const at = between(r, 0, FAULT_END * 0.8);
      this.agenda.push(at, { kind: 'crash', node: victim });
      this.agenda.push(at + between(r, 10, 300), { kind: 'restart', node: victim });
    }
    for (let i = 0; i < freezes; i++) {
      const victim = pick(r, this.cluster.hosts).id;
      const at = between(r, 0, FAULT_END * 0.7);
      this.agenda.push(at, { kind: 'freeze', node: victim, until: at + between(r, 20, 500) });
    }
    for (let i = 0; i < cuts; i++) {
      const [a, b] = [pick(r, this.cluster.hosts).id, pick(r, this.cluster.hosts).id].sort((x, y) => x - y) as [
        PeerId,
        PeerId,
      ];
      if (a === b) continue;
      const at = between(r, 0, FAULT_END * 0.7);
      this.agenda.push(at, { kind: 'cut', a, b });
      this.agenda.push(at + between(r, 20, 500), { kind: 'heal', a, b });
    }
  }

  run(): SimResult {
    const max = this.opts.maxEvents ?? 50_000;
    let violation: string | null = null;
    try {
      while (this.events < max) {
        if (this.now > FAULT_END && this.everyoneDone()) break;
        const next = this.agenda.pop();
        if (next === undefined || next.at > LIVENESS_END) break;
        this.now = Math.max(this.now, next.at);
        this.events += 1;
        this.step(next.item);
        this.invariants.check((a) => {
          const node = this.nodes.get(a);
          const state = node == null ? this.disks.get(a)?.load() : node.core.state;
          return state === undefined ? undefined : { state, live: node != null };
        });
      }
    } catch (err) {
      if (!(err instanceof Violation)) throw err;
      violation = err.message;
    }
    return {
      seed: this.opts.seed,
      shape: this.shape,
      violation,
      trace: this.trace,
      proposersChose: this.proposers.every((p) => this.invariants.printed(p)),
      learnersChose: this.learners.every((l) => this.invariants.printed(l)),
      everyoneChose: this.everyoneDone(),
      chosen: this.invariants.chosen,
      events: this.events,
      endedAt: this.now,
    };
  }

  private everyoneDone(): boolean {
    return this.cluster.hosts.every((h) => this.invariants.printed(h.id));
  }

  private faulty(): boolean {
    return this.now < FAULT_END;
  }

  /**
   * A peer as the daemon starts it: its proposer (if any) proposes on its
   * own within `startWithinMs`, once a majority of its acceptors is
   * reachable; its links to everyone are up (the network below loses,
   * delays and black-holes messages instead).
   */
  private makeNode(id: PeerId, state: DurableState, startWithinMs: number): LabNode {
    const rng = mulberry32(Math.floor(this.rng() * 2 ** 32));
    const value = this.values.get(id);
    const start =
      value === undefined
        ? {}
        : { start: { value, afterTicks: inTicks(between(this.rng, 0, startWithinMs), TICK_MS) } };
    const core = new PaxosNode(
      {
        self: id,
        cluster: this.cluster,
        timing: this.timing,
        rng,
        ...start,
        ...(this.opts.variant ? { variant: this.opts.variant } : {}),
      },
      state,
    );
    for (const h of this.cluster.hosts) if (h.id !== id) core.linkUp(h.id);
    const disk = this.disks.get(id)!;
    return new LabNode(core, {
      storage: {
        // Now and then while faults are on, crash after the save but before
        // the sends and prints that depend on it: the one partial outcome
        // the daemon allows (it awaits every save first).
        save: (s) => {
          disk.save(s);
          if (!this.faulty() || this.rng() >= this.midStepCrashP) return;
          this.crash(id, 'mid-step, after saving, before sending');
          this.agenda.push(this.now + between(this.rng, 10, 300), { kind: 'restart', node: id });
          throw new Crashed();
        },
      },
      network: { send: (to, msg) => this.send(to, msg) },
      out: () => undefined, // the trace notes deliveries and chose lines already
      dropped: (msg, why) => {
        throw new Violation(`peer ${id} refused a message a correct peer sent: ${show(msg)} (${why})`);
      },
      learned: (c) => {
        this.invariants.prints(id, c.v);
        this.note(`peer ${id} prints chose ${c.v}@${c.n}`);
      },
      suspect: (peer) => this.note(`peer ${id} suspects its link to ${peer}`),
      fatal: (err) => {
        throw err;
      },
    });
  }

  /** Give a live peer an input; a crash in the middle of its Ready is where the call ends. */
  private drive(id: PeerId, feed: (node: LabNode) => void): void {
    const node = this.nodes.get(id);
    if (node == null) return;
    try {
      feed(node);
    } catch (err) {
      if (!(err instanceof Crashed)) throw err;
    }
  }

  private note(line: string): void {
    this.trace.push(`t=${this.now.toFixed(1)} ${line}`);
    const keep = this.opts.traceLines ?? 40;
    if (this.trace.length > keep) this.trace.splice(0, this.trace.length - keep);
  }

  private step(ev: Event): void {
    // A frozen peer does nothing: what reaches it waits for the thaw, and its clock stands still.
    const thaw = ev.kind === 'deliver' ? this.frozenUntil.get(ev.to) : undefined;
    if (thaw !== undefined) {
      this.agenda.push(thaw, ev);
      return;
    }
    switch (ev.kind) {
      case 'tick':
        this.agenda.push(this.now + TICK_MS, { kind: 'tick' });
        for (const [id, node] of this.nodes) {
          if (node == null) continue;
          if (this.frozenUntil.has(id)) this.missedTicks.set(id, (this.missedTicks.get(id) ?? 0) + 1);
          else this.tick(id, 1);
        }
        return;
      case 'deliver': {
        if (this.nodes.get(ev.to) == null) return; // down: lost, as with a crashed process
        this.note(`${ev.msg.from}->${ev.to} ${show(ev.msg)}`);
        this.drive(ev.to, (n) => n.step(ev.msg));
        return;
      }
      case 'crash':
        this.crash(ev.node, 'between steps');
        return;
      case 'restart':
        this.restart(ev.node);
        return;
      case 'freeze':
        if (this.nodes.get(ev.node) == null || this.frozenUntil.has(ev.node)) return;
        this.frozenUntil.set(ev.node, ev.until);
        this.agenda.push(ev.until, { kind: 'thaw', node: ev.node, since: this.now });
        this.note(`FREEZE peer ${ev.node} until t=${ev.until.toFixed(1)}`);
        return;
      case 'thaw':
        if (this.frozenUntil.get(ev.node) === undefined) return;
        this.frozenUntil.delete(ev.node);
        this.note(`THAW peer ${ev.node}`);
        this.tick(ev.node, this.missedTicks.get(ev.node) ?? 0);
        this.missedTicks.delete(ev.node);
        // Frozen long enough, every link to and from it was declared dead and redialed.
        if (this.now - ev.since > DEAD_AFTER) this.redialed(ev.node);
        return;
      case 'cut':
        this.cuts.add(`${ev.a} ${ev.b}`);
        this.note(`CUT ${ev.a}<->${ev.b} (black hole)`);
        return;
      case 'heal':
        if (!this.cuts.delete(`${ev.a} ${ev.b}`)) return;
        this.note(`HEAL ${ev.a}<->${ev.b}: the link was declared dead and redialed`);
        for (const [x, y] of [
          [ev.a, ev.b],
          [ev.b, ev.a],
        ] as const)
          this.reconnect(x, y);
        return;
    }
  }

  private tick(id: PeerId, ticks: number): void {
    if (ticks > 0) this.drive(id, (n) => n.tick(ticks));
  }

  /** `x`'s link to `y` dropped and came back (declared dead and redialed, or `y` restarted). */
  private reconnect(x: PeerId, y: PeerId): void {
    this.drive(x, (n) =>
      n.input((core) => {
        core.linkDown(y);
        core.linkUp(y);
      }),
    );
  }

  /** Every live peer's link to `id` came back, and its links to them. */
  private redialed(id: PeerId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.reconnect(other, id);
      this.reconnect(id, other);
    }
  }

  private crash(id: PeerId, how: string): void {
    if (this.nodes.get(id) == null) return;
    this.nodes.set(id, null);
    this.frozenUntil.delete(id); // kill -9 ends a frozen process too
    this.missedTicks.delete(id);
    this.life.set(id, this.life.get(id)! + 1);
    this.note(`CRASH peer ${id} (${how})`);
  }

  private restart(id: PeerId): void {
    if (this.nodes.get(id) != null) return;
    const state = this.opts.forgetful ? EMPTY_STATE : this.disks.get(id)!.load();
    this.nodes.set(id, this.makeNode(id, state, 20));
    this.note(
      `RESTART peer ${id} from promised ${state.promised}, accepted ` +
        `${state.accepted === null ? '-' : `${state.accepted.v}@${state.accepted.n}`}`,
    );
    this.invariants.restarts(id, state);
    // As the daemon does at start: a proposer that won before the crash says so again.
    this.drive(id, (n) => n.kick());
    // Everyone's link to it reconnects.
    for (const other of this.nodes.keys()) if (other !== id) this.reconnect(other, id);
  }

  private send(to: PeerId, msg: Message): void {
    if (to === msg.from) {
      this.agenda.push(this.now, { kind: 'deliver', to, msg });
      return;
    }
    if (this.faulty() && this.rng() < this.dropP) {
      this.note(`drop ${msg.from}->${to} ${show(msg)}`);
      return;
    }
    const [a, b] = msg.from < to ? [msg.from, to] : [to, msg.from];
    if (this.cuts.has(`${a} ${b}`)) {
      this.note(`black hole ${msg.from}->${to} ${show(msg)}`);
      return;
    }
    // To a frozen peer: waiting in its socket, or lost when the link is declared dead.
    if (this.frozenUntil.has(to) && this.rng() < 0.5) {
      this.note(`lost to frozen peer ${msg.from}->${to} ${show(msg)}`);
      return;
    }
    this.agenda.push(this.now + between(this.rng, 0.1, this.maxDelay), { kind: 'deliver', to, msg });
    if (this.faulty() && this.rng() < this.dupP)
      this.agenda.push(this.now + between(this.rng, 0.1, this.maxDelay), { kind: 'deliver', to, msg });
  }
}

function show(m: Message): string {
  switch (m.type) {
    case 'prepare':
      return `prepare ${m.n}`;
    case 'chose_ack':
      return `chose_ack ${m.n}`;
    case 'accept':
    case 'chose':
      return `${m.type} ${m.v}@${m.n}`;
    case 'prepare_ack':
    case 'accept_ack':
      return (
        `${m.type} for ${m.n}, promised ${m.promised}, accepted ` +
        `${m.accepted === null ? '-' : `${m.accepted.v}@${m.accepted.n}`}`
      );
  }
}

export function simulate(opts: SimOptions): SimResult {
  return new World(opts).run();
}

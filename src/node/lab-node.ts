// A lab peer on the node loop (loop.ts): the pure core (core/node.ts,
// PaxosNode) and the one way its Ready batches are performed, in the order
// core/ready.ts gives:
//   1. persist: the batch's state is saved, then, the first time a saved
//      state holds a chosen value, the replica file is written;
//   2. the core's lines, all of them and in its order, at the loop's first
//      line point (received: once durable, before anything is sent), then
//      the messages; then the values learned (the loop's decided point);
//   3. the applier: clients' answers, suspect links, notes, idle.
// Its effects are interfaces: a Storage, a network, stdout and the shell's
// hooks. The daemon (daemon/peer.ts) gives it the data directory, sockets
// and a 10 ms ticker; the simulator (sim/world.ts) and the tests give it
// memory (storage/memory-state.ts) and a simulated network, so all of them
// run this same code.

import type { PaxosNode } from '../core/node.js';
import type { ClientAnswer, LabReady, Note } from '../core/ready.js';
import type { Accepted, DurableState, Message, PeerId } from '../core/types.js';
import type { Storage } from '../storage/storage.js';
import { andThen, type MaybePromise } from '../util/maybe.js';
import { NodeLoop, type Network } from './loop.js';

export interface LabEffects {
  /** Where the state is saved; the loop waits for it before anything that depends on it. */
  readonly storage: Pick<Storage, 'save'>;
  /**
   * Write the replica (the value this peer learned first), once the state
   * that holds it is saved and before anyone hears of it; called once per
   * node, with the first saved state that has a chosen value. A state loaded
   * with one is the shell's to replicate at start.
   */
  readonly replicate?: (value: string) => MaybePromise<void>;
  readonly network: Network<Message>;
  /** stdout: the core's lines, in its order. */
  readonly out: (line: string) => void;
  /** A message step() refused, and why: the daemon warns, the simulator fails (its peers are correct). */
  readonly dropped: (msg: Message, why: string) => void;
  /** A value this peer printed `chose` for. */
  readonly learned?: (c: Accepted) => void;
  /** A client's answer, by the shell's ticket number. */
  readonly answer?: (a: ClientAnswer) => void;
  /** This peer did not answer a round in time: check the link to it. */
  readonly suspect?: (peer: PeerId) => void;
  /** For stderr. */
  readonly note?: (n: Note) => void;
  /** --exit-after-idle: no protocol message in or out for that long. */
  readonly idle?: () => void;
  /** A batch failed while the loop ran on its own (see LoopEffects.fatal). */
  readonly fatal: (err: Error) => void;
  /** See LoopEffects.defer: the daemon batches a turn's inputs; the simulator runs at once. */
  readonly defer?: (run: () => void) => void;
}

export class LabNode {
  private readonly loop: NodeLoop<Message, DurableState, LabReady>;
  /** Whether the replica was handed to `replicate` (once per node). */
  private replicated = false;

  constructor(
    readonly core: PaxosNode,
    private readonly fx: LabEffects,
  ) {
    this.loop = new NodeLoop<Message, DurableState, LabReady>(core, {
      store: { persist: (records) => this.persist(records) },
      network: fx.network,
      lines: {
        received: (r) => {
          for (const d of r.dropped) fx.dropped(d.msg, d.why);
          for (const l of r.lines) fx.out(l);
        },
        // The core formatted the sent lines itself, in `lines`.
        sent: () => undefined,
        decided: (r) => {
          for (const c of r.learned) fx.learned?.(c);
        },
      },
      applier: { apply: (r) => this.apply(r) },
      fatal: fx.fatal,
      ...(fx.defer === undefined ? {} : { defer: fx.defer }),
    });
  }

  step(m: Message): void {
    this.loop.step(m);
  }

  /** `ticks` ticks of the core's clock (more than one: catching up after a stall), then one batch. */
  tick(ticks = 1): void {
    this.input((core) => {
      for (let i = 0; i < ticks; i++) core.tick();
    });
  }

  /** Any other input (propose, a client, a link event): feed the core, then perform what it made. */
  input(feed: (core: PaxosNode) => void): void {
    feed(this.core);
    this.loop.kick();
  }

  /** Perform what the core has (at start: a restarted winner's announcement). */
  kick(): void {
    this.loop.kick();
  }

  /** No batch starts after this; resolves once the one under way (if any) is done. */
  stop(): Promise<void> {
    this.loop.stop();
    return this.loop.exclusive(() => undefined);
  }

  private persist(records: readonly DurableState[]): MaybePromise<void> {
    const state = records.at(-1)!;
    return andThen(this.fx.storage.save(state), () => {
      const replicate = this.fx.replicate;
      if (state.chosen === null || replicate === undefined || this.replicated) return;
      this.replicated = true;
      return replicate(state.chosen.v);
    });
  }

  private apply(r: LabReady): void {
    const fx = this.fx;
    for (const a of r.answers) fx.answer?.(a);
    for (const s of r.suspect) fx.suspect?.(s);
    for (const n of r.notes) fx.note?.(n);
    if (r.idle) fx.idle?.();
  }
}

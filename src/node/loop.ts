// The one node loop: inbox -> step -> persist -> send -> apply -> advance,
// driven by logical ticks. It is the loop etcd's raft leaves to its caller
// (doc.go there), written once for any core of that shape, and both
// protocols run on it: the replicated log (replica-node.ts, around
// log/node.ts's LogNode) and the lab peer (lab-node.ts, around
// core/node.ts's PaxosNode). Inputs go in by step(message), tick() and the
// core's own entry points (propose, read, a client, a link event, then
// kick); the core's Ready batches come out and are performed one at a
// time, in the order the Ready contract demands:
//   0. `early` messages (those that may leave before the fsync);
//   1. `records` made durable (one sync for the batch);
//   2. the lines due before the messages (Lines.received), the messages
//      (Lines.sent for each), the lines due after them (Lines.decided);
//   3. the rest of the batch, by the applier (the state machine, clients);
//   4. advance: the core may hand out the next batch.
// Where a protocol's lines go within step 2 is its own: the replicated log
// prints a line for what arrived, one per message as it leaves, and one per
// slot decided; the lab core formats every line itself, in the order its
// inputs made them (a `chose` before the `sent chose` that announces it:
// the goldens diff them byte for byte), so lab-node.ts prints them all at
// the first point and none per message. Either way nothing is printed
// before the records are durable, and nothing after the messages that the
// core did not put there.
// While one batch waits for its sync, the core goes on taking inputs, and
// everything they produce becomes the next batch: group commit, with no
// timer, at whatever rate the disk allows.
//
// The loop knows no sockets, timers, clocks or disks: its effects are
// interfaces. An effect that finishes at once (the simulator's disk) keeps
// the whole batch in one synchronous call; one that returns a promise (a
// real fsync) makes the loop go on when it resolves (MaybePromise). An
// effect may throw to stop the loop mid-batch (the simulators' crashes):
// the error goes to whoever called step, tick or kick, or to `fatal` when
// the batch ran later (after a promise, or deferred).

import type { PeerId } from '../core/types.js';
import { andThen, type MaybePromise } from '../util/maybe.js';

/** A message out, to one or more peers. */
export interface Outbound<M> {
  readonly to: readonly PeerId[];
  readonly msg: M;
  /** A retransmission: print no line for it. */
  readonly silent?: true;
}

/** The part of a core's Ready batch the loop performs itself. */
export interface LoopReady<M, Rec> {
  /** Messages that may leave before `records` are durable. */
  readonly early?: readonly Outbound<M>[];
  readonly records: readonly Rec[];
  readonly messages: readonly Outbound<M>[];
}

/** The core the loop drives: pure, no I/O (log/node.ts's LogNode, core/node.ts's PaxosNode). */
export interface Core<M, R> {
  step(m: M): void;
  tick(): void;
  /** Whether a batch is waiting. */
  readonly hasReady: boolean;
  /** Take the batch. */
  ready(): R;
  /** The batch was performed (for cores that hand out a batch and keep it until then). */
  advance?(r: R): void;
}

/** Where records are made durable. */
export interface Persist<Rec> {
  persist(records: readonly Rec[]): MaybePromise<void>;
}

/** Where messages leave: one peer at a time, in order, no promise of delivery. */
export interface Network<M> {
  send(to: PeerId, msg: M): void;
  /** Hand what was sent so far to the OS now, rather than at the end of the turn: before the loop blocks on a sync. */
  flush?(): void;
}

/** The protocol's output lines (stdout), at the three points of a batch where they are due. */
export interface Lines<M, R> {
  /**
   * Once the records are durable, before anything is sent: what arrived that
   * is news (the log), or every line of the batch in the core's order (the lab).
   */
  received(r: R): void;
  /** One message as it is sent. */
  sent(o: Outbound<M>): void;
  /** What was decided (chosen values): after the messages. */
  decided(r: R): void;
}

/** What the node does with the rest of a batch: apply, answer clients, snapshots. */
export interface Applier<R> {
  apply(r: R): MaybePromise<void>;
}

export interface LoopEffects<M, Rec, R> {
  readonly store: Persist<Rec>;
  readonly network: Network<M>;
  readonly lines: Lines<M, R>;
  readonly applier: Applier<R>;
  /** A batch failed while the loop ran on its own (after a promise): the node cannot go on. */
  readonly fatal: (err: Error) => void;
  /**
   * Run the next batch later rather than in the call that asked for it (the
   * daemon: queueMicrotask), so that every input of one turn of the event
   * loop (a socket's many lines) shares one batch: one slot, one fsync.
   * Without it (the simulator) a batch runs at once, in the same call.
   */
  readonly defer?: (run: () => void) => void;
}

export class NodeLoop<M, Rec, R extends LoopReady<M, Rec>> {
  /** A batch (or an exclusive job) is under way: inputs only queue work in the core. */
  private busy = false;
  /** Exclusive jobs waiting for the batch under way, first come first served; no batch starts before them. */
  private readonly waiting: Array<() => void> = [];
  private stopped = false;
  /** A deferred run is pending (LoopEffects.defer). */
  private deferred = false;

  constructor(
    readonly core: Core<M, R>,
    private readonly fx: LoopEffects<M, Rec, R>,
  ) {}

  step(m: M): void {
    if (this.stopped) return;
    this.core.step(m);
    this.kick();
  }

  tick(): void {
    if (this.stopped) return;
    this.core.tick();
    this.kick();
  }

  /** Perform the core's batches, one at a time, until it has none (call after any other input). */
  kick(): void {
    if (this.busy || this.stopped || this.deferred) return;
    const defer = this.fx.defer;
    if (defer === undefined) return this.run();
    this.deferred = true;
    defer(() => {
      this.deferred = false;
      // No caller to throw to any more.
      try {
        this.run();
      } catch (err) {
        this.fx.fatal(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  private run(): void {
    if (this.busy || this.stopped || !this.core.hasReady) return;
    this.busy = true;
    let pending: MaybePromise<void>;
    try {
      pending = this.drain();
    } catch (err) {
      this.busy = false;
      throw err;
    }
    if (pending instanceof Promise) {
      void pending.catch((err: Error) => this.fx.fatal(err)).finally(() => this.release());
      return;
    }
    // All done in this call: no kick to queue, the core has nothing left.
    const next = this.waiting.shift();
    if (next === undefined) this.busy = false;
    else next();
  }

  /**
   * Run `job` between batches, with none under way, and none starting until
   * it ends (a log checkpoint, a clean shutdown).
   */
  async exclusive<T>(job: () => MaybePromise<T>): Promise<T> {
    // release() hands the loop over with `busy` still set.
    if (this.busy) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.busy = true;
    try {
      return await job();
    } finally {
      this.release();
    }
  }

  /** No batch starts after this; one under way finishes (await exclusive to wait for it). */
  stop(): void {
    this.stopped = true;
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) return next();
    this.busy = false;
    // Work that arrived meanwhile.
    if (!this.stopped) queueMicrotask(() => this.kick());
  }

  private drain(): MaybePromise<void> {
    while (!this.stopped && this.core.hasReady) {
      const done = this.perform(this.core.ready());
      if (done instanceof Promise) return done.then(() => this.drain());
    }
  }

  private perform(r: R): MaybePromise<void> {
    const { store, lines } = this.fx;
    const early = r.early ?? [];
    for (const o of early) this.send(o);
    // The early messages leave now: the sync below may block this thread.
    if (early.length > 0) this.fx.network.flush?.();
    const durable = r.records.length > 0 ? store.persist(r.records) : undefined;
    return andThen(durable, () => {
      lines.received(r);
      for (const o of r.messages) this.send(o);
      lines.decided(r);
      return andThen(this.fx.applier.apply(r), () => this.core.advance?.(r));
    });
  }

  private send(o: Outbound<M>): void {
    for (const to of o.to) this.fx.network.send(to, o.msg);
    this.fx.lines.sent(o);
  }
}

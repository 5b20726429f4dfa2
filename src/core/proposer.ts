// The proposer of one group, as a pure state machine.
//
// A round: pick a fresh number n, send prepare(n) to the group's acceptors,
// collect prepare_acks that answer n from a majority, adopt the value with
// the highest accepted number among them (own value only if none), send
// accept(v, n), collect accept_acks that answer n without rejection from a
// majority, then print `chose` and tell acceptors and learners.
//
// A rejection (an ack whose promise is above n) or a round that times out
// ends the round; the next one starts after a randomized exponential backoff
// with a number above every promise seen, so competing proposers settle.
// Its waits are counted in ticks of the core's logical clock (timing.ts).
//
// A proposer that won keeps retransmitting `chose` (silently: no new log
// line) to each acceptor and learner until it confirms with a `chose_ack`,
// so a `chose` lost on a connection that stayed up still reaches everyone.
//
// Numbers stop at MAX_PROPOSAL, which every peer refuses to go past. No real
// run gets near it, but a forged prepare can make acceptors promise it; then
// the proposer cannot outbid the promise, and says so once ('stuck') instead
// of sending, round after round, numbers every acceptor drops.

import { backoffDelay } from '../util/backoff.js';
import { MAX_PROPOSAL } from '../paxos/defaults.js';
import { groupOfProposal, nextProposal } from '../paxos/numbering.js';
import { quorumOf } from '../paxos/quorum.js';
import type { Outbox } from './ready.js';
import type { TickTiming } from './timing.js';
import type { Accepted, Message, PeerId } from './types.js';

export interface ProposerConfig {
  readonly self: PeerId;
  readonly group: number;
  readonly stride: number;
  /** The group's acceptors: prepare and accept go to them. */
  readonly acceptors: readonly PeerId[];
  /** Who hears `chose`: the group's acceptors and learners. */
  readonly notify: readonly PeerId[];
  /**
   * Groups whose acceptors are exactly ours (our own included): a value one
   * of them chose is chosen for us too, so we may stop when told of it.
   */
  readonly sameAcceptors: ReadonlySet<number>;
  readonly timing: TickTiming;
  /** Uniform in [0, 1). Injected so runs replay under a seeded generator. */
  readonly rng: () => number;
  /**
   * Replacements for the rules, for the simulator's negative controls only:
   * a simulator that cannot catch a broken proposer is not testing anything.
   */
  readonly variant?: ProposerVariant;
}

export interface ProposerVariant {
  /** How many promises, and accepts, make a quorum. */
  readonly quorum?: (acceptors: number) => number;
  /** Which accepted pair among the promises to adopt. */
  readonly adopt?: (promises: Iterable<Accepted | null>) => Accepted | null;
}

export type ProposerPhase = 'idle' | 'preparing' | 'accepting' | 'backoff' | 'done' | 'stuck';

export interface AckFields {
  readonly from: PeerId;
  readonly n: number;
  readonly promised: number;
  readonly accepted: Accepted | null;
  /** A value the acceptor knows is chosen. */
  readonly chosen: Accepted | null;
}

/** A wait in ticks: 0 when off, else the tick at which it ends. */
type Deadline = number;

export class Proposer {
  private phaseNow: ProposerPhase = 'idle';
  private own: string | null = null;
  private n = 0;
  private used: number;
  private highestSeen = 0;
  private attempt = 0;
  private promises = new Map<PeerId, Accepted | null>();
  private accepts = new Set<PeerId>();
  private proposal = '';
  private outcome: Accepted | null = null;
  /** Who has not yet confirmed our `chose` (only once we won). */
  private unconfirmed = new Set<PeerId>();
  private choseAttempt = 0;
  /** Whether it has said it is stuck at the ceiling (it says so once). */
  private saidStuck = false;
  /** Ticks seen; the deadlines below count on it. */
  private now = 0;
  private roundEnds: Deadline = 0;
  private backoffEnds: Deadline = 0;
  private resendAt: Deadline = 0;

  readonly quorum: number;

  /**
   * `out` takes what it sends; `print` its chose lines (the node's, which
   * also notes the value as learned), by default straight to `out`.
   */
  constructor(
    private readonly cfg: ProposerConfig,
    lastUsed: number,
    private readonly out: Outbox,
    private readonly print: (c: Accepted) => void = (c) => out.chose(c),
  ) {
    if (cfg.acceptors.length === 0) throw new Error(`proposer${cfg.group} has no acceptors`);
    this.used = lastUsed;
    this.quorum = (cfg.variant?.quorum ?? quorumOf)(cfg.acceptors.length);
  }

  get phase(): ProposerPhase {
    return this.phaseNow;
  }
  /** The last proposal number used; durable, so a restart never reuses it. */
  get lastUsed(): number {
    return this.used;
  }
  get chosen(): Accepted | null {
    return this.outcome;
  }
  /** Acceptors and learners that have not yet confirmed our `chose`. */
  get awaitingConfirmation(): readonly PeerId[] {
    return [...this.unconfirmed];
  }
  /** Ticks until each running wait ends (0: not running); for tests and the live page. */
  get waits(): { round: number; backoff: number; resend: number } {
    const left = (d: Deadline): number => (d === 0 ? 0 : d - this.now);
    return { round: left(this.roundEnds), backoff: left(this.backoffEnds), resend: left(this.resendAt) };
  }

  /** Start proposing `value` (or start a fresh round if already proposing). */
  propose(value: string): void {
    if (this.phaseNow === 'done') return;
    this.own = value;
    this.attempt = 0;
    this.beginRound();
  }

  onPrepareAck(ack: AckFields): void {
    if (!this.counts(ack, 'preparing')) return;
    this.promises.set(ack.from, ack.accepted);
    if (this.promises.size < this.quorum) return;
    this.proposal = (this.cfg.variant?.adopt ?? highestAccepted)(this.promises.values())?.v ?? this.own ?? '';
    this.phaseNow = 'accepting';
    this.accepts = new Set();
    this.out.send(this.cfg.acceptors, { type: 'accept', from: this.cfg.self, n: this.n, v: this.proposal });
    this.roundEnds = this.after(this.cfg.timing.roundTicks);
  }

  onAcceptAck(ack: AckFields): void {
    if (!this.counts(ack, 'accepting')) return;
    this.accepts.add(ack.from);
    if (this.accepts.size < this.quorum) return;
    this.finish({ n: this.n, v: this.proposal }, 'announce');
  }

  /**
   * A `chose` message, or our own durable state, says a value is chosen:
   * stop proposing. The caller prints it; does nothing if `chosen` belongs
   * to a group we cannot vouch for.
   */
  onChosen(chosen: Accepted): void {
    if (this.phaseNow === 'done' || !this.vouchesFor(chosen)) return;
    this.finish(chosen, 'quiet');
  }

  /**
   * After a restart: `chosen` carries one of our own numbers, so we won that
   * round before the crash. Say so again: the chose message may never have
   * left, and it is the only way acceptors and learners hear of it. The
   * caller prints chose first; a number not ours is ignored.
   */
  resumeWon(chosen: Accepted): void {
    if (groupOfProposal(chosen.n, this.cfg.stride) !== this.cfg.group) return;
    this.finish(chosen, 'quiet');
    this.out.send(this.cfg.notify, this.choseMessage());
    this.awaitConfirmations();
  }

  /** Whether a value chosen with proposal `chosen.n` is chosen for our group too. */
  vouchesFor(chosen: Accepted): boolean {
    return this.cfg.sameAcceptors.has(groupOfProposal(chosen.n, this.cfg.stride));
  }

  /**
   * A peer that has not confirmed our `chose` reconnected: the message may
   * have died with the old connection, so tell it again now rather than at
   * the next retransmission.
   */
  onReconnect(peer: PeerId): void {
    if (this.unconfirmed.has(peer)) this.out.send([peer], this.choseMessage(), true);
  }

  /** `from` durably learned the value chosen at `n`: stop telling it. */
  onChoseAck(from: PeerId, n: number): void {
    if (this.outcome?.n !== n || !this.unconfirmed.delete(from) || this.unconfirmed.size > 0) return;
    this.resendAt = 0;
  }

  /** One tick of the logical clock: end the waits that are due. */
  tick(): void {
    this.now += 1;
    if (this.roundEnds !== 0 && this.now >= this.roundEnds) {
      this.roundEnds = 0;
      if (this.phaseNow === 'preparing' || this.phaseNow === 'accepting') {
        // Whoever did not answer may sit behind a dead connection.
        const answered = this.phaseNow === 'preparing' ? this.promises : this.accepts;
        const silent = this.cfg.acceptors.filter((a) => !answered.has(a));
        if (silent.length > 0) this.out.suspect(silent);
        this.retry();
      }
    }
    if (this.backoffEnds !== 0 && this.now >= this.backoffEnds) {
      this.backoffEnds = 0;
      if (this.phaseNow === 'backoff') this.beginRound();
    }
    if (this.resendAt !== 0 && this.now >= this.resendAt) {
      this.resendAt = 0;
      if (this.unconfirmed.size > 0) {
        this.out.send([...this.unconfirmed], this.choseMessage(), true);
        this.nextRetransmission();
      }
    }
  }

  private beginRound(): void {
    const above = Math.max(this.used, this.highestSeen);
    const n = nextProposal(this.cfg.group, this.cfg.stride, above);
    if (n > MAX_PROPOSAL) return this.stuck(above, n);
    this.n = n;
    this.used = this.n;
    this.phaseNow = 'preparing';
    this.promises = new Map();
    this.accepts = new Set();
    this.backoffEnds = 0;
    this.out.send(this.cfg.acceptors, { type: 'prepare', from: this.cfg.self, n: this.n });
    this.roundEnds = this.after(this.cfg.timing.roundTicks);
  }

  /** Out of numbers: stop, and say why once. Only a value chosen elsewhere (onChosen) ends this. */
  private stuck(above: number, n: number): void {
    this.phaseNow = 'stuck';
    this.roundEnds = 0;
    this.backoffEnds = 0;
    if (this.saidStuck) return;
    this.saidStuck = true;
    this.out.note(
      'error',
      `proposer${this.cfg.group} cannot go on: it must outbid a promise of ${above}, but its next number, ${n}` +
        `, is past the ceiling ` +
        `2^48 (${MAX_PROPOSAL}) that every peer refuses. No proposer of this cluster numbers that high, so the ` +
        `promise was forged; ` +
        `run every peer with a shared secret (--secret-file or PAXOS_SECRET) so prepares cannot be forged, and ` +
        `give this group's acceptors fresh data directories`,
    );
  }

  /**
   * Whether `ack` counts toward the round running in `phase`: it must answer
   * our current n with a promise of exactly n. A promise above n is a
   * rejection, which ends the round.
   */
  private counts(ack: AckFields, phase: 'preparing' | 'accepting'): boolean {
    this.noteSeen(ack.promised);
    if (this.phaseNow !== phase || ack.n !== this.n) return false;
    if (ack.promised > this.n) this.rejected(ack);
    return ack.promised === this.n;
  }

  /**
   * An acceptor promised a higher number. If it also knows the value is
   * already chosen, retrying is pointless: stop, and print that value.
   */
  private rejected(ack: AckFields): void {
    if (ack.chosen !== null && this.vouchesFor(ack.chosen)) this.finish(ack.chosen, 'print');
    else this.retry();
  }

  private retry(): void {
    this.attempt += 1;
    this.phaseNow = 'backoff';
    this.roundEnds = 0;
    const { backoffBaseTicks, backoffCapTicks } = this.cfg.timing;
    this.backoffEnds = this.after(backoffDelay(this.attempt, backoffBaseTicks, backoffCapTicks, this.cfg.rng));
  }

  /**
   * Stop with `chosen`. 'announce': we got the quorum, so print chose and
   * tell acceptors and learners. 'print': an acceptor told us; print it. A
   * `chose` message comes from another proposer's number, which only that
   * proposer may broadcast. 'quiet': the caller prints.
   */
  private finish(chosen: Accepted, how: 'announce' | 'print' | 'quiet'): void {
    this.phaseNow = 'done';
    this.outcome = chosen;
    this.roundEnds = 0;
    this.backoffEnds = 0;
    if (how !== 'quiet') this.print(chosen);
    if (how === 'announce') {
      this.out.send(this.cfg.notify, this.choseMessage());
      this.awaitConfirmations();
    }
  }

  private choseMessage(): Message {
    const c = this.outcome!;
    return { type: 'chose', from: this.cfg.self, n: c.n, v: c.v };
  }

  /** We just announced: everyone told must confirm, or hear it again. */
  private awaitConfirmations(): void {
    this.unconfirmed = new Set(this.cfg.notify);
    this.choseAttempt = 0;
    this.nextRetransmission();
  }

  private nextRetransmission(): void {
    this.choseAttempt += 1;
    const { choseRetryTicks, choseRetryCapTicks } = this.cfg.timing;
    this.resendAt = this.after(backoffDelay(this.choseAttempt, choseRetryTicks, choseRetryCapTicks, this.cfg.rng));
  }

  /** The deadline `ticks` from now; at least the next tick. */
  private after(ticks: number): Deadline {
    return this.now + Math.max(1, ticks);
  }

  private noteSeen(promised: number): void {
    if (promised > this.highestSeen) this.highestSeen = promised;
  }
}

/** The accepted pair with the highest number, or null if none accepted anything. */
export function highestAccepted(pairs: Iterable<Accepted | null>): Accepted | null {
  let best: Accepted | null = null;
  for (const p of pairs) if (p !== null && (best === null || p.n > best.n)) best = p;
  return best;
}

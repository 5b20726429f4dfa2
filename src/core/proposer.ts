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
import { MAX_PROPOSAL } from '../paxos/limits.js';
import { groupOfProposal, nextProposal } from './numbering.js';
import type { Accepted, Effect, Message, PeerId } from './types.js';

export interface ProposerTiming {
  /** A round with no majority after this long is retried. */
  readonly roundTimeoutMs: number;
  /** Waits between rounds follow `backoffDelay` with these bounds. */
  readonly backoffBaseMs: number;
  readonly backoffCapMs: number;
  /** An unconfirmed `chose` is sent again after this long, doubling up to the cap. */
  readonly choseRetryMs: number;
  readonly choseRetryCapMs: number;
}

export const DEFAULT_TIMING: ProposerTiming = {
  roundTimeoutMs: 2000,
  backoffBaseMs: 50,
  backoffCapMs: 2000,
  choseRetryMs: 500,
  choseRetryCapMs: 4000,
};

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
  readonly timing: ProposerTiming;
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
  private won = false;
  /** Who has not yet confirmed our `chose` (only once we won). */
  private unconfirmed = new Set<PeerId>();
  private choseAttempt = 0;
  /** Whether it has said it is stuck at the ceiling (it says so once). */
  private saidStuck = false;

  readonly quorum: number;
  readonly roundTimer: string;
  readonly backoffTimer: string;
  readonly choseTimer: string;

  constructor(private readonly cfg: ProposerConfig, lastUsed: number) {
    if (cfg.acceptors.length === 0) throw new Error(`proposer${cfg.group} has no acceptors`);
    this.used = lastUsed;
    this.quorum = (cfg.variant?.quorum ?? majority)(cfg.acceptors.length);
    this.roundTimer = `round/${cfg.group}`;
    this.backoffTimer = `backoff/${cfg.group}`;
    this.choseTimer = `chose/${cfg.group}`;
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

  /** Start proposing `value` (or start a fresh round if already proposing). */
  propose(value: string): Effect[] {
    if (this.phaseNow === 'done') return [];
    this.own = value;
    this.attempt = 0;
    return this.beginRound();
  }

  onPrepareAck(ack: AckFields): Effect[] {
    this.noteSeen(ack.promised);
    if (this.phaseNow !== 'preparing' || ack.n !== this.n) return [];
    // Only a promise of exactly n counts; above n is a rejection.
    if (ack.promised !== this.n) return ack.promised > this.n ? this.rejected(ack) : [];
    this.promises.set(ack.from, ack.accepted);
    if (this.promises.size < this.quorum) return [];
    this.proposal = (this.cfg.variant?.adopt ?? highestAccepted)(this.promises.values())?.v ?? this.own ?? '';
    this.phaseNow = 'accepting';
    this.accepts = new Set();
    return [
      { kind: 'send', to: this.cfg.acceptors, msg: { type: 'accept', from: this.cfg.self, n: this.n, v: this.proposal } },
      { kind: 'setTimer', id: this.roundTimer, ms: this.cfg.timing.roundTimeoutMs },
    ];
  }

  onAcceptAck(ack: AckFields): Effect[] {
    this.noteSeen(ack.promised);
    if (this.phaseNow !== 'accepting' || ack.n !== this.n) return [];
    if (ack.promised !== this.n) return ack.promised > this.n ? this.rejected(ack) : [];
    this.accepts.add(ack.from);
    if (this.accepts.size < this.quorum) return [];
    this.won = true;
    return this.finish({ n: this.n, v: this.proposal }, 'announce');
  }

  /**
   * A `chose` message, or our own durable state, says a value is chosen:
   * stop proposing. The caller prints it; returns nothing to do if `chosen`
   * belongs to a group we cannot vouch for.
   */
  onChosen(chosen: Accepted): Effect[] {
    if (this.phaseNow === 'done' || !this.vouchesFor(chosen)) return [];
    return this.finish(chosen, 'quiet');
  }

  /**
   * After a restart: `chosen` carries one of our own numbers, so we won that
   * round before the crash. Say so again: the chose message may never have
   * left, and it is the only way acceptors and learners hear of it.
   */
  resumeWon(chosen: Accepted): Effect[] {
    if (groupOfProposal(chosen.n, this.cfg.stride) !== this.cfg.group) return [];
    this.won = true;
    const effects = this.finish(chosen, 'quiet');
    effects.push({ kind: 'send', to: this.cfg.notify, msg: this.choseMessage() }, ...this.awaitConfirmations());
    return effects;
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
  onReconnect(peer: PeerId): Effect[] {
    if (!this.unconfirmed.has(peer)) return [];
    return [{ kind: 'send', to: [peer], msg: this.choseMessage(), silent: true }];
  }

  /** `from` durably learned the value chosen at `n`: stop telling it. */
  onChoseAck(from: PeerId, n: number): Effect[] {
    if (this.outcome?.n !== n || !this.unconfirmed.delete(from) || this.unconfirmed.size > 0) return [];
    return [{ kind: 'clearTimer', id: this.choseTimer }];
  }

  onTimer(id: string): Effect[] {
    if (id === this.roundTimer && (this.phaseNow === 'preparing' || this.phaseNow === 'accepting')) {
      // Whoever did not answer may sit behind a dead connection.
      const answered = this.phaseNow === 'preparing' ? this.promises : this.accepts;
      const silent = this.cfg.acceptors.filter((a) => !answered.has(a));
      return [...(silent.length > 0 ? [{ kind: 'suspect', peers: silent } as const] : []), ...this.retry()];
    }
    if (id === this.backoffTimer && this.phaseNow === 'backoff') return this.beginRound();
    if (id === this.choseTimer && this.unconfirmed.size > 0) {
      return [{ kind: 'send', to: [...this.unconfirmed], msg: this.choseMessage(), silent: true }, ...this.nextRetransmission()];
    }
    return [];
  }

  private beginRound(): Effect[] {
    const above = Math.max(this.used, this.highestSeen);
    const n = nextProposal(this.cfg.group, this.cfg.stride, above);
    if (n > MAX_PROPOSAL) return this.stuck(above, n);
    this.n = n;
    this.used = this.n;
    this.phaseNow = 'preparing';
    this.promises = new Map();
    this.accepts = new Set();
    return [
      { kind: 'clearTimer', id: this.backoffTimer },
      { kind: 'send', to: this.cfg.acceptors, msg: { type: 'prepare', from: this.cfg.self, n: this.n } },
      { kind: 'setTimer', id: this.roundTimer, ms: this.cfg.timing.roundTimeoutMs },
    ];
  }

  /** Out of numbers: stop, and say why once. Only a value chosen elsewhere (onChosen) ends this. */
  private stuck(above: number, n: number): Effect[] {
    this.phaseNow = 'stuck';
    const effects: Effect[] = [
      { kind: 'clearTimer', id: this.roundTimer },
      { kind: 'clearTimer', id: this.backoffTimer },
    ];
    if (this.saidStuck) return effects;
    this.saidStuck = true;
    const why =
      `proposer${this.cfg.group} cannot go on: it must outbid a promise of ${above}, but its next number, ${n}, is past the ceiling ` +
      `2^48 (${MAX_PROPOSAL}) that every peer refuses. No proposer of this cluster numbers that high, so the promise was forged; ` +
      `run every peer with a shared secret (--secret-file or PAXOS_SECRET) so prepares cannot be forged, and give this group's acceptors fresh data directories`;
    effects.push({ kind: 'stuck', why });
    return effects;
  }

  /**
   * An acceptor promised a higher number. If it also knows the value is
   * already chosen, retrying is pointless: stop, and print that value.
   */
  private rejected(ack: AckFields): Effect[] {
    if (ack.chosen !== null && this.vouchesFor(ack.chosen)) return this.finish(ack.chosen, 'print');
    return this.retry();
  }

  private retry(): Effect[] {
    this.attempt += 1;
    this.phaseNow = 'backoff';
    const { backoffBaseMs, backoffCapMs } = this.cfg.timing;
    const ms = backoffDelay(this.attempt, backoffBaseMs, backoffCapMs, this.cfg.rng);
    return [
      { kind: 'clearTimer', id: this.roundTimer },
      { kind: 'setTimer', id: this.backoffTimer, ms },
    ];
  }

  /**
   * Stop with `chosen`. 'announce': we got the quorum, so print chose and
   * tell acceptors and learners. 'print': an acceptor told us; print it. A
   * `chose` message comes from another proposer's number, which only that
   * proposer may broadcast. 'quiet': the caller prints.
   */
  private finish(chosen: Accepted, how: 'announce' | 'print' | 'quiet'): Effect[] {
    this.phaseNow = 'done';
    this.outcome = chosen;
    const effects: Effect[] = [
      { kind: 'clearTimer', id: this.roundTimer },
      { kind: 'clearTimer', id: this.backoffTimer },
    ];
    if (how !== 'quiet') effects.push({ kind: 'chose', v: chosen.v, n: chosen.n });
    if (how === 'announce') effects.push({ kind: 'send', to: this.cfg.notify, msg: this.choseMessage() }, ...this.awaitConfirmations());
    return effects;
  }

  private choseMessage(): Message {
    const c = this.outcome!;
    return { type: 'chose', from: this.cfg.self, n: c.n, v: c.v };
  }

  /** We just announced: everyone told must confirm, or hear it again. */
  private awaitConfirmations(): Effect[] {
    this.unconfirmed = new Set(this.cfg.notify);
    this.choseAttempt = 0;
    return this.nextRetransmission();
  }

  private nextRetransmission(): Effect[] {
    this.choseAttempt += 1;
    const { choseRetryMs, choseRetryCapMs } = this.cfg.timing;
    return [{ kind: 'setTimer', id: this.choseTimer, ms: backoffDelay(this.choseAttempt, choseRetryMs, choseRetryCapMs, this.cfg.rng) }];
  }

  private noteSeen(promised: number): void {
    if (promised > this.highestSeen) this.highestSeen = promised;
  }
}

export function majority(acceptors: number): number {
  return Math.floor(acceptors / 2) + 1;
}

/** The accepted pair with the highest number, or null if none accepted anything. */
export function highestAccepted(pairs: Iterable<Accepted | null>): Accepted | null {
  let best: Accepted | null = null;
  for (const p of pairs) if (p !== null && (best === null || p.n > best.n)) best = p;
  return best;
}

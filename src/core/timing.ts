// Time in the lab core is logical: the shell calls tick() every tickMs of
// wall time (catching up on ticks it missed, say after SIGSTOP), and every
// wait the core keeps (-t, the round timeout, the randomized backoff, the
// chose retransmissions, --exit-after-idle) is a number of ticks. The flags
// give them in milliseconds; inTicks converts, rounding up, so no wait is
// shorter than asked and none is off by more than one tick. The values are
// src/paxos/defaults.ts's (DEFAULT_LAB_TIMING, LAB_TICK_MS); a daemon's come
// from its settings (labTiming, src/config/settings.ts).

import { DEFAULT_LAB_TIMING, LAB_TICK_MS } from '../paxos/defaults.js';

/** The proposer's waits as the flags give them, in milliseconds. */
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

/** The same waits in ticks of the core's clock. */
export interface TickTiming {
  readonly roundTicks: number;
  readonly backoffBaseTicks: number;
  readonly backoffCapTicks: number;
  readonly choseRetryTicks: number;
  readonly choseRetryCapTicks: number;
}

/** `ms` as whole ticks, rounded up: 0 stays 0, anything else is at least one tick. */
export function inTicks(ms: number, tickMs: number): number {
  return ms <= 0 ? 0 : Math.ceil(ms / tickMs);
}

export function tickTiming(t: ProposerTiming, tickMs: number): TickTiming {
  return {
    roundTicks: inTicks(t.roundTimeoutMs, tickMs),
    backoffBaseTicks: inTicks(t.backoffBaseMs, tickMs),
    backoffCapTicks: inTicks(t.backoffCapMs, tickMs),
    choseRetryTicks: inTicks(t.choseRetryMs, tickMs),
    choseRetryCapTicks: inTicks(t.choseRetryCapMs, tickMs),
  };
}

/** The default waits at the default tick: for tests and tools that build a core by hand. */
export const DEFAULT_TICK_TIMING: TickTiming = tickTiming(DEFAULT_LAB_TIMING, LAB_TICK_MS);

// The wall clock behind a core that counts ticks. Every tickMs it reports
// how many ticks are due by the monotonic clock, not one per callback: after
// a stall (a busy event loop, a SIGSTOP) the missed ticks come at once, so a
// wait of N ticks ends N * tickMs after it began, as a setTimeout would.

import { performance } from 'node:perf_hooks';
import { MAX_CATCH_UP_TICKS } from '../paxos/defaults.js';

export class Ticker {
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private done = 0;

  constructor(
    private readonly tickMs: number,
    private readonly onTicks: (ticks: number) => void,
  ) {}

  start(): void {
    this.startedAt = performance.now();
    this.done = 0;
    this.timer = setInterval(() => this.fire(), this.tickMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private fire(): void {
    const due = Math.floor((performance.now() - this.startedAt) / this.tickMs);
    const ticks = Math.min(due - this.done, MAX_CATCH_UP_TICKS);
    this.done = due;
    if (ticks > 0) this.onTicks(ticks);
  }
}

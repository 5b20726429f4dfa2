// When a lab peer's proposers start on their own (-v with -t): after -t,
// counted in ticks, and then only once a majority of each group's acceptors
// can be reached. It waits for links to come up, not for a fixed time:
// prepares sent into links that are down would only wait in queues while the
// round timer ran out and burned proposal numbers. The shell reports each
// link going up or down; this peer itself is always reachable.

import { quorumOf } from '../paxos/quorum.js';
import type { PeerId } from './types.js';

export interface StartConfig {
  /** The value to propose. */
  readonly value: string;
  /** Ticks to wait first (-t). */
  readonly afterTicks: number;
}

export class StartGate {
  private readonly up = new Set<PeerId>();
  /** Ticks left before -t is over; -1 once started (or with nothing to start). */
  private left: number;
  private saidWaiting = false;

  constructor(
    private readonly self: PeerId,
    /** Each of this peer's proposer groups' acceptors. */
    private readonly groups: ReadonlyArray<readonly PeerId[]>,
    private readonly start: StartConfig | undefined,
    private readonly begin: (value: string) => void,
    private readonly say: (text: string) => void,
  ) {
    this.left = start === undefined || groups.length === 0 ? -1 : start.afterTicks;
  }

  /** Whether a majority of every group's acceptors can be reached now. */
  get reachable(): boolean {
    return this.groups.every((acceptors) => {
      const up = acceptors.filter((a) => a === this.self || this.up.has(a)).length;
      return up >= quorumOf(acceptors.length);
    });
  }

  tick(): void {
    if (this.left > 0) this.left -= 1;
    if (this.left === 0) this.tryStart();
  }

  linkUp(peer: PeerId): void {
    this.up.add(peer);
    if (this.left === 0) this.tryStart();
  }

  linkDown(peer: PeerId): void {
    this.up.delete(peer);
  }

  private tryStart(): void {
    if (!this.reachable) {
      if (!this.saidWaiting) this.say('waiting for a quorum of acceptors to be reachable before proposing');
      this.saidWaiting = true;
      return;
    }
    this.left = -1;
    this.begin(this.start!.value);
  }
}

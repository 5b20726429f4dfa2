// What the lab simulator checks after every event (world.ts runs it):
//   - at most one value is ever chosen (accepted by a majority at one number);
//   - so a chosen value never changes;
//   - the chosen value was proposed;
//   - no acceptor's promise ever decreases, across restarts too;
//   - every `chose` any peer prints names that one value, and a majority
//     really accepted it.

import { groupOfProposal } from '../paxos/numbering.js';
import { quorumOf } from '../paxos/quorum.js';
import type { DurableState, PeerId } from '../core/types.js';

/** An invariant broke: the run stops with this message. */
export class Violation extends Error {}

export class Invariants {
  private readonly quorum: number;
  /** The highest promise each acceptor ever held. */
  private readonly promised = new Map<PeerId, number>();
  /** "n v" -> acceptors that ever accepted v at n. */
  private readonly acceptedAt = new Map<string, Set<PeerId>>();
  private chosenValue: string | null = null;
  private readonly printedBy = new Map<PeerId, Set<string>>();

  constructor(
    private readonly acceptors: readonly PeerId[],
    /** The values proposers proposed. */
    private readonly proposed: readonly string[],
    private readonly stride: number,
    private readonly note: (line: string) => void,
  ) {
    this.quorum = quorumOf(acceptors.length);
  }

  /** The value a majority accepted, if any. */
  get chosen(): string | null {
    return this.chosenValue;
  }

  /** Whether `peer` printed chose. */
  printed(peer: PeerId): boolean {
    return (this.printedBy.get(peer)?.size ?? 0) > 0;
  }

  prints(peer: PeerId, v: string): void {
    const set = this.printedBy.get(peer) ?? new Set<string>();
    set.add(v);
    this.printedBy.set(peer, set);
  }

  /** `peer` restarts from `state`: an acceptor must find its promise again. */
  restarts(peer: PeerId, state: DurableState): void {
    const before = this.promised.get(peer) ?? 0;
    if (this.acceptors.includes(peer) && state.promised < before) {
      throw new Violation(`peer ${peer}'s promise went from ${before} down to ${state.promised} across a restart`);
    }
  }

  /**
   * Check every acceptor's state: `live` for a running one, its saved state
   * for a crashed one (what it accepted before dying stays accepted, even if
   * the run ends before it restarts).
   */
  check(stateOf: (acceptor: PeerId) => { state: DurableState; live: boolean } | undefined): void {
    for (const a of this.acceptors) {
      const found = stateOf(a);
      if (found === undefined) continue;
      const s = found.state;
      const before = this.promised.get(a) ?? 0;
      if (found.live && s.promised < before)
        throw new Violation(`peer ${a}'s promise decreased from ${before} to ${s.promised}`);
      this.promised.set(a, Math.max(before, s.promised));
      if (s.accepted !== null) {
        const key = `${s.accepted.n} ${s.accepted.v}`;
        const who = this.acceptedAt.get(key) ?? new Set<PeerId>();
        who.add(a);
        this.acceptedAt.set(key, who);
        if (who.size >= this.quorum) this.noteChosen(s.accepted.v, s.accepted.n);
      }
    }
    for (const [peer, printed] of this.printedBy) {
      for (const v of printed) {
        if (this.chosenValue === null || v !== this.chosenValue) {
          throw new Violation(
            `peer ${peer} printed chose ${v}, but ${this.chosenValue === null ? 'no value' : this.chosenValue}` +
              ` was accepted by a majority`,
          );
        }
      }
    }
  }

  private noteChosen(v: string, n: number): void {
    if (!this.proposed.includes(v)) throw new Violation(`${v} was chosen at ${n} but nobody proposed it`);
    if (this.chosenValue !== null && this.chosenValue !== v) {
      throw new Violation(
        `two values chosen: ${this.chosenValue}, then ${v} at ${n} (group ${groupOfProposal(n, this.stride)})`,
      );
    }
    if (this.chosenValue === null) this.note(`CHOSEN ${v} at ${n} (a majority accepted it)`);
    this.chosenValue = v;
  }
}

// Ballots of the replicated log. Replica r of N owns the ballots r, r + N,
// r + 2N, ...: the lab's proposal numbering (paxos/numbering.ts, the rule's
// one home) with replicas as the owners. Two replicas never use the same
// ballot, and a replica picks its next one above everything it has seen.

import { nextProposal, ownerOf } from '../paxos/numbering.js';
import type { PeerId } from '../paxos/ids.js';

export function ballotOwner(n: number, replicas: number): PeerId {
  return ownerOf(n, replicas);
}

/** The smallest ballot owned by `self` above `seen`. */
export function nextBallot(seen: number, self: PeerId, replicas: number): number {
  return nextProposal(self, replicas, seen);
}

// Ballots of the replicated log. Replica r owns the ballots r, r + S,
// r + 2S, ... with one stride S for every cluster, whatever its size: members
// come and go (src/paxos/membership.ts) and ids are never reused, so the
// stride is fixed above the highest id a member may ever get. It is the lab's
// proposal numbering (paxos/numbering.ts, the rule's one home) with replicas
// as the owners. Two replicas never use the same ballot, and a replica picks
// its next one above everything it has seen.

import { nextProposal, ownerOf } from '../paxos/numbering.js';
import type { PeerId } from '../paxos/ids.js';
import { MAX_MEMBER_ID } from '../paxos/membership.js';

/** The ballots' stride: one above the highest member id. */
export const BALLOT_STRIDE = MAX_MEMBER_ID + 1;

export function ballotOwner(n: number): PeerId {
  return ownerOf(n, BALLOT_STRIDE);
}

/** The smallest ballot owned by `self` above `seen`. */
export function nextBallot(seen: number, self: PeerId): number {
  return nextProposal(self, BALLOT_STRIDE, seen);
}

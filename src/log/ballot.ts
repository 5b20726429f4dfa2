// Ballots of the replicated log. Replica r of N owns the ballots r, r + N,
// r + 2N, ...: two replicas never use the same ballot, and a replica picks
// its next one above everything it has seen, so a restarted replica (which
// finds its promise in its log) never reuses one either.

import type { PeerId } from '../paxos/ids.js';

export function ballotOwner(n: number, replicas: number): PeerId {
  return ((n - 1) % replicas) + 1;
}

/** The smallest ballot owned by `self` above `seen`. */
export function nextBallot(seen: number, self: PeerId, replicas: number): number {
  if (seen < self) return self;
  return (Math.floor((seen - self) / replicas) + 1) * replicas + self;
}

// The majority rule of the replicated log: phase 1, phase 2, read rounds and
// a leader's contact check all count replicas against it. Any two majorities
// share a replica, which is what carries a promise or a vote from one to the
// next.

/** How many replicas of `replicas` make a majority. */
export function quorumOf(replicas: number): number {
  return Math.floor(replicas / 2) + 1;
}

// The majority rule, for both protocols: a lab proposer counts promises and
// accepts against it, a lab peer waits for a reachable majority before its
// first prepare, and the replicated log's phase 1, phase 2, read rounds and
// a leader's contact check count replicas against it. Any two majorities
// share a member, which is what carries a promise or a vote from one to the
// next.

/** How many of `members` make a majority. */
export function quorumOf(members: number): number {
  return Math.floor(members / 2) + 1;
}

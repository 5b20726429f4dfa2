// Proposal numbers, and the replicated log's ballots: one rule for both.
// Owner K of S owners uses the numbers K, K+S, K+2S, ... For the lab, the
// owners are proposer groups and the stride S is the highest proposer group
// in the hostsfile, so proposer 1 starts at 1 and proposer 2 at 2 (as seed
// 004 shows). For the log, the owners are replicas and S is their count
// (log/ballot.ts names them so). The sets of numbers are disjoint, a number
// alone tells its owner, and an owner picks its next number above everything
// it has seen, so a restarted one (which finds its last number on disk)
// never reuses one either.

/** The first number of owner `group` that is strictly above `above`. */
export function nextProposal(group: number, stride: number, above: number): number {
  checkGroup(group, stride);
  if (above < group) return group;
  const steps = Math.floor((above - group) / stride) + 1;
  return group + steps * stride;
}

/** The proposer group that owns proposal number `n` (checked: n must be a positive integer). */
export function groupOfProposal(n: number, stride: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`proposal number must be a positive integer, got ${n}`);
  return ownerOf(n, stride);
}

/** The owner of number `n`, unchecked; 0 (no number yet) is owned by nobody, 0. */
export function ownerOf(n: number, stride: number): number {
  return ((n - 1) % stride) + 1;
}

function checkGroup(group: number, stride: number): void {
  if (!Number.isInteger(stride) || stride < 1) throw new RangeError(`stride must be a positive integer, got ${stride}`);
  if (!Number.isInteger(group) || group < 1 || group > stride) {
    throw new RangeError(`group must be an integer in 1..${stride}, got ${group}`);
  }
}

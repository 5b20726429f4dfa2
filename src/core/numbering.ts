// Proposal numbers. Proposer K's numbers are K, K+S, K+2S, ... where the
// stride S is the highest proposer group in the hostsfile. So proposer 1
// starts at 1 and proposer 2 at 2 (as seed 004 shows), the sets of numbers
// are disjoint, and a number alone tells which group's proposer used it.

/** The first number of group `group` that is strictly above `above`. */
export function nextProposal(group: number, stride: number, above: number): number {
  checkGroup(group, stride);
  if (above < group) return group;
  const steps = Math.floor((above - group) / stride) + 1;
  return group + steps * stride;
}

/** The proposer group that owns proposal number `n`. */
export function groupOfProposal(n: number, stride: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`proposal number must be a positive integer, got ${n}`);
  return ((n - 1) % stride) + 1;
}

function checkGroup(group: number, stride: number): void {
  if (!Number.isInteger(stride) || stride < 1) throw new RangeError(`stride must be a positive integer, got ${stride}`);
  if (!Number.isInteger(group) || group < 1 || group > stride) {
    throw new RangeError(`group must be an integer in 1..${stride}, got ${group}`);
  }
}

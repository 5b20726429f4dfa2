/**
 * Randomized exponential backoff: the k-th wait (k >= 1) is drawn uniformly
 * from [d/2, d] with d = min(cap, base * 2^(k-1)). The random half keeps two
 * peers that failed together from retrying together again.
 */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, rng: () => number): number {
  const d = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return Math.round(d / 2 + (rng() * d) / 2);
}

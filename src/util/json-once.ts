// A batch's JSON text, computed once. The leader's batch goes into an
// accept to every follower, its WAL record and its chose line, and a
// follower logs and prints the batch it parsed; each of those used to
// stringify it again. Those uses come within a few milliseconds of each
// other, so only the most recent batches are remembered: the log keeps a
// batch for much longer (until a snapshot), and a text kept for as long
// would double what the log holds in memory. Remembered per batch (a
// slot), not per command: an entry per command costs more than the
// stringify it saves. Only for lists that never change once made: batches
// do not.

/** Batches remembered: far more than a replica has in flight between its accept and its chose line. */
const REMEMBERED = 256;
const texts = new Map<readonly unknown[], string>();

/**
 * Remember `text` as `list`'s JSON: text it was parsed from, whose length is
 * that of JSON.stringify(list) (wire/log.ts checks), so a follower does not
 * stringify the batch it was sent for its WAL record and chose line.
 */
export function rememberJson(list: readonly unknown[], text: string): void {
  texts.set(list, text);
  if (texts.size > REMEMBERED) texts.delete(texts.keys().next().value as readonly unknown[]);
}

/** JSON.stringify(list), remembered for this list while it is among the most recent. */
export function jsonOfList(list: readonly unknown[]): string {
  let text = texts.get(list);
  if (text === undefined) {
    text = JSON.stringify(list);
    texts.set(list, text);
    // A Map iterates in insertion order: the first key is the oldest.
    if (texts.size > REMEMBERED) texts.delete(texts.keys().next().value as readonly unknown[]);
  }
  return text;
}

// A batch's JSON text, computed once. The leader's batch goes into an
// accept to every follower, its WAL record and its chose line, and a
// follower logs and prints the batch it parsed; each of those used to
// stringify it again. Remembered per batch (a slot), not per command: a
// WeakMap entry per command costs the garbage collector more than the
// stringify it saves. Only for lists that never change once made: batches
// do not.

const texts = new WeakMap<readonly unknown[], string>();

/** JSON.stringify(list), remembered for this list. */
export function jsonOfList(list: readonly unknown[]): string {
  let text = texts.get(list);
  if (text === undefined) {
    text = JSON.stringify(list);
    texts.set(list, text);
  }
  return text;
}

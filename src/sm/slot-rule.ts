// What may share a log slot. A key's revision is the slot that last changed
// it (key-entry.ts), so for a revision to name one state of a key, no two
// commands in one slot may write the same key: otherwise a client that
// wrote a key at slot S, and then compares "mod = S", would also match the
// other command's write in S, which it never saw. The leader cuts its
// batches by this rule (LogConfig.batchRule). One transaction that writes a
// key twice is one command: only its end state is ever seen. A lease's
// revoke or expiry deletes keys nobody can name before it is applied: it
// takes a slot alone.

import type { CheckedCommand } from './command.js';

/** The keys a command may write (both lists of a transaction: which one runs is not known yet). */
function writes(cmd: CheckedCommand): readonly string[] {
  switch (cmd.o) {
    case 'put':
    case 'del':
    case 'cas':
      return [cmd.k];
    case 'txn':
      return [...cmd.then, ...cmd.else].filter((o) => o[0] !== 'get').map((o) => o[1]);
    default:
      return [];
  }
}

/** Whether a command may delete keys it does not name: a lease's revoke or expiry. */
const writesAny = (cmd: CheckedCommand): boolean => cmd.o === 'revoke' || cmd.o === 'expire';

/** A fresh rule for one batch: a command joins unless it may write a key one before it in the batch may write. */
export function oneWritePerKey(): (cmd: unknown) => boolean {
  const written = new Set<string>();
  let any = false;
  let count = 0;
  return (raw) => {
    const cmd = raw as CheckedCommand;
    if (any || (writesAny(cmd) && count > 0)) return false;
    count += 1;
    if (writesAny(cmd)) {
      any = true;
      return true;
    }
    const keys = writes(cmd);
    if (keys.some((k) => written.has(k))) return false;
    for (const k of keys) written.add(k);
    return true;
  };
}

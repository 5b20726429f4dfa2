// A counter that many processes increment at once under a lock, with no
// lost update: take the lock, read the value, write value + 1, release.
// The read and the write are plain: the lock keeps the others out between
// them. The write is fenced: a transaction that applies only while this
// process's lock key still stands, so a holder that lost the lock (its
// lease expired while it was stalled) can never write over the next one.
//
//   export PAXOS_ENDPOINTS=...   # as `npx paxos run testcases/kv3 --keep-running` prints it
//   node examples/lock-counter.mjs counter 10
//
// Prints the counter's value after its last increment.

import { connect, DefiniteError, UnknownOutcomeError } from 'paxos-prj4/client';

const [key = 'counter', times = '10'] = process.argv.slice(2);
const kv = await connect(); // endpoints from PAXOS_ENDPOINTS, secret from PAXOS_SECRET
let value = 0;
try {
  for (let i = 0; i < Number(times); i++) {
    const lock = await kv.lock(`${key}.lock`, { ttl: 10 });
    try {
      value = Number((await kv.get(key)) ?? '0') + 1;
      const r = await kv
        .txn()
        .if(lock.key, 'create', '=', lock.revision) // still ours
        .then({ op: 'put', key, value: String(value) })
        .commit();
      if (!r.succeeded) throw new Error(`lost the lock before writing ${value}`);
    } finally {
      await lock.release();
    }
  }
  console.log(value);
} catch (err) {
  // Typed outcomes: nothing was done, or it may or may not have been.
  if (err instanceof DefiniteError) console.error(`not done (${err.reason}): ${err.message}`);
  else if (err instanceof UnknownOutcomeError) console.error(`unknown: ${err.message}`);
  else console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
} finally {
  await kv.close();
}

// A counter that many processes increment at once, with no lost update:
// read the value, then compare-and-swap it to value + 1; when another
// process got there first, the cas finds a different value and we try
// again from that one.
//
//   export PAXOS_ENDPOINTS=...   # as `npx paxos run testcases/kv3 --keep-running` prints it
//   node examples/counter.mjs counter 10
//
// Prints the counter's value after its last increment.

import { connect, DefiniteError, UnknownOutcomeError } from 'paxos-prj4/client';

const [key = 'counter', times = '10'] = process.argv.slice(2);
const kv = await connect(); // endpoints from PAXOS_ENDPOINTS, secret from PAXOS_SECRET
let value = 0;
try {
  for (let i = 0; i < Number(times); i++) {
    let seen = await kv.get(key);
    for (;;) {
      const next = String(Number(seen ?? '0') + 1);
      const r = await kv.cas(key, seen, next);
      if (r.swapped) {
        value = Number(next);
        break;
      }
      seen = r.current; // someone else incremented it: start from their value
    }
  }
  console.log(value);
} catch (err) {
  // Typed outcomes: nothing was done, or it may or may not have been.
  if (err instanceof DefiniteError) console.error(`not done (${err.reason}): ${err.message}`);
  else if (err instanceof UnknownOutcomeError) console.error(`unknown: ${err.message}`);
  else throw err;
  process.exitCode = 1;
} finally {
  await kv.close();
}

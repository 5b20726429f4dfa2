// The nemesis's lease check can fail: a store that says "nolease" to a
// lease kept alive a moment ago is reported; one that says it a TTL after
// the last keepalive that got through is not.

import test from 'ava';
import type { KvClient } from '../../src/client/api.js';
import { LeaseNotFoundError } from '../../src/client/errors.js';
import { KEEPER_TTL_S, LeaseKeeper } from '../../src/tools/nemesis-lease.js';

/** A client whose keepalives succeed `good` times, then are answered "nolease"; `clock` is the keeper's. */
function fakeClient(good: number, clock: { t: number }, jumpMs: number): KvClient {
  let keeps = 0;
  const fake = {
    leaseGrant: async () => ({ id: 1, ttl: KEEPER_TTL_S }),
    put: async () => ({ slot: 1 }),
    leaseRevoke: async () => ({ slot: 2 }),
    leaseKeepAlive: async (id: number) => {
      keeps += 1;
      if (keeps <= good) return { id, ttl: KEEPER_TTL_S };
      clock.t += jumpMs; // the answer comes this much later
      throw new LeaseNotFoundError(id, `lease ${id} is gone`);
    },
  };
  return fake as unknown as KvClient; // only the calls LeaseKeeper makes
}

for (const [jumpMs, caught] of [
  [0, true],
  [KEEPER_TTL_S * 1000 + 100, false],
] as const) {
  test(`a "nolease" ${jumpMs} ms after the last keepalive sent ${caught ? 'is' : 'is not'} a violation`, async (t) => {
    const clock = { t: 0 };
    const k = new LeaseKeeper(
      'keeper',
      fakeClient(1, clock, jumpMs),
      'lease/1',
      () => 0.9,
      () => clock.t,
    );
    // Until the lease is lost, one way or the other.
    await k.run(() => k.problems.length === 0 && k.lostAfterTtl === 0);
    t.is(k.problems.length, caught ? 1 : 0, k.problems.join('; '));
    if (caught) t.regex(k.problems[0]!, /expired while kept alive: "nolease" 0 ms after/);
    else t.is(k.lostAfterTtl, 1);
  });
}

// The replicated log under the deterministic simulator: crashes and
// restarts (the leader's included), partitions, drop, duplicate and reorder,
// with clients issuing random commands. Safety is checked after every event
// and the client history for linearizability; and each broken variant must
// be caught.

import test from 'ava';
import { LOG_VARIANTS } from '../src/sim/log-sim.js';
import { sweepLog } from '../src/sim/log-main.js';

test('300 seeds of 5 replicas: no violation, every history linearizable, everyone catches up once faults stop', (t) => {
  const s = sweepLog(1, 300);
  t.deepEqual(
    s.violations.map((v) => `seed ${v.seed}: ${v.violation}`),
    [],
  );
  t.is(s.live, s.runs, 'liveness in every run');
  t.true(s.ops > 50_000 && s.slots > 50_000, `real work: ${s.ops} ops, ${s.slots} slots`);
  t.log(`${s.runs} seeds in ${s.seconds.toFixed(1)} s: ${s.ops} client ops, ${s.slots} slots, live ${s.live}/${s.runs}`);
});

test('100 seeds of 3 replicas: no violation', (t) => {
  const s = sweepLog(10_001, 100, { replicas: 3 });
  t.deepEqual(s.violations.map((v) => `seed ${v.seed}: ${v.violation}`), []);
  t.is(s.live, s.runs);
});

for (const variant of LOG_VARIANTS) {
  test(`negative control: ${variant} is caught within 300 seeds`, (t) => {
    const s = sweepLog(1, 300, { variant, stopAtFirst: true });
    const first = s.violations[0];
    t.truthy(first, `${variant} survived ${s.runs} seeds`);
    t.log(`${variant}: caught at seed ${first?.seed}: ${first?.violation?.slice(0, 160)}`);
  });
}

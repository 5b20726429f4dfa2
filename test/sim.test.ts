import test from 'ava';
import { sweep } from '../src/sim/main.js';
import { BROKEN } from '../src/sim/variants.js';
import { simulate } from '../src/sim/world.js';

test('2,000 seeds of the real core under delay, reordering, loss, duplication and crashes: no invariant breaks', (t) => {
  const s = sweep(1, 2000);
  t.deepEqual(
    s.violations.map((v) => `seed ${v.seed}: ${v.violation}`),
    [],
  );
  t.is(s.runs, 2000);
  t.is(s.proposersLive, 2000, 'once faults stop, every proposer chooses within the budget');
  t.true(s.seconds < 60, `took ${s.seconds.toFixed(1)} s`);
  t.log(`2000 seeds in ${s.seconds.toFixed(1)} s; learners learned in ${s.learnersLive}/${s.withLearners} runs with a learner`);
});

test('a seed replays exactly', (t) => {
  for (const seed of [3, 77, 1234]) {
    const a = simulate({ seed, traceLines: 100_000 });
    const b = simulate({ seed, traceLines: 100_000 });
    t.deepEqual(a.trace, b.trace);
    t.is(a.events, b.events);
    t.true(a.trace.length > 10, 'and the trace is not trivially empty');
  }
});

for (const broken of BROKEN) {
  test(`negative control: ${broken.what} is caught within 200 seeds`, (t) => {
    const s = sweep(1, 200, broken, true);
    const first = s.violations[0];
    t.truthy(first, `${broken.name} survived 200 seeds: the simulator would miss this bug`);
    t.log(`${broken.name}: caught at seed ${first?.seed}: ${first?.violation}`);
  });
}

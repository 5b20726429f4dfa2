import test from 'ava';
import { sweep } from '../../src/sim/main.js';
import { BROKEN } from '../../src/sim/variants.js';
import { simulate } from '../../src/sim/world.js';

test(
  '2,000 seeds of the real core under delay, reordering, loss, duplication, crashes, frozen peers and ' +
    'black-holed links: no invariant breaks, and everyone learns',
  (t) => {
    const s = sweep(1, 2000);
    t.deepEqual(
      s.violations.map((v) => `seed ${v.seed}: ${v.violation}`),
      [],
    );
    t.is(s.runs, 2000);
    t.is(s.proposersLive, 2000, 'once faults stop, every proposer chooses within the budget');
    t.true(s.withLearners > 500, `${s.withLearners} runs had a learner`);
    t.is(s.learnersLive, s.withLearners, 'once faults stop, every learner learns within the budget');
    t.is(s.everyoneLive, 2000, 'and so does every acceptor');
    t.true(s.seconds < 60, `took ${s.seconds.toFixed(1)} s`);
    t.log(
      `2000 seeds in ${s.seconds.toFixed(1)} s; learners learned in ${s.learnersLive}/${s.withLearners} runs with ` +
        `a learner`,
    );
  },
);

test('liveness control: without chose retransmission, learners miss decisions in the same sweep', (t) => {
  // The measure above can fail: switch retransmission off and it does.
  const s = sweep(1, 2000, undefined, false, { choseRetryMs: 1e9, choseRetryCapMs: 1e9 });
  t.deepEqual(s.violations, [], 'safety does not depend on it');
  t.true(s.learnersLive < s.withLearners, `learners learned in ${s.learnersLive}/${s.withLearners} runs`);
  t.true(s.everyoneLive < 2000, `everyone learned in ${s.everyoneLive}/2000 runs`);
});

test('the fault model includes frozen peers and black-holed links, and seeds that use them', (t) => {
  const traces = Array.from({ length: 40 }, (_, i) => simulate({ seed: i + 1, traceLines: 100_000 }).trace.join('\n'));
  t.true(
    traces.some((tr) => tr.includes('FREEZE') && tr.includes('THAW')),
    'some seed freezes a peer and thaws it',
  );
  t.true(
    traces.some((tr) => tr.includes('lost to frozen peer')),
    'some messages to a frozen peer are lost with its dead links',
  );
  t.true(
    traces.some((tr) => tr.includes('black hole')),
    'some link black-holes messages',
  );
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

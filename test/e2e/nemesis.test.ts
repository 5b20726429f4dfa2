// The nemesis, 15 seconds of it, in every test run: five real replica
// processes behind a fault network, ten clients, a fault every 3 s, and a
// spare replica added, promoted and swapped for a voter meanwhile. Any
// linearizability violation, replicas that end with different stores, or a
// membership change not done, fails the test.

import test from 'ava';
import { runNemesis } from '../../src/tools/nemesis.js';

test(
  'nemesis: 15 s of kills, freezes, partitions and a membership change leave a linearizable history and ' +
    'identical replicas',
  async (t) => {
    const seed = Math.floor(Math.random() * 1e9);
    // The clients pause 10 ms between ops: flat out, they would take both cores
    // from the timing-sensitive scenario tests running beside this one.
    const report = await runNemesis({
      seconds: 15,
      replicas: 5,
      clients: 10,
      keys: 4,
      interval: 3,
      seed,
      pauseMs: 10,
      spares: 1,
      say: () => undefined,
    });
    t.log(report.lines.join('\n'));
    t.true(report.ok, `seed ${seed}:\n${report.lines.join('\n')}`);
    const ops = report.lines
      .filter((l) => /^ {2}(put|get|cas)/.test(l))
      .map((l) => Number(/ok (\d+)/.exec(l)?.[1] ?? 0));
    t.true(ops.reduce((a, b) => a + b, 0) > 100, 'the clients got work done');
  },
);

// The seed scenarios, each a testcases/<name>/ directory run through the
// local runner: six play out the same way every time and match their
// goldens; the livelock is checked for what every run has in common.

import path from 'node:path';
import test from 'ava';
import { runTestcase, type RunResult } from '../../src/runner/run.js';
import { parseLogLine } from '../../src/transcript/parse.js';
import { ROOT as root } from '../helpers/cli.js';

const explain = (r: RunResult): string =>
  [
    r.failure,
    ...(r.mismatches ?? []).map((m) => `${m.peer}: ${m.message}`),
    ...r.violations.map((v) => `${v.peer}: ${v.message}`),
  ].join('\n');

const DETERMINISTIC: ReadonlyArray<[string, string, Record<string, string>]> = [
  ['single', 'A', { pa: 'A' }],
  ['a-wins', 'A', { pa: 'A', pb: 'A' }],
  ['b-wins', 'B', { pa: 'B', pb: 'B' }],
  ['slide-24', 'A', { pa: 'A', pb: 'A' }],
  ['slide-25', 'B', { pa: 'B', pb: 'B' }],
  ['late-proposer', 'A', { pa: 'A', pc: 'A' }],
];

for (const [name, value, proposers] of DETERMINISTIC) {
  test(`scenario ${name}: matches its goldens, and ${value} is chosen`, async (t) => {
    const r = await runTestcase(path.join(root, 'testcases', name), { timeoutMs: 60_000 });
    t.true(r.ok, explain(r));
    t.deepEqual(r.mismatches, []);
    for (const [p, v] of Object.entries(proposers))
      t.deepEqual([...new Set(r.peers.find((x) => x.service.label === p)?.chose)], [v], p);
  });
}

test('scenario livelock: accepts are preempted again and again, then one value is chosen by all three', async (t) => {
  const r = await runTestcase(path.join(root, 'testcases/livelock'), { timeoutMs: 90_000 });
  t.true(r.ok, explain(r));
  t.deepEqual(r.violations, []);
  // A rejected accept phase: a proposer's accept_ack shows a promise above its own accept's number.
  let rejected = 0;
  for (const p of r.peers.filter((x) => x.service.label.startsWith('p'))) {
    let current = 0;
    let counted = false;
    for (const raw of p.lines) {
      const l = parseLogLine(raw);
      if (!l.ok) continue;
      if (l.line.action === 'sent' && l.line.message_type === 'accept')
        [current, counted] = [l.line.proposal_num, false];
      if (
        l.line.action === 'received' &&
        l.line.message_type === 'accept_ack' &&
        l.line.proposal_num > current &&
        !counted
      ) {
        rejected += 1;
        counted = true;
      }
    }
  }
  t.true(rejected >= 2, `only ${rejected} accept phases were rejected: no livelock`);
  const values = ['pa', 'pb', 'pc'].map((p) => [...new Set(r.peers.find((x) => x.service.label === p)?.chose)]);
  t.true(
    values.every((v) => v.length === 1),
    `every proposer chose exactly one value: ${r.summary}`,
  );
  t.is(new Set(values.flat()).size, 1, r.summary);
  t.log(`${rejected} accept phases rejected before ${values[0]![0]} won`);
});

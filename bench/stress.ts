// `npm run stress [-- --runs N]`: the duelling-proposer and crash-restart
// scenarios, N times each (default 50), on real processes. Prints how many
// runs ended with one value chosen by every proposer, the time to decision
// (median, p90, max), and every run that broke safety (two values chosen, or
// a value nobody proposed).

import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { integer, parseFlags, toolSettings } from '../src/config/flags.js';
import { LiveCluster, type Proc } from '../test/helpers/procs.js';

const HELP = `Usage: npm run stress -- [--runs N] [--seed S]

Runs the duelling-proposer and crash-restart scenarios N times each on real
processes (3 proposers, 5 acceptors), and reports how many runs chose one value
at every proposer, the time to decision, and every run that broke safety.

  --runs N   runs per scenario, N >= 1 (default 50)
  --seed S   seed for the victims and timings, 0 to ${2 ** 31 - 1}, to replay
             a run (default: from the clock, printed at the start)
  --help     print this and exit`;

const { RUNS, SEED } = toolSettings('stress', HELP, (argv) => {
  const { values } = parseFlags(argv, { runs: { type: 'string', default: '50' }, seed: { type: 'string' } });
  return {
    RUNS: integer('--runs', values.runs, 1),
    SEED: values.seed === undefined ? Date.now() & 0x7fffffff : integer('--seed', values.seed, 0, 2 ** 31 - 1),
  };
});
let seed = SEED;
const firstSeed = seed;
/** Deterministic choice of victims and timings, so a bad run can be replayed. */
function rand(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
}

const HOSTS = [
  'p1:proposer1',
  'p2:proposer2',
  'p3:proposer3',
  ...[1, 2, 3, 4, 5].map((i) => `a${i}:acceptor1,acceptor2,acceptor3`),
].join('\n');
const PROPOSED = new Map([
  ['p1', 'A'],
  ['p2', 'B'],
  ['p3', 'C'],
]);
const DEADLINE_MS = 20_000;

interface Outcome {
  decided: boolean;
  ms: number;
  violation: string | null;
}

async function scenario(crash: boolean): Promise<Outcome> {
  const c = await new LiveCluster(HOSTS).init();
  const procs: Proc[] = [];
  const start = (host: string): Proc => {
    const v = PROPOSED.get(host);
    const p = c.start(
      host,
      v === undefined ? ['--log-level', 'warn'] : ['-v', v, '--round-timeout', '0.5', '--log-level', 'warn'],
    );
    procs.push(p);
    return p;
  };
  try {
    const t0 = performance.now();
    for (let i = 1; i <= 5; i++) start(`a${i}`);
    for (const p of PROPOSED.keys()) start(p);
    if (crash) {
      // Once the protocol is under way (the first prepare is out), kill -9 one
      // acceptor and one proposer at random moments, and restart each from its
      // data directory a little later.
      const victims = [`a${1 + Math.floor(rand() * 5)}`, `p${1 + Math.floor(rand() * 3)}`];
      const started = (): boolean => procs.some((p) => p.log.some((l) => l.action === 'sent'));
      while (!started() && performance.now() - t0 < DEADLINE_MS) await delay(2);
      await Promise.all(
        victims.map(async (host) => {
          await delay(Math.floor(rand() * 100));
          await procs
            .filter((p) => p.host === host && p.exit === null)
            .at(-1)
            ?.kill9();
          await delay(100 + Math.floor(rand() * 500));
          start(host);
        }),
      );
    }
    const choseBy = (host: string): boolean =>
      procs.some((p) => p.host === host && p.log.some((l) => l.action === 'chose'));
    while (![...PROPOSED.keys()].every(choseBy) && performance.now() - t0 < DEADLINE_MS) await delay(5);
    const ms = performance.now() - t0;
    const decided = [...PROPOSED.keys()].every(choseBy);
    const chosen = new Set(procs.flatMap((p) => p.log.filter((l) => l.action === 'chose').map((l) => l.message_value)));
    let violation: string | null = null;
    if (chosen.size > 1) violation = `two values chosen: ${[...chosen].join(', ')}`;
    else if ([...chosen].some((v) => ![...PROPOSED.values()].includes(v)))
      violation = `chose a value nobody proposed: ${[...chosen].join(', ')}`;
    return { decided, ms, violation };
  } finally {
    await c.close();
  }
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

async function main(): Promise<number> {
  console.log(`stress: ${RUNS} runs per scenario, seed ${firstSeed} (replay with -- --seed ${firstSeed})`);
  let broken = 0;
  for (const [name, crash] of [
    ['duel', false],
    ['crash-restart', true],
  ] as const) {
    const times: number[] = [];
    let decided = 0;
    for (let i = 0; i < RUNS; i++) {
      const o = await scenario(crash);
      if (o.decided) {
        decided += 1;
        times.push(o.ms);
      }
      if (o.violation !== null) {
        broken += 1;
        console.log(`stress: ${name} run ${i + 1}: SAFETY VIOLATION: ${o.violation}`);
      }
    }
    const dist =
      times.length === 0
        ? 'n/a'
        : `median ${pct(times, 0.5).toFixed(0)} ms, p90 ${pct(times, 0.9).toFixed(0)} ms, max ` +
          `${Math.max(...times).toFixed(0)} ms`;
    console.log(`stress: ${name}: ${decided}/${RUNS} runs chose one value at every proposer; time to decision ${dist}`);
  }
  console.log(`stress: safety violations: ${broken}`);
  return broken === 0 ? 0 : 1;
}

main().then((code) => (process.exitCode = code));

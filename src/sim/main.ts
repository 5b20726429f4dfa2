// `npm run sim -- --seeds N [--from S] [--seed S] [--variant NAME]`
// Runs the deterministic simulator over many seeds and reports invariant
// violations (with the seed and a trace) and liveness. `--seed S` replays
// one seed exactly and prints its trace. `--variant` runs a deliberately
// broken Paxos (a negative control) and reports the first seed that caught it.

import { performance } from 'node:perf_hooks';
import { choice, integer, parseFlags, runTool } from '../config/flags.js';
import { BROKEN } from './variants.js';
import { simulate, type SimOptions, type SimResult } from './world.js';
import { logWorldMain } from './log-main.js';

export interface Sweep {
  readonly runs: number;
  readonly violations: SimResult[];
  readonly proposersLive: number;
  readonly withLearners: number;
  readonly learnersLive: number;
  /** Runs in which every peer, acceptors included, learned the value. */
  readonly everyoneLive: number;
  readonly seconds: number;
}

export function sweep(
  from: number,
  count: number,
  broken?: (typeof BROKEN)[number],
  stopAtFirst = false,
  timing?: SimOptions['timing'],
): Sweep {
  const t0 = performance.now();
  const violations: SimResult[] = [];
  let proposersLive = 0;
  let withLearners = 0;
  let learnersLive = 0;
  let everyoneLive = 0;
  let runs = 0;
  for (let seed = from; seed < from + count; seed++) {
    const r = simulate({
      seed,
      ...(broken?.variant ? { variant: broken.variant } : {}),
      ...(broken?.forgetful ? { forgetful: true } : {}),
      ...(timing ? { timing } : {}),
    });
    runs += 1;
    if (r.violation !== null) {
      violations.push(r);
      if (stopAtFirst) break;
      continue;
    }
    if (r.proposersChose) proposersLive += 1;
    if (r.everyoneChose) everyoneLive += 1;
    if (r.shape.includes('learner')) {
      withLearners += 1;
      if (r.learnersChose) learnersLive += 1;
    }
  }
  return {
    runs,
    violations,
    proposersLive,
    withLearners,
    learnersLive,
    everyoneLive,
    seconds: (performance.now() - t0) / 1000,
  };
}

export function report(r: SimResult): string {
  return [
    `seed ${r.seed} (${r.shape}): ${r.violation}`,
    '  last events:',
    ...r.trace.map((l) => `    ${l}`),
    `  replay: npm run sim -- --seed ${r.seed}`,
  ].join('\n');
}

const HELP = `Usage: npm run sim -- [--seeds N] [--from S] [--seed S] [--variant NAME]
       npm run sim -- --log [--seeds N] [--from S] [--replicas 3|5] [--variant NAME] [--seed S]

Runs the real Paxos core on a simulated network and clock, one seeded run per seed,
checking safety invariants after every event, and reports violations and liveness.

  --seeds N       how many seeds to run, N >= 1 (default 2000)
  --from S        the first seed, S >= 0 (default 1): runs seeds S to S+N-1
  --seed S        replay seed S alone and print its trace (default: none, sweep)
  --variant NAME  run a deliberately broken Paxos, one of ${BROKEN.map((b) => b.name).join(', ')},
                  and report the seed that catches it (default: none, the real Paxos)
  --log           simulate the replicated log instead; see npm run sim -- --log --help
  --help          print this and exit`;

function main(argv: string[]): number {
  // The replicated log's simulator has its own flags.
  if (argv.includes('--log')) return logWorldMain(argv.filter((a) => a !== '--log'));
  const { values } = parseFlags(argv, {
    seeds: { type: 'string', default: '2000' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    variant: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help === true) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const seeds = integer('--seeds', values.seeds, 1);
  const from = integer('--from', values.from, 0);
  const seed = values.seed === undefined ? undefined : integer('--seed', values.seed, 0);
  const name =
    values.variant === undefined
      ? undefined
      : choice(
          '--variant',
          values.variant,
          BROKEN.map((b) => b.name),
        );
  const broken = name === undefined ? undefined : BROKEN.find((b) => b.name === name);
  if (seed !== undefined) {
    const r = simulate({
      seed,
      traceLines: 100_000,
      ...(broken?.variant ? { variant: broken.variant } : {}),
      ...(broken?.forgetful ? { forgetful: true } : {}),
    });
    process.stdout.write(`${[`seed ${r.seed}: ${r.shape}`, ...r.trace].join('\n')}\n`);
    const outcome =
      r.violation === null
        ? `no violation; chosen ${r.chosen ?? 'nothing'}; every proposer chose: ${r.proposersChose}`
        : `VIOLATION: ${r.violation}`;
    process.stdout.write(`${outcome} (${r.events} events, ${r.endedAt.toFixed(0)} ms simulated)\n`);
    return r.violation === null ? 0 : 1;
  }
  const s = sweep(from, seeds, broken, broken !== undefined);
  if (broken !== undefined) {
    const first = s.violations[0];
    process.stdout.write(
      first === undefined
        ? `sim: NOT caught: ${broken.what} survived ${s.runs} seeds\n`
        : `sim: caught ${broken.what} at seed ${first.seed}, after ${s.runs} seeds\n${report(first)}\n`,
    );
    return first === undefined ? 1 : 0;
  }
  for (const v of s.violations) process.stdout.write(`${report(v)}\n`);
  process.stdout.write(
    `sim: ${s.runs} seeds in ${s.seconds.toFixed(1)} s, ${s.violations.length} invariant violations; ` +
      `liveness once faults stop: every proposer chose in ${s.proposersLive}/${s.runs - s.violations.length} runs, ` +
      `the learner too in ${s.learnersLive}/${s.withLearners} runs with a learner, ` +
      `every peer (acceptors included) in ${s.everyoneLive}/${s.runs - s.violations.length}\n`,
  );
  return s.violations.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href)
  runTool('sim', main);

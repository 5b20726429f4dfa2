// `npm run sim -- --seeds N [--from S] [--seed S] [--variant NAME]`
// Runs the deterministic simulator over many seeds and reports invariant
// violations (with the seed and a trace) and liveness. `--seed S` replays
// one seed exactly and prints its trace. `--variant` runs a deliberately
// broken Paxos (a negative control) and reports the first seed that caught it.

import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { BROKEN } from './variants.js';
import { simulate, type SimOptions, type SimResult } from './world.js';
import { logWorldMain } from './log-main.js';
import { LOG_WORLD_VARIANTS } from './log-world.js';

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

export function sweep(from: number, count: number, broken?: (typeof BROKEN)[number], stopAtFirst = false, timing?: SimOptions['timing']): Sweep {
  const t0 = performance.now();
  const violations: SimResult[] = [];
  let proposersLive = 0;
  let withLearners = 0;
  let learnersLive = 0;
  let everyoneLive = 0;
  let runs = 0;
  for (let seed = from; seed < from + count; seed++) {
    const r = simulate({ seed, ...(broken?.variant ? { variant: broken.variant } : {}), ...(broken?.forgetful ? { forgetful: true } : {}), ...(timing ? { timing } : {}) });
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
  return { runs, violations, proposersLive, withLearners, learnersLive, everyoneLive, seconds: (performance.now() - t0) / 1000 };
}

export function report(r: SimResult): string {
  return [`seed ${r.seed} (${r.shape}): ${r.violation}`, '  last events:', ...r.trace.map((l) => `    ${l}`), `  replay: npm run sim -- --seed ${r.seed}`].join('\n');
}

function main(): number {
  // The replicated log's simulator has its own flags.
  if (process.argv.includes('--log')) return logWorldMain(process.argv.slice(2).filter((a) => a !== '--log'));
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string', default: '2000' },
      from: { type: 'string', default: '1' },
      seed: { type: 'string' },
      variant: { type: 'string' },
      help: { type: 'boolean' },
    },
  });

  if (values.help === true) {
    process.stdout.write(
      `Usage: npm run sim -- [--seeds N] [--from S] [--seed S] [--variant NAME]\n` +
        `       npm run sim -- --log [--seeds N] [--from S] [--replicas 3|5] [--variant NAME] [--seed S]\n\n` +
        `--log simulates the replicated log (Multi-Paxos with the key-value store, clients and a\n` +
        `linearizability check); its --variant is one of ${LOG_WORLD_VARIANTS.join(', ')}.\n` +
        `Runs the real Paxos core on a simulated network and clock, one seeded run per seed,\n` +
        `checking safety invariants after every event. --seed S replays one run and prints its trace.\n` +
        `--variant runs a deliberately broken Paxos (${BROKEN.map((b) => b.name).join(', ')}) and reports the seed that catches it.\n`,
    );
    return 0;
  }
  const broken = values.variant === undefined ? undefined : BROKEN.find((b) => b.name === values.variant);
  if (values.variant !== undefined && broken === undefined) {
    process.stderr.write(`sim: --variant must be one of ${BROKEN.map((b) => b.name).join(', ')}, got ${JSON.stringify(values.variant)}\n`);
    return 2;
  }
  if (values.seed !== undefined) {
    const r = simulate({ seed: Number(values.seed), traceLines: 100_000, ...(broken?.variant ? { variant: broken.variant } : {}), ...(broken?.forgetful ? { forgetful: true } : {}) });
    process.stdout.write(`${[`seed ${r.seed}: ${r.shape}`, ...r.trace].join('\n')}\n`);
    process.stdout.write(`${r.violation === null ? `no violation; chosen ${r.chosen ?? 'nothing'}; every proposer chose: ${r.proposersChose}` : `VIOLATION: ${r.violation}`} (${r.events} events, ${r.endedAt.toFixed(0)} ms simulated)\n`);
    return r.violation === null ? 0 : 1;
  }
  const s = sweep(Number(values.from), Number(values.seeds), broken, broken !== undefined);
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

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) process.exitCode = main();

// `npm run sim -- --log [--seeds N] [--from S] [--replicas 3|5] [--variant NAME] [--seed S]`
// (or `node dist/src/sim/log-main.js ...`): the replicated log's simulator
// (log-world.ts) over many seeds, printing violations with their seed and
// last events, liveness, coverage and, with --variant, the seed that caught
// that broken variant. --seed S replays one run and prints its whole trace.

import { parseArgs } from 'node:util';
import { LOG_WORLD_VARIANTS, LogWorld, sweepLogWorld, type LogWorldResult, type LogWorldSweep, type LogWorldVariant } from './log-world.js';

// ---- log-world ------------------------------------------------------------

function reportViolation(r: LogWorldResult): string {
  return [
    `seed ${r.seed} (${r.shape}): ${r.kind} violation: ${r.violation}`,
    '  last events:',
    ...r.trace.map((l) => `    ${l}`),
    `  replay: node dist/src/sim/log-main.js --seed ${r.seed} --replicas ${r.replicas}`,
  ].join('\n');
}

function coverage(s: LogWorldSweep): string {
  const c = s.stats;
  return (
    `  faults: ${c.crashes} crashes (${c.midReadyCrashes} in the middle of a Ready), ${c.restarts} restarts, ${c.partitions} partitions, ` +
    `${c.dropped}/${c.messages} messages dropped\n` +
    `  exercised: ${c.leaders} leaderships, ${c.multiCommandSlots} slots with several commands, ${c.forwards} forwards, ${c.indexReads} reads by index, ${c.unplaced} unplaced, ` +
    `${c.retries} client retries, ${c.entriesDelivered} entries replies, ${c.snapshotsTaken} snapshots taken, ` +
    `${c.snapshotsSent} sent and ${c.snapshotsInstalled} installed, ${c.catchUpToNonFollower} catch-up replies reaching a leader or candidate\n`
  );
}

export function logWorldMain(argv: readonly string[]): number {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      seeds: { type: 'string', default: '500' },
      from: { type: 'string', default: '1' },
      seed: { type: 'string' },
      replicas: { type: 'string', default: '5' },
      variant: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true) {
    process.stdout.write(
      'Usage: node dist/src/sim/log-main.js [--seeds N] [--from S] [--replicas 3|5] [--variant NAME] [--seed S]\n\n' +
        'Simulates the replicated log (Multi-Paxos, the key-value store, clients, crashes, partitions, a lossy\n' +
        'network), checking safety after every event and the client history for linearizability.\n' +
        `--variant runs a deliberately broken log (${LOG_WORLD_VARIANTS.join(', ')}) and reports the seed that caught it.\n` +
        '--seed S replays one seed and prints its trace.\n',
    );
    return 0;
  }
  const replicas = Number(values.replicas);
  const seeds = Number(values.seeds);
  const from = Number(values.from);
  if (!Number.isSafeInteger(replicas) || replicas < 1 || !Number.isSafeInteger(seeds) || seeds < 1 || !Number.isSafeInteger(from)) {
    process.stderr.write('log-main: --replicas and --seeds must be positive integers, --from an integer\n');
    return 2;
  }
  const variant = values.variant as LogWorldVariant | undefined;
  if (variant !== undefined && !LOG_WORLD_VARIANTS.includes(variant)) {
    process.stderr.write(`log-main: --variant must be one of ${LOG_WORLD_VARIANTS.join(', ')}, got ${JSON.stringify(variant)}\n`);
    return 2;
  }
  if (values.seed !== undefined) {
    const r = new LogWorld({ seed: Number(values.seed), replicas, traceLines: 1_000_000, ...(variant === undefined ? {} : { variant }) }).run();
    process.stdout.write(`${[`seed ${r.seed}: ${r.shape}`, ...r.trace].join('\n')}\n`);
    process.stdout.write(
      `${r.violation === null ? 'no violation' : `VIOLATION (${r.kind}): ${r.violation}`}; ${r.live ? 'live' : `not live: ${r.notLive}`}; ` +
        `lincheck ${r.lincheck}; ops ok ${r.ops.ok} fail ${r.ops.fail} info ${r.ops.info}; ${r.slots} slots; ${r.events} events\n`,
    );
    return r.violation === null && r.live ? 0 : 1;
  }
  if (variant !== undefined) {
    const s = sweepLogWorld(from, seeds, { replicas, variant, stopAtFirst: true });
    const first = s.violations[0];
    if (first === undefined) {
      process.stdout.write(`log-world: NOT caught: ${variant} survived ${s.runs} seeds\n`);
      return 1;
    }
    process.stdout.write(`log-world: caught ${variant} at seed ${first.seed} (after ${s.runs} seeds)\n${reportViolation(first)}\n`);
    if (first.kind === 'durability') {
      // Also by what the lost state does, with the durability checks off.
      const d = sweepLogWorld(from, seeds, { replicas, variant, stopAtFirst: true, durabilityChecks: false });
      const f = d.violations[0];
      process.stdout.write(
        f === undefined
          ? `log-world: with durability checks off, ${variant} did no visible damage in ${d.runs} seeds\n`
          : `log-world: with durability checks off, ${variant} is caught by its consequences at seed ${f.seed}: ${f.kind}: ${f.violation}\n`,
      );
    }
    return 0;
  }
  const s = sweepLogWorld(from, seeds, { replicas });
  for (const v of s.violations) process.stdout.write(`${reportViolation(v)}\n`);
  for (const r of s.notLive.slice(0, 20)) process.stdout.write(`seed ${r.seed}: not live: ${r.notLive}\n`);
  const clean = s.runs - s.violations.length;
  process.stdout.write(
    `log-world: ${s.runs} seeds of ${replicas} replicas in ${s.seconds.toFixed(1)} s, ${s.violations.length} violations; ` +
      `live in ${s.live}/${clean} runs (${clean === 0 ? '-' : ((100 * s.live) / clean).toFixed(1)}%): every replica applied the same last slot and every client finished once faults stopped\n` +
      `  ${s.ops.ok + s.ops.fail + s.ops.info} client ops (${s.ops.ok} ok, ${s.ops.fail} failed cas, ${s.ops.info} unknown), ${s.slots} slots chosen; ` +
      `linearizability check inconclusive in ${s.lincheckUnknown} runs\n` +
      coverage(s),
  );
  return s.violations.length === 0 && s.live === clean ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) process.exitCode = logWorldMain(process.argv.slice(2));

// `npm run sim -- --log [--seeds N] [--from S] [--replicas 3|5] [--variant NAME] [--seed S]`
// (or `node dist/src/sim/log-main.js ...`): the replicated log's simulator
// (log-world.ts) over many seeds, printing violations with their seed and
// last events, liveness, coverage and, with --variant, the seed that caught
// that broken variant. --seed S replays one run and prints its whole trace.

import { choice, integer, parseFlags, runTool } from '../config/flags.js';
import {
  LOG_WORLD_VARIANTS,
  LogWorld,
  sweepLogWorld,
  type LogWorldResult,
  type LogWorldSweep,
  type LogWorldVariant,
} from './log-world.js';

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
    `  faults: ${c.crashes} crashes (${c.midReadyCrashes} in the middle of a Ready), ${c.restarts} restarts, ` +
    `${c.partitions} partitions, ` +
    `${c.dropped}/${c.messages} messages dropped\n` +
    `  exercised: ${c.leaders} leaderships, ${c.multiCommandSlots} slots with several commands, ${c.forwards}` +
    ` forwards, ${c.indexReads} reads by index, ${c.unplaced} unplaced, ` +
    `${c.retries} client retries, ${c.entriesDelivered} entries replies, ${c.snapshotsTaken} snapshots taken, ` +
    `${c.snapshotsSent} sent and ${c.snapshotsInstalled} installed, ${c.catchUpToNonFollower} catch-up replies ` +
    `reaching a leader or candidate\n` +
    `  leases: ${c.leaseExpiries} expiries proposed, ${c.leasesAbandoned} leases left to expire, ` +
    `${c.leasesLostWhileKept} lost while kept alive (keepalives that could not reach a leader within the TTL)\n`
  );
}

/** The cluster sizes the log simulator is run and tested with (test/log-sim.test.ts): a majority of 2 or 3. */
export const LOG_WORLD_REPLICAS = ['3', '5'] as const;

const HELP = `Usage: npm run sim -- --log [--seeds N] [--from S] [--replicas 3|5] [--variant NAME] [--seed S]
       (or node dist/src/sim/log-main.js with the same flags)

Simulates the replicated log (Multi-Paxos, the key-value store, clients, crashes, partitions, a lossy
network), checking safety after every event and the client history for linearizability.

  --seeds N       how many seeds to run, N >= 1 (default 500)
  --from S        the first seed, S >= 0 (default 1): runs seeds S to S+N-1
  --replicas N    cluster size, ${LOG_WORLD_REPLICAS.join(' or ')} (default 5)
  --seed S        replay seed S alone and print its whole trace (default: none, sweep)
  --variant NAME  run a deliberately broken log, one of ${LOG_WORLD_VARIANTS.join(', ')},
                  and report the seed that caught it (default: none, the real log)
  --help          print this and exit`;

/** The log simulator's command line (after `--log`); throws ConfigError on a bad flag, before running anything. */
export function logWorldMain(argv: readonly string[]): number {
  const { values } = parseFlags(argv, {
    seeds: { type: 'string', default: '500' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    replicas: { type: 'string', default: '5' },
    variant: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help === true) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const replicas = Number(choice('--replicas', values.replicas, LOG_WORLD_REPLICAS));
  const seeds = integer('--seeds', values.seeds, 1);
  const from = integer('--from', values.from, 0);
  const seed = values.seed === undefined ? undefined : integer('--seed', values.seed, 0);
  const variant: LogWorldVariant | undefined =
    values.variant === undefined ? undefined : choice('--variant', values.variant, LOG_WORLD_VARIANTS);
  if (seed !== undefined) {
    const r = new LogWorld({
      seed,
      replicas,
      traceLines: 1_000_000,
      ...(variant === undefined ? {} : { variant }),
    }).run();
    process.stdout.write(`${[`seed ${r.seed}: ${r.shape}`, ...r.trace].join('\n')}\n`);
    process.stdout.write(
      `${r.violation === null ? 'no violation' : `VIOLATION (${r.kind}): ${r.violation}`}; ` +
        `${r.live ? 'live' : `not live: ${r.notLive}`}; ` +
        `lincheck ${r.lincheck}; ops ok ${r.ops.ok} fail ${r.ops.fail} info ${r.ops.info}; ${r.slots} slots; ` +
        `${r.events} events\n`,
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
    process.stdout.write(
      `log-world: caught ${variant} at seed ${first.seed} (after ${s.runs} seeds)\n${reportViolation(first)}\n`,
    );
    if (first.kind === 'durability') {
      // Also by what the lost state does, with the durability checks off.
      const d = sweepLogWorld(from, seeds, { replicas, variant, stopAtFirst: true, durabilityChecks: false });
      const f = d.violations[0];
      process.stdout.write(
        f === undefined
          ? `log-world: with durability checks off, ${variant} did no visible damage in ${d.runs} seeds\n`
          : `log-world: with durability checks off, ${variant} is caught by its consequences at seed ${f.seed}: ` +
              `${f.kind}: ${f.violation}\n`,
      );
    }
    return 0;
  }
  const s = sweepLogWorld(from, seeds, { replicas });
  for (const v of s.violations) process.stdout.write(`${reportViolation(v)}\n`);
  for (const r of s.notLive.slice(0, 20)) process.stdout.write(`seed ${r.seed}: not live: ${r.notLive}\n`);
  const clean = s.runs - s.violations.length;
  process.stdout.write(
    `log-world: ${s.runs} seeds of ${replicas} replicas in ${s.seconds.toFixed(1)} s, ${s.violations.length}` +
      ` violations; ` +
      `live in ${s.live}/${clean} runs (${clean === 0 ? '-' : ((100 * s.live) / clean).toFixed(1)}%): every ` +
      `replica applied the same last slot and every client finished once faults stopped\n` +
      `  ${s.ops.ok + s.ops.fail + s.ops.info} client ops (${s.ops.ok} ok, ${s.ops.fail} failed cas, ${s.ops.info}` +
      ` unknown), ${s.slots} slots chosen; ` +
      `linearizability check inconclusive in ${s.lincheckUnknown} runs\n` +
      coverage(s),
  );
  return s.violations.length === 0 && s.live === clean ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href)
  runTool('log-main', logWorldMain);

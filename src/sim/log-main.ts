// `npm run sim -- --log [--seeds N] [--from S] [--replicas N] [--variant NAME]`:
// the replicated log's simulator (log-sim.ts) over many seeds.

import { performance } from 'node:perf_hooks';
import { LOG_VARIANTS, runLogSim, type LogSimResult, type LogVariantName } from './log-sim.js';

export interface LogSweep {
  readonly runs: number;
  readonly violations: LogSimResult[];
  readonly live: number;
  readonly ops: number;
  readonly slots: number;
  readonly seconds: number;
}

export function sweepLog(from: number, count: number, opts: { variant?: LogVariantName; replicas?: number; stopAtFirst?: boolean } = {}): LogSweep {
  const t0 = performance.now();
  const violations: LogSimResult[] = [];
  let live = 0;
  let ops = 0;
  let slots = 0;
  let runs = 0;
  for (let seed = from; seed < from + count; seed++) {
    const r = runLogSim({ seed, ...(opts.variant === undefined ? {} : { variant: opts.variant }), ...(opts.replicas === undefined ? {} : { replicas: opts.replicas }) });
    runs += 1;
    ops += r.ops;
    slots += r.slots;
    if (r.live) live += 1;
    if (r.violation !== null) {
      violations.push(r);
      if (opts.stopAtFirst === true) break;
    }
  }
  return { runs, violations, live, ops, slots, seconds: (performance.now() - t0) / 1000 };
}

export function logSimMain(values: { seeds?: string | undefined; from?: string | undefined; variant?: string | undefined; replicas?: string | undefined }): number {
  const variant = values.variant as LogVariantName | undefined;
  if (variant !== undefined && !LOG_VARIANTS.includes(variant)) {
    process.stderr.write(`sim: with --log, --variant must be one of ${LOG_VARIANTS.join(', ')}, got ${JSON.stringify(variant)}\n`);
    return 2;
  }
  const replicas = values.replicas === undefined ? undefined : Number(values.replicas);
  const s = sweepLog(Number(values.from ?? 1), Number(values.seeds ?? 500), {
    ...(variant === undefined ? {} : { variant, stopAtFirst: true }),
    ...(replicas === undefined ? {} : { replicas }),
  });
  if (variant !== undefined) {
    const first = s.violations[0];
    process.stdout.write(first === undefined ? `sim --log: NOT caught: ${variant} survived ${s.runs} seeds\n` : `sim --log: caught ${variant} at seed ${first.seed}: ${first.violation}\n`);
    return first === undefined ? 1 : 0;
  }
  for (const v of s.violations) process.stdout.write(`seed ${v.seed}: ${v.violation}\n`);
  process.stdout.write(
    `sim --log: ${s.runs} seeds in ${s.seconds.toFixed(1)} s, ${s.violations.length} violations; ${s.ops} client ops, ${s.slots} slots chosen; ` +
      `once faults stop, every replica caught up and every client finished in ${s.live}/${s.runs} runs\n`,
  );
  return s.violations.length === 0 ? 0 : 1;
}

// Every developer tool's entry point (dist/...) as a child process: --help
// prints usage and exits 0; an unknown flag or a bad number is one line on
// stderr naming the flag, exit status 2, no stack trace; and none of them
// starts any real work first (each call ends in seconds, far below its time limit).

import path from 'node:path';
import test from 'ava';
import { DIST, runSync, type Ran } from '../helpers/cli.js';

interface Tool {
  readonly name: string;
  /** The entry point under dist/, and any leading arguments (sim's --log). */
  readonly args: readonly string[];
  /** A number flag given something it must refuse, and the flag's name as the message should name it. */
  readonly bad: readonly (readonly [readonly string[], string])[];
}

const TOOLS: readonly Tool[] = [
  {
    name: 'sim',
    args: ['src/sim/main.js'],
    bad: [
      [['--seeds', 'abc'], '--seeds'],
      [['--seeds', '1.5'], '--seeds'],
      [['--seeds', '0'], '--seeds'],
      [['--from', 'x'], '--from'],
      [['--seed', '-1'], '--seed'],
    ],
  },
  {
    name: 'sim --log',
    args: ['src/sim/main.js', '--log'],
    bad: [
      [['--replicas', '4'], '--replicas'],
      [['--seeds', 'abc'], '--seeds'],
      [['--seeds', '2.5'], '--seeds'],
    ],
  },
  {
    name: 'log-main',
    args: ['src/sim/log-main.js'],
    bad: [
      [['--replicas', '1'], '--replicas'],
      [['--from', '1e3'], '--from'],
    ],
  },
  {
    name: 'nemesis',
    args: ['src/tools/nemesis-main.js'],
    bad: [
      [['--replicas', '2'], '--replicas'],
      [['--clients', 'many'], '--clients'],
      [['--interval', '0.5'], '--interval'],
    ],
  },
  {
    name: 'bench',
    args: ['bench/bench.js'],
    bad: [
      [['--runs', 'abc'], '--runs'],
      [['--rounds', '0'], '--rounds'],
      [['--only', 'everything'], '--only'],
    ],
  },
  {
    name: 'stress',
    args: ['bench/stress.js'],
    bad: [
      [['--runs', 'abc'], '--runs'],
      [['--seed', 'x'], '--seed'],
    ],
  },
  {
    name: 'bench:kv',
    args: ['bench/kv-compare.js'],
    bad: [
      [['--seconds', 'abc'], '--seconds'],
      [['--clients', '1,x'], '--clients'],
      [['--soak', '15'], '--soak'],
      [['--watchers', 'x'], '--watchers'],
    ],
  },
  {
    name: 'bench:store',
    args: ['bench/store-bench.js'],
    bad: [
      [['--keys', 'abc'], '--keys'],
      [['--value-bytes', '0'], '--value-bytes'],
    ],
  },
];

/**
 * Runs the tool `args[0]` (a path under dist/). A tool that started its work
 * would run far past WORKS_MS; one that only parses its flags ends in well
 * under a second when the machine is idle, and still far below it when busy.
 */
function run(args: readonly string[]): Ran {
  return runSync(
    process.execPath,
    args.map((a, i) => (i === 0 ? path.join(DIST, a) : a)),
    { timeoutMs: 120_000 },
  );
}
const WORKS_MS = 30_000;

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');
const stackLines = (s: string): string[] => lines(s).filter((l) => /^\s+at /.test(l));

for (const tool of TOOLS) {
  test(`${tool.name} --help prints usage with the defaults and exits 0`, (t) => {
    const r = run([...tool.args, '--help']);
    t.is(r.code, 0, r.err);
    t.regex(r.out, /^Usage: /);
    t.regex(r.out, /default/);
    t.is(r.err, '');
    t.true(r.ms < WORKS_MS, `took ${r.ms} ms`);
  });

  test(`${tool.name} rejects an unknown flag: one line, exit 2, no stack`, (t) => {
    const r = run([...tool.args, '--bogus']);
    t.is(r.code, 2, r.err);
    t.is(lines(r.err).length, 1, r.err);
    t.regex(r.err, /--bogus/);
    t.deepEqual(stackLines(r.err), []);
    t.false(r.err.includes('ERR_PARSE_ARGS'), r.err);
    t.true(r.ms < WORKS_MS, `took ${r.ms} ms`);
  });

  for (const [flags, flag] of tool.bad) {
    test(`${tool.name} ${flags.join(' ')}: one line naming ${flag}, exit 2, before any work`, (t) => {
      const r = run([...tool.args, ...flags]);
      t.is(r.code, 2, `${r.out}\n${r.err}`);
      t.is(lines(r.err).length, 1, r.err);
      t.true(r.err.includes(flag), r.err);
      t.deepEqual(stackLines(r.err), []);
      t.is(r.out, '', 'nothing ran');
      t.true(r.ms < WORKS_MS, `took ${r.ms} ms`);
    });
  }
}

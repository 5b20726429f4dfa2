// Every developer tool's entry point (dist/...) as a child process: --help
// prints usage and exits 0; an unknown flag or a bad number is one line on
// stderr naming the flag, exit status 2, no stack trace; and none of them
// starts any real work first (each call is given a few seconds at most).

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';

// Tests run from dist/test/, so this is dist/.
const DIST = fileURLToPath(new URL('..', import.meta.url));

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
  { name: 'log-main', args: ['src/sim/log-main.js'], bad: [[['--replicas', '1'], '--replicas'], [['--from', '1e3'], '--from']] },
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
  { name: 'stress', args: ['bench/stress.js'], bad: [[['--runs', 'abc'], '--runs'], [['--seed', 'x'], '--seed']] },
  {
    name: 'bench:kv',
    args: ['bench/kv-compare.js'],
    bad: [
      [['--seconds', 'abc'], '--seconds'],
      [['--clients', '1,x'], '--clients'],
      [['--soak', '15'], '--soak'],
    ],
  },
  { name: 'bench:store', args: ['bench/store-bench.js'], bad: [[['--keys', 'abc'], '--keys'], [['--value-bytes', '0'], '--value-bytes']] },
];

function run(args: readonly string[]): { status: number | null; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args.map((a, i) => (i === 0 ? `${DIST}${a}` : a)), { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');
const stackLines = (s: string): string[] => lines(s).filter((l) => /^\s+at /.test(l));

for (const tool of TOOLS) {
  test(`${tool.name} --help prints usage with the defaults and exits 0`, (t) => {
    const r = run([...tool.args, '--help']);
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, /^Usage: /);
    t.regex(r.stdout, /default/);
    t.is(r.stderr, '');
    t.true(r.ms < 5_000, `took ${r.ms} ms`);
  });

  test(`${tool.name} rejects an unknown flag: one line, exit 2, no stack`, (t) => {
    const r = run([...tool.args, '--bogus']);
    t.is(r.status, 2, r.stderr);
    t.is(lines(r.stderr).length, 1, r.stderr);
    t.regex(r.stderr, /--bogus/);
    t.deepEqual(stackLines(r.stderr), []);
    t.false(r.stderr.includes('ERR_PARSE_ARGS'), r.stderr);
    t.true(r.ms < 5_000, `took ${r.ms} ms`);
  });

  for (const [flags, flag] of tool.bad) {
    test(`${tool.name} ${flags.join(' ')}: one line naming ${flag}, exit 2, before any work`, (t) => {
      const r = run([...tool.args, ...flags]);
      t.is(r.status, 2, `${r.stdout}\n${r.stderr}`);
      t.is(lines(r.stderr).length, 1, r.stderr);
      t.true(r.stderr.includes(flag), r.stderr);
      t.deepEqual(stackLines(r.stderr), []);
      t.is(r.stdout, '', 'nothing ran');
      t.true(r.ms < 5_000, `took ${r.ms} ms`);
    });
  }
}

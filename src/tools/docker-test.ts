// `npm run test:docker [-- [--repeat N] NAME...]`: every testcase in real
// containers (image prj4), compared with the same goldens by the same code as
// `paxos run`, then the fault scenarios of docker-faults.ts. NAME picks
// testcases or scenarios; --repeat runs each N times and sums them up.
// Prints one line per run with its outcome and time; exits 1 if any failed.
// Containers and networks are removed after each testcase, failures included.

import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { runTestcase } from '../runner/run.js';
import { loadCompose } from '../runner/compose.js';
import { loadHostsfile } from '../config/hostsfile.js';
import {
  clientExec,
  disconnectMinority,
  killRestart,
  killTwoDisconnectOne,
  pauseUnpause,
  upAgain,
  type FaultResult,
} from './docker-faults.js';
import { kvScenario } from './docker-kv.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');

const FAULTS: ReadonlyArray<readonly [string, (root: string) => Promise<FaultResult>]> = [
  ['kill-restart', killRestart],
  ['disconnect', disconnectMinority],
  ['kill-two', killTwoDisconnectOne],
  ['pause', pauseUnpause],
  ['client-exec', clientExec],
  ['up-again', upAgain],
  ['kv3', (r) => kvScenario(r, 'kv3')],
  ['kv5', (r) => kvScenario(r, 'kv5')],
];

/** Lab testcases run to a decision; replicated-log ones serve forever and have their own scenario. */
function isLab(dir: string): boolean {
  return loadHostsfile(loadCompose(dir).services[0]!.hostsfile).mode === 'lab';
}

async function runTestcaseInDocker(name: string): Promise<boolean> {
  const dir = path.join(root, 'testcases', name);
  const t0 = performance.now();
  let line: string;
  let ok = false;
  try {
    const r = await runTestcase(dir, { where: 'docker', timeoutMs: 120_000 });
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    ok = r.ok;
    if (r.ok) {
      line =
        `testcase ${name}: ok in ${secs} s, ${r.mismatches === null ? 'no goldens' : 'matches expected/'}; ` +
        `${r.summary}`;
    } else {
      const details = (r.mismatches ?? []).map((m) => `\n  mismatch: ${m.peer}: ${m.message}`).join('');
      line = `testcase ${name}: FAILED in ${secs} s: ${r.failure}; ${r.summary}${details}`;
    }
  } catch (err) {
    line = `testcase ${name}: FAILED in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${(err as Error).message}`;
  }
  process.stdout.write(`${line}\n`);
  return ok;
}

async function main(argv: string[]): Promise<number> {
  let repeat = 1;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--repeat') {
      repeat = Number(argv[++i]);
      if (!Number.isInteger(repeat) || repeat < 1)
        throw new Error(`--repeat expects a whole number of runs, got ${JSON.stringify(argv[i])}`);
    } else names.push(argv[i]!);
  }
  const testcases = readdirSync(path.join(root, 'testcases'))
    .filter(
      (d) =>
        existsSync(path.join(root, 'testcases', d, 'docker-compose.yml')) && isLab(path.join(root, 'testcases', d)),
    )
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const unknown = names.filter((n) => !testcases.includes(n) && !FAULTS.some(([f]) => f === n));
  if (unknown.length > 0) {
    throw new Error(
      `unknown testcase or scenario ${unknown.join(', ')}; testcases: ${testcases.join(', ')}; scenarios: ` +
        `${FAULTS.map(([f]) => f).join(', ')}`,
    );
  }
  // No names: every testcase, then every scenario.
  const pickedTestcases = names.length === 0 ? testcases : testcases.filter((n) => names.includes(n));
  const pickedFaults = names.length === 0 ? FAULTS : FAULTS.filter(([f]) => names.includes(f));
  let total = 0;
  let failed = 0;
  for (const name of pickedTestcases) {
    for (let i = 0; i < repeat; i++) {
      total += 1;
      if (!(await runTestcaseInDocker(name))) failed += 1;
    }
  }
  for (const [name, fault] of pickedFaults) {
    const times: number[] = [];
    let passed = 0;
    for (let i = 0; i < repeat; i++) {
      const r = await fault(root);
      total += 1;
      if (r.ok) passed += 1;
      else failed += 1;
      if (r.decisionMs !== undefined) times.push(r.decisionMs);
      process.stdout.write(
        `fault ${name}${repeat > 1 ? ` (run ${i + 1}/${repeat})` : ''}: ${r.ok ? 'ok' : 'FAILED'} in ` +
          `${r.seconds.toFixed(1)} s: ${r.detail}\n`,
      );
    }
    if (repeat > 1) {
      const sorted = [...times].sort((a, b) => a - b);
      const med =
        sorted.length === 0
          ? ''
          : `; time to decision median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms, max ` +
            `${sorted.at(-1)!.toFixed(0)} ms`;
      process.stdout.write(`fault ${name}: ${passed}/${repeat} passed${med}\n`);
    }
  }
  process.stdout.write(`test:docker: ${total - failed} of ${total} testcases and fault scenarios passed\n`);
  return failed === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`test:docker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);

// `npm run test:docker`: every testcase in real containers (image prj4),
// compared with the same goldens by the same code as `paxos run`, then the
// fault scenarios of docker-faults.ts. Prints one line per testcase or
// scenario with its outcome and time; exits 1 if any failed.
// Containers and networks are removed after each testcase, failures included.

import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { runTestcase } from '../runner/run.js';
import { clientExec, disconnectMinority, killRestart } from './docker-faults.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');

async function main(argv: string[]): Promise<number> {
  const all = readdirSync(path.join(root, 'testcases'))
    .filter((d) => existsSync(path.join(root, 'testcases', d, 'docker-compose.yml')))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const chosen = argv.length > 0 ? argv : all;
  let failed = 0;
  for (const name of chosen) {
    const dir = path.join(root, 'testcases', name);
    const t0 = performance.now();
    let line: string;
    try {
      const r = await runTestcase(dir, { where: 'docker', timeoutMs: 120_000 });
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      if (r.ok) {
        line = `testcase ${name}: ok in ${secs} s, ${r.mismatches === null ? 'no goldens' : 'matches expected/'}; ${r.summary}`;
      } else {
        failed += 1;
        const details = (r.mismatches ?? []).map((m) => `\n  mismatch: ${m.peer}: ${m.message}`).join('');
        line = `testcase ${name}: FAILED in ${secs} s: ${r.failure}; ${r.summary}${details}`;
      }
    } catch (err) {
      failed += 1;
      line = `testcase ${name}: FAILED in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${(err as Error).message}`;
    }
    process.stdout.write(`${line}\n`);
  }
  // The fault scenarios run with the full set only (no testcase names given).
  const faults = argv.length > 0 ? [] : ([['kill-restart', killRestart], ['disconnect', disconnectMinority], ['client-exec', clientExec]] as const);
  for (const [name, fault] of faults) {
    const r = await fault(root);
    if (!r.ok) failed += 1;
    process.stdout.write(`fault ${name}: ${r.ok ? 'ok' : 'FAILED'} in ${r.seconds.toFixed(1)} s: ${r.detail}\n`);
  }
  const total = chosen.length + faults.length;
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

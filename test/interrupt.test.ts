// Ctrl-C of a run that was kept running on purpose (--keep-running, a
// replicated log) is how it ends: exit 0 with an honest summary, directly
// and through npx. The test sends SIGINT to the whole process group, as a
// terminal does.

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { tempDir } from './helpers/tmp.js';
import { summarize } from '../src/runner/run.js';

const root = new URL('../../', import.meta.url).pathname;
const MAIN = path.join(root, 'dist/src/cli/main.js');

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** A command in its own process group, as a terminal's foreground job. */
class Job {
  out = '';
  err = '';
  readonly ended: Promise<Ended>;
  private readonly child: ChildProcess;
  private readonly waiters: Array<() => void> = [];

  constructor(cmd: string, args: readonly string[]) {
    this.child = spawn(cmd, args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PAXOS_SECRET: undefined } });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.out += d.toString();
      this.grew();
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.err += d.toString();
      this.grew();
    });
    this.ended = new Promise((resolve) => this.child.once('close', (code, signal) => resolve({ code, signal, out: this.out.trimEnd(), err: this.err.trimEnd() })));
  }

  /** Resolves once the output (stdout + stderr) matches `re`; rejects if the job ends first. */
  async waitFor(re: RegExp): Promise<void> {
    while (!re.test(this.out) && !re.test(this.err)) {
      const grew = new Promise<void>((resolve) => this.waiters.push(resolve));
      const e = await Promise.race([grew.then(() => null), this.ended]);
      if (e !== null) throw new Error(`ended (${e.code ?? e.signal}) before printing ${re}:\n${e.out}\n${e.err}`);
    }
  }

  /** Ctrl-C: SIGINT to every process of the group. */
  interrupt(): void {
    process.kill(-this.child.pid!, 'SIGINT');
  }

  /** For teardown: make sure nothing of the group outlives the test. */
  kill(): void {
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  private grew(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

const fake = (label: string, chose: string[]): Parameters<typeof summarize>[0][number] => ({
  service: { name: label, label, hostname: label, args: [], hostsfile: '' },
  chose,
  resumed: undefined,
});

test('summary: a peer that has not chosen is "-", and then it does not say "all"', (t) => {
  t.is(summarize([fake('p1', ['hello']), fake('p2', []), fake('a1', ['hello']), fake('a2', ['hello'])]), 'chosen: p1=hello p2=- a1=hello a2=hello (3 of 4 chose hello; 1 has not chosen)');
  t.is(summarize([fake('p1', ['hello']), fake('p2', []), fake('a1', [])]), 'chosen: p1=hello p2=- a1=- (1 of 3 chose hello; 2 have not chosen)');
  t.is(summarize([fake('p1', ['hello']), fake('a1', ['hello', 'hello'])]), 'chosen: p1=hello a1=hello (all chose hello)');
  t.is(summarize([fake('p1', []), fake('a1', [])]), 'chosen: p1=- a1=- (nothing chosen)');
  t.is(summarize([fake('p1', ['A']), fake('a1', ['B']), fake('a2', [])]), 'chosen: p1=A a1=B a2=- (DISAGREE)');
});

/** p1 proposes hello; p2 is a proposer with no value, waiting for a client that never comes. */
function waitingProposer(): string {
  const dir = tempDir('ctrlc');
  writeFileSync(path.join(dir, 'hostsfile'), 'p1:proposer1\np2:proposer2\na1:acceptor1,acceptor2\na2:acceptor1,acceptor2\na3:acceptor1,acceptor2\n');
  const svc = (name: string, flags: string): string =>
    `  ${name}:\n    hostname: ${name}\n    volumes: ["./hostsfile:/app/hostsfile:ro"]\n    command: -h hostsfile ${flags}\n`;
  writeFileSync(path.join(dir, 'docker-compose.yml'), `services:\n${svc('p1', '-v hello')}${svc('p2', '')}${svc('a1', '')}${svc('a2', '')}${svc('a3', '')}`);
  return dir;
}

test('Ctrl-C of a --keep-running run whose second proposer still waits for a client: exit 0, no FAILED, an honest summary', async (t) => {
  const job = new Job(process.execPath, [MAIN, 'run', waitingProposer(), '--keep-running']);
  t.teardown(() => job.kill());
  await job.waitFor(/^p1 +\| \{"peer_id":1,"action":"chose"/m);
  job.interrupt();
  const r = await job.ended;
  t.is(r.code, 0, `${r.out}\n${r.err}`);
  t.notRegex(r.err, /FAILED/);
  t.regex(r.err, /paxos run: stopped by Ctrl-C; p2 had not chosen yet/);
  const summary = r.out.split('\n').at(-1)!;
  t.regex(summary, /^chosen: p1=hello p2=- a1=(hello|-) a2=(hello|-) a3=(hello|-) \([1-4] of 5 chose hello; [1-4] ha(s|ve) not chosen\)$/);
});

test('Ctrl-C of a run that stops at its decision is still an interruption (130)', async (t) => {
  // Without --keep-running, p2 must choose for the run to end; it never will.
  const job = new Job(process.execPath, [MAIN, 'run', waitingProposer(), '--timeout', '600']);
  t.teardown(() => job.kill());
  await job.waitFor(/^p1 +\| \{"peer_id":1,"action":"chose"/m);
  job.interrupt();
  const r = await job.ended;
  t.is(r.code, 130, `${r.out}\n${r.err}`);
  t.regex(r.err, /paxos run: FAILED: interrupted/);
});

test('through npx: Ctrl-C of `npx paxos run testcases/kv3 --keep-running` exits 0', async (t) => {
  const job = new Job('npx', ['paxos', 'run', 'testcases/kv3', '--keep-running']);
  t.teardown(() => job.kill());
  await job.waitFor(/paxos run: clients reach them with/);
  job.interrupt();
  const r = await job.ended;
  t.deepEqual([r.code, r.signal], [0, null], `${r.out}\n${r.err}`);
  t.regex(r.out, /^learned: kv3-peer1=.* kv3-peer2=.* kv3-peer3=.*$/m);
  t.notRegex(r.err, /FAILED/);
});

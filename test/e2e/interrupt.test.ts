// Ctrl-C of a run that was kept running on purpose (--keep-running, a
// replicated log) is how it ends: exit 0 with an honest summary, directly
// and through npx. The test sends SIGINT to the whole process group, as a
// terminal does.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { start, startPaxos } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { summarize } from '../../src/runner/run.js';

const fake = (label: string, chose: string[]): Parameters<typeof summarize>[0][number] => ({
  service: { name: label, label, hostname: label, args: [], hostsfile: '' },
  chose,
  resumed: undefined,
});

test('summary: a peer that has not chosen is "-", and then it does not say "all"', (t) => {
  t.is(
    summarize([fake('p1', ['hello']), fake('p2', []), fake('a1', ['hello']), fake('a2', ['hello'])]),
    'chosen: p1=hello p2=- a1=hello a2=hello (3 of 4 chose hello; 1 has not chosen)',
  );
  t.is(
    summarize([fake('p1', ['hello']), fake('p2', []), fake('a1', [])]),
    'chosen: p1=hello p2=- a1=- (1 of 3 chose hello; 2 have not chosen)',
  );
  t.is(
    summarize([fake('p1', ['hello']), fake('a1', ['hello', 'hello'])]),
    'chosen: p1=hello a1=hello (all chose hello)',
  );
  t.is(summarize([fake('p1', []), fake('a1', [])]), 'chosen: p1=- a1=- (nothing chosen)');
  t.is(summarize([fake('p1', ['A']), fake('a1', ['B']), fake('a2', [])]), 'chosen: p1=A a1=B a2=- (DISAGREE)');
});

/** p1 proposes hello; p2 is a proposer with no value, waiting for a client that never comes. */
function waitingProposer(): string {
  const dir = tempDir('ctrlc');
  writeFileSync(
    path.join(dir, 'hostsfile'),
    'p1:proposer1\np2:proposer2\na1:acceptor1,acceptor2\na2:acceptor1,acceptor2\na3:acceptor1,acceptor2\n',
  );
  const svc = (name: string, flags: string): string =>
    `  ${name}:\n    hostname: ${name}\n    volumes: ["./hostsfile:/app/hostsfile:ro"]\n    command: -h hostsfile ` +
    `${flags}\n`;
  writeFileSync(
    path.join(dir, 'docker-compose.yml'),
    `services:\n${svc('p1', '-v hello')}${svc('p2', '')}${svc('a1', '')}${svc('a2', '')}${svc('a3', '')}`,
  );
  return dir;
}

test(
  'Ctrl-C of a --keep-running run whose second proposer still waits for a client: exit 0, no FAILED, an ' +
    'honest summary',
  async (t) => {
    const job = startPaxos(['run', waitingProposer(), '--keep-running'], { group: true });
    t.teardown(async () => void (await job.kill()));
    await job.waitFor(/^p1 +\| \{"peer_id":1,"action":"chose"/m);
    job.interrupt();
    const r = await job.ended;
    t.is(r.code, 0, `${r.out}\n${r.err}`);
    t.notRegex(r.err, /FAILED/);
    t.regex(r.err, /paxos run: stopped by Ctrl-C; p2 had not chosen yet/);
    const summary = r.out.trimEnd().split('\n').at(-1)!;
    t.regex(
      summary,
      new RegExp(
        /^chosen: p1=hello p2=- a1=(hello|-) a2=(hello|-) a3=(hello|-) \([1-4] of 5 /.source +
          /chose hello; [1-4] ha(s|ve) not chosen\)$/.source,
      ),
    );
  },
);

test('Ctrl-C of a run that stops at its decision is still an interruption (130)', async (t) => {
  // Without --keep-running, p2 must choose for the run to end; it never will.
  const job = startPaxos(['run', waitingProposer(), '--timeout', '600'], { group: true });
  t.teardown(async () => void (await job.kill()));
  await job.waitFor(/^p1 +\| \{"peer_id":1,"action":"chose"/m);
  job.interrupt();
  const r = await job.ended;
  t.is(r.code, 130, `${r.out}\n${r.err}`);
  t.regex(r.err, /paxos run: FAILED: interrupted/);
});

test('through npx: Ctrl-C of `npx paxos run testcases/kv3 --keep-running` exits 0', async (t) => {
  const job = start('npx', ['paxos', 'run', 'testcases/kv3', '--keep-running'], { group: true });
  t.teardown(async () => void (await job.kill()));
  await job.waitFor(/paxos run: clients reach them with/);
  job.interrupt();
  const r = await job.ended;
  t.deepEqual([r.code, r.signal], [0, null], `${r.out}\n${r.err}`);
  t.regex(r.out, /^learned: kv3-peer1=.* kv3-peer2=.* kv3-peer3=.*$/m);
  t.notRegex(r.err, /FAILED/);
});

test('a late copy of the Ctrl-C (npm exec forwards one) cannot kill `paxos run` on its way out', async (t) => {
  // npm's copy comes when npm gets to run: on a busy machine, after paxos has
  // reported, even as it exits. Here another process sends one every
  // millisecond, from just before the Ctrl-C until paxos is gone (kill fails
  // once it has been reaped).
  const job = startPaxos(['run', 'testcases/kv3', '--keep-running'], { group: true });
  t.teardown(async () => void (await job.kill()));
  await job.waitFor(/paxos run: clients reach them with/);
  const copies = start(process.execPath, [
    '-e',
    `setInterval(() => { try { process.kill(${job.child.pid}, 'SIGINT'); } catch { process.exit(0); } }, 1); ` +
      `console.log('sending');`,
  ]);
  t.teardown(async () => void (await copies.kill()));
  await copies.waitFor(/sending/);
  job.interrupt();
  const r = await job.ended;
  t.deepEqual([r.code, r.signal], [0, null], `${r.out}\n${r.err}`);
  t.regex(r.out, /^learned: kv3-peer1=.* kv3-peer2=.* kv3-peer3=.*$/m);
  t.notRegex(r.err, /FAILED/);
  t.is((await copies.ended).code, 0, 'the copies were sent until paxos was gone');
});

test('Ctrl-C reaches `paxos run`, not its peers: it stops them itself', async (t) => {
  const job = startPaxos(['run', 'testcases/kv3', '--keep-running', '--log-level', 'info'], { group: true });
  t.teardown(async () => void (await job.kill()));
  // Every peer up (it logs this as it starts, its SIGINT handler in place).
  for (const p of ['peer1', 'peer2', 'peer3']) await job.waitFor(new RegExp(`^kv3-${p} +\\| ${p}: recovered:`, 'm'));
  job.interrupt();
  const r = await job.ended;
  t.deepEqual([r.code, r.signal], [0, null], `${r.out}\n${r.err}`);
  t.notRegex(r.err, /SIGINT; shutting down|exited early|FAILED/);
  for (const p of ['peer1', 'peer2', 'peer3'])
    t.regex(r.err, new RegExp(`^kv3-${p} +\\| ${p}: (SIGTERM|stdin closed); shutting down$`, 'm'));
});

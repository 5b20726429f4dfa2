// Faults on real processes and sockets: peers absent, late, killed with -9
// and restarted from their data directories, signalled, or idle.

import { setTimeout as delay } from 'node:timers/promises';
import test from 'ava';
import { FakePeer, LiveCluster, until } from '../helpers/procs.js';

const FIVE = 'p1:proposer1\na1:acceptor1\na2:acceptor1\na3:acceptor1\na4:acceptor1\na5:acceptor1\n';
const THREE = 'p1:proposer1\na1:acceptor1\na2:acceptor1\na3:acceptor1\n';
const TWO_PROPOSERS =
  'p1:proposer1\np2:proposer2\na1:acceptor1,acceptor2\na2:acceptor1,acceptor2\na3:acceptor1,acceptor2\n';

async function live(t: { teardown: (f: () => Promise<void>) => void }, hostsfile: string): Promise<LiveCluster> {
  const c = await new LiveCluster(hostsfile).init();
  t.teardown(() => c.close());
  return c;
}

const isChose = (v: string) => (l: { action: string; message_value: string }) =>
  l.action === 'chose' && l.message_value === v;

test('a minority absent: 2 of 5 acceptors never start, and X is still chosen', async (t) => {
  const c = await live(t, FIVE);
  const p1 = c.start('p1', ['-v', 'X']);
  const acceptors = ['a1', 'a2', 'a3'].map((a) => c.start(a));
  await p1.waitLine(isChose('X'), 'chose X');
  for (const a of acceptors) await a.waitLine(isChose('X'), 'chose X');
  t.is(p1.log.filter((l) => l.action === 'sent' && l.message_type === 'prepare').length, 1, 'one round was enough');
});

test('a peer that starts late: the proposer waits for a majority, then decides', async (t) => {
  const c = await live(t, THREE);
  const p1 = c.start('p1', ['-v', 'X']);
  c.start('a1');
  await p1.waitStderr(/waiting for a quorum of acceptors/);
  t.false(
    p1.log.some((l) => l.action === 'sent'),
    'nothing is sent while no majority can be reached',
  );
  c.start('a2');
  await p1.waitLine(isChose('X'), 'chose X once a2 is up');
});

test('a majority absent: nothing is chosen, the proposer idles cheaply, and exits 0 on SIGTERM', async (t) => {
  const c = await live(t, THREE);
  const p1 = c.start('p1', ['-v', 'X']);
  c.start('a1');
  await p1.waitStderr(/waiting for a quorum of acceptors/);
  const cpu0 = p1.cpuSeconds();
  await delay(3000); // the point: 3 s pass, and the proposer uses almost no CPU in them
  const cpu = p1.cpuSeconds() - cpu0;
  t.true(cpu < 0.3, `used ${cpu.toFixed(2)} CPU seconds in 3 s`);
  t.false(p1.log.some((l) => l.action === 'chose'));
  const { code, ms } = await p1.signal('SIGTERM');
  t.is(code, 0);
  // At once: a prompt exit takes well under a second, and a busy machine may
  // stretch it by a few; the bound only tells it from one that waits on something.
  t.true(ms < 5000, `took ${ms} ms to exit`);
});

test(
  'acceptors that never answer: the proposer retries with higher numbers, backing off, without ' + 'spinning',
  async (t) => {
    const c = await live(t, THREE);
    // a1 and a2 are up (they accept connections) but silent.
    const silent = await Promise.all(['a1', 'a2'].map((a) => new FakePeer(c, a).start()));
    t.teardown(async () => void (await Promise.all(silent.map((s) => s.close()))));
    const p1 = c.start('p1', ['-v', 'X', '--round-timeout', '0.2']);
    await until(() => silent[0]!.got.filter((m) => m.type === 'prepare').length >= 4, 'four rounds', 60_000);
    const ns = silent[0]!.got.flatMap((m) => (m.type === 'prepare' ? [m.n] : []));
    t.deepEqual(
      ns,
      [...ns].sort((a, b) => a - b),
    );
    t.is(new Set(ns).size, ns.length, `numbers never reused: ${ns.join(', ')}`);
    const cpu0 = p1.cpuSeconds();
    await delay(2000); // the point: 2 s of retrying, and almost no CPU used in them
    t.true(p1.cpuSeconds() - cpu0 < 0.3, 'retrying costs almost no CPU');
    const { code, ms } = await p1.signal('SIGINT');
    t.is(code, 0);
    t.true(ms < 5000, `took ${ms} ms to exit`); // as above
  },
);

test('crash and restart: an acceptor killed with -9 after promising keeps its promise', async (t) => {
  const c = await live(t, TWO_PROPOSERS);
  const [p1, p2] = await Promise.all([new FakePeer(c, 'p1').start(), new FakePeer(c, 'p2').start()]);
  t.teardown(async () => {
    await p1.close();
    await p2.close();
  });
  let a1 = c.start('a1');
  p2.send('a1', { type: 'prepare', from: p2.id, n: 2 });
  const promise = await p2.next('prepare_ack', 'a1');
  t.is(promise.promised, 2, 'a1 promised 2');

  await a1.kill9();
  a1 = c.start('a1');
  await a1.waitStderr(/listening on/);
  // Proposal 1 is below the promise: a1 must refuse it, even after the crash.
  p1.send('a1', { type: 'accept', from: p1.id, n: 1, v: 'X' });
  const ack = await p1.next('accept_ack', 'a1');
  t.is(ack.promised, 2, 'the reply shows the promise of 2: proposal 1 is rejected');
  t.is(ack.accepted, null, 'X was not accepted');
  t.true(a1.stderr.some((l) => /recovered state: promised 2/.test(l)));
});

test('crash and restart: an acceptor keeps the value it accepted', async (t) => {
  const c = await live(t, TWO_PROPOSERS);
  const [p1, p2] = await Promise.all([new FakePeer(c, 'p1').start(), new FakePeer(c, 'p2').start()]);
  t.teardown(async () => {
    await p1.close();
    await p2.close();
  });
  const a1 = c.start('a1');
  p1.send('a1', { type: 'accept', from: p1.id, n: 1, v: 'X' });
  t.deepEqual((await p1.next('accept_ack', 'a1')).accepted, { n: 1, v: 'X' });
  await a1.kill9();
  c.start('a1');
  p2.send('a1', { type: 'prepare', from: p2.id, n: 2 });
  const ack = await p2.next('prepare_ack', 'a1');
  t.deepEqual(ack.accepted, { n: 1, v: 'X' }, 'a later proposer still learns of X');
});

test('crash and restart: a proposer never reuses a proposal number', async (t) => {
  const c = await live(t, THREE);
  const fakes = await Promise.all(['a1', 'a2'].map((a) => new FakePeer(c, a).start()));
  t.teardown(async () => void (await Promise.all(fakes.map((f) => f.close()))));
  let p1 = c.start('p1', ['-v', 'X']);
  const first = await fakes[0]!.next('prepare', 'p1');
  t.is(first.n, 1);
  await p1.kill9();
  p1 = c.start('p1', ['-v', 'X']);
  const second = await fakes[0]!.next('prepare', 'p1');
  t.true(second.n > first.n, `after the restart it used ${second.n}, not ${first.n} again`);
  t.true(p1.stderr.some((l) => /recovered state: .*last proposals \{"1":1\}/.test(l)));
});

test('crash and restart: a learner still knows the chosen value, and a proposer that knows it stops', async (t) => {
  const c = await live(t, 'p1:proposer1\na1:acceptor1\na2:acceptor1\na3:acceptor1\nl1:learner1\n');
  let p1 = c.start('p1', ['-v', 'X']);
  let l1 = c.start('l1');
  for (const a of ['a1', 'a2', 'a3']) c.start(a);
  await l1.waitLine(isChose('X'), 'chose X');
  await p1.waitLine(isChose('X'), 'chose X');

  await l1.kill9();
  l1 = c.start('l1');
  await l1.waitStderr(/listening on/);
  t.true(
    l1.stderr.some((l) => /recovered state: .*chosen "X" at 1/.test(l)),
    'the learner still knows X',
  );

  await p1.kill9();
  p1 = c.start('p1', ['-v', 'Y']);
  await p1.waitStderr(/listening on/);
  await until(() => p1.lines.length > 0, 'p1 to print something', 5000);
  t.true(isChose('X')(p1.log[0]!), `first line after the restart: ${p1.lines[0]}`);
  t.false(
    p1.log.some((l) => l.action === 'sent' && l.message_type === 'prepare'),
    'and it proposes nothing',
  );
});

test('--exit-after-idle: a peer with nothing to do exits 0 on its own', async (t) => {
  const c = await live(t, THREE);
  const a1 = c.start('a1', ['--exit-after-idle', '0.5']);
  const { code } = await a1.closed;
  t.is(code, 0);
  t.true(a1.stderr.some((l) => /idle for 0.5 s; shutting down/.test(l)));
});

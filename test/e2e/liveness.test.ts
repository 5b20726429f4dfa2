// Dead links and silent peers, on real processes and sockets: a path that
// black-holes traffic without closing, a peer frozen with SIGSTOP, and
// heartbeats that never count as protocol activity.

import test from 'ava';
import { request } from '../../src/client/lab.js';
import { LiveCluster, until } from '../helpers/procs.js';
import { within } from '../helpers/cli.js';
import { FaultProxy as Proxy } from '../../src/tools/fault-net.js';

const TWO = 'p1:proposer1\np2:proposer2\na1:acceptor1,acceptor2\na2:acceptor1,acceptor2\na3:acceptor1,acceptor2\n';
const THREE = 'p1:proposer1\na1:acceptor1\na2:acceptor1\na3:acceptor1\n';

async function live(t: { teardown: (f: () => Promise<void>) => void }, hostsfile: string): Promise<LiveCluster> {
  const c = await new LiveCluster(hostsfile).init();
  t.teardown(() => c.close());
  return c;
}

const isChose = (v: string, n?: number) => (l: { action: string; message_value: string; proposal_num: number }) =>
  l.action === 'chose' && l.message_value === v && (n === undefined || l.proposal_num === n);

test(
  'a black-holed link: a later proposer still reaches a quorum through the redialed path ' + 'within seconds',
  async (t) => {
    const c = await live(t, TWO);
    // a3 never starts, so p2's quorum needs both a1 and a2, and p2 <-> a1 runs
    // through two proxies of ours (p2 -> a1 and a1 -> p2).
    const toA1 = new Proxy(c.endpoint('a1'));
    const toP2 = new Proxy(c.endpoint('p2'));
    t.teardown(() => toA1.close());
    t.teardown(() => toP2.close());
    const viaA1 = await toA1.start();
    const viaP2 = await toP2.start();
    const a1 = c.start('a1', ['--resolve', `p2=${viaP2.host}:${viaP2.port}`]);
    c.start('a2');
    const p1 = c.start('p1', ['-v', 'X']);
    const p2 = c.start('p2', ['--resolve', `a1=${viaA1.host}:${viaA1.port}`]);
    await p1.waitLine(isChose('X'), 'chose X');
    await until(() => toA1.open >= 1 && toP2.open >= 1, 'both proxied links to be up');
    await a1.waitLine(isChose('X', 1), 'a1 to learn X');

    // The path dies silently: both connections stay open, and nothing gets through.
    t.is(toA1.blackhole() + toP2.blackhole(), 2);
    const t0 = Date.now();
    // Given 120 s, a p2 that waited on the dead path (TCP gives up after many
    // minutes) would take them all; one that noticed it is far below half.
    const outcome = await request(c.endpoint('p2'), { type: 'submit', value: 'Y' }, null, 120_000);
    const ms = Date.now() - t0;
    t.is(outcome.kind, 'reply');
    t.like(outcome.kind === 'reply' ? outcome.result : {}, { status: 'chosen', value: 'X' }, 'p2 adopts X');
    t.true(ms < 60_000, `p2 decided ${ms} ms after the submit`);
    t.log(`p2 decided ${ms} ms after the path black-holed`);
    t.true(toA1.accepted >= 2 && toP2.accepted >= 2, 'both ends redialed through the proxies');
    t.true(
      // Silence on an open link, or (if the path died while the link was redialing) no welcome.
      p2.stderr.some((l) => /a1 at .*(nothing heard for|no welcome within)/.test(l)),
      `p2 declared its link to a1 dead:\n${p2.stderr.join('\n')}`,
    );
    await p2.waitLine(isChose('X'), 'p2 to print chose X');
  },
);

test('a frozen acceptor: the decision happens without it, and it catches up after SIGCONT', async (t) => {
  const c = await live(t, THREE);
  const [a1] = ['a1', 'a2', 'a3'].map((a) => c.start(a));
  // a1's accept and chose are held back, so a1 is frozen mid-round: it promised, and never
  // accepted. 5 s leaves the test time to freeze it however busy the machine (400 ms on accept
  // alone did not: a late SIGSTOP let the chose in).
  const p1 = c.start('p1', ['-v', 'X', '--delay', 'accept:a1=5000', '--delay', 'chose:a1=5000']);
  await a1!.waitLine((l) => l.action === 'sent' && l.message_type === 'prepare_ack', 'a1 to promise');
  a1!.child.kill('SIGSTOP');
  const frozenAt = Date.now();
  await p1.waitLine(isChose('X'), 'chose X without a1');
  // Long enough for p1 to declare its link to a1 dead: whatever it wrote there is lost.
  await p1.waitStderr(/a1 at .*nothing heard for/, 60_000);
  t.log(`p1 declared a1 dead ${Date.now() - frozenAt} ms after the freeze`);
  t.false(
    a1!.log.some((l) => l.action === 'chose'),
    'a frozen peer prints nothing',
  );
  a1!.child.kill('SIGCONT');
  const woke = Date.now();
  await a1!.waitLine(isChose('X', 1), 'a1 to learn X after waking', 60_000);
  t.log(`a1 learned X ${Date.now() - woke} ms after SIGCONT`);
  const receivedChose = a1!.log.filter((l) => l.action === 'received' && l.message_type === 'chose');
  t.is(
    receivedChose.length,
    1,
    `one received chose line, however many copies arrived: ${JSON.stringify(receivedChose)}`,
  );
  t.is(a1!.log.filter((l) => l.action === 'chose').length, 1, 'and one chose line');
  t.is(
    p1.log.filter((l) => l.action === 'sent' && l.message_type === 'chose').length,
    1,
    'p1 printed one sent chose: retransmissions are silent',
  );
});

test(
  'heartbeats are not protocol activity: every peer exits after --exit-after-idle once the ' + 'decision is made',
  async (t) => {
    const c = await live(t, 'p1:proposer1\na1:acceptor1\na2:acceptor1\na3:acceptor1\nl1:learner1\n');
    // l1 never starts, so p1 keeps retransmitting its chose: that is not activity either.
    const idle = ['--exit-after-idle', '1.5', '--peer-timeout', '0.5'];
    const procs = [c.start('p1', ['-v', 'X', ...idle]), ...['a1', 'a2', 'a3'].map((a) => c.start(a, idle))];
    await procs[0]!.waitLine(isChose('X'), 'chose X');
    const codes = await within(Promise.all(procs.map((p) => p.closed)), 60_000, null);
    t.not(codes, null, 'every peer exited within 60 s, although heartbeats kept flowing');
    t.deepEqual(
      codes?.map((x) => x.code),
      [0, 0, 0, 0],
    );
    for (const p of procs)
      t.false(
        p.lines.some((l) => l.includes('ping') || l.includes('pong')),
        `${p.host}: heartbeats never reach stdout`,
      );
  },
);

// Using the cluster from outside: clients, replica files, authentication,
// and values that need escaping, on real processes and sockets.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { paxos, ROOT as root, type Ran } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { runTestcase } from '../../src/runner/run.js';
import { FakePeer, LiveCluster, until, type Proc } from '../helpers/procs.js';

const TWO =
  'p1:proposer1\np2:proposer2\na1:acceptor1,acceptor2\na2:acceptor1,acceptor2\n' +
  'a3:acceptor1,acceptor2\nl1:learner1,learner2\n';
const SECRET = 'correct horse battery staple 42';

/** Run the paxos CLI asynchronously (the peers run in this test's event loop's sockets too); output trimmed. */
async function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  const r = await paxos(args, { env });
  return { ...r, out: r.out.trimEnd(), err: r.err.trimEnd() };
}

async function cluster(
  t: { teardown: (f: () => Promise<void>) => void },
  hosts = TWO,
  env: NodeJS.ProcessEnv = {},
): Promise<{ c: LiveCluster; peers: Map<string, Proc> }> {
  const c = await new LiveCluster(hosts).init();
  t.teardown(() => c.close());
  const peers = new Map(c.cluster.hosts.map((h) => [h.host, c.start(h.host, [], env)]));
  // A client may start faster than a peer: one that finds no listener is
  // told "nothing was done" (exit 5), as it should be, so wait for them.
  await Promise.all([...peers.values()].map((p) => p.waitStderr(/listening on/)));
  return { c, peers };
}

/** A peer learns the value from the chose message, a moment after the proposer answers its client. */
const learned = (p: Proc | undefined): Promise<void> =>
  p!.waitLine((l) => l.action === 'chose', `${p!.host} to learn the value`);

test('clients submit to each proposer at once: one value is chosen, and every client sees it', async (t) => {
  const { c, peers } = await cluster(t);
  const [a, b] = await Promise.all([
    cli(['submit', 'A', '--to', 'p1', ...c.clientFlags(), '--json']),
    cli(['submit', 'B', '--to', 'p2', ...c.clientFlags(), '--json']),
  ]);
  const ra = JSON.parse(a.out) as { status: string; value: string; yours: boolean };
  const rb = JSON.parse(b.out) as { status: string; value: string; yours: boolean };
  t.is(ra.status, 'chosen', a.out + a.err);
  t.is(rb.status, 'chosen', b.out + b.err);
  t.is(ra.value, rb.value, 'both clients see the same value');
  t.true(['A', 'B'].includes(ra.value));
  // Exactly one of them got its own value; the other is told, with exit 1.
  t.deepEqual([ra.yours, rb.yours].sort(), [false, true]);
  t.deepEqual([a.code, b.code].sort(), [0, 1]);
  const loser = ra.yours ? b : a;
  const human = await cli(['submit', ra.yours ? 'B' : 'A', '--to', ra.yours ? 'p2' : 'p1', ...c.clientFlags()]);
  t.is(human.code, 1);
  t.regex(
    human.out,
    new RegExp(
      `^chosen: "${ra.value}" \\(proposal \\d+\\), not your "${ra.yours ? 'B' : 'A'}": another value was chosen first$`,
    ),
  );
  t.truthy(loser);
  // And every peer agrees when asked.
  for (const peer of ['a1', 'a2', 'a3', 'l1', 'p1', 'p2']) {
    await learned(peers.get(peer));
    const g = await cli(['get', '--from', peer, ...c.clientFlags()]);
    t.is(g.code, 0, `${peer}: ${g.out} ${g.err}`);
    t.is(g.out, ra.value, peer);
  }
});

test('get before and after a decision; a non-proposer points to the proposers; a down peer is a refusal', async (t) => {
  const { c, peers } = await cluster(t);
  const before = await cli(['get', '--from', 'a2', ...c.clientFlags()]);
  t.is(before.code, 3);
  t.is(before.out, 'nothing chosen yet, as far as a2 knows');
  const json = await cli(['get', '--from', 'a2', ...c.clientFlags(), '--json']);
  t.deepEqual(JSON.parse(json.out), { status: 'not_chosen', peer: 'a2' });

  const wrong = await cli(['submit', 'V', '--to', 'a1', ...c.clientFlags()]);
  t.is(wrong.code, 5);
  t.is(wrong.out, 'refused: a1 is not a proposer; submit to one of: p1, p2');

  const ok = await cli(['submit', 'V', '--to', 'p1', ...c.clientFlags()]);
  t.is(ok.code, 0, ok.err);
  t.regex(ok.out, /^chosen: "V" \(proposal 1\)$/);
  await learned(peers.get('a2'));
  const after = await cli(['get', '--from', 'a2', ...c.clientFlags(), '--json']);
  t.like(JSON.parse(after.out), { status: 'chosen', peer: 'a2', value: 'V', proposal: 1 });
});

test(
  'a client that cannot reach the peer is told nothing was done (exit 5), and a silent peer gives "outcome ' +
    'unknown" (exit 4)',
  async (t) => {
    const c = await new LiveCluster(TWO).init();
    t.teardown(() => c.close());
    const down = await cli(['get', '--from', 'a1', ...c.clientFlags(), '--timeout', '2']);
    t.is(down.code, 5);
    t.regex(down.out, /^refused: cannot reach a1: ECONNREFUSED; nothing was done$/);
    // p1 accepts connections but never answers: the request left, the outcome is unknown.
    const mute = await new FakePeer(c, 'p1').start();
    t.teardown(() => mute.close());
    const r = await cli(['submit', 'V', '--to', 'p1', ...c.clientFlags(), '--timeout', '0.5']);
    t.is(r.code, 4);
    t.is(
      r.out,
      'outcome unknown: no answer within 0.5 s. "V" may or may not be chosen; ask with npx paxos get --from p1',
    );
  },
);

test('replica files: every peer that learned the value holds the same bytes after testcases 1 and 2', async (t) => {
  for (const tc of ['1', '2']) {
    const data = tempDir('replicas');
    const r = await runTestcase(path.join(root, 'testcases', tc), { timeoutMs: 120_000, dataRoot: data });
    t.true(r.ok, r.failure);
    for (const p of r.peers) {
      t.is(
        readFileSync(path.join(data, p.service.hostname, 'value'), 'utf8'),
        'X',
        `testcase ${tc}, ${p.service.label}`,
      );
    }
  }
});

test(
  'values with quotes, newlines and emoji round-trip through submit, the log, get and the replica; 1 MiB is ' +
    'refused clearly',
  async (t) => {
    const { c, peers } = await cluster(t, 'p1:proposer1\na1:acceptor1\na2:acceptor1\na3:acceptor1\n');
    const tricky = 'say "hi"\n\tback\\slash 🙂 é \u2028 end';
    const s = await cli(['submit', tricky, '--to', 'p1', ...c.clientFlags(), '--json']);
    t.is(s.code, 0, s.err);
    t.is((JSON.parse(s.out) as { value: string }).value, tricky);
    await learned(peers.get('a3'));
    const g = await cli(['get', '--from', 'a3', ...c.clientFlags()]);
    t.is(g.out, tricky.trimEnd());
    await until(() => {
      try {
        return readFileSync(path.join(c.dataDir('a2'), 'value'), 'utf8') === tricky;
      } catch {
        return false;
      }
    }, 'a2 replica');
    t.deepEqual(
      readFileSync(path.join(c.dataDir('a2'), 'value')),
      Buffer.from(tricky, 'utf8'),
      'the replica holds exactly the UTF-8 bytes',
    );
    // 1 MiB does not even fit on a command line (Linux caps one argument at
    // 128 KiB), so it goes through --value-file, and is refused with the limit.
    const bigFile = path.join(tempDir('big'), 'value');
    writeFileSync(bigFile, 'x'.repeat(1024 * 1024));
    const huge = await cli(['submit', '--value-file', bigFile, '--to', 'p1', ...c.clientFlags()]);
    t.is(huge.code, 2);
    t.is(huge.err, 'paxos: submit: the value is 1048576 bytes; values are at most 65536 bytes of UTF-8');
    const peer = await cli(['-h', c.file, '--name', 'p1', '-v', 'x'.repeat(70_000)]);
    t.is(peer.code, 2);
    t.regex(peer.err, /^paxos: -v: the value is over 65536 bytes$/);
    // The largest allowed value, with multi-byte characters, goes through whole.
    const fileValue = path.join(path.dirname(bigFile), 'ok');
    const largest = '€'.repeat(21_845) + 'x'; // 65536 bytes exactly
    writeFileSync(fileValue, largest);
    await learned(peers.get('a1'));
    const g2 = await cli(['get', '--from', 'a1', ...c.clientFlags(), '--json']);
    t.is(
      (JSON.parse(g2.out) as { value: string }).value,
      tricky,
      'the first value stands; later submits cannot change it',
    );
    const late = await cli(['submit', '--value-file', fileValue, '--to', 'p1', ...c.clientFlags(), '--json']);
    t.is(late.code, 1, 'another value was already chosen');
    t.is((JSON.parse(late.out) as { submitted: string }).submitted, largest);
  },
);

test('authentication: a peer with the wrong secret cannot join or affect the decision', async (t) => {
  const c = await new LiveCluster(
    'p1:proposer1\np2:proposer2\na1:acceptor1,acceptor2\na2:acceptor1,acceptor2\na3:acceptor1,acceptor2\n',
  ).init();
  t.teardown(() => c.close());
  const good = { PAXOS_SECRET: SECRET };
  const a1 = c.start('a1', [], good);
  c.start('a2', [], good);
  // a3 has the wrong secret: nobody will talk to it, nor it to anyone.
  const a3 = c.start('a3', [], { PAXOS_SECRET: 'wrong secret, wrong secret!!' });
  // A forger with the wrong secret tries to make a1 promise 99 as p2.
  const forger = await new FakePeer(c, 'p2', { source: 'test', key: Buffer.from('not the secret at all') }).start();
  t.teardown(() => forger.close());
  forger.send('a1', { type: 'prepare', from: 2, n: 99 });
  await a1.waitStderr(/closing connection from .*: peer_id 2 failed authentication \(a wrong secret\?\)/);
  const p1 = c.start('p1', ['-v', 'X'], good);
  await p1.waitLine((l) => l.action === 'sent' && l.message_type === 'chose', 'sent chose');
  // Had the forged prepare 99 counted, p1's proposal 1 would have been rejected.
  t.deepEqual(
    p1.log.filter((l) => l.action === 'sent').map((l) => `${l.message_type} ${l.proposal_num}`),
    ['prepare 1', 'accept 1', 'chose 1'],
  );
  t.deepEqual(forger.got, [], 'the forger never hears back');
  t.false(
    a3.log.some((l) => l.action === 'received'),
    'a3 took no part',
  );
  t.true(a1.stderr.some((l) => /closing connection from .*failed authentication/.test(l)));
  // The secret never appears in logs, errors or the process listing.
  for (const p of [a1, a3, p1]) {
    t.false([...p.stderr, ...p.lines].some((l) => l.includes(SECRET) || l.includes('wrong secret, wrong')));
    t.false(readFileSync(`/proc/${p.child.pid}/cmdline`, 'utf8').includes(SECRET));
  }
});

test('authentication: a client needs the secret, from a file or the environment', async (t) => {
  const dir = tempDir('secret');
  const secretFile = path.join(dir, 'secret');
  writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
  const c = await new LiveCluster('p1:proposer1\na1:acceptor1\na2:acceptor1\na3:acceptor1\n').init();
  t.teardown(() => c.close());
  const acceptors = ['a1', 'a2', 'a3'].map((h) => c.start(h, ['--secret-file', secretFile]));
  c.start('p1', ['-v', 'S'], { PAXOS_SECRET: SECRET });
  await learned(acceptors[0]);

  const none = await cli(['get', '--from', 'a1', ...c.clientFlags()]);
  t.is(none.code, 5);
  t.is(
    none.out,
    'refused: cannot reach a1: it requires the shared secret (pass --secret-file FILE or set PAXOS_SECRET); ' +
      'nothing was done',
  );
  const wrong = await cli(['get', '--from', 'a1', ...c.clientFlags()], { PAXOS_SECRET: 'a different long secret' });
  t.is(wrong.code, 5);
  t.regex(
    wrong.out,
    new RegExp(
      /^refused: cannot reach a1: authentication failed: it closed the connection during the /.source +
        /handshake \(a wrong secret\?\); nothing was done$/.source,
    ),
  );
  t.false(wrong.out.includes('a different long secret'));
  const right = await cli(['get', '--from', 'a1', ...c.clientFlags(), '--secret-file', secretFile]);
  t.is(right.code, 0, right.out);
  t.is(right.out, 'S');
});

test('with no secret, a peer says once on stderr that it runs open', async (t) => {
  const c = await new LiveCluster('p1:proposer1\na1:acceptor1\n').init();
  t.teardown(() => c.close());
  const a1 = c.start('a1');
  await a1.waitStderr(/listening on/);
  t.is(
    a1.stderr.filter((l) =>
      /no shared secret \(--secret-file or PAXOS_SECRET\): connections are not authenticated/.test(l),
    ).length,
    1,
  );
});

test('a malformed auth line (a MAC with non-ASCII) is a failed authentication, not a crash', async (t) => {
  const c = await new LiveCluster('p1:proposer1\na1:acceptor1\n').init();
  t.teardown(() => c.close());
  const a1 = c.start('a1', [], { PAXOS_SECRET: SECRET });
  await a1.waitStderr(/listening on/);
  const { createConnection } = await import('node:net');
  const at = c.endpoint('a1');
  for (const mac of ['é'.repeat(64), 'zz', 'A'.repeat(64), '']) {
    const s = createConnection({ host: at.host, port: at.port });
    s.on('error', () => undefined);
    // A crashed a1 sends no challenge: the close (or refusal) ends the wait with ''.
    const challenge = await new Promise<string>((resolve) => {
      s.once('data', (d: Buffer) => resolve(d.toString()));
      s.once('close', () => resolve(''));
    });
    t.regex(challenge, /"type":"challenge","nonce":"[0-9a-f]{32}"/);
    s.write(`${JSON.stringify({ type: 'auth', from: 2, nonce: '0'.repeat(32), mac })}\n`);
    await new Promise((resolve) => s.once('close', resolve));
  }
  t.is(a1.exit, null, 'a1 is still up');
  const g = await cli(['get', '--from', 'a1', ...c.clientFlags()], { PAXOS_SECRET: SECRET });
  t.is(g.code, 3, 'and still serves authenticated clients');
  t.false(a1.stderr.some((l) => /TypeError|RangeError|ERR_CRYPTO/.test(l)));
});

test('a peer without the secret, among peers that require it, says so once', async (t) => {
  const c = await new LiveCluster('p1:proposer1\na1:acceptor1\na2:acceptor1\n').init();
  t.teardown(() => c.close());
  const a1 = c.start('a1', [], { PAXOS_SECRET: SECRET });
  c.start('a2', [], { PAXOS_SECRET: SECRET });
  const p1 = c.start('p1', ['-v', 'X']);
  await p1.waitStderr(/a1 at .* requires a shared secret, and this peer has none \(--secret-file or PAXOS_SECRET\)/);
  // Let p1's link to a1 be refused a few more times: the warning must not repeat.
  await until(
    () => a1.stderr.filter((l) => l.includes('closing connection')).length >= 3,
    'a1 to refuse p1 three times',
  );
  t.is(p1.stderr.filter((l) => l.includes('a1 at') && l.includes('requires a shared secret')).length, 1);
  t.false(p1.log.some((l) => l.action === 'chose'));
});

test('a malformed client request gets an "invalid" answer instead of silence', async (t) => {
  const c = await new LiveCluster('p1:proposer1\na1:acceptor1\n').init();
  t.teardown(() => c.close());
  const a1 = c.start('a1');
  await a1.waitStderr(/listening on/);
  const { createConnection } = await import('node:net');
  const at = c.endpoint('a1');
  const s = createConnection({ host: at.host, port: at.port });
  s.on('error', () => undefined);
  await new Promise((r) => s.once('connect', r));
  s.write(`${JSON.stringify({ type: 'submit', id: 'r1', value: '' })}\n`);
  const answer = await new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
  s.destroy();
  t.deepEqual(JSON.parse(answer), {
    type: 'result',
    id: 'r1',
    status: 'invalid',
    peer: '',
    why: '"value" must not be empty',
  });
});

// Locks and elections on a real kv3: examples/lock-counter.mjs in 5
// processes (a read-modify-write under the lock, no lost update); `paxos
// lock NAME -- CMD` in several processes at once, CMD's exit status, and a
// lock lost while CMD runs (CMD gets SIGTERM, exit 1); an election with two
// campaigners, the second leading once the first resigns, seen by an
// observer; and `paxos elect` with --listen.

import test from 'ava';
import { LeaseLostError } from 'paxos-prj4/client';
import { DIST, paxos, ROOT, run, startPaxos, until, within } from '../helpers/cli.js';
import { startKv3 } from '../helpers/kv3.js';

test.serial(
  'examples/lock-counter.mjs: 5 processes, 10 increments each under the lock, and it ends at 50',
  async (t) => {
    const { kv, env } = await startKv3(t);
    const runs = await Promise.all(
      Array.from({ length: 5 }, () =>
        run(process.execPath, [`${ROOT}/examples/lock-counter.mjs`, 'counter', '10'], { env }),
      ),
    );
    for (const r of runs) t.is(r.code, 0, r.err);
    // Each printed the value its own last increment set: all different, the largest 50.
    const last = runs.map((r) => Number(r.out.trim())).sort((a, b) => a - b);
    t.is(new Set(last).size, 5);
    t.is(last.at(-1), 50);
    t.is(await kv.get('counter'), '50');
    // Every lock was released: its lease revoked, its key gone.
    t.deepEqual(await kv.leases(), []);
    t.is((await kv.range({ prefix: 'counter.lock/' })).count, 0);
  },
);

test.serial('paxos lock NAME -- CMD: one at a time, the key in PAXOS_LOCK_KEY, exit status; a lost lock', async (t) => {
  const { kv, env } = await startKv3(t);
  // CMD: read n, wait a little (a window for another holder to slip in, were the lock broken), write n + 1.
  const api = `${DIST}/src/client/api.js`;
  const script =
    `const { connect } = await import(${JSON.stringify(api)});` +
    "const key = process.env.PAXOS_LOCK_KEY; if (!key?.startsWith('n.lock/')) process.exit(9);" +
    'const kv = await connect();' +
    "const n = Number((await kv.get('n')) ?? '0');" +
    'await new Promise((r) => setTimeout(r, 100));' +
    "await kv.put('n', String(n + 1)); await kv.close();";
  const one = (): Promise<number | null> =>
    paxos(['lock', 'n.lock', '--', process.execPath, '--input-type=module', '-e', script], { env }).then((r) => {
      if (r.code !== 0) t.log(r.err);
      return r.code;
    });
  const codes = await Promise.all(
    Array.from({ length: 4 }, async () => {
      const a = await one();
      const b = await one();
      return [a, b];
    }),
  );
  t.deepEqual(codes.flat(), Array(8).fill(0));
  t.is(await kv.get('n'), '8');
  t.deepEqual(await kv.leases(), []);

  // CMD's exit status is the lock's.
  const seven = await paxos(['lock', 'x', '--', process.execPath, '-e', 'process.exit(7)'], { env });
  t.is(seven.code, 7, seven.err);
  const missing = await paxos(['lock', 'x', '--', '/nonexistent/command'], { env });
  t.is(missing.code, 127);
  t.regex(missing.err, /cannot run \/nonexistent\/command: ENOENT/);

  // The lock is lost while CMD runs (someone deletes its key): CMD gets SIGTERM, and the exit status is 1.
  const holder = startPaxos(
    ['lock', 'lost', '--verbose', '--', process.execPath, '-e', 'setInterval(() => {}, 1000)'],
    { env },
  );
  t.teardown(() => holder.kill());
  const [, key] = await holder.waitFor(/holding lost \(key (lost\/[0-9a-f]+),/);
  const del = await paxos(['del', key!], { env });
  t.is(del.code, 0, del.err);
  const ended = await within(holder.ended, 120_000, null);
  t.not(ended, null, 'paxos lock ended');
  t.is(ended!.code, 1);
  t.regex(ended!.err, /lost the lock lost while .* ran: lost\/[0-9a-f]+ was deleted .*; sent it SIGTERM/);
  await until(async () => (await kv.leases()).length === 0, 'the lost lock to revoke its lease');
});

test.serial('election: the second campaigner leads once the first resigns; an observer sees both', async (t) => {
  const { kv, env } = await startKv3(t);
  const seen: string[] = [];
  const stopObserving = new AbortController();
  const observing = (async () => {
    for await (const l of kv.election('db').observe({ signal: stopObserving.signal })) seen.push(l.value);
  })();
  const first = kv.election('db');
  const second = kv.election('db');
  await first.campaign('one');
  t.true(first.isLeader);
  // observe() reports the latest leader, and may skip one that changed before it looked: let it see this one.
  await until(() => seen.includes('one'), 'the observer to see the first leader');
  t.like(await second.leader(), { value: 'one', key: first.key });
  let secondLeads = false;
  const campaigning = second.campaign('two').then(() => (secondLeads = true));
  // The second stands in line (its key is there) but does not lead.
  await until(async () => (await kv.range({ prefix: 'db/' })).count === 2, 'the second candidate to stand');
  t.false(secondLeads);
  t.like(await first.leader(), { value: 'one' });
  await first.proclaim('one again');
  t.like(await second.leader(), { value: 'one again' });
  await first.resign();
  t.false(first.isLeader);
  t.like(first.signal?.reason as LeaseLostError, { reason: 'revoked' });
  await within(campaigning, 60_000, null);
  t.true(secondLeads);
  t.true(second.isLeader);
  t.like(await first.leader(), { value: 'two', key: second.key });
  await until(() => seen.at(-1) === 'two', 'the observer to see the second leader');
  t.is(seen[0], 'one');
  t.true(seen.includes('two'));

  // paxos elect: a CLI candidate waits behind the library's, leads once it resigns; --listen prints each leader.
  const listen = startPaxos(['elect', 'db', '--listen'], { env });
  t.teardown(() => listen.kill());
  await listen.waitFor(/^two$/m);
  const cli = startPaxos(['elect', 'db', 'three'], { env });
  t.teardown(() => cli.kill());
  await until(async () => (await kv.range({ prefix: 'db/' })).count === 2, 'paxos elect to stand');
  t.is(cli.out, '', 'not elected while the library leads');
  await second.resign();
  await cli.waitFor(/^elected: leading db as "three" \(key db\/[0-9a-f]+\)$/m);
  await listen.waitFor(/^three$/m);
  cli.interrupt();
  const resigned = await cli.ended;
  t.is(resigned.code, 0, resigned.err);
  t.regex(resigned.out, /^resigned: db$/m);
  t.is(await kv.election('db').leader(), null);
  listen.interrupt();
  const listened = await listen.ended;
  t.is(listened.code, 0, listened.err);
  t.deepEqual(listened.out.trimEnd().split('\n'), ['two', 'three']);
  stopObserving.abort();
  await observing;
});

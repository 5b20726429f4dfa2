// The client library (paxos-prj4/client) against a real kv3: imported by
// the package's name, as a program would; put, get, del and cas; calls in
// flight at once; a killed leader; typed errors for bad input, an aborted
// call, a closed client and a cluster that is not there; and the same
// command (client id and seq) carried on to the next replica when one took
// it and never answered.

import { writeFileSync } from 'node:fs';
import net from 'node:net';
import test from 'ava';
import { LiveCluster, type Proc } from '../helpers/procs.js';
import { kvAsk } from '../helpers/kv.js';
import { MAIN, ROOT, run } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
// By the package's name, through package.json's "exports", as a user's program imports it.
import { connect, DefiniteError, UnknownOutcomeError, type KvClient, type WatchEvent } from 'paxos-prj4/client';
import { setTimeout as delay } from 'node:timers/promises';

const KV3 = 'peer1:replica\npeer2:replica\npeer3:replica\n';
const HOSTS = ['peer1', 'peer2', 'peer3'];

function endpointsOf(live: LiveCluster): string {
  return HOSTS.map((h) => `${h}=${live.endpoint(h).host}:${live.endpoint(h).port}`).join(',');
}

async function leaderOf(live: LiveCluster): Promise<string> {
  for (let i = 0; i < 200; i++) {
    for (const h of HOSTS) {
      const r = await kvAsk(live.endpoint(h), { type: 'dump' }, 1000);
      if (r?.status === 'dump' && r.leader !== undefined && HOSTS.includes(r.leader)) return r.leader;
    }
  }
  throw new Error('no leader named');
}

test('kv3 through the library: put, get, del, cas, calls in flight at once, and a killed leader', async (t) => {
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  const procs = new Map<string, Proc>(HOSTS.map((h) => [h, live.start(h)]));
  // Generous: the cluster elects a leader meanwhile, on a busy machine.
  const kv: KvClient = await connect({ endpoints: endpointsOf(live), timeoutMs: 60_000, concurrency: 8 });
  t.teardown(() => kv.close());

  const first = await kv.put('greeting', 'hello');
  t.is(first.prev, null);
  t.true(first.slot > 0);
  t.is(await kv.get('greeting'), 'hello');
  t.is(await kv.get('absent'), null);
  const w = await kv.put('greeting', 'world');
  t.is(w.prev, 'hello');
  t.true(w.slot > 0);
  t.deepEqual(await kv.cas('greeting', 'nope', 'x'), { swapped: false, current: 'world' });
  const swapped = await kv.cas('greeting', 'world', 'again');
  t.true(swapped.swapped);
  t.like(await kv.cas('fresh', null, 'first'), { swapped: true });
  t.deepEqual((await kv.del('fresh')).prev, 'first');
  t.is(await kv.get('fresh'), null);

  // 40 calls at once over 8 sessions: each applied once.
  const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
  await Promise.all(keys.map((k) => kv.put(k, `v-${k}`)));
  t.deepEqual(
    await Promise.all(keys.map((k) => kv.get(k))),
    keys.map((k) => `v-${k}`),
  );

  // Ranges, read by index: the 40 keys in order (k0, k1, k10, ...), with a limit, keys or count only.
  const sorted = [...keys].sort();
  const all = await kv.range({ prefix: 'k' });
  t.deepEqual(
    all.entries.map((e) => e.key),
    sorted,
  );
  t.is(all.entries[0]!.value, `v-${sorted[0]}`);
  t.like(all, { count: 40, more: false });
  const page = await kv.range({ from: 'k1', to: 'k2', limit: 3 });
  t.deepEqual(
    page.entries.map((e) => e.key),
    ['k1', 'k10', 'k11'],
  );
  t.like(page, { count: 11, more: true });
  t.like(await kv.range({ prefix: 'k3', countOnly: true }), { count: 11, entries: [] });
  const e = await t.throwsAsync(kv.range({ from: 'b', to: 'a' }));
  t.is((e as DefiniteError).reason, 'invalid');
  // The CLI's range runs on the library.
  const env = { PAXOS_ENDPOINTS: endpointsOf(live) };
  const cli = await run(process.execPath, [MAIN, 'get', '--prefix', 'k3', '--limit', '2'], { env });
  t.is(cli.code, 0, cli.err);
  t.is(cli.out, 'k3\tv-k3\nk30\tv-k30\n');
  t.regex(cli.err, /2 of 11 keys shown/);
  const keysOnly = await run(process.execPath, [MAIN, 'get', 'k38', 'k4', '--keys-only'], { env });
  t.is(keysOnly.out, 'k38\nk39\n', keysOnly.err);
  const json = await run(process.execPath, [MAIN, 'get', '--prefix', 'k', '--count-only', '--json'], { env });
  t.like(JSON.parse(json.out) as Record<string, unknown>, { outcome: 'ok', status: 'range', count: 40, prefix: 'k' });
  const bad = await run(process.execPath, [MAIN, 'get', '--prefix', 'k', '--limit', '0'], { env });
  t.is(bad.code, 2);
  t.regex(bad.err, /--limit expects an integer from 1 to 10000/);

  // The leader dies: the next calls go on to the others.
  const leader = await leaderOf(live);
  await procs.get(leader)!.kill9();
  const t0 = Date.now();
  t.is((await kv.put('after', 'failover')).prev, null);
  t.log(`put after killing leader ${leader}: ${Date.now() - t0} ms`);
  t.is(await kv.get('after'), 'failover');
  t.is(await kv.get('greeting'), 'again');
});

test("transactions on kv3: the library's builder and paxos txn, then or else, all in one slot", async (t) => {
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  for (const h of HOSTS) live.start(h);
  const kv = await connect({ endpoints: endpointsOf(live), timeoutMs: 60_000 });
  t.teardown(() => kv.close());
  await kv.put('alice', '100');
  // Move 10 from alice to bob, if alice still holds 100 and bob has no account.
  const moved = await kv
    .txn()
    .if('alice', '=', '100')
    .if('bob', '=', null)
    .then({ op: 'put', key: 'alice', value: '90' }, { op: 'put', key: 'bob', value: '10' }, { op: 'get', key: 'alice' })
    .else({ op: 'get', key: 'alice' })
    .commit();
  t.true(moved.succeeded);
  const base = (await kv.getEntry('alice'))!;
  t.deepEqual(moved.results, [
    { op: 'put', key: 'alice', prev: '100' },
    { op: 'put', key: 'bob', prev: null },
    { op: 'get', key: 'alice', value: '90', createRevision: base.createRevision, modRevision: moved.slot, version: 2 },
  ]);
  // Again: alice is 90 now, so the else list runs, and nothing changes.
  const again = await kv
    .txn()
    .if('alice', '=', '100')
    .then({ op: 'put', key: 'alice', value: '0' })
    .else({ op: 'get', key: 'alice' })
    .commit();
  t.like(again.results[0], { op: 'get', key: 'alice', value: '90', modRevision: moved.slot, version: 2 });
  t.is(again.results.length, 1);
  t.false(again.succeeded);
  t.is(await kv.get('alice'), '90');
  // A builder awaited without commit() still runs, once.
  await (kv.txn().then({ op: 'put', key: 'awaited', value: 'yes' }) as unknown as Promise<unknown>);
  t.is(await kv.get('awaited'), 'yes');
  const bad = await t.throwsAsync(kv.txn().then({ op: 'put', key: '', value: 'x' }).commit());
  t.is((bad as DefiniteError).reason, 'invalid');

  // paxos txn, from a file, and with --json.
  const env = { PAXOS_ENDPOINTS: endpointsOf(live) };
  const dir = tempDir('txn');
  const file = `${dir}/move.txn`;
  writeFileSync(file, '# move 5 more\nalice = 90\ncarol absent\n\nput alice 85\nput bob 15\n\nget alice\n');
  const r = await run(process.execPath, [MAIN, 'txn', '--file', file], { env });
  t.is(r.code, 0, r.err);
  t.is(
    r.out,
    /then: every compare held \(slot \d+\)\n/.exec(r.out)![0] +
      'put "alice": ok (it was "90")\nput "bob": ok (it was "10")\n',
  );
  const j = await run(process.execPath, [MAIN, 'txn', '--json'], { env, input: 'alice = 90\n\n\nget "alice"\n' });
  t.like(JSON.parse(j.out) as Record<string, unknown>, {
    outcome: 'ok',
    succeeded: false,
    results: [{ op: 'get', key: 'alice', value: '85' }],
  });
  // A replica refuses bad ranges and transactions off the wire, saying why, and applies nothing.
  const at = live.endpoint('peer1');
  t.like(await raw(at, { type: 'range', id: 'r1', from: 'b', to: 'a' }), {
    status: 'invalid',
    why: 'range: "to" must come after "from"',
  });
  t.like(await raw(at, { type: 'range', id: 'r2', prefix: 'a', limit: 0 }), { status: 'invalid' });
  const tooMany = Array.from({ length: 129 }, () => ['get', 'a']);
  const txnCmd = { o: 'txn', c: 'raw-1', s: 1, if: [], then: tooMany, else: [] };
  t.like(await raw(at, { type: 'kv', id: 't1', cmd: txnCmd }), {
    status: 'invalid',
    why: 'txn: 129 compares and ops, over the limit of 128',
  });
  t.is(await kv.get('alice'), '85');
  const usage = await run(process.execPath, [MAIN, 'txn'], { env, input: 'alice ~ 90\n' });
  t.is(usage.code, 2);
  t.regex(usage.err, /standard input line 1: a compare is KEY = VALUE, KEY != VALUE, KEY absent, KEY present or/);
});

test(
  'revisions on kv3: create, mod and version through the library and the CLI; cas on them; the same on ' +
    'every replica, across a restart from a snapshot',
  async (t) => {
    const live = await new LiveCluster(KV3).init();
    t.teardown(() => live.close());
    // Snapshots every 5 slots, so a restarted replica loads its keys' revisions from one.
    const procs = new Map<string, Proc>(HOSTS.map((h) => [h, live.start(h, ['--snapshot-every', '5'])]));
    const kv = await connect({ endpoints: endpointsOf(live), timeoutMs: 60_000 });
    t.teardown(() => kv.close());
    const p1 = await kv.put('cfg', 'v1');
    const p2 = await kv.put('cfg', 'v2');
    t.deepEqual(await kv.getEntry('cfg'), {
      key: 'cfg',
      value: 'v2',
      createRevision: p1.slot,
      modRevision: p2.slot,
      version: 2,
    });
    t.is(await kv.getEntry('nothing'), null);
    // cas on the mod revision: a stale one changes nothing; the current one swaps.
    t.deepEqual(await kv.cas('cfg', { modRevision: p1.slot }, 'lost'), { swapped: false, current: 'v2' });
    const won = await kv.cas('cfg', { modRevision: p2.slot }, 'v3');
    t.true(won.swapped);
    t.like(await kv.cas('new', { version: 0 }, 'made'), { swapped: true }, 'version 0: only if absent');
    t.like(await kv.cas('new', { version: 0 }, 'again'), { swapped: false, current: 'made' });
    const r = await kv.range({ prefix: 'cfg' });
    t.like(r.entries[0], { key: 'cfg', value: 'v3', createRevision: p1.slot, version: 3 });

    // The CLI: get --json shows them; cas --mod-revision; a txn compare on one.
    const env = { PAXOS_ENDPOINTS: endpointsOf(live) };
    const g = await run(process.execPath, [MAIN, 'get', 'cfg', '--json'], { env });
    const got = JSON.parse(g.out) as { modRevision: number; createRevision: number; version: number };
    t.like(got, { value: 'v3', createRevision: p1.slot, version: 3 });
    const stale = await run(process.execPath, [MAIN, 'cas', 'cfg', '--mod-revision', String(p2.slot), 'x'], { env });
    t.is(stale.code, 1, stale.out + stale.err);
    t.regex(stale.out, new RegExp(`"cfg" is not at mod revision ${p2.slot} \\(its value is "v3"`));
    const ok = await run(process.execPath, [MAIN, 'cas', 'cfg', '--mod-revision', String(got.modRevision), 'v4'], {
      env,
    });
    t.is(ok.code, 0, ok.out + ok.err);
    t.regex(ok.out, new RegExp(`ok: "cfg" = "v4" \\(it was mod revision ${got.modRevision}; slot \\d+`));
    const both = await run(process.execPath, [MAIN, 'cas', 'cfg', '--absent', '--version', '1', 'x'], { env });
    t.is(both.code, 2);
    t.regex(both.err, /cas takes one of --absent, --mod-revision and --version/);
    const txn = await run(process.execPath, [MAIN, 'txn'], { env, input: 'cfg version = 4\n\nput cfg v5\n' });
    t.is(txn.code, 0, txn.err);
    t.regex(txn.out, /^then: every compare held/);

    // Enough writes for snapshots; then a follower restarts from its own, and every store agrees, revisions and all.
    for (let i = 0; i < 20; i++) await kv.put(`k${i % 4}`, `v${i}`);
    const leader = await leaderOf(live);
    const follower = HOSTS.find((h) => h !== leader)!;
    await procs.get(follower)!.kill9();
    procs.set(follower, live.start(follower, ['--snapshot-every', '5']));
    const last = await kv.put('last', 'x');
    const dumps = await Promise.all(
      HOSTS.map(async (h) => {
        for (let i = 0; i < 600; i++) {
          const d = await kvAsk(live.endpoint(h), { type: 'dump' }, 2000);
          if (d?.status === 'dump' && d.applied >= last.slot) return [...d.data].sort(([a], [b]) => (a < b ? -1 : 1));
          await delay(100);
        }
        throw new Error(`${h} did not reach slot ${last.slot}`);
      }),
    );
    t.deepEqual(dumps[1], dumps[0]);
    t.deepEqual(dumps[2], dumps[0]);
    const cfg = dumps[0]!.find(([k]) => k === 'cfg')!;
    t.deepEqual([cfg[1], cfg[2], cfg[4]], ['v5', p1.slot, 5], 'value, create revision and version');
  },
);

test('a cluster with a shared secret: the library proves it; without it, a definite refusal naming it', async (t) => {
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  const secret = 'a shared secret of more than enough bytes';
  for (const h of HOSTS) live.start(h, [], { PAXOS_SECRET: secret });
  const kv = await connect({ endpoints: endpointsOf(live), secret, timeoutMs: 60_000 });
  t.teardown(() => kv.close());
  await kv.put('k', 'v');
  t.is(await kv.get('k'), 'v');
  const open = await connect({ endpoints: endpointsOf(live), timeoutMs: 5_000, env: {} });
  t.teardown(() => open.close());
  const e = await t.throwsAsync(open.put('k', 'w'));
  t.true(e instanceof DefiniteError);
  t.is((e as DefiniteError).reason, 'unavailable');
  t.regex(e!.message, /requires the shared secret/);
  const wrong = await connect({ endpoints: endpointsOf(live), secret: 'not the secret at all, no', timeoutMs: 5_000 })
    .then((c) => c.close().then(() => null))
    .catch((err: unknown) => err);
  t.true(wrong instanceof DefiniteError && /authentication failed/.test(wrong.message), String(wrong));
  t.is(await kv.get('k'), 'v', 'nothing was written by either');
});

test('kv5 via the library: reads, writes, a range, a txn, revisions, a backup, across a killed leader', async (t) => {
  const hosts = ['peer1', 'peer2', 'peer3', 'peer4', 'peer5'];
  const live = await new LiveCluster(hosts.map((h) => `${h}:replica\n`).join('')).init();
  t.teardown(() => live.close());
  const procs = new Map<string, Proc>(hosts.map((h) => [h, live.start(h)]));
  const endpoints = hosts.map((h) => `${h}=${live.endpoint(h).host}:${live.endpoint(h).port}`);
  const kv = await connect({ endpoints, timeoutMs: 60_000, concurrency: 8 });
  t.teardown(() => kv.close());
  const keys = Array.from({ length: 20 }, (_, i) => `n${String(i).padStart(2, '0')}`);
  await Promise.all(keys.map((k) => kv.put(k, k)));
  t.deepEqual(await Promise.all(keys.map((k) => kv.get(k))), keys);
  t.like(await kv.range({ prefix: 'n', countOnly: true }), { count: 20 });
  let leader = '';
  for (let i = 0; i < 200 && leader === ''; i++)
    for (const h of hosts) {
      const r = await kvAsk(live.endpoint(h), { type: 'dump' }, 1000);
      if (r?.status === 'dump' && r.leader !== undefined && hosts.includes(r.leader)) leader = r.leader;
    }
  t.not(leader, '');
  await procs.get(leader)!.kill9();
  const r = await kv
    .txn()
    .if('n00', '=', 'n00')
    .then({ op: 'del', key: 'n00' }, { op: 'put', key: 'n20', value: 'x' })
    .commit();
  t.true(r.succeeded);
  t.is(await kv.get('n00'), null);
  t.deepEqual(
    (await kv.range({ from: 'n18' })).entries.map((e) => e.key),
    ['n18', 'n19', 'n20'],
  );
  // Revisions across the new leader: the transaction's put is at its slot, and cas on it holds.
  const n20 = (await kv.getEntry('n20'))!;
  t.like(n20, { modRevision: r.slot, createRevision: r.slot, version: 1 });
  t.like(await kv.cas('n20', { modRevision: n20.modRevision }, 'y'), { swapped: true });
  t.like(await kv.cas('n20', { modRevision: n20.modRevision }, 'z'), { swapped: false, current: 'y' });
  // A backup of the four live replicas' store, checked.
  const dir = tempDir('kv5-backup');
  const env = { PAXOS_ENDPOINTS: endpoints.join(',') };
  const saved = await run(process.execPath, [MAIN, 'snapshot', 'save', `${dir}/kv5.backup`, '--json'], { env });
  t.is(saved.code, 0, saved.err);
  t.like(JSON.parse(saved.out) as Record<string, unknown>, { outcome: 'ok', keys: 20 });
  const status = await run(process.execPath, [MAIN, 'snapshot', 'status', `${dir}/kv5.backup`]);
  t.regex(status.out, /: 20 keys as of slot \d+/);
});

test('watch on kv3: events in log order; it goes on at another replica with none missed or repeated', async (t) => {
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  // Snapshots every 20 slots: a restarted replica starts from one, and holds no history before it.
  const flags = ['--snapshot-every', '20'];
  const procs = new Map<string, Proc>(HOSTS.map((h) => [h, live.start(h, flags)]));
  const kv = await connect({ endpoints: endpointsOf(live), timeoutMs: 60_000 });
  t.teardown(() => kv.close());
  for (let i = 0; i < 30; i++) await kv.put('before', String(i));
  const w = kv.watch({ prefix: 'w/' });
  t.teardown(() => w.close());
  const seen: WatchEvent[] = [];
  const collecting = (async () => {
    for await (const e of w) seen.push(e);
  })();
  const until = async (n: number): Promise<void> => {
    for (let i = 0; i < 600 && seen.length < n; i++) await delay(50);
  };
  for (let i = 0; i < 1200 && w.startRevision === undefined; i++) await delay(50);
  await kv.put('w/a', '1');
  await kv.put('other', 'not watched');
  await kv.put('w/b', '2');
  await kv.del('w/a');
  await kv.txn().then({ op: 'put', key: 'w/c', value: '3' }, { op: 'del', key: 'w/b' }).commit();
  await until(5);
  t.deepEqual(
    seen.map((e) => [e.type, e.key, e.value]),
    [
      ['put', 'w/a', '1'],
      ['put', 'w/b', '2'],
      ['delete', 'w/a', null],
      ['put', 'w/c', '3'],
      ['delete', 'w/b', null],
    ],
  );
  t.is(seen[3]!.rev, seen[4]!.rev, 'one transaction, one revision');
  // The replica serving the watch dies; the watch goes on at another.
  const serving = w.servedBy!;
  await procs.get(serving)!.kill9();
  for (let i = 1; i <= 5; i++) await kv.put(`w/${i}`, String(i));
  await until(10);
  t.deepEqual(
    seen.slice(5).map((e) => e.key),
    ['w/1', 'w/2', 'w/3', 'w/4', 'w/5'],
  );
  const revs = seen.map((e) => e.rev);
  t.deepEqual(
    revs,
    [...revs].sort((a, b) => a - b),
    'in log order',
  );
  t.not(w.servedBy, serving);
  // From a past revision: the same events again, from another replica's history.
  const again = kv.watch({ prefix: 'w/', fromRevision: w.startRevision! });
  const replay: WatchEvent[] = [];
  for await (const e of again) {
    replay.push(e);
    if (replay.length === seen.length) break;
  }
  again.close();
  t.deepEqual(replay, seen);
  // The restarted replica holds no history from before its snapshot: a watch there from revision 1 is refused.
  procs.set(serving, live.start(serving, flags));
  const only = await connect({
    endpoints: [`${serving}=${live.endpoint(serving).host}:${live.endpoint(serving).port}`],
    timeoutMs: 60_000,
  });
  t.teardown(() => only.close());
  await only.put('w/after', 'restart');
  const old = only.watch({ key: 'w/a', fromRevision: 1 });
  const err = await t.throwsAsync(
    (async () => {
      // eslint-disable-next-line @typescript-eslint/no-unused-vars -- only the error matters
      for await (const _ of old) break;
    })(),
  );
  t.true(err instanceof DefiniteError);
  t.is((err as DefiniteError).reason, 'compacted');
  t.regex(err!.message, /^compacted: oldest revision is \d+$/);
  // The CLI: the same events from the same revision; and the compacted refusal.
  const env = { PAXOS_ENDPOINTS: endpointsOf(live) };
  const args = ['watch', '--prefix', 'w/', '--rev', String(w.startRevision), '--count', '10'];
  const cli = await run(process.execPath, [MAIN, ...args], { env });
  t.is(cli.code, 0, cli.err);
  t.deepEqual(
    cli.out.trimEnd().split('\n'),
    seen
      .slice(0, 10)
      .map((e) => [e.rev, e.type === 'put' ? 'put' : 'del', e.key, ...(e.value === null ? [] : [e.value])].join('\t')),
  );
  const restarted = `${serving}=${live.endpoint(serving).host}:${live.endpoint(serving).port}`;
  const gone = await run(process.execPath, [MAIN, 'watch', 'w/a', '--rev', '1', '--endpoints', restarted], { env: {} });
  t.is(gone.code, 1);
  t.regex(gone.err, /^paxos watch: compacted: oldest revision is \d+\n$/);
  w.close();
  await collecting;
});

test('examples/counter.mjs: 5 processes increment one counter 10 times each, and it ends at 50', async (t) => {
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  for (const h of HOSTS) live.start(h);
  const env = { PAXOS_ENDPOINTS: endpointsOf(live) };
  const runs = await Promise.all(
    Array.from({ length: 5 }, () => run(process.execPath, [`${ROOT}/examples/counter.mjs`, 'counter', '10'], { env })),
  );
  for (const r of runs) t.is(r.code, 0, r.err);
  // Each printed the value its own last increment set: all different, the largest 50.
  const last = runs.map((r) => Number(r.out.trim())).sort((a, b) => a - b);
  t.is(new Set(last).size, 5);
  t.is(last.at(-1), 50);
  const got = await run(process.execPath, [MAIN, 'get', 'counter'], { env });
  t.is(got.out, '50\n', got.err);
});

test('typed errors: bad input and an aborted call do nothing; a closed client refuses; nobody there', async (t) => {
  // Nothing listens at these ports: connect gives up, definitely.
  const dead = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
  // Generous: on a busy machine even a refusal can take a while to be seen.
  const err = await t.throwsAsync(connect({ endpoints: [`127.0.0.1:${dead}`], timeoutMs: 3000 }));
  t.true(err instanceof DefiniteError);
  t.is((err as DefiniteError).reason, 'unavailable');
  t.regex(err!.message, /no replica answered within 3 s \(127\.0\.0\.1:\d+: (ECONNREFUSED|could not connect within)/);

  const noEndpoints = await t.throwsAsync(connect({ env: {} }));
  t.is((noEndpoints as DefiniteError).reason, 'invalid');
  t.regex(noEndpoints!.message, /PAXOS_ENDPOINTS/);
  const badEndpoint = await t.throwsAsync(connect({ endpoints: 'peer1=host:notaport', env: {} }));
  t.is((badEndpoint as DefiniteError).reason, 'invalid');

  // A fake replica that answers every command "done", so calls reach it.
  const replica = await fakeReplica(() => ({ status: 'done', slot: 7, result: { r: 'ok' } }));
  t.teardown(() => replica.close());
  const kv = await connect({ endpoints: `r1=127.0.0.1:${replica.port}`, timeoutMs: 5000 });
  for (const [call, what] of [
    [() => kv.put('', 'x'), /the key must be a non-empty string/],
    [() => kv.put('k', 'x'.repeat(64 * 1024 + 1)), /over the 65536-byte limit/],
    [() => kv.get('\ud800'), /lone UTF-16 surrogate/],
  ] as const) {
    const e = await t.throwsAsync(call());
    t.true(e instanceof DefiniteError);
    t.is((e as DefiniteError).reason, 'invalid');
    t.regex(e!.message, what);
  }
  t.is(replica.got.length, 0, 'bad input never left the client');

  const aborted = await t.throwsAsync(kv.put('k', 'v', { signal: AbortSignal.abort() }));
  t.is((aborted as DefiniteError).reason, 'aborted');
  t.is(replica.got.length, 0);
  t.deepEqual(await kv.put('k', 'v'), { prev: null, slot: 7 });
  await kv.close();
  const closed = await t.throwsAsync(kv.get('k'));
  t.is((closed as DefiniteError).reason, 'closed');
});

test('a replica that took a command and never answered: the same client id and seq go to the next one', async (t) => {
  const silent = await fakeReplica(() => null);
  const answers = await fakeReplica(() => ({ status: 'done', slot: 3, result: { r: 'ok' } }));
  t.teardown(() => silent.close());
  t.teardown(() => answers.close());
  const kv = await connect({
    endpoints: [`a=127.0.0.1:${silent.port}`, `b=127.0.0.1:${answers.port}`],
    timeoutMs: 10_000,
  });
  t.teardown(() => kv.close());
  t.deepEqual(await kv.put('x', '1', { first: 'a' }), { prev: null, slot: 3 });
  t.is(silent.got.length, 1);
  t.is(answers.got.length, 1);
  t.deepEqual(silent.got[0]!['cmd'], answers.got[0]!['cmd'], 'the same command, client id and seq');
  // The next command of that session takes the next seq.
  await kv.put('x', '2', { first: 'b' });
  const seqs = answers.got.map((g) => (g['cmd'] as Record<string, unknown>)['s']);
  t.deepEqual(seqs, [1, 2]);

  // With every replica silent, the outcome is unknown, and typed so.
  const mute = await connect({ endpoints: [`a=127.0.0.1:${silent.port}`], timeoutMs: 1500 });
  t.teardown(() => mute.close());
  const e = await t.throwsAsync(mute.put('y', '1'));
  t.true(e instanceof UnknownOutcomeError);
  t.regex(e!.message, /may still take effect|took the request but no answer came/);
  // Aborted after it was sent: unknown too.
  const ac = new AbortController();
  const p = mute.put('z', '1', { signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  t.true((await t.throwsAsync(p)) instanceof UnknownOutcomeError);
});

test('a session the store forgot (expired): nothing was done, and the call goes on once in a new one', async (t) => {
  // Forgets every session after its first command.
  const forgetful = await fakeReplica((req) => {
    const s = (req['cmd'] as Record<string, unknown>)['s'];
    return s === 1
      ? { status: 'done', slot: 5, result: { r: 'ok' } }
      : { status: 'done', slot: 6, result: { r: 'expired' } };
  });
  t.teardown(() => forgetful.close());
  const kv = await connect({ endpoints: `f=127.0.0.1:${forgetful.port}`, concurrency: 1 });
  t.teardown(() => kv.close());
  await kv.put('a', '1');
  t.deepEqual(await kv.put('a', '2'), { prev: null, slot: 5 });
  const cmds = forgetful.got.map((g) => g['cmd'] as Record<string, unknown>);
  t.deepEqual(
    cmds.map((c) => c['s']),
    [1, 2, 1],
  );
  t.is(cmds[0]!['c'], cmds[1]!['c']);
  t.not(cmds[2]!['c'], cmds[1]!['c'], 'a new client id');
});

/** One request line to a replica, on a connection of its own; its first answer. */
async function raw(at: { host: string; port: number }, req: Record<string, unknown>): Promise<Record<string, unknown>> {
  const socket = net.connect(at);
  socket.setNoDelay(true);
  socket.write(`${JSON.stringify(req)}\n`);
  let buf = '';
  for await (const chunk of socket) {
    buf += (chunk as Buffer).toString('utf8');
    const nl = buf.indexOf('\n');
    if (nl >= 0) {
      socket.destroy();
      return JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
    }
  }
  throw new Error(`no answer to ${JSON.stringify(req)}`);
}

/** A replica stand-in on loopback: answers each kv request by `answer` (null: never), and keeps them. */
async function fakeReplica(
  answer: (req: Record<string, unknown>) => Record<string, unknown> | null,
): Promise<{ port: number; got: Array<Record<string, unknown>>; close: () => Promise<void> }> {
  const got: Array<Record<string, unknown>> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const req = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        got.push(req);
        const r = answer(req);
        if (r !== null) socket.write(`${JSON.stringify({ type: 'kv_result', id: req['id'], peer: 'fake', ...r })}\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    got,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// --metrics on a real kv3: /healthz, /readyz and /metrics (parsed with a
// Prometheus text-format parser) on every replica; the counters move under
// puts; snapshots' fsyncs are timed in a histogram of their own (every 5
// slots here); a killed leader is seen by the others' leader-change counters. And
// the flag's usage errors: a bad value, a lab peer, an address in use.

import net from 'node:net';
import test from 'ava';
import { connect } from 'paxos-prj4/client';
import { LiveCluster, type Proc } from '../helpers/procs.js';
import { paxos } from '../helpers/cli.js';
import { eventually, metricsUrl, probe, Scrape } from '../helpers/metrics.js';

const KV3 = 'peer1:replica\npeer2:replica\npeer3:replica\n';
const HOSTS = ['peer1', 'peer2', 'peer3'];
const PUTS = 20;

test('kv3 with --metrics: probes, counters under puts, and a killed leader', async (t) => {
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  const procs = new Map<string, Proc>(
    HOSTS.map((h) => [h, live.start(h, ['--metrics', '127.0.0.1:0', '--snapshot-every', '5'])]),
  );
  const urls = new Map<string, string>();
  for (const h of HOSTS) urls.set(h, await metricsUrl(procs.get(h)!));

  for (const h of HOSTS) {
    const url = urls.get(h)!;
    await eventually(async () => (await probe(url, '/readyz'))?.status === 200, `${h} /readyz 200`);
    t.deepEqual(await probe(url, '/healthz'), { status: 200, body: 'ok\n' });
    t.is((await probe(url, '/nope'))?.status, 404);
  }

  const endpoints = HOSTS.map((h) => `${h}=${live.endpoint(h).host}:${live.endpoint(h).port}`).join(',');
  const kv = await connect({ endpoints, timeoutMs: 60_000 });
  t.teardown(() => kv.close());
  let lastSlot = 0;
  for (let i = 0; i < PUTS; i++) lastSlot = Math.max(lastSlot, (await kv.put(`m${i}`, `v${i}`)).slot);

  // Every replica applies up to the last put's slot; then read the rest from the same scrapes.
  const scrapes = new Map<string, Scrape>();
  await eventually(async () => {
    for (const h of HOSTS) scrapes.set(h, await Scrape.of(urls.get(h)!));
    return HOSTS.every((h) => scrapes.get(h)!.value('paxos_applied_index') >= lastSlot);
  }, `every replica's paxos_applied_index >= ${lastSlot}`);
  const all = [...scrapes.values()];
  const sum = (f: (s: Scrape) => number): number => all.reduce((n, s) => n + f(s), 0);
  const leaders = HOSTS.filter((h) => scrapes.get(h)!.value('paxos_is_leader') === 1);
  t.is(leaders.length, 1, `one leader by paxos_is_leader: ${leaders.join(', ')}`);
  const leader = leaders[0]!;
  t.true(sum((s) => s.value('paxos_client_ops_total', { op: 'put', outcome: 'ok' })) >= PUTS);
  t.true(sum((s) => s.value('paxos_proposals_total', { outcome: 'chosen' })) >= PUTS);
  t.is(all[0]!.family('paxos_client_op_duration_seconds')?.type, 'HISTOGRAM');
  for (const s of all) {
    t.true(s.value('paxos_commit_index') >= lastSlot);
    t.true(s.count('paxos_wal_fsync_duration_seconds') > 0, 'fsyncs timed');
    t.true(s.value('paxos_snapshot_index') > 0, 'a snapshot taken');
    t.true(s.count('paxos_snapshot_fsync_duration_seconds') >= 2, "a snapshot's fsyncs timed");
    t.true(s.count('paxos_apply_lag_seconds') > 0, 'apply lag observed');
    t.true(s.value('paxos_leader_changes_seen_total') >= 1);
    t.truthy(s.family('process_cpu_user_seconds_total'), "prom-client's default metrics");
  }
  t.true(scrapes.get(leader)!.value('paxos_ballot') > 0);
  // The leader's links to both followers are up, with a round trip measured (pings every fifth of a second or so).
  await eventually(async () => {
    const s = await Scrape.of(urls.get(leader)!);
    return (
      s.value('paxos_peer_up') === 2 &&
      (s.family('paxos_peer_rtt_seconds')?.metrics.length ?? 0) === 2 &&
      s.value('paxos_peer_rtt_seconds') > 0
    );
  }, `${leader}'s peer links up with a round trip`);

  // Kill the leader: each survivor sees a new leader, and one of them leads.
  const survivors = HOSTS.filter((h) => h !== leader);
  const changesBefore = new Map(survivors.map((h) => [h, scrapes.get(h)!.value('paxos_leader_changes_seen_total')]));
  await procs.get(leader)!.kill9();
  await eventually(
    async () => {
      const now = await Promise.all(survivors.map((h) => Scrape.of(urls.get(h)!)));
      const rose = survivors.every((h, i) => now[i]!.value('paxos_leader_changes_seen_total') > changesBefore.get(h)!);
      const led = now.filter((s) => s.value('paxos_is_leader') === 1).length === 1;
      const down = now.every((s) => s.value('paxos_peer_up', { peer: leader }) === 0);
      return rose && led && down;
    },
    'a new leader among the survivors, seen by both, and the old one down on their links',
    120_000,
  );
  for (const h of survivors) t.is((await probe(urls.get(h)!, '/healthz'))?.status, 200);
});

test('--metrics: a bad value, a lab peer and an address in use are usage errors naming the flag', async (t) => {
  const bad = await paxos(['-h', 'testcases/kv3/hostsfile', '--name', 'peer1', '--metrics', '9100']);
  t.is(bad.code, 2);
  t.regex(bad.err, /--metrics expects ADDR:PORT/);
  const lab = await paxos(['-h', 'testcases/2/hostsfile', '--name', 'peer1', '--metrics', '127.0.0.1:0']);
  t.is(lab.code, 2);
  t.regex(lab.err, /--metrics is for replicas/);

  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => busy.close());
  const port = (busy.address() as net.AddressInfo).port;
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  const p = live.start('peer1', ['--metrics', `127.0.0.1:${port}`]);
  const { code } = await p.closed;
  t.is(code, 2);
  t.true(
    p.stderr.some((l) => l.includes(`--metrics 127.0.0.1:${port}: the address is in use`)),
    p.stderr.join('\n'),
  );
});

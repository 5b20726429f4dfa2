// Integrity after the handshake (src/transport/message-mac.ts), against real
// replicas with a shared secret: a man in the middle that rewrites a value
// in flight, on a link between replicas or between a client and a replica,
// gets the line dropped, the connection closed and a warning, and the value
// it wrote is never applied. And a replica with no secret will not start
// open unless told to.

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import { connect } from '../../src/client/api.js';
import { paxos } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { LiveCluster, until } from '../helpers/procs.js';
import { RewriteProxy } from '../helpers/rewrite-proxy.js';

const KV3 = 'peer1:replica\npeer2:replica\npeer3:replica\n';
const HOSTS = ['peer1', 'peer2', 'peer3'];

function endpointsOf(live: LiveCluster, hosts = HOSTS): string {
  return hosts.map((h) => `${h}=${live.endpoint(h).host}:${live.endpoint(h).port}`).join(',');
}

test('a proxy rewrites payment=100 to 999 between replicas: dropped with a warning, 999 never applied', async (t) => {
  const secret = randomBytes(24).toString('hex');
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  // Every line a replica sends another goes through a proxy in front of the other, so the leader's
  // accepts do, whichever it is. Each proxy rewrites the value once.
  const proxies = new Map<string, RewriteProxy>();
  const via = new Map<string, string>();
  for (const h of HOSTS) {
    const proxy = new RewriteProxy(live.endpoint(h), 'payment=100', 'payment=999');
    const at = await proxy.start();
    t.teardown(() => proxy.close());
    proxies.set(h, proxy);
    via.set(h, `${at.host}:${at.port}`);
  }
  const procs = HOSTS.map((h) =>
    live.start(
      h,
      HOSTS.filter((o) => o !== h).flatMap((o) => ['--resolve', `${o}=${via.get(o)!}`]),
      { PAXOS_SECRET: secret },
    ),
  );
  const kv = await connect({ endpoints: endpointsOf(live), secret, timeoutMs: 120_000 });
  t.teardown(() => kv.close());
  await kv.put('warmup', 'yes');
  await kv.put('pay', 'payment=100');
  t.is(await kv.get('pay'), 'payment=100');
  await until(() => [...proxies.values()].some((p) => p.rewrites > 0), 'a proxy to rewrite the value', 120_000);
  await until(
    () => procs.some((p) => p.stderr.some((l) => l.includes('failed its integrity check'))),
    'a replica to warn that a line failed its integrity check',
    120_000,
  );
  const warnings = procs.flatMap((p) => p.stderr.filter((l) => l.includes('failed its integrity check')));
  t.log(warnings.join('\n'));
  for (const w of warnings) {
    t.regex(w, /peer_id [123]/, 'the warning names the peer');
    t.false(w.includes(secret), 'and not the secret');
  }
  // The links come back (each proxy rewrites once), and every replica gets the real value.
  await until(
    () => procs.every((p) => p.lines.some((l) => l.includes('payment=100'))),
    'every replica to see payment=100 intact',
    120_000,
  );
  for (const p of procs)
    t.false(
      p.lines.some((l) => l.includes('payment=999')),
      `${p.host} never saw payment=999`,
    );
});

test("a proxy rewrites a client's put: the replica drops it, warns, and the retry writes the real value", async (t) => {
  const secret = randomBytes(24).toString('hex');
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  const procs = HOSTS.map((h) => live.start(h, [], { PAXOS_SECRET: secret }));
  // Straight to the replicas first, until they serve (a proxy in front of one not yet listening looks, to
  // the client, like a handshake refused).
  const direct = await connect({ endpoints: endpointsOf(live), secret, timeoutMs: 120_000 });
  await direct.put('ready', 'yes');
  direct.close();
  const proxy = new RewriteProxy(live.endpoint('peer1'), 'payment=100', 'payment=999');
  const via = await proxy.start();
  t.teardown(() => proxy.close());
  const kv = await connect({ endpoints: `peer1=${via.host}:${via.port}`, secret, timeoutMs: 120_000 });
  t.teardown(() => kv.close());
  await kv.put('warmup', 'yes');
  await kv.put('pay', 'payment=100');
  t.is(proxy.rewrites, 1);
  const warning = await procs[0]!.waitStderr(/failed its integrity check/, 120_000);
  t.log(warning);
  t.regex(warning, /a client/);
  t.is(await kv.get('pay'), 'payment=100');
  for (const p of procs)
    t.false(
      p.lines.some((l) => l.includes('payment=999')),
      `${p.host} never saw payment=999`,
    );
});

test('a replica with no secret and no --insecure exits non-zero with one line naming the fix', async (t) => {
  const dir = tempDir('open');
  const hostsfile = path.join(dir, 'hostsfile');
  writeFileSync(hostsfile, KV3);
  const r = await paxos(['-h', hostsfile, '--name', 'peer1', '--data-dir', path.join(dir, 'd')], { timeoutMs: 60_000 });
  t.not(r.code, 0);
  const lines = r.err.trim().split('\n');
  t.is(lines.length, 1, r.err);
  t.regex(
    lines[0]!,
    /no shared secret: pass --secret-file FILE or set PAXOS_SECRET \(or TLS: --ca, --cert and --key; or --insecure/,
  );
});

test('forged snapshot, entries and chose lines from a sender without the secret change nothing', async (t) => {
  const secret = randomBytes(24).toString('hex');
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  const procs = HOSTS.map((h) => live.start(h, [], { PAXOS_SECRET: secret }));
  const kv = await connect({ endpoints: endpointsOf(live), secret, timeoutMs: 120_000 });
  t.teardown(() => kv.close());
  await kv.put('before', 'kept');
  const forged = [
    { type: 'snapshot', from: 1, index: 999_999, term: 1, data: '{"forged":"1"}' },
    { type: 'entries', from: 1, ballot: [999, 1], start: 1, entries: [['{"o":"put","k":"before","v":"forged"}']] },
    { type: 'chose', from: 1, slot: 1, value: 'forged' },
  ];
  for (const msg of forged) {
    // As the attacker would: connect and send the line at once, skipping the challenge.
    const closed = await new Promise<string>((resolve) => {
      const s = net.connect(live.endpoint('peer2'), () => s.write(`${JSON.stringify(msg)}\n`));
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('error', () => undefined);
      s.once('close', () => resolve(got));
    });
    t.regex(closed, /^\{"type":"challenge"/, `${msg.type}: it was challenged, then cut off`);
  }
  await procs[1]!.waitStderr(/did not authenticate/, 60_000);
  await kv.put('after', 'written');
  t.is(await kv.get('before'), 'kept');
  t.is(await kv.get('after'), 'written');
  for (const p of procs)
    t.false(
      p.lines.some((l) => l.includes('forged')),
      `${p.host} never took a forged line`,
    );
});

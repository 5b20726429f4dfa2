// TLS (src/transport/tls.ts), against real kv3 replicas started with --ca,
// --cert and --key and certificates made now by scripts/test-ca.sh: puts and
// gets through the library and the CLI; a peer whose certificate another CA
// signed is refused, and said so; clients without the CA, or dialling a name
// the certificate does not hold, are refused in words; a plaintext
// connection to a TLS port is told to use TLS, and a TLS client at a
// plaintext port told it is not one; TLS and a shared secret together.
// Every wait is on an event, with a generous deadline.

import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import test from 'ava';
import { connect } from '../../src/client/api.js';
import { paxos } from '../helpers/cli.js';
import { LiveCluster, until, type Proc } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';
import { makeTestCa, type TestCa } from '../helpers/tls-certs.js';

const KV3 = 'peer1:replica\npeer2:replica\npeer3:replica\n';
const HOSTS = ['peer1', 'peer2', 'peer3'];

function endpointsOf(live: LiveCluster, hosts = HOSTS, rename = (h: string): string => h): string {
  return hosts.map((h) => `${rename(h)}=${live.endpoint(h).host}:${live.endpoint(h).port}`).join(',');
}

/** A kv3 on loopback and a CA whose certificates name each replica and its address, plus a client's. */
async function tlsCluster(t: {
  teardown: (f: () => Promise<void>) => void;
}): Promise<{ live: LiveCluster; ca: TestCa }> {
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  const ca = makeTestCa(tempDir('tls-ca'), [...HOSTS, 'client'], (n) =>
    HOSTS.includes(n) ? [live.endpoint(n).host] : [],
  );
  return { live, ca };
}

/** One JSON line from a raw plaintext connection that sends `line` (or nothing), until the server closes it. */
function plaintextTry(at: { host: string; port: number }, line: string | null): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(at, () => {
      if (line !== null) s.write(`${line}\n`);
    });
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('error', () => undefined);
    s.once('close', () => resolve(got));
  });
}

function stderrOf(procs: readonly Proc[]): string {
  return procs.map((p) => p.stderr.join('\n')).join('\n');
}

test.serial(
  'kv3 with TLS: the library and the CLI put and get; plaintext and wrong names are refused in words',
  async (t) => {
    const { live, ca } = await tlsCluster(t);
    const procs = HOSTS.map((h) => live.start(h, ca.peerFlags(h)));
    const endpoints = endpointsOf(live);
    const kv = await connect({ endpoints, tls: { ca: readFileSync(ca.ca) }, timeoutMs: 120_000 });
    t.teardown(() => kv.close());
    await kv.put('greeting', 'hello over TLS');
    t.is(await kv.get('greeting'), 'hello over TLS');

    // The CLI, with --ca, and with PAXOS_CA; a client certificate may be presented too.
    const put = await paxos(['put', 'cli', 'yes', '--endpoints', endpoints, '--ca', ca.ca, '--timeout', '60']);
    t.is(put.code, 0, put.err);
    const get = await paxos(['get', 'cli', '--endpoints', endpoints, '--timeout', '60'], {
      env: { PAXOS_CA: ca.ca, PAXOS_CERT: ca.crt('client'), PAXOS_KEY: ca.key('client') },
    });
    t.is(get.code, 0, get.err);
    t.is(get.out, 'yes\n');
    t.is(await kv.get('cli'), 'yes');

    // A plaintext client: told the replicas speak TLS, and what to pass.
    const plain = await paxos(['get', 'greeting', '--endpoints', endpoints, '--timeout', '60']);
    t.log(plain.err.trim());
    t.is(plain.code, 5);
    t.regex(plain.err, /it speaks TLS, and this client spoke plaintext: pass --ca FILE/);
    // A plaintext line straight to the port: the refusal, in one plaintext line; the replica logs the address.
    const raw = await plaintextTry(live.endpoint('peer2'), JSON.stringify({ type: 'kv', id: 'x', cmd: { o: 'get' } }));
    t.regex(raw, /^\{"type":"refused","reason":"tls_required"/);
    await procs[1]!.waitStderr(
      /closing connection from [0-9.]+:\d+: it spoke plaintext, but this peer speaks TLS only/,
    );
    // And one that sends nothing (a client waiting for a challenge) is told too.
    t.regex(await plaintextTry(live.endpoint('peer3'), null), /"reason":"tls_required"/);

    // Without the CA (the system's CAs know nothing of ours), or with another CA: refused, saying why.
    const other = makeTestCa(tempDir('tls-other'), ['client']);
    for (const args of [
      ['--cert', other.crt('client'), '--key', other.key('client')],
      ['--ca', other.ca],
    ]) {
      const r = await paxos(['get', 'greeting', '--endpoints', endpoints, '--timeout', '60', ...args]);
      t.log(r.err.trim());
      t.is(r.code, 5);
      t.regex(r.err, /its TLS certificate is not signed by a CA we trust/);
    }
    await t.throwsAsync(
      connect({ endpoints, tls: { ca: readFileSync(other.ca) }, timeoutMs: 30_000 }).then((c) => c.close()),
      { message: /not signed by a CA we trust/ },
    );
    // A name the certificates do not hold (node1 at peer1's address): refused, naming it.
    const renamed = endpointsOf(live, HOSTS, (h) => h.replace('peer', 'node'));
    const wrong = await paxos(['get', 'greeting', '--endpoints', renamed, '--ca', ca.ca, '--timeout', '60']);
    t.log(wrong.err.trim());
    t.is(wrong.code, 5);
    t.regex(wrong.err, /its TLS certificate is not for node[123]/);
    // Nothing of this took a replica down.
    t.is(await kv.get('greeting'), 'hello over TLS');
  },
);

test.serial(
  'a peer whose certificate another CA signed is refused: its links never come up, and logs say so',
  async (t) => {
    const { live, ca } = await tlsCluster(t);
    const other = makeTestCa(tempDir('tls-other'), ['peer3'], () => [live.endpoint('peer3').host]);
    const good = ['peer1', 'peer2'].map((h) => live.start(h, ca.peerFlags(h)));
    const first = live.start('peer3', ca.peerFlags('peer3'));
    const kv = await connect({
      endpoints: endpointsOf(live, ['peer1', 'peer2']),
      tls: { ca: readFileSync(ca.ca) },
      timeoutMs: 120_000,
    });
    t.teardown(() => kv.close());
    // A new cluster waits for all three before it votes: so peer3 first runs as it should, then comes back
    // from its data directory trusting the right CA, but showing a certificate from the other one.
    await kv.put('warmup', 'yes');
    await first.kill9();
    const since = good.map((p) => p.stderr.length);
    const bad = live.start('peer3', ['--ca', ca.ca, '--cert', other.crt('peer3'), '--key', other.key('peer3')]);
    const after = (): string => good.map((p, i) => p.stderr.slice(since[i]).join('\n')).join('\n');
    const value = `two-of-three-${randomBytes(4).toString('hex')}`;
    await kv.put('k', value);
    t.is(await kv.get('k'), value);
    // The good replicas refuse its connections (naming its address and certificate), and will not take its
    // certificate when they dial it.
    await until(
      () => /closing connection from [0-9.]+:\d+: its TLS certificate \(.*peer3.*\) is not signed/.test(after()),
      'a good replica to refuse peer3 by its certificate',
      120_000,
    );
    await until(
      () => /peer3 at [0-9.]+:\d+: TLS: its TLS certificate is not signed by a CA we trust/.test(after()),
      "a good replica's link to peer3 to say its certificate is not trusted",
      120_000,
    );
    // peer3 is told why, in words.
    await bad.waitStderr(/it refused us over TLS: its TLS certificate/, 120_000);
    t.log(
      stderrOf([...good, bad])
        .split('\n')
        .filter((l) => /TLS/.test(l))
        .slice(0, 6)
        .join('\n'),
    );
    t.false(stderrOf(good).includes('peer3 is reachable'), 'no link to peer3 came up');
    t.false(
      bad.lines.some((l) => l.includes(value)),
      'peer3 never saw the value',
    );
  },
);

test.serial('TLS and a shared secret together; --client-ca makes client certificates required', async (t) => {
  const { live, ca } = await tlsCluster(t);
  const secret = randomBytes(24).toString('hex');
  const procs = HOSTS.map((h) => live.start(h, [...ca.peerFlags(h), '--client-ca', ca.ca], { PAXOS_SECRET: secret }));
  const endpoints = endpointsOf(live);
  const tls = { ca: readFileSync(ca.ca), cert: readFileSync(ca.crt('client')), key: readFileSync(ca.key('client')) };
  const kv = await connect({ endpoints, secret, tls, timeoutMs: 120_000 });
  t.teardown(() => kv.close());
  await kv.put('both', 'checked');
  t.is(await kv.get('both'), 'checked');
  const cli = await paxos(
    ['get', 'both', '--endpoints', endpoints, '--ca', ca.ca, '--cert', ca.crt('client'), '--key', ca.key('client')],
    { env: { PAXOS_SECRET: secret } },
  );
  t.is(cli.code, 0, cli.err);
  t.is(cli.out, 'checked\n');
  // TLS without the secret: the secret's handshake still refuses it.
  const noSecret = await paxos(
    ['get', 'both', '--endpoints', endpoints, '--ca', ca.ca, '--cert', ca.crt('client'), '--key', ca.key('client')],
    { timeoutMs: 120_000 },
  );
  t.log(noSecret.err.trim());
  t.is(noSecret.code, 5);
  t.regex(noSecret.err, /shared secret/);
  // The secret and the CA, but no client certificate: refused, saying it must present one.
  const noCert = await paxos(['get', 'both', '--endpoints', endpoints, '--ca', ca.ca], {
    env: { PAXOS_SECRET: secret },
  });
  t.log(noCert.err.trim());
  t.is(noCert.code, 5);
  t.regex(noCert.err, /presented no TLS certificate, and this peer requires one of clients \(--client-ca\)/);
  // The secret without TLS: told to use TLS.
  const plain = await paxos(['get', 'both', '--endpoints', endpoints], { env: { PAXOS_SECRET: secret } });
  t.log(plain.err.trim());
  t.is(plain.code, 5);
  t.regex(plain.err, /it speaks TLS/);
  t.false(stderrOf(procs).includes(secret), 'the secret is never logged');
});

test.serial('a TLS client at a plaintext port is told it does not speak TLS; the peer says so too', async (t) => {
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  const ca = makeTestCa(tempDir('tls-ca'), ['client']);
  const p = live.start('peer1', ['--insecure']);
  await p.waitStderr(/listening|recovering/, 120_000);
  const at = live.endpoint('peer1');
  const r = await paxos(['status', '--endpoints', `peer1=${at.host}:${at.port}`, '--ca', ca.ca, '--json']);
  t.log(r.out.trim(), r.err.trim());
  t.regex(r.out, /it does not speak TLS/);
  await p.waitStderr(/it speaks TLS, and this peer does not/, 60_000);
});

test.serial('a replica with TLS and no secret starts without --insecure', async (t) => {
  const { live, ca } = await tlsCluster(t);
  const r = live.start('peer1', ca.peerFlags('peer1'));
  // No refusal to start: it runs (and is killed at teardown).
  await r.waitStderr(/recovering/, 120_000);
  t.is(r.exit, null);
  t.false(
    r.stderr.some((l) => /no shared secret/.test(l)),
    r.stderr.join('\n'),
  );
});

test.serial('the CLI: a missing file names its flag and path, --cert without --key says so; exit 2', async (t) => {
  const ca = makeTestCa(tempDir('tls-ca'), ['client']);
  const missing = path.join(ca.dir, 'nope.pem');
  const noKey = await paxos(['get', 'k', '--endpoints', 'peer1=127.0.0.1:1', '--cert', ca.crt('client')]);
  t.is(noKey.code, 2);
  t.regex(noKey.err, /--cert .*client\.crt needs --key FILE/);
  const noCa = await paxos(['put', 'k', 'v', '--endpoints', 'peer1=127.0.0.1:1', '--ca', missing]);
  t.is(noCa.code, 2);
  t.regex(noCa.err, /--ca .*nope\.pem: cannot read it \(ENOENT\)/);
  const hosts = path.join(ca.dir, 'hostsfile');
  writeFileSync(hosts, KV3);
  const peerNoKey = await paxos(['-h', hosts, '--name', 'peer1', '--ca', ca.ca, '--cert', ca.crt('client')]);
  t.is(peerNoKey.code, 2);
  t.regex(peerNoKey.err, /--cert .*client\.crt needs --key FILE/);
});

// The TLS flags parsed in-process: a peer's --ca, --cert, --key and
// --client-ca (parsePeerArgs), and a client's, with PAXOS_CA, PAXOS_CERT and
// PAXOS_KEY (loadClientTls) and connect({ tls }). Certificates are made here
// by scripts/test-ca.sh; errors name the flag and the path and say what to do.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { ConfigError } from '../../src/config/errors.js';
import { parsePeerArgs } from '../../src/cli/peer-command.js';
import { loadClientTls, loadPeerTls } from '../../src/config/tls-files.js';
import { openOnLoopback } from '../../src/config/secret-notice.js';
import { connect, DefiniteError } from '../../src/client/api.js';
import { tempDir } from '../helpers/tmp.js';
import { makeTestCa } from '../helpers/tls-certs.js';

const dir = tempDir('tls-flags');
const ca = makeTestCa(path.join(dir, 'ca'), ['peer1', 'peer2']);
const kv3 = path.join(dir, 'hostsfile');
writeFileSync(kv3, 'peer1:replica\npeer2:replica\npeer3:replica\n');
const notPem = path.join(dir, 'not-pem.txt');
writeFileSync(notPem, 'hello\n');
const missing = path.join(dir, 'no-such-file.pem');

const peer = (extra: string[]): ReturnType<typeof parsePeerArgs> =>
  parsePeerArgs(['-h', kv3, '--name', 'peer1', ...extra], 'x', {});

function refused(t: import('ava').ExecutionContext, f: () => unknown, re: RegExp): void {
  const err = t.throws(f, { instanceOf: ConfigError });
  t.regex(err?.message ?? '', re);
}

test('a replica with --ca, --cert and --key starts without a secret or --insecure', (t) => {
  const s = peer(ca.peerFlags('peer1'));
  if (s === 'help') return t.fail();
  t.truthy(s.tls);
  t.is(s.tls?.clientCa, null);
  t.false(
    s.warnings.some((w) => /no shared secret/.test(w)),
    'TLS authenticates: no "open" warning',
  );
  const withClientCa = peer([...ca.peerFlags('peer1'), '--client-ca', ca.ca]);
  t.truthy(withClientCa !== 'help' && withClientCa.tls?.clientCa);
  // Without TLS the old rule holds, and names TLS as one fix.
  refused(t, () => peer([]), /no shared secret: .*TLS: --ca, --cert and --key; or --insecure/);
  // A local runner adds --insecure only to a replica with neither.
  t.deepEqual(openOnLoopback(ca.peerFlags('peer1'), {}), []);
  t.deepEqual(openOnLoopback([], {}), ['--insecure']);
});

test('a peer: each missing or bad file names its flag and path; the three go together', (t) => {
  const [, caFile, , cert, , key] = ca.peerFlags('peer1') as [string, string, string, string, string, string];
  refused(t, () => peer(['--ca', caFile, '--cert', cert]), new RegExp(`--cert .*peer1.crt needs --key FILE`));
  refused(t, () => peer(['--ca', caFile, '--key', key]), /--key .*peer1.key needs --cert FILE/);
  refused(t, () => peer(['--ca', caFile]), /--ca .*ca.crt needs --cert FILE and --key FILE/);
  refused(t, () => peer(['--cert', cert, '--key', key]), /--cert .*peer1.crt needs --ca FILE/);
  refused(
    t,
    () => peer(['--ca', missing, '--cert', cert, '--key', key]),
    /--ca .*no-such-file.pem: cannot read it \(ENOENT\)/,
  );
  refused(
    t,
    () => peer(['--ca', caFile, '--cert', missing, '--key', key]),
    /--cert .*no-such-file.pem: cannot read it/,
  );
  refused(t, () => peer(['--ca', caFile, '--cert', cert, '--key', notPem]), /--key .*not-pem.txt: not a PEM file/);
  refused(
    t,
    () => peer(['--ca', caFile, '--cert', cert, '--key', ca.key('peer2')]),
    /the key is not this certificate's/,
  );
  refused(t, () => peer(['--ca', key, '--cert', cert, '--key', key]), /--ca .*peer1.key: holds no certificate/);
  refused(t, () => peer(['--client-ca', caFile]), /--client-ca needs TLS on/);
  refused(
    t,
    () => peer([...ca.peerFlags('peer1'), '--client-ca', missing]),
    /--client-ca .*no-such-file.pem: cannot read/,
  );
});

test('a client: flags, else PAXOS_CA, PAXOS_CERT and PAXOS_KEY; --cert needs --key', (t) => {
  t.is(loadClientTls({}, {}), null);
  t.truthy(loadClientTls({ ca: ca.ca }, {})?.ca);
  const fromEnv = loadClientTls({}, { PAXOS_CA: ca.ca, PAXOS_CERT: ca.crt('peer1'), PAXOS_KEY: ca.key('peer1') });
  t.truthy(fromEnv?.ca && fromEnv.cert && fromEnv.key);
  refused(
    t,
    () => loadClientTls({ cert: ca.crt('peer1') }, {}),
    /--cert .*peer1.crt needs --key FILE \(or PAXOS_KEY\)/,
  );
  refused(t, () => loadClientTls({}, { PAXOS_KEY: ca.key('peer1') }), /PAXOS_KEY .*peer1.key needs --cert FILE/);
  refused(t, () => loadClientTls({ ca: missing }, {}), /--ca .*no-such-file.pem: cannot read it \(ENOENT\)/);
  refused(t, () => loadClientTls({}, { PAXOS_CA: missing }), /PAXOS_CA .*no-such-file.pem: cannot read it/);
  t.is(loadPeerTls({}), null);
});

test('connect({ tls }): cert without key, and a bad PAXOS_CA, are refused before connecting', async (t) => {
  await t.throwsAsync(connect({ endpoints: '127.0.0.1:1', tls: { cert: 'x' }, env: {} }), {
    instanceOf: DefiniteError,
    message: /tls.cert and tls.key go together/,
  });
  await t.throwsAsync(connect({ endpoints: '127.0.0.1:1', env: { PAXOS_CA: missing } }), {
    instanceOf: DefiniteError,
    message: /connect: PAXOS_CA .*no-such-file.pem: cannot read it/,
  });
});

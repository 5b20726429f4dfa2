// The peer's flags parsed in-process (parsePeerArgs, takeOptionalPort), from
// hostsfiles on disk; the same flags through the CLI are e2e/cli-errors.test.ts.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { ConfigError } from '../../src/config/errors.js';
import { DEFAULT_PORT, parsePeerArgs, type LabSettings } from '../../src/cli/peer-command.js';
import { takeOptionalPort } from '../../src/config/flags.js';

const TESTCASE1 = 'peer1:proposer1\npeer2:acceptor1\npeer3:acceptor1\npeer4:acceptor1\npeer5:learner1\n';
const TESTCASE2 =
  'peer1:proposer1\npeer2:acceptor1,acceptor2\npeer3:acceptor1,acceptor2\npeer4:acceptor1,acceptor2\npeer5:proposer2\n';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paxos-cli-'));
test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeHosts(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const HOSTS1 = writeHosts('hosts1.txt', TESTCASE1);
const HOSTS2 = writeHosts('hosts2.txt', TESTCASE2);

function re(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------
// parsePeerArgs: the positive path, in-process

/** A secret in the environment, so warnings below are only the ones each test is about. */
const WITH_SECRET = { PAXOS_SECRET: 'a test secret of some length' };

function settings(argv: readonly string[], hostname = 'not-in-any-hostsfile'): LabSettings {
  const s = parsePeerArgs(argv, hostname, WITH_SECRET);
  if (s === 'help' || s.mode !== 'lab') throw new Error('unexpected help or replica settings');
  return s;
}

test('parsePeerArgs: --help returns help', (t) => {
  t.is(parsePeerArgs(['--help'], 'peer1'), 'help');
});

test('parsePeerArgs: a proposer with -v and -t 1.5', (t) => {
  const s = settings(['-h', HOSTS1, '--name', 'peer1', '-v', 'X', '-t', '1.5']);
  t.is(s.self.id, 1);
  t.is(s.self.host, 'peer1');
  t.is(s.value, 'X');
  t.is(s.startDelayMs, 1500);
  t.deepEqual(s.warnings, []);
  t.deepEqual(s.listen, { host: '0.0.0.0', port: DEFAULT_PORT });
  t.is(DEFAULT_PORT, 8080);
  t.is(s.logLevel, 'warn');
  t.false(s.exitOnStdinClose);
  t.true(s.roundTimeoutMs > 0);
  t.is(s.cluster.file, HOSTS1);
  t.deepEqual(s.cluster.acceptorsOf(1), [2, 3, 4]);
});

test('parsePeerArgs: long flag forms work like the short ones', (t) => {
  const s = settings(['--hostsfile', HOSTS2, '--name', 'peer5', '--value', 'Y', '--start-after', '10']);
  t.is(s.self.id, 5);
  t.is(s.value, 'Y');
  t.is(s.startDelayMs, 10_000);
});

test('parsePeerArgs: -t defaults to 0', (t) => {
  const s = settings(['-h', HOSTS1, '--name', 'peer1', '-v', 'X']);
  t.is(s.startDelayMs, 0);
});

test('parsePeerArgs: finds itself by the machine hostname when --name is absent', (t) => {
  const s = settings(['-h', HOSTS1], 'peer3');
  t.is(s.self.id, 3);
  t.is(s.value, undefined);
});

test('parsePeerArgs: --name overrides the machine hostname', (t) => {
  const s = settings(['-h', HOSTS1, '--name', 'peer4'], 'peer3');
  t.is(s.self.id, 4);
});

test('parsePeerArgs: a hostname not in the file says so and suggests --name', (t) => {
  t.throws(() => parsePeerArgs(['-h', HOSTS1], 'somebox'), {
    instanceOf: ConfigError,
    message: new RegExp(
      /has no line for this machine's hostname "somebox"; it lists peer1, peer2, /.source +
        /peer3, peer4, peer5 \(pass --name HOST/.source,
    ),
  });
});

test('parsePeerArgs: a non-proposer with -v gets a warning and no value', (t) => {
  const s = settings(['-h', HOSTS1, '--name', 'peer2', '-v', 'X']);
  t.is(s.value, undefined);
  t.is(s.warnings.length, 1);
  t.regex(s.warnings[0] ?? '', new RegExp(`^-v "X" ignored: peer2 is not a proposer in ${re(HOSTS1)}$`));
});

test('parsePeerArgs: a learner needs no -v', (t) => {
  const s = settings(['-h', HOSTS1, '--name', 'peer5']);
  t.is(s.value, undefined);
  t.deepEqual(s.warnings, []);
});

test('parsePeerArgs: hostsfile warnings are passed on', (t) => {
  const file = writeHosts('learner-no-proposer.txt', 'peer1:proposer1\npeer2:acceptor1\npeer3:learner2\n');
  const s = settings(['-h', file, '--name', 'peer2']);
  t.is(s.warnings.length, 1);
  t.regex(s.warnings[0] ?? '', /group 2 has learners but no proposer2/);
});

test('parsePeerArgs: a proposer with no -v waits for a client, and says so naming file and line', (t) => {
  const s = parsePeerArgs(['-h', HOSTS2, '--name', 'peer5'], 'x', WITH_SECRET);
  if (s === 'help' || s.mode !== 'lab') return t.fail('unexpected help or replica settings');
  t.is(s.value, undefined);
  t.deepEqual(s.warnings, [
    `peer5 is proposer2 in ${HOSTS2}:5 but has no -v VALUE: it waits for a client (npx paxos submit VALUE --to peer5)`,
  ]);
});

test('parsePeerArgs: the replica file defaults to DATA_DIR/value', (t) => {
  const s = parsePeerArgs(['-h', HOSTS1, '--name', 'peer2', '--data-dir', '/tmp/d2'], 'x');
  if (s === 'help') return t.fail('unexpected help');
  t.is(s.replicaFile, '/tmp/d2/value');
  const o = parsePeerArgs(['-h', HOSTS1, '--name', 'peer2', '--replica-file', '/tmp/r'], 'x');
  if (o === 'help') return t.fail('unexpected help');
  t.is(o.replicaFile, '/tmp/r');
});

test('parsePeerArgs: a value over the size limit is rejected', (t) => {
  t.throws(() => parsePeerArgs(['-h', HOSTS1, '--name', 'peer1', '-v', 'x'.repeat(64 * 1024 + 1)], 'x'), {
    instanceOf: ConfigError,
    message: /^-v: the value is over 65536 bytes$/,
  });
  const s = settings(['-h', HOSTS1, '--name', 'peer1', '-v', 'x'.repeat(64 * 1024)]);
  t.is(s.value?.length, 64 * 1024);
});

test('parsePeerArgs: --port sets the listen port and every peer endpoint', (t) => {
  const s = settings(['-h', HOSTS1, '--name', 'peer2', '--port', '9000']);
  t.deepEqual(s.listen, { host: '0.0.0.0', port: 9000 });
  const peer3 = s.cluster.byId(3);
  t.truthy(peer3);
  if (peer3 === undefined) return;
  t.deepEqual(s.endpointOf(peer3), { host: 'peer3', port: 9000 });
});

test('parsePeerArgs: endpoints default to hostname:8080', (t) => {
  const s = settings(['-h', HOSTS1, '--name', 'peer2']);
  const peer1 = s.cluster.byId(1);
  if (peer1 === undefined) return t.fail('no peer1');
  t.deepEqual(s.endpointOf(peer1), { host: 'peer1', port: 8080 });
});

test("parsePeerArgs: --resolve overrides endpoints and this peer's listen address", (t) => {
  const s = settings([
    '-h',
    HOSTS1,
    '--name',
    'peer2',
    '--port',
    '9000',
    '--resolve',
    'peer1=127.0.0.1:9101',
    '--resolve',
    'peer2=127.0.0.2:9102',
    '--resolve',
    'peer3=127.0.0.3',
    '--resolve',
    'PEER4=[::1]:9104',
  ]);
  t.deepEqual(s.listen, { host: '127.0.0.2', port: 9102 });
  const ep = (id: number): unknown => {
    const h = s.cluster.byId(id);
    return h === undefined ? undefined : s.endpointOf(h);
  };
  t.deepEqual(ep(1), { host: '127.0.0.1', port: 9101 });
  t.deepEqual(ep(2), { host: '127.0.0.2', port: 9102 });
  t.deepEqual(ep(3), { host: '127.0.0.3', port: 9000 }, 'no port: the --port default');
  t.deepEqual(ep(4), { host: '::1', port: 9104 }, 'IPv6 in brackets; host names ignore case');
  t.deepEqual(ep(5), { host: 'peer5', port: 9000 }, 'not resolved: its own name');
  t.deepEqual(s.warnings, []);
});

test('parsePeerArgs: --resolve for a host not in the hostsfile warns', (t) => {
  const s = settings(['-h', HOSTS1, '--name', 'peer2', '--resolve', 'peer9=127.0.0.9']);
  t.is(s.warnings.length, 1);
  t.regex(s.warnings[0] ?? '', new RegExp(`^--resolve peer9=127\\.0\\.0\\.9: peer9 is not in ${re(HOSTS1)}$`));
});

test('parsePeerArgs: --round-timeout, --log-level and --exit-on-stdin-close', (t) => {
  const s = settings([
    '-h',
    HOSTS1,
    '--name',
    'peer2',
    '--round-timeout',
    '2.5',
    '--log-level',
    'debug',
    '--exit-on-stdin-close',
  ]);
  t.is(s.roundTimeoutMs, 2500);
  t.is(s.logLevel, 'debug');
  t.true(s.exitOnStdinClose);
});

test('parsePeerArgs: with no secret, one warning says connections are not authenticated', (t) => {
  const s = parsePeerArgs(['-h', HOSTS1, '--name', 'peer2'], 'x', {});
  if (s === 'help') return t.fail('unexpected help');
  t.is(s.secret, null);
  t.deepEqual(s.warnings, ['no shared secret (--secret-file or PAXOS_SECRET): connections are not authenticated']);
});

test('parsePeerArgs: under paxos run (PAXOS_NO_SECRET_WARNING=1) the peer leaves that warning to the runner', (t) => {
  const s = parsePeerArgs(['-h', HOSTS1, '--name', 'peer2'], 'x', { PAXOS_NO_SECRET_WARNING: '1' });
  if (s === 'help') return t.fail('unexpected help');
  t.is(s.secret, null);
  t.deepEqual(s.warnings, []);
});

test('parsePeerArgs: the secret comes from --secret-file before PAXOS_SECRET, and an empty one is refused', (t) => {
  const file = writeHosts('secret.txt', 'from the file, long enough\n');
  const s = parsePeerArgs(['-h', HOSTS1, '--name', 'peer2', '--secret-file', file], 'x', {
    PAXOS_SECRET: 'from the environment',
  });
  if (s === 'help') return t.fail('unexpected help');
  t.is(s.secret?.key.toString(), 'from the file, long enough');
  t.false(JSON.stringify(s.warnings).includes('from the file'), 'the secret is not in any message');
  const empty = writeHosts('empty-secret.txt', '');
  t.throws(() => parsePeerArgs(['-h', HOSTS1, '--name', 'peer2', '--secret-file', empty], 'x', {}), {
    message: /--secret-file .*empty-secret\.txt is empty/,
  });
});

test('takeOptionalPort: --ui, --ui 8000, --ui=8000, absent, and a bad port named', (t) => {
  const take = (argv: string[]): [number | undefined, string[]] => [takeOptionalPort(argv, '--ui', 7610), argv];
  t.deepEqual(take(['testcases/2', '--ui']), [7610, ['testcases/2']]);
  t.deepEqual(take(['--ui', '8000', 'testcases/2']), [8000, ['testcases/2']]);
  t.deepEqual(take(['--ui=0', 'testcases/2']), [0, ['testcases/2']]);
  t.deepEqual(take(['--ui', 'testcases/2']), [7610, ['testcases/2']], 'a directory is not a port');
  t.deepEqual(take(['testcases/2']), [undefined, ['testcases/2']]);
  t.throws(() => takeOptionalPort(['--ui=70000'], '--ui', 7610), {
    message: '--ui expects a port from 0 to 65535, got "70000"',
  });
});

// With a secret or --insecure a replica starts; a lab peer is open by default.
test('parsePeerArgs: a replica with no secret and no --insecure refuses to start, naming the fixes', (t) => {
  const kv3 = writeHosts('kv3.txt', 'peer1:replica\npeer2:replica\npeer3:replica\n');
  const err = t.throws(() => parsePeerArgs(['-h', kv3, '--name', 'peer1'], 'x', {}), { instanceOf: ConfigError });
  t.regex(
    err.message,
    /^peer1 is a replica \(.*kv3\.txt\) and has no shared secret: pass --secret-file FILE or set PAXOS_SECRET/,
  );
  t.false(err.message.includes('\n'), 'one line');
  const secure = parsePeerArgs(['-h', kv3, '--name', 'peer1'], 'x', WITH_SECRET);
  t.true(secure !== 'help' && secure.mode === 'log' && secure.secret !== null);
  const open = parsePeerArgs(['-h', kv3, '--name', 'peer1', '--insecure'], 'x', {});
  t.true(open !== 'help' && open.mode === 'log' && open.secret === null);
  const lab = parsePeerArgs(['-h', HOSTS1, '--name', 'peer2'], 'x', {});
  t.true(lab !== 'help' && lab.mode === 'lab' && lab.secret === null);
});

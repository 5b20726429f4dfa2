import path from 'node:path';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { ConfigError } from '../../src/config/errors.js';
import { hasRole, loadHostsfile, parseHostsfile, type Cluster } from '../../src/config/hostsfile.js';
import { ROOT } from '../helpers/cli.js';

// The lab's two reference hostsfiles (docs/protocol.md), verbatim.
const TESTCASE1 = `peer1:proposer1
peer2:acceptor1
peer3:acceptor1
peer4:acceptor1
peer5:learner1
`;

const TESTCASE2 = `peer1:proposer1
peer2:acceptor1,acceptor2
peer3:acceptor1,acceptor2
peer4:acceptor1,acceptor2
peer5:proposer2
`;

const F = 'hosts.txt';

/** Escape a string for use inside a RegExp. */
/** Parse `text` as hosts.txt and expect a ConfigError matching `message`. */
function rejects(text: string, message: RegExp): (t: ExecutionContext) => void {
  return (t) => {
    const err = t.throws(() => parseHostsfile(text, F), { instanceOf: ConfigError, message });
    t.is(err?.name, 'ConfigError');
  };
}

function summary(c: Cluster): Array<[number, string, string]> {
  return c.hosts.map((h) => [h.id, h.host, h.roles.map((r) => `${r.kind}${r.group}`).join(',')]);
}

// ---------------------------------------------------------------------------
// The reference hostsfiles

test('testcase 1 hostsfile: ids are 1-based line numbers, roles and groups parsed', (t) => {
  const c = parseHostsfile(TESTCASE1, F);
  t.is(c.file, F);
  t.deepEqual(summary(c), [
    [1, 'peer1', 'proposer1'],
    [2, 'peer2', 'acceptor1'],
    [3, 'peer3', 'acceptor1'],
    [4, 'peer4', 'acceptor1'],
    [5, 'peer5', 'learner1'],
  ]);
  t.is(c.stride, 1);
  t.deepEqual(c.warnings, []);
  t.deepEqual(c.acceptorsOf(1), [2, 3, 4]);
  t.deepEqual(c.learnersOf(1), [5]);
  t.is(c.proposerOf(1)?.id, 1);
  t.is(c.proposerOf(1)?.host, 'peer1');
  t.is(c.proposerOf(2), undefined);
  t.deepEqual(c.acceptorsOf(2), []);
  t.deepEqual(c.learnersOf(2), []);
});

test('testcase 1 hostsfile: byHost and byId find the same entries', (t) => {
  const c = parseHostsfile(TESTCASE1, F);
  t.is(c.byHost('peer3')?.id, 3);
  t.is(c.byId(3)?.host, 'peer3');
  t.is(c.byId(5)?.host, 'peer5');
  t.is(c.byHost('peer6'), undefined);
  t.is(c.byHost('PEER3')?.id, 3, 'hostnames compare case-insensitively, as DNS does');
  t.is(c.byId(6), undefined);
  t.is(c.byId(0), undefined);
  const p1 = c.byHost('peer1');
  t.truthy(p1);
  if (p1 === undefined) return;
  t.true(hasRole(p1, 'proposer'));
  t.true(hasRole(p1, 'proposer', 1));
  t.false(hasRole(p1, 'proposer', 2));
  t.false(hasRole(p1, 'acceptor'));
});

test('testcase 2 hostsfile: two groups sharing acceptors, stride is the highest proposer group', (t) => {
  const c = parseHostsfile(TESTCASE2, F);
  t.deepEqual(summary(c), [
    [1, 'peer1', 'proposer1'],
    [2, 'peer2', 'acceptor1,acceptor2'],
    [3, 'peer3', 'acceptor1,acceptor2'],
    [4, 'peer4', 'acceptor1,acceptor2'],
    [5, 'peer5', 'proposer2'],
  ]);
  t.deepEqual(c.hosts[1]?.roles, [
    { kind: 'acceptor', group: 1 },
    { kind: 'acceptor', group: 2 },
  ]);
  t.is(c.stride, 2);
  t.deepEqual(c.warnings, []);
  t.deepEqual(c.acceptorsOf(1), [2, 3, 4]);
  t.deepEqual(c.acceptorsOf(2), [2, 3, 4]);
  t.deepEqual(c.learnersOf(1), []);
  t.deepEqual(c.learnersOf(2), []);
  t.is(c.proposerOf(1)?.host, 'peer1');
  t.is(c.proposerOf(2)?.host, 'peer5');
  t.is(c.proposerOf(2)?.id, 5);
});

test('a peer may hold several roles in several groups; stride ignores non-proposer groups', (t) => {
  const c = parseHostsfile('a:proposer1,acceptor1,learner1\nb:acceptor1,acceptor3,learner3\nc:acceptor1\n', F);
  t.deepEqual(summary(c), [
    [1, 'a', 'proposer1,acceptor1,learner1'],
    [2, 'b', 'acceptor1,acceptor3,learner3'],
    [3, 'c', 'acceptor1'],
  ]);
  t.is(c.stride, 1);
  t.deepEqual(c.acceptorsOf(1), [1, 2, 3]);
  t.deepEqual(c.acceptorsOf(3), [2]);
  t.deepEqual(c.learnersOf(1), [1]);
  t.is(c.proposerOf(1)?.id, 1);
  t.is(c.proposerOf(3), undefined);
});

test('stride is the highest proposer group even when groups are sparse', (t) => {
  const c = parseHostsfile('a:proposer7\nb:acceptor7,acceptor2\nc:proposer2\n', F);
  t.is(c.stride, 7);
  t.is(c.proposerOf(7)?.id, 1);
  t.is(c.proposerOf(2)?.id, 3);
  t.deepEqual(c.acceptorsOf(2), [2]);
});

test('a hostsfile with no proposer at all has stride 1', (t) => {
  const c = parseHostsfile('a:acceptor1\nb:acceptor1\n', F);
  t.is(c.stride, 1);
  t.is(c.proposerOf(1), undefined);
  t.deepEqual(c.warnings, []);
});

test('hostnames may be FQDNs or IPv4 addresses, with - and _ inside', (t) => {
  const c = parseHostsfile('peer-1.example.com:proposer1\n10.0.0.2:acceptor1\nmy_host:acceptor1\n', F);
  t.deepEqual(
    c.hosts.map((h) => h.host),
    ['peer-1.example.com', '10.0.0.2', 'my_host'],
  );
});

// ---------------------------------------------------------------------------
// Line endings and whitespace

test('CRLF line endings parse like LF', (t) => {
  const crlf = TESTCASE1.replace(/\n/g, '\r\n');
  const c = parseHostsfile(crlf, F);
  t.deepEqual(summary(c), summary(parseHostsfile(TESTCASE1, F)));
  t.is(c.hosts[4]?.host, 'peer5');
  t.deepEqual(c.learnersOf(1), [5]);
});

test('CRLF with several roles per line: the last role has no stray \\r', (t) => {
  const c = parseHostsfile(TESTCASE2.replace(/\n/g, '\r\n'), F);
  t.deepEqual(c.hosts[3]?.roles, [
    { kind: 'acceptor', group: 1 },
    { kind: 'acceptor', group: 2 },
  ]);
  t.is(c.stride, 2);
});

test('no trailing newline is fine', (t) => {
  const c = parseHostsfile(TESTCASE1.trimEnd(), F);
  t.is(c.hosts.length, 5);
  t.is(c.hosts[4]?.host, 'peer5');
});

test('trailing blank lines (also with spaces and CRLF) are ignored', (t) => {
  const c = parseHostsfile(`${TESTCASE1}\n\n   \r\n\t\n`, F);
  t.is(c.hosts.length, 5);
  t.deepEqual(c.learnersOf(1), [5]);
});

test('spaces around host, colon, roles and commas are trimmed', (t) => {
  const c = parseHostsfile('  peer1 : proposer1 \npeer2:acceptor1 , acceptor2\npeer3:\tproposer2\n', F);
  t.deepEqual(summary(c), [
    [1, 'peer1', 'proposer1'],
    [2, 'peer2', 'acceptor1,acceptor2'],
    [3, 'peer3', 'proposer2'],
  ]);
});

// ---------------------------------------------------------------------------
// Errors: each names the file, the line and the problem.

test('empty file is an error naming the file', rejects('', /hosts\.txt.*\bempty\b/));

test('a file of only blank lines is empty', rejects('\n\r\n   \n', /hosts\.txt.*\bempty\b/));

test(
  'blank line in the middle: names the line, since ids are line numbers',
  rejects('peer1:proposer1\npeer2:acceptor1\n\npeer4:acceptor1\n', /^hosts\.txt:3: empty line/),
);

test(
  'whitespace-only line in the middle is a blank line too',
  rejects('peer1:proposer1\n   \npeer3:acceptor1\n', /^hosts\.txt:2: empty line/),
);

test(
  'blank first line is reported as line 1',
  rejects('\npeer1:proposer1\npeer2:acceptor1\n', /^hosts\.txt:1: empty line/),
);

test(
  'line without a colon: shows the expected format and the offending text',
  rejects(
    'peer1:proposer1\npeer2 acceptor1\npeer3:acceptor1\n',
    /^hosts\.txt:2: expected hostname:role.*"peer2 acceptor1"/,
  ),
);

test('missing hostname before the colon', rejects('peer1:proposer1\n:acceptor1\n', /^hosts\.txt:2: missing hostname/));

test(
  'invalid hostname with a space',
  rejects('peer1:proposer1\npeer 2:acceptor1\n', /^hosts\.txt:2: "peer 2" is not a valid hostname/),
);

test(
  'invalid hostname starting with a dash',
  rejects('peer1:proposer1\npeer2:acceptor1\n-peer3:acceptor1\n', /^hosts\.txt:3: "-peer3" is not a valid hostname/),
);

test(
  'invalid hostname with an empty label',
  rejects('peer1:proposer1\na..b:acceptor1\n', /^hosts\.txt:2: "a\.\.b" is not a valid hostname/),
);

test(
  'the same host in another case is a duplicate',
  rejects('peer1:proposer1\nPeer1:acceptor1\n', /^hosts\.txt:2: host Peer1 is already on line 1/),
);

test(
  'invalid hostname with a slash',
  rejects('peer/1:proposer1\n', /^hosts\.txt:1: "peer\/1" is not a valid hostname/),
);

test(
  'empty role list after the colon',
  rejects('peer1:proposer1\npeer2:acceptor1\npeer3:\n', /^hosts\.txt:3: peer3 has no roles/),
);

test('role list of only spaces is empty', rejects('peer1:proposer1\npeer2:   \n', /^hosts\.txt:2: peer2 has no roles/));

test(
  'empty role between commas',
  rejects('peer1:proposer1\npeer2:acceptor1,,acceptor2\n', /^hosts\.txt:2: empty role in "acceptor1,,acceptor2"/),
);

test('trailing comma is an empty role', rejects('peer1:proposer1\npeer2:acceptor1,\n', /^hosts\.txt:2: empty role/));

test('leading comma is an empty role', rejects('peer1:,proposer1\n', /^hosts\.txt:1: empty role/));

test(
  'unknown role: misspelt aceptor1',
  rejects(
    'peer1:proposer1\npeer2:acceptor1\npeer3:aceptor1\n',
    /^hosts\.txt:3: unknown role "aceptor1"; .*proposerK, acceptorK or learnerK/,
  ),
);

test(
  'unknown role: group 0 (proposer0)',
  rejects('peer1:proposer0\npeer2:acceptor1\n', /^hosts\.txt:1: unknown role "proposer0"/),
);

test(
  'unknown role: group with a leading zero (acceptor01)',
  rejects('peer1:proposer1\npeer2:acceptor01\n', /^hosts\.txt:2: unknown role "acceptor01"/),
);

test(
  'unknown role: no group number (acceptor)',
  rejects('peer1:proposer1\npeer2:acceptor\n', /^hosts\.txt:2: unknown role "acceptor"/),
);

test(
  'unknown role: wrong case (Acceptor1)',
  rejects('peer1:proposer1\npeer2:Acceptor1\n', /^hosts\.txt:2: unknown role "Acceptor1"/),
);

test(
  'unknown role: negative group (learner-1)',
  rejects('peer1:proposer1\npeer2:acceptor1\npeer3:learner-1\n', /^hosts\.txt:3: unknown role "learner-1"/),
);

test(
  'unknown role in the second position of a list',
  rejects('peer1:proposer1\npeer2:acceptor1,leader1\n', /^hosts\.txt:2: unknown role "leader1"/),
);

test(
  'duplicate role on one line',
  rejects(
    'peer1:proposer1\npeer2:acceptor1,learner1,acceptor1\n',
    /^hosts\.txt:2: role acceptor1 is listed twice for peer2/,
  ),
);

test(
  'duplicate host names the earlier line',
  rejects(
    'peer1:proposer1\npeer2:acceptor1\npeer3:acceptor1\npeer2:learner1\n',
    /^hosts\.txt:4: host peer2 is already on line 2/,
  ),
);

test(
  'two peers claiming the same proposerK: names both the claimant and the owner',
  rejects(
    'peer1:proposer1\npeer2:acceptor1\npeer3:acceptor1,proposer1\n',
    /^hosts\.txt:3: proposer1 is already claimed by peer1 on line 1/,
  ),
);

test(
  'proposer group with no acceptors: names the proposer line, group and host',
  rejects(
    'peer1:proposer1\npeer2:acceptor1\npeer3:proposer2\npeer4:learner2\n',
    /^hosts\.txt:3: proposer2 \(peer3\) has no acceptors/,
  ),
);

test(
  'proposer group with no acceptors even though other groups have some',
  rejects(
    'peer1:acceptor1\npeer2:proposer3,acceptor2\n',
    /^hosts\.txt:2: proposer3 \(peer2\) has no acceptors.*acceptor3/,
  ),
);

test('errors carry the file name given, including a directory path', (t) => {
  t.throws(() => parseHostsfile('peer1:proposer1\npeer2:bogus1\n', 'testcases/1/hostsfile'), {
    instanceOf: ConfigError,
    message: /^testcases\/1\/hostsfile:2: unknown role "bogus1"/,
  });
});

test('error line numbers count CRLF lines correctly', (t) => {
  t.throws(() => parseHostsfile('peer1:proposer1\r\npeer2:acceptor1\r\npeer3:acceptr1\r\n', F), {
    instanceOf: ConfigError,
    message: /^hosts\.txt:3: unknown role "acceptr1"/,
  });
});

test('every error message is a single line', (t) => {
  const bad = [
    '',
    'a:proposer1\n\nb:acceptor1',
    'a proposer1',
    ':acceptor1',
    'a b:acceptor1',
    'a:',
    'a:acceptor1,,learner1',
    'a:aceptor1',
    'a:acceptor1,acceptor1',
    'a:acceptor1\na:learner1',
    'a:proposer1,acceptor1\nb:proposer1',
    'a:proposer1',
  ];
  for (const text of bad) {
    const err = t.throws(() => parseHostsfile(text, F), { instanceOf: ConfigError });
    t.false(err?.message.includes('\n'), `multi-line message for ${JSON.stringify(text)}`);
    t.regex(err?.message ?? '', /hosts\.txt/);
  }
});

// ---------------------------------------------------------------------------
// Warnings

test('warning for a group with learners but no proposer', (t) => {
  const c = parseHostsfile('peer1:proposer1\npeer2:acceptor1,acceptor2\npeer3:learner1\npeer4:learner2\n', F);
  t.deepEqual(c.warnings.length, 1);
  t.regex(c.warnings[0] ?? '', /^hosts\.txt: group 2 has learners but no proposer2/);
  t.deepEqual(c.learnersOf(2), [4]);
  t.is(c.proposerOf(2), undefined);
});

test('one warning per proposerless learner group, in group order', (t) => {
  const c = parseHostsfile('a:learner5\nb:learner3,acceptor3\nc:proposer1,acceptor1,learner1\n', F);
  t.is(c.warnings.length, 2);
  t.regex(c.warnings[0] ?? '', /group 3 has learners but no proposer3/);
  t.regex(c.warnings[1] ?? '', /group 5 has learners but no proposer5/);
});

test('no warning for a group with acceptors but no proposer and no learners', (t) => {
  const c = parseHostsfile('a:proposer1\nb:acceptor1,acceptor2\n', F);
  t.deepEqual(c.warnings, []);
});

// ---------------------------------------------------------------------------
// Replicated-log hostsfiles: every line HOST:replica

test('a replicated-log hostsfile: every host a replica, ids by line, lab files keep their meaning', (t) => {
  const c = parseHostsfile('peer1:replica\npeer2:replica\npeer3:replica\n', F);
  t.is(c.mode, 'log');
  t.deepEqual(c.replicas, [1, 2, 3]);
  t.deepEqual(summary(c), [
    [1, 'peer1', 'replica0'],
    [2, 'peer2', 'replica0'],
    [3, 'peer3', 'replica0'],
  ]);
  t.is(c.proposerOf(1), undefined);
  const lab = parseHostsfile(TESTCASE2, F);
  t.is(lab.mode, 'lab');
  t.deepEqual(lab.replicas, []);
});

test('the shipped kv3 and kv5 hostsfiles are replicated-log clusters of 3 and 5', (t) => {
  t.deepEqual(loadHostsfile(path.join(ROOT, 'testcases/kv3/hostsfile')).replicas, [1, 2, 3]);
  t.deepEqual(loadHostsfile(path.join(ROOT, 'testcases/kv5/hostsfile')).replicas, [1, 2, 3, 4, 5]);
});

test(
  'replica mixed with lab roles on one line',
  rejects('peer1:replica,acceptor1\npeer2:replica\n', /^hosts\.txt:1: peer1 mixes replica with other roles/),
);
test(
  'replica lines mixed with lab lines',
  rejects(
    'peer1:replica\npeer2:acceptor1\n',
    /^hosts\.txt:2: peer2 has lab roles, but line 1 makes this a replicated-log hostsfile/,
  ),
);
test(
  'replica with a group number is an unknown role',
  rejects('peer1:replica1\n', /^hosts\.txt:1: unknown role "replica1"; .*hostname:replica/),
);

// loadHostsfile on real files: it reads one and records its path, and names
// the path when there is no file or a directory instead (parsing itself is
// unit/hostsfile.test.ts).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { ConfigError } from '../../src/config/errors.js';
import { loadHostsfile } from '../../src/config/hostsfile.js';

const TESTCASE2 = `peer1:proposer1
peer2:acceptor1,acceptor2
peer3:acceptor1,acceptor2
peer4:acceptor1,acceptor2
peer5:proposer2
`;

function re(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('loadHostsfile reads a file from disk and records its path', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paxos-hosts-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'hostsfile');
  fs.writeFileSync(file, TESTCASE2);
  const c = loadHostsfile(file);
  t.is(c.file, file);
  t.is(c.hosts.length, 5);
  t.is(c.proposerOf(2)?.host, 'peer5');
  t.is(c.stride, 2);
});

test('missing file: loadHostsfile names the path and says there is no such file', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paxos-hosts-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'does-not-exist.txt');
  t.throws(() => loadHostsfile(file), {
    instanceOf: ConfigError,
    message: new RegExp(`${re(file)}.*no such file`),
  });
});

test('a directory instead of a file: loadHostsfile names the path and says so', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paxos-hosts-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  t.throws(() => loadHostsfile(dir), {
    instanceOf: ConfigError,
    message: new RegExp(`${re(dir)}.*directory`),
  });
});

// `paxos check`: passes every committed testcase's transcripts, and fails
// doctored ones, naming the file and line.

import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { paxosSync, ROOT as root } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { hostOfLabel, readMerged } from '../../src/transcript/read.js';

const check = (...args: string[]) => paxosSync(['check', ...args], { timeoutMs: 30_000 });

/** A copy of testcase `tc` whose expected/<peer>.log line `n` (1-based) is replaced. */
function doctor(tc: string, peer: string, n: number, edit: (line: string) => string | null): string {
  const dir = path.join(tempDir('check'), tc);
  cpSync(path.join(root, 'testcases', tc), dir, { recursive: true });
  const file = path.join(dir, 'expected', `${peer}.log`);
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  const changed = edit(lines[n - 1]!);
  if (changed === null) lines.splice(n - 1, 1);
  else lines[n - 1] = changed;
  writeFileSync(file, `${lines.join('\n')}\n`);
  return path.join(dir, 'expected');
}

test('every committed testcase golden passes the checker', (t) => {
  const dirs = readdirSync(path.join(root, 'testcases')).filter((d) =>
    existsSync(path.join(root, 'testcases', d, 'expected')),
  );
  t.true(dirs.length >= 2);
  for (const d of dirs) {
    const r = check(path.join(root, 'testcases', d, 'expected'));
    t.is(r.code, 0, `${d}: ${r.out}${r.err}`);
    t.regex(r.out, /^check: ok: /m);
  }
});

test('a merged transcript from paxos run passes, ANSI colours and all', (t) => {
  const run = paxosSync(['run', path.join(root, 'testcases/duel'), '--no-compare'], { timeoutMs: 60_000 });
  t.is(run.code, 0, run.err);
  const colored = run.out.replace(/^(p\d|a\d) \| /gm, '\x1b[36m$1    |\x1b[0m ');
  const file = path.join(tempDir('check'), 'run.txt');
  writeFileSync(file, `Attaching to p1, p2\n${colored}p1 exited with code 0\n`);
  const r = check(file, '--hostsfile', path.join(root, 'testcases/duel/hostsfile'));
  t.is(r.code, 0, r.out);
  t.regex(r.out, /check: ok: 8 peers/);
});

test('doctored: two values chosen', (t) => {
  const dir = doctor('2', 'peer4', 12, (l) => l.replace('"X"', '"Y"'));
  const r = check(dir);
  t.is(r.code, 1);
  t.regex(r.out, /peer4\.log:12: peer4: safety: chose "Y", but peer1 line 7 chose "X"/);
  t.regex(r.out, /peer4\.log:12: peer4: safety: chose "Y", which no proposer sent in an accept/);
});

test('doctored: a chose without its quorum of accept_acks', (t) => {
  // peer1 keeps one of its three accept_acks for (X, 1): not a quorum.
  const once = doctor('1', 'peer1', 6, () => null);
  const dir = path.dirname(once);
  const file = path.join(dir, 'expected', 'peer1.log');
  const lines = readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .filter((l) => !l.includes('"peer_id":4,"action":"received","message_type":"accept_ack"'));
  writeFileSync(file, `${lines.join('\n')}\n`);
  const r = check(path.join(dir, 'expected'));
  t.is(r.code, 1);
  t.regex(r.out, /peer1\.log:6: peer1: out of order: chose "X" 1 before a quorum of matching accept_acks/);
  for (const [peer, line] of [
    ['peer1', 6],
    ['peer2', 6],
    ['peer3', 6],
    ['peer4', 6],
    ['peer5', 2],
  ] as const) {
    t.regex(
      r.out,
      new RegExp(
        `${peer}\\.log:${line}: ${peer}: chose "X" at 1, but peer1 got only 1 matching accept_acks \\(quorum 2\\)`,
      ),
    );
  }
});

test('doctored: an acceptor whose accept_ack promise goes down', (t) => {
  // Its first accept_ack claims a promise of 3; the later one shows only 2.
  const dir = doctor('2', 'peer3', 4, (l) => l.replace('"proposal_num":1', '"proposal_num":3'));
  const r = check(dir);
  t.is(r.code, 1);
  t.regex(r.out, /peer3\.log:10: peer3: accept_ack shows promise 2, below the 3 this acceptor showed before/);
});

test('doctored: a proposer that did not adopt the highest accepted value', (t) => {
  // peer5's promises all report X accepted at 1; it sends accept Y instead.
  const dir = doctor('2', 'peer5', 4, (l) => l.replace('"X"', '"Y"'));
  const r = check(dir);
  t.is(r.code, 1);
  t.regex(
    r.out,
    new RegExp(
      /peer5\.log:4: peer5: sent accept "Y" at 2, but its promises report "X" accepted at /.source +
        /1 as the highest accepted: it must adopt that/.source,
    ),
  );
});

test('doctored: a line in the wrong format is named', (t) => {
  const dir = doctor('1', 'peer3', 2, (l) => l.replace(',"action"', ', "action"'));
  const r = check(dir);
  t.is(r.code, 1);
  t.regex(r.out, /peer3\.log:2: peer3: not a valid log line \(not in the exact format/);
});

test('usage errors: no file, a missing file, no hostsfile', (t) => {
  t.is(check().code, 2);
  const missing = check('/nonexistent/run.txt');
  t.is(missing.code, 2);
  t.regex(missing.err, /no such file or directory/);
  // Run from a directory with no ./hostsfile to fall back to.
  const lonely = path.join(tempDir('check'), 'run.txt');
  writeFileSync(lonely, 'peer1 | {}\n');
  const none = paxosSync(['check', lonely], { timeoutMs: 30_000, cwd: path.dirname(lonely) });
  t.is(none.code, 2);
  t.regex(none.err, /no hostsfile next to .*, nor in \.\/; pass --hostsfile F/);
});

test('reading merged output: labels, compose v2 names, and what is skipped', (t) => {
  const text = [
    'Attaching to a',
    '\x1b[33mpeer2    |\x1b[0m {"x":1}',
    'tc-peer3-1  | {"y":2}',
    'peer2 | peer2: warning: hello',
    'junk',
  ].join('\n');
  const peers = readMerged(text, 'f');
  t.deepEqual(
    peers.map((p) => [p.label, p.lines, p.at]),
    [
      ['peer2', ['{"x":1}'], ['f:2']],
      ['tc-peer3-1', ['{"y":2}'], ['f:3']],
    ],
  );
  t.is(hostOfLabel('tc-peer3-1', ['peer1', 'peer3']), 'peer3');
  t.is(hostOfLabel('PEER1', ['peer1']), 'peer1');
  t.is(hostOfLabel('other', ['peer1']), undefined);
});

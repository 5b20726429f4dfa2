// Integration: testcases 1 and 2 run as real processes on real sockets
// through the local runner, and are compared with their goldens.

import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { paxosSync, ROOT as root } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { runTestcase, type RunResult } from '../../src/runner/run.js';

const chose = (r: RunResult, label: string): string[] => r.peers.find((p) => p.service.label === label)?.chose ?? [];

function explain(r: RunResult): string {
  return [r.failure, ...(r.mismatches ?? []).map((m) => `${m.peer}: ${m.message}`), ...r.merged].join('\n');
}

/** A copy of a testcase whose expected/<peer>.log lost its line `lineNo` (1-based). */
function doctored(tc: string, peer: string, lineNo: number): { dir: string; removed: string } {
  const dir = path.join(tempDir('tc'), tc);
  cpSync(path.join(root, 'testcases', tc), dir, { recursive: true });
  const file = path.join(dir, 'expected', `${peer}.log`);
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  const [removed] = lines.splice(lineNo - 1, 1);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return { dir, removed: removed! };
}

test('testcase 1 matches its goldens on per-peer loopback addresses', async (t) => {
  const r = await runTestcase(path.join(root, 'testcases/1'), { timeoutMs: 30_000 });
  t.true(r.ok, explain(r));
  t.is(r.addressMode, 'loopback');
  t.deepEqual(r.mismatches, []);
  t.is(r.inFlightAtEnd, 0, 'every message sent was received before the run ended');
  for (const p of ['peer1', 'peer2', 'peer3', 'peer4', 'peer5']) t.deepEqual(chose(r, p), ['X'], p);
  t.is(r.summary, 'chosen: peer1=X peer2=X peer3=X peer4=X peer5=X (all chose X)');
});

test('testcase 1 also runs on distinct ports of 127.0.0.1 (the fallback)', async (t) => {
  const r = await runTestcase(path.join(root, 'testcases/1'), { timeoutMs: 30_000, addressMode: 'ports' });
  t.true(r.ok, explain(r));
  t.is(r.addressMode, 'ports');
  t.deepEqual(r.mismatches, []);
});

/** Runs a testcase with its stderr (the runner's and the peers', prefixed) collected. */
async function runCollecting(
  dir: string,
  options: Parameters<typeof runTestcase>[1] = {},
): Promise<{ r: RunResult; err: string[] }> {
  const err: string[] = [];
  const r = await runTestcase(dir, {
    timeoutMs: 45_000,
    ...options,
    echo: { out: () => undefined, err: (l) => err.push(l) },
  });
  return { r, err };
}

test('testcase 2 matches its goldens and both proposers choose X', async (t) => {
  const { r, err } = await runCollecting(path.join(root, 'testcases/2'));
  t.true(r.ok, explain(r));
  // At start the runner says why nothing happens at peer5 for a while.
  t.deepEqual(
    err.filter((l) => /proposes in/.test(l)),
    ['paxos run: peer5 proposes in 10 s (-t 10)'],
    err.join('\n'),
  );
  // One "no shared secret" warning for the run, from the runner, not one per peer.
  t.deepEqual(
    err.filter((l) => /no shared secret/.test(l)),
    ['paxos run: warning: no shared secret (--secret-file or PAXOS_SECRET): connections are not authenticated'],
    err.join('\n'),
  );
  t.deepEqual(r.mismatches, []);
  t.deepEqual(chose(r, 'peer1'), ['X']);
  t.deepEqual(chose(r, 'peer5'), ['X'], 'proposer 2 adopts X, never Y');
  for (const p of ['peer2', 'peer3', 'peer4'])
    t.deepEqual(chose(r, p), ['X', 'X'], `${p} hears chose from both proposers`);
});

test('with a shared secret, neither the runner nor the peers warn that there is none', async (t) => {
  const secret = path.join(tempDir('secret'), 'secret');
  writeFileSync(secret, 'a shared secret, long enough\n', { mode: 0o600 });
  const { r, err } = await runCollecting(path.join(root, 'testcases/1'), { peerArgs: ['--secret-file', secret] });
  t.true(r.ok, explain(r));
  t.deepEqual(
    err.filter((l) => /secret/.test(l)),
    [],
    err.join('\n'),
  );
  t.deepEqual(
    err.filter((l) => /proposes in/.test(l)),
    [],
    'testcase 1 has no -t',
  );
});

test('two runs at once get separate addresses and both pass', async (t) => {
  const [a, b] = await Promise.all([
    runTestcase(path.join(root, 'testcases/1'), { timeoutMs: 30_000 }),
    runTestcase(path.join(root, 'testcases/1'), { timeoutMs: 30_000 }),
  ]);
  t.true(a.ok, explain(a));
  t.true(b.ok, explain(b));
});

test('a golden with a line removed fails, naming the peer and the line', async (t) => {
  const { dir, removed } = doctored('1', 'peer3', 4);
  const r = await runTestcase(dir, { timeoutMs: 30_000 });
  t.false(r.ok);
  t.is(r.outcome, 'decided');
  t.deepEqual(
    r.mismatches?.map((m) => `${m.peer}: ${m.message}`),
    [`peer3: line 4 is not in ${path.relative(process.cwd(), path.join(dir, 'expected'))}/peer3.log: ${removed}`],
  );
});

test('the CLI: `paxos run` prints the merged transcript and a summary, and exits 1 on a mismatch', (t) => {
  const ok = paxosSync(['run', path.join(root, 'testcases/1')], { timeoutMs: 120_000 });
  t.is(ok.code, 0, ok.err);
  const out = ok.out.trimEnd().split('\n');
  t.is(out.filter((l) => /^peer[1-5] \| \{/.test(l)).length, 30, 'every log line, prefixed as docker compose does');
  t.is(out.at(-2), 'chosen: peer1=X peer2=X peer3=X peer4=X peer5=X (all chose X)');
  t.regex(out.at(-1)!, /^expected: every peer matches/);

  const { dir, removed } = doctored('1', 'peer1', 1);
  const bad = paxosSync(['run', '--quiet', dir], { timeoutMs: 120_000 });
  t.is(bad.code, 1);
  t.true(bad.out.includes(`mismatch: peer1: line 1 is not in`), bad.out);
  t.true(bad.out.includes(removed));
  t.regex(bad.err, /FAILED: 1 mismatches/);
});

test('a peer with a config error fails the run at once with its message', async (t) => {
  const dir = path.join(tempDir('tc'), 'bad');
  cpSync(path.join(root, 'testcases/1'), dir, { recursive: true });
  const compose = readFileSync(path.join(dir, 'docker-compose.yml'), 'utf8');
  writeFileSync(
    path.join(dir, 'docker-compose.yml'),
    compose.replace('-h hostsfile -v X', '-h hostsfile -v X -t soon'),
  );
  const r = await runTestcase(dir, { timeoutMs: 30_000 });
  t.is(r.outcome, 'peer-exit');
  t.regex(
    r.failure,
    /peer1 exited early \(status 2\): paxos: -t expects seconds from 0 to 2147483, e\.g\. 10 or 0\.5; got "soon"/,
  );
});

test('a run where peers chose different values fails, goldens or not', async (t) => {
  // Two groups with no acceptor in common: each decides on its own, so the
  // cluster ends up with two values, which the runner must not call a pass.
  const dir = tempDir('split');
  writeFileSync(path.join(dir, 'hostsfile'), 'a:proposer1\nb:acceptor1\nc:proposer2\nd:acceptor2\n');
  const svc = (name: string, flags: string): string =>
    `  ${name}:\n    hostname: ${name}\n    volumes: ["./hostsfile:/app/hostsfile:ro"]\n    command: -h hostsfile ` +
    `${flags}\n`;
  writeFileSync(
    path.join(dir, 'docker-compose.yml'),
    `services:\n${svc('a', '-v X')}${svc('b', '')}${svc('c', '-v Y')}${svc('d', '')}`,
  );
  const r = await runTestcase(dir, { timeoutMs: 30_000 });
  t.is(r.outcome, 'decided');
  t.false(r.ok);
  t.is(r.mismatches, null, 'no expected/ directory here');
  t.is(r.failure, 'peers chose different values: X, Y');
  t.regex(r.summary, /\(DISAGREE\)$/);
});

test('duelling proposers: three at -t 0 on five shared acceptors end with one value, chosen by all', async (t) => {
  for (let i = 0; i < 3; i++) {
    const r = await runTestcase(path.join(root, 'testcases/duel'), { timeoutMs: 30_000 });
    t.true(r.ok, explain(r));
    const values = ['p1', 'p2', 'p3'].map((p) => chose(r, p));
    t.true(
      values.every((v) => v.length >= 1),
      `every proposer chose: ${r.summary}`,
    );
    t.is(new Set(values.flat()).size, 1, r.summary);
    t.true(['A', 'B', 'C'].includes(values[0]![0]!), 'the value was one of those proposed');
  }
});

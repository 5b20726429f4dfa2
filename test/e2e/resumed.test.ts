// A resumed run: `paxos run --data-root DIR` a second time starts every peer
// from the state the first run left. Peers that remember the decision print
// `chose` for it from memory; the checker must take that for what it is (a
// recollection), and still catch a run that is genuinely unsafe.

import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { paxos as paxosRaw, ROOT as root, type Ran } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { parseHostsfile } from '../../src/config/hostsfile.js';
import { checkTranscripts, type Transcript } from '../../src/transcript/check.js';

const cluster2 = parseHostsfile(readFileSync(path.join(root, 'testcases/2/hostsfile'), 'utf8'), 'hostsfile');

const L = (peer: number, action: string, type: string, value: string, n: number): string =>
  JSON.stringify({ peer_id: peer, action, message_type: type, message_value: value, proposal_num: n });

/** What testcase 2 prints when every peer resumes knowing X: chose from memory, and the announcements. */
function secondRun(value = 'X'): Array<{ label: string; id: number; lines: string[] }> {
  const acceptor = (id: number): string[] => [
    L(1, 'received', 'chose', value, 1),
    L(id, 'chose', 'chose', value, 1),
    L(5, 'received', 'chose', value, 2),
    L(id, 'chose', 'chose', value, 2),
  ];
  return [
    { label: 'peer1', id: 1, lines: [L(1, 'chose', 'chose', value, 1), L(1, 'sent', 'chose', value, 1)] },
    { label: 'peer2', id: 2, lines: acceptor(2) },
    { label: 'peer3', id: 3, lines: acceptor(3) },
    { label: 'peer4', id: 4, lines: acceptor(4) },
    { label: 'peer5', id: 5, lines: [L(5, 'chose', 'chose', value, 2), L(5, 'sent', 'chose', value, 2)] },
  ];
}

const resumedWith = (
  peers: ReturnType<typeof secondRun>,
  remembered: (label: string) => string | undefined,
): Transcript[] => peers.map((p) => ({ ...p, resumed: { remembered: remembered(p.label) } }));

test('checker: a resumed run whose peers remember X and reprint it passes', (t) => {
  t.deepEqual(
    checkTranscripts(
      resumedWith(secondRun(), () => 'X'),
      cluster2,
    ),
    [],
  );
});

test('checker: the same lines from empty state still fail (a chose with no accept, no acks)', (t) => {
  const v = checkTranscripts(secondRun(), cluster2).map((x) => `${x.peer} ${x.line ?? ''}: ${x.message}`);
  t.true(
    v.some((m) => /peer1 1: safety: chose "X", which no proposer sent in an accept/.test(m)),
    v.join('\n'),
  );
  t.true(
    v.some((m) => /got only 0 matching accept_acks/.test(m)),
    v.join('\n'),
  );
  t.true(
    v.some((m) => /out of order: chose "X" 1 before a quorum/.test(m)),
    v.join('\n'),
  );
});

test('checker: resumed peers that remember X but print Y fail; so do peers that remember different values', (t) => {
  const wrong = checkTranscripts(
    resumedWith(secondRun('Y'), () => 'X'),
    cluster2,
  ).map((x) => x.message);
  t.true(wrong.includes('safety: chose "Y", but peer1 resumed remembering "X" as chosen'), wrong.join('\n'));
  t.true(wrong.includes('safety: chose "Y", which no proposer sent in an accept'), wrong.join('\n'));

  const split = checkTranscripts(
    resumedWith(secondRun(), (l) => (l === 'peer5' ? 'Y' : 'X')),
    cluster2,
  ).map((x) => `${x.peer}: ${x.message}`);
  t.true(split.includes('peer5: safety: resumed remembering "Y" as chosen, but peer1 remembers "X"'), split.join('\n'));
});

test('checker: a peer that resumed knowing nothing gets no allowance', (t) => {
  // The data directories held state, but none of them a decision: a chose
  // from nowhere is still a chose from nowhere.
  const v = checkTranscripts(
    resumedWith(secondRun(), () => undefined),
    cluster2,
  );
  t.true(v.some((x) => x.message === 'safety: chose "X", which no proposer sent in an accept'));
  // Only peer1 remembers X: peer5's round 2 left no acks in this run, and peer5 does not remember.
  const some = checkTranscripts(
    resumedWith(secondRun(), (l) => (l === 'peer1' ? 'X' : undefined)),
    cluster2,
  ).map((x) => `${x.peer} ${x.line ?? ''}: ${x.message}`);
  t.true(
    some.includes('peer5 1: chose "X" at 2, but peer5 got only 0 matching accept_acks (quorum 2)'),
    some.join('\n'),
  );
  t.false(
    some.some((m) => m.startsWith('peer1 ')),
    some.join('\n'),
  );
});

/** `paxos ARGS` to its end, output trimmed. */
async function paxos(args: readonly string[]): Promise<Ran> {
  const r = await paxosRaw(args);
  return { ...r, out: r.out.trimEnd(), err: r.err.trimEnd() };
}

test('paxos run twice on one --data-root: the second run resumes, passes the checker, and says so', async (t) => {
  const data = tempDir('resume');
  const tc = path.join(root, 'testcases/2');
  const first = await paxos(['run', tc, '--data-root', data, '--quiet', '--timeout', '120', '--drain', '120']);
  t.is(first.code, 0, first.out + first.err);
  t.is(
    first.out,
    `chosen: peer1=X peer2=X peer3=X peer4=X peer5=X (all chose X)\nexpected: every peer matches ${tc}/expected`,
  );

  const second = await paxos(['run', tc, '--data-root', data, '--timeout', '120', '--drain', '120']);
  t.is(second.code, 0, second.out + second.err);
  const out = second.out.split('\n');
  t.false(
    out.some((l) => l.startsWith('check: ') || l.startsWith('mismatch: ')),
    second.out,
  );
  t.is(out.at(-1), 'chosen: peer1=X peer2=X peer3=X peer4=X peer5=X (all chose X; all resumed from saved state)');
  t.regex(
    second.err,
    new RegExp(
      /paxos run: note: peer1, peer2, peer3, peer4, peer5 resumed from the state an earlier run left /.source +
        /in .*: a chose they print may be a recollection; /.source +
        /not compared with .*expected, which shows a run from empty state/.source,
    ),
  );
  t.notRegex(second.err, /FAILED/);

  // What a peer remembers is read from its state log, as the peer reads it,
  // not from the readable copy of the value (written a moment after learning).
  rmSync(path.join(data, 'peer5', 'value'));
  const quiet = await paxos([
    'run',
    tc,
    '--data-root',
    data,
    '--quiet',
    '--no-compare',
    '--timeout',
    '120',
    '--drain',
    '120',
  ]);
  t.is(quiet.code, 0, quiet.out + quiet.err);
  t.is(quiet.out, 'chosen: peer1=X peer2=X peer3=X peer4=X peer5=X (all chose X; all resumed from saved state)');
});

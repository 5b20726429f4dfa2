// `paxos run`'s live output: the readable form (src/runner/pretty.ts) of
// real log lines, lab and replicated log, its alignment and colours, and
// the CLI's choice between it and the peers' own JSON (--pretty, --json,
// a terminal or not).

import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { loadHostsfile } from '../../src/config/hostsfile.js';
import { loadCompose } from '../../src/runner/compose.js';
import { colorWanted, prettyFormatter, type PrettyPeer } from '../../src/runner/pretty.js';
import { paxos, ROOT as root, type Ran } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

// eslint-disable-next-line no-control-regex -- ESC is what is being looked for
const ESC = /\x1b\[/;
// eslint-disable-next-line no-control-regex -- stripping ANSI colour codes
const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');

/** A testcase's peers as the runner names them: compose labels, hostsfile ids. */
function peersOf(tc: string): PrettyPeer[] {
  const project = loadCompose(path.join(root, 'testcases', tc));
  const cluster = loadHostsfile(project.services[0]!.hostsfile);
  return project.services.map((s) => ({ label: s.label, id: cluster.byHost(s.hostname)?.id }));
}

/** Each expected/<peer>.log line of a testcase, with the printing peer's index. */
function goldenLines(tc: string, peers: readonly PrettyPeer[]): Array<{ index: number; raw: string }> {
  const dir = path.join(root, 'testcases', tc, 'expected');
  return peers.flatMap((p, index) => {
    const file = path.join(dir, `${p.label}.log`);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((raw) => ({ index, raw }));
  });
}

test('lab lines from testcases/2/expected read as events: sender → receiver, sent, chose', (t) => {
  const peers = peersOf('2');
  const f = prettyFormatter(peers, { color: false });
  const line = (peer: string, n: number): string => {
    const index = peers.findIndex((p) => p.label === peer);
    const raw = readFileSync(path.join(root, 'testcases/2/expected', `${peer}.log`), 'utf8').split('\n')[n - 1]!;
    return f(index, raw);
  };
  t.is(line('peer1', 1), 'peer1 sent     prepare      n=1');
  t.is(line('peer2', 1), 'peer1 → peer2  prepare      n=1');
  t.is(line('peer2', 2), 'peer2 sent     prepare_ack  n=1');
  t.is(line('peer1', 2), 'peer4 → peer1  prepare_ack  n=1');
  t.is(line('peer1', 4), 'peer1 sent     accept       n=1 "X"');
  t.is(line('peer5', 2), 'peer4 → peer5  prepare_ack  n=1 "X"', 'an acceptor reports what it accepted');
  t.is(line('peer2', 5), 'peer1 → peer2  chose        n=1 "X"');
  const chose = readFileSync(path.join(root, 'testcases/2/expected/peer3.log'), 'utf8')
    .split('\n')
    .find((l) => l.includes('"action":"chose"'))!;
  t.is(f(2, chose), 'peer3 chose    n=1 "X"');
});

test('every line of every testcase golden is decoded, and the columns line up across peers', (t) => {
  const cases = readdirSync(path.join(root, 'testcases')).filter((tc) =>
    existsSync(path.join(root, 'testcases', tc, 'expected')),
  );
  t.true(cases.length >= 5, cases.join(' '));
  for (const tc of cases) {
    const peers = peersOf(tc);
    const f = prettyFormatter(peers, { color: false });
    const width = Math.max(...peers.map((p) => p.label.length));
    const lines = goldenLines(tc, peers);
    t.true(lines.length > 0, tc);
    // "a → b" or "a chose", whichever is wider, then two spaces.
    const column = Math.max(2 * width + 3, width + 6) + 2;
    for (const { index, raw } of lines) {
      const out = f(index, raw);
      t.false(out.includes(' | '), `${tc}: ${raw} was not decoded: ${out}`);
      t.false(ESC.test(out), `${tc}: colour without asking`);
      t.true(out.startsWith(peers[index]!.label) || out.includes(`→ ${peers[index]!.label}`), `${tc}: ${out}`);
      // The printing peer's name is where it belongs, padded to the longest.
      if (out.includes(' → ')) t.is(out.indexOf(' → '), width, `${tc}: ${out}`);
      // Message types (and a decision's details) all start in one column.
      t.is(out.slice(column - 2, column + 1).replace(/\S$/, 'x'), '  x', `${tc}: ${out}`);
    }
  }
});

test('names of different lengths are padded to the longest, and an unknown sender id is shown as #id', (t) => {
  const f = prettyFormatter(
    [
      { label: 'a', id: 1 },
      { label: 'long-name', id: 2 },
    ],
    { color: false },
  );
  const prepare = '{"peer_id":1,"action":"received","message_type":"prepare","message_value":"","proposal_num":3}';
  t.is(f(1, prepare), 'a         → long-name  prepare      n=3');
  t.is(
    f(0, '{"peer_id":1,"action":"sent","message_type":"prepare","message_value":"","proposal_num":3}'),
    'a         sent         prepare      n=3',
  );
  t.is(
    f(0, '{"peer_id":9,"action":"received","message_type":"accept","message_value":"V","proposal_num":3}'),
    '#9        → a          accept       n=3 "V"',
  );
  t.is(
    f(1, '{"peer_id":2,"action":"chose","message_type":"chose","message_value":"V","proposal_num":3}'),
    'long-name chose        n=3 "V"',
  );
});

test('replicated-log lines (testcase kv3) show the slot and the batch as commands', (t) => {
  const peers = peersOf('kv3');
  t.deepEqual(
    peers.map((p) => p.label),
    ['kv3-peer1', 'kv3-peer2', 'kv3-peer3'],
  );
  const f = prettyFormatter(peers, { color: false });
  // Lines a real `paxos run testcases/kv3` printed for put, cas, del and get.
  const out = readFileSync(path.join(root, 'test/fixtures/transcripts/kv3-live.txt'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => {
      const m = /^(\S+) \| (.*)$/.exec(l)!;
      return f(
        peers.findIndex((p) => p.label === m[1]),
        m[2]!,
      );
    });
  t.is(out.length, 40);
  t.false(
    out.some((l) => l.includes(' | ')),
    out.join('\n'),
  );
  t.is(out[0], 'kv3-peer2 sent         prepare      slot=1 n=2');
  t.is(out[1], 'kv3-peer2 → kv3-peer1  prepare      slot=1 n=2');
  t.is(out[6], 'kv3-peer2 sent         accept       slot=1 n=2 put greeting "hello"');
  t.is(out[9], 'kv3-peer3 → kv3-peer2  accept_ack   slot=1 n=2');
  t.is(out[11], 'kv3-peer2 chose        slot=1 n=2 put greeting "hello"');
  t.true(
    out.includes('kv3-peer2 → kv3-peer1  accept       slot=2 n=2 cas greeting "hello" → "hi there"'),
    out.join('\n'),
  );
  t.true(out.includes('kv3-peer1 chose        slot=3 n=2 del greeting'), out.join('\n'));

  const batch = JSON.stringify([
    { o: 'noop' },
    { o: 'put', c: 'c', s: 1, k: 'a key', v: 'x'.repeat(100) },
    { o: 'get', c: 'c', s: 2, k: 'k' },
    { o: 'del', c: 'c', s: 3, k: 'k' },
  ]);
  const many = f(
    0,
    JSON.stringify({
      peer_id: 1,
      action: 'chose',
      message_type: 'chose',
      message_value: batch,
      proposal_num: 4,
      slot: 9,
    }),
  );
  t.regex(many, /^kv3-peer1 chose {8}slot=9 n=4 no-op, put "a key" "x+…, get k, \+1 more$/);
  t.is(
    f(
      0,
      JSON.stringify({
        peer_id: 1,
        action: 'chose',
        message_type: 'chose',
        message_value: '[]',
        proposal_num: 4,
        slot: 2,
      }),
    ),
    'kv3-peer1 chose        slot=2 n=4 no-op',
  );
});

test('lines that are not log lines are printed as they are, after the peer name', (t) => {
  const f = prettyFormatter(peersOf('2'), { color: true });
  t.is(f(0, 'hello'), 'peer1 | hello');
  // Not the exact format (an extra key): not decoded.
  const odd = '{"peer_id":1,"action":"sent","message_type":"prepare","message_value":"","proposal_num":1,"x":1}';
  t.is(f(0, odd), `peer1 | ${odd}`);
  t.is(f(1, '{"not":"a log line"}'), 'peer2 | {"not":"a log line"}');
});

test('colour: per message type, sent lines dim, decisions bold; the same text without the codes', (t) => {
  const peers = peersOf('2');
  const plain = prettyFormatter(peers, { color: false });
  const color = prettyFormatter(peers, { color: true });
  const lines = goldenLines('2', peers);
  const kinds = new Set<string>();
  for (const { index, raw } of lines) {
    const c = color(index, raw);
    t.true(ESC.test(c), c);
    t.is(stripAnsi(c), plain(index, raw));
    // eslint-disable-next-line no-control-regex -- the colour code before the type
    kinds.add(/\x1b\[([0-9;]+)m(?:prepare_ack|prepare|accept_ack|accept|chose) /.exec(c)?.[1] ?? 'decision');
  }
  t.true(kinds.size >= 5, [...kinds].join(' '));
});

test('colorWanted: NO_COLOR (not empty) wins; then FORCE_COLOR; else a terminal that is not dumb', (t) => {
  t.true(colorWanted({}, true));
  t.false(colorWanted({}, false));
  t.false(colorWanted({ NO_COLOR: '1' }, true));
  t.false(colorWanted({ NO_COLOR: '1', FORCE_COLOR: '1' }, true));
  t.true(colorWanted({ NO_COLOR: '' }, true), 'an empty NO_COLOR is as if unset (no-color.org)');
  t.true(colorWanted({ FORCE_COLOR: '1' }, false));
  t.false(colorWanted({ FORCE_COLOR: '0' }, true));
  t.false(colorWanted({ TERM: 'dumb' }, true));
});

/** Runs the CLI to its end, with no FORCE_COLOR or NO_COLOR but those in `env`. */
function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return paxos(args, { env: { FORCE_COLOR: undefined, NO_COLOR: undefined, ...env } });
}

test(
  "the CLI: run testcases/2 --pretty prints events; --json (as a pipe does anyway) the peers' JSON; " + 'both exit 0',
  async (t) => {
    t.timeout(120_000);
    const [pretty, json] = await Promise.all([
      runCli(['run', path.join(root, 'testcases/2'), '--pretty', '--data-root', tempDir('pretty')]),
      runCli(['run', path.join(root, 'testcases/2'), '--json', '--data-root', tempDir('json')]),
    ]);
    t.is(pretty.code, 0, pretty.err);
    const p = pretty.out.trimEnd().split('\n');
    t.false(ESC.test(pretty.out), 'no colour when stdout is a pipe');
    t.deepEqual(
      p.filter((l) => l.includes('{')),
      [],
      'no JSON',
    );
    t.regex(p.at(-2)!, /^chosen: peer1=X peer2=X peer3=X peer4=X peer5=X \(all chose X\)$/);
    t.regex(p.at(-1)!, /^expected: every peer matches/);
    const events = p.slice(0, -2);
    t.is(events.length, 56, 'one line per log line');
    t.true(
      events.every((l) => /^peer[1-5] (→ peer[1-5] {2}|sent {5}|chose {4})\S/.test(l)),
      events.join('\n'),
    );
    t.true(events.includes('peer1 → peer2  prepare      n=1'), events.join('\n'));
    t.true(events.includes('peer5 sent     accept       n=2 "X"'), events.join('\n'));
    t.deepEqual(
      events
        .filter((l) => /^peer\d chose {4}n=/.test(l))
        .map((l) => l.slice(0, 5))
        .sort(),
      ['peer1', 'peer2', 'peer2', 'peer3', 'peer3', 'peer4', 'peer4', 'peer5'],
    );
    // The runner's own lines are unchanged, on stderr.
    t.regex(pretty.err, /^paxos run: peer5 proposes in 10 s \(-t 10\)$/m);

    t.is(json.code, 0, json.err);
    const j = json.out.trimEnd().split('\n');
    t.is(j.length, 58);
    t.true(
      j.slice(0, -2).every((l) => /^peer[1-5] \| \{"peer_id":\d,"action":/.test(l)),
      json.out,
    );
    t.is(j.at(-2), p.at(-2));
  },
);

test('the CLI: --json with --pretty is one line and exit 2; --help documents both', async (t) => {
  const both = await runCli(['run', path.join(root, 'testcases/2'), '--json', '--pretty']);
  t.is(both.code, 2);
  t.is(both.out, '');
  t.is(both.err, 'paxos: --json and --pretty do not go together; pick one (see --help)\n');
  const help = await runCli(['run', '--help']);
  t.is(help.code, 0);
  t.regex(help.out, /^ {2}--json +\S/m);
  t.regex(help.out, /^ {2}--pretty +\S/m);
  t.regex(help.out, /NO_COLOR/);
});

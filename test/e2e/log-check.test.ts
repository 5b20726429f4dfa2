// `paxos check` on replicated-log transcripts: per-slot safety and one value
// per (slot, ballot), from the library and through the CLI.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { paxosSync } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { checkLogTranscripts, parseSlotLine } from '../../src/transcript/log-check.js';

const check = (...args: string[]) => paxosSync(['check', ...args], { timeoutMs: 60_000 });
const viz = (...args: string[]) => paxosSync(['viz', ...args], { timeoutMs: 60_000 });

const X = JSON.stringify([{ o: 'put', k: 'a', v: '1' }]);
const Y = JSON.stringify([{ o: 'put', k: 'a', v: '2' }]);
const Z = JSON.stringify([{ o: 'put', k: 'b', v: '3' }]);

const line = (peer: number, action: string, type: string, value: string, n: number, slot: number): string =>
  JSON.stringify({ peer_id: peer, action, message_type: type, message_value: value, proposal_num: n, slot });

/** Leader peer1 (ballot 1) gets slots 0 and 1 accepted by peer2 and peer3, who learn them. */
function consistent(): Record<string, string[]> {
  const peer1: string[] = [];
  const peer2: string[] = [];
  const peer3: string[] = [];
  peer1.push(line(1, 'sent', 'prepare', '', 1, 0));
  for (const [id, log] of [
    [2, peer2],
    [3, peer3],
  ] as const) {
    log.push(line(1, 'received', 'prepare', '', 1, 0), line(id, 'sent', 'prepare_ack', '', 1, 0));
    peer1.push(line(id, 'received', 'prepare_ack', '', 1, 0));
  }
  for (const [slot, v] of [
    [0, X],
    [1, Z],
  ] as const) {
    peer1.push(line(1, 'sent', 'accept', v, 1, slot));
    for (const [id, log] of [
      [2, peer2],
      [3, peer3],
    ] as const) {
      log.push(line(1, 'received', 'accept', v, 1, slot), line(id, 'sent', 'accept_ack', '', 1, slot));
      peer1.push(line(id, 'received', 'accept_ack', '', 1, slot));
    }
    peer1.push(line(1, 'chose', 'chose', v, 1, slot), line(1, 'sent', 'chose', '', 1, slot));
    for (const [id, log] of [
      [2, peer2],
      [3, peer3],
    ] as const)
      log.push(line(1, 'received', 'chose', '', 1, slot), line(id, 'chose', 'chose', v, 1, slot));
  }
  return { peer1, peer2, peer3 };
}

function write(logs: Record<string, string[]>): string {
  const dir = path.join(tempDir('logcheck'), 'run');
  mkdirSync(path.join(dir, 'expected'), { recursive: true });
  writeFileSync(
    path.join(dir, 'hostsfile'),
    `${Object.keys(logs)
      .map((p) => `${p}:replica`)
      .join('\n')}\n`,
  );
  for (const [peer, lines] of Object.entries(logs))
    writeFileSync(path.join(dir, 'expected', `${peer}.log`), `${lines.join('\n')}\n`);
  return path.join(dir, 'expected');
}

const transcripts = (logs: Record<string, string[]>) =>
  Object.entries(logs).map(([label, lines], i) => ({ label, id: i + 1, lines }));

test('parseSlotLine: the exact format with slot last, nothing else', (t) => {
  t.true(parseSlotLine(line(2, 'sent', 'accept', X, 5, 17)).ok);
  const lab = parseSlotLine(
    '{"peer_id":1,"action":"sent","message_type":"prepare","message_value":"","proposal_num":1}',
  );
  t.deepEqual(lab, { ok: false, why: 'slot must be an integer >= 0' });
  const spaced = parseSlotLine(
    '{"peer_id":1, "action":"sent","message_type":"prepare","message_value":"","proposal_num":1,"slot":0}',
  );
  t.false(spaced.ok);
  const reordered = parseSlotLine(
    '{"peer_id":1,"action":"sent","message_type":"prepare","message_value":"","slot":0,"proposal_num":1}',
  );
  t.regex(reordered.ok ? '' : reordered.why, /not in the exact format/);
});

test('a consistent log transcript passes', (t) => {
  const r = checkLogTranscripts(transcripts(consistent()));
  t.deepEqual(r.violations, []);
  t.deepEqual(r.warnings, []);
  t.deepEqual(
    [...r.chosen],
    [
      [0, X],
      [1, Z],
    ],
  );
});

test('two replicas choosing different values for a slot fail, naming the slot and both lines', (t) => {
  const logs = consistent();
  logs['peer3'] = logs['peer3']!.map((l) =>
    l.includes('"action":"chose"') && l.endsWith('"slot":1}') ? line(3, 'chose', 'chose', Y, 1, 1) : l,
  );
  const r = checkLogTranscripts(transcripts(logs));
  t.is(r.violations.length, 1);
  t.is(r.violations[0]!.peer, 'peer3');
  t.regex(r.violations[0]!.message, /^safety: slot 1: chose .*, but peer1 line \d+ chose /);
});

test('one replica choosing a slot twice with different values fails', (t) => {
  const logs = consistent();
  logs['peer2']!.push(line(2, 'chose', 'chose', Y, 0, 0));
  const r = checkLogTranscripts(transcripts(logs));
  t.true(
    r.violations.some(
      (v) => v.peer === 'peer2' && v.line === logs['peer2']!.length && /slot 0 chosen again/.test(v.message),
    ),
  );
});

test('two values accepted for one (slot, ballot) fail', (t) => {
  const logs = consistent();
  logs['peer1']!.push(line(1, 'sent', 'accept', Y, 1, 0));
  const r = checkLogTranscripts(transcripts(logs));
  t.is(r.violations.length, 1);
  t.regex(
    r.violations[0]!.message,
    /^slot 0 ballot 1: sent accept .*, but peer1 line \d+ sent accept .* for the same slot and ballot/,
  );
});

test('a received message with no send is a warning, not a violation', (t) => {
  const logs = consistent();
  logs['peer2']!.push(line(1, 'received', 'accept', Y, 7, 9));
  const r = checkLogTranscripts(transcripts(logs));
  t.deepEqual(r.violations, []);
  t.is(r.warnings.length, 1);
  t.regex(r.warnings[0]!.message, /received accept slot 9 n=7 from peer 1/);
});

test('CLI: exit 0 on a consistent run, 1 on a bad slot, with file:line', (t) => {
  const ok = check(write(consistent()));
  t.is(ok.code, 0, ok.out + ok.err);
  t.regex(ok.out, /^check: ok: log mode: 3 replicas, \d+ lines; 2 slots chosen$/m);

  const logs = consistent();
  logs['peer2'] = logs['peer2']!.map((l) =>
    l.includes('"action":"chose"') && l.endsWith('"slot":0}') ? line(2, 'chose', 'chose', Y, 1, 0) : l,
  );
  const bad = check(write(logs));
  t.is(bad.code, 1, bad.out);
  t.regex(bad.out, /peer2\.log:\d+: peer2: safety: slot 0: chose/);
  t.regex(bad.out, /^check: log mode: 1 problems in 3 replicas/m);

  const mixed = consistent();
  mixed['peer1']![0] = '{"peer_id":1,"action":"sent","message_type":"prepare","message_value":"","proposal_num":1}';
  const lab = check(write(mixed));
  t.is(lab.code, 1);
  t.regex(lab.out, /peer1\.log:1: peer1: not a valid log line \(slot must be an integer >= 0\)/);
});

test('viz draws a log transcript: slots lead the labels, and every message of the run is an arrow', (t) => {
  const dir = write(consistent());
  const out = path.join(path.dirname(dir), 'x.svg');
  const r = viz(dir, '-o', out);
  t.is(r.code, 0, r.err);
  t.regex(r.out, /viz: wrote .*x\.svg: 3 lanes, \d+ messages, \d+ chose markers, 0 rejections/);
  const svg = readFileSync(out, 'utf8');
  t.regex(svg, /#0 prepare n=1/);
  t.regex(svg, /#1 accept/);
  t.regex(svg, />replica</);
});

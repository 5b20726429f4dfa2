// paxos viz: every testcase renders, and the chart's structure matches the
// transcript: one lane per peer, one arrow per received message, one marker
// per chose line, rejections where acks refuse their requests.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { LogLine } from '../src/paxos/logline.js';
import { buildChart, type Lane } from '../src/viz/events.js';
import { tempDir } from './helpers/tmp.js';

const root = new URL('../../', import.meta.url).pathname;
const MAIN = path.join(root, 'dist/src/cli/main.js');
const out = tempDir('viz');
const count = (svg: string, re: RegExp): number => (svg.match(re) ?? []).length;

function render(input: string, file: string, ...extra: string[]): string {
  const r = spawnSync(process.execPath, [MAIN, 'viz', input, '-o', file, ...extra], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`viz failed: ${r.stderr}`);
  return readFileSync(file, 'utf8');
}

const withGoldens = readdirSync(path.join(root, 'testcases')).filter((d) => existsSync(path.join(root, 'testcases', d, 'expected')));

for (const tc of withGoldens) {
  test(`testcase ${tc} renders with lanes, arrows and markers matching its transcript`, (t) => {
    const dir = path.join(root, 'testcases', tc, 'expected');
    const logs = readdirSync(dir).map((f) => readFileSync(path.join(dir, f), 'utf8').trim().split('\n').filter((l) => l !== ''));
    const lines = logs.flat();
    const svg = render(dir, path.join(out, `${tc}.svg`));
    t.regex(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    t.is(count(svg, /<g class="lane"/g), logs.length, 'one lane per peer');
    t.is(count(svg, /<g class="arrow/g), lines.filter((l) => l.includes('"action":"received"')).length, 'one arrow per received message');
    t.is(count(svg, /<g class="chose"/g), lines.filter((l) => l.includes('"action":"chose"')).length, 'one marker per chose line');
    t.notRegex(svg, /received with no matching send/);
  });
}

test('rejections are drawn differently: red and dashed, and counted', (t) => {
  // slide-25: all three acceptors refuse pa's accept 1 (they promised 2).
  const s25 = render(path.join(root, 'testcases/slide-25/expected'), path.join(out, 's25.html'));
  t.regex(s25, /^<!doctype html>/);
  t.is(count(s25, /<g class="arrow rejected" data-type="accept_ack"/g), 3);
  t.is(count(s25, /stroke-dasharray/g), 3);
  t.regex(s25, /✗ reject: promised 2/);
  // b-wins: pa's prepare 1 arrives after B was accepted at 2.
  const bw = render(path.join(root, 'testcases/b-wins/expected'), path.join(out, 'bw.svg'));
  t.is(count(bw, /<g class="arrow rejected" data-type="prepare_ack"/g), 3);
  // testcase 1 has no rejections at all.
  t.is(count(render(path.join(root, 'testcases/1/expected'), path.join(out, 'tc1.svg')), /class="arrow rejected"/g), 0);
});

test('a livelock run with dozens of messages renders from merged output', (t) => {
  const run = spawnSync(process.execPath, [MAIN, 'run', path.join(root, 'testcases/livelock')], { encoding: 'utf8', timeout: 90_000 });
  t.is(run.status, 0, run.stderr);
  const file = path.join(out, 'livelock.txt');
  writeFileSync(file, run.stdout);
  const svg = render(file, path.join(out, 'livelock.svg'), '--hostsfile', path.join(root, 'testcases/livelock/hostsfile'));
  const received = run.stdout.split('\n').filter((l) => / \| .*"action":"received"/.test(l)).length;
  t.true(received > 40, `${received} messages`);
  t.is(count(svg, /<g class="arrow/g), received);
  t.is(count(svg, /<g class="lane"/g), 6);
  t.true(count(svg, /class="arrow rejected"/g) >= 2, 'the livelock shows as rejections');
});

test('usage: -o must be .html or .svg', (t) => {
  const r = spawnSync(process.execPath, [MAIN, 'viz', path.join(root, 'testcases/1/expected'), '-o', path.join(out, 'x.png')], { encoding: 'utf8' });
  t.is(r.status, 2);
  t.regex(r.stderr, /viz needs -o OUT\.html or -o OUT\.svg/);
});


const L = (peer_id: number, action: LogLine['action'], message_type: LogLine['message_type'], message_value: string, proposal_num: number): LogLine => ({
  peer_id,
  action,
  message_type,
  message_value,
  proposal_num,
});
const twoLanes: Lane[] = [
  { label: 'p1', id: 1, roles: 'proposer1' },
  { label: 'p2', id: 2, roles: 'acceptor1' },
];

test('a window that starts mid-run: a received line whose send is merely later still gets its arrow', (t) => {
  // As the live page draws the last lines of a log: both lanes start with a
  // received line. p2's prepare from p1 was sent before the window (its send
  // is missing); p1's accept from p2 is sent later in the window. The chart
  // must place p2's line first so p1's keeps its arrow.
  const chart = buildChart(twoLanes, [
    [L(2, 'received', 'accept', 'v', 1)],
    [L(1, 'received', 'prepare', '', 1), L(2, 'sent', 'accept', 'v', 1)],
  ]);
  t.is(chart.unmatched, 1, 'only the prepare, whose send is outside the window');
  t.deepEqual(
    chart.arrows.map((a) => [chart.rows[a.from]!.lane, chart.rows[a.to]!.lane, a.label]),
    [[1, 0, 'accept v n=1']],
  );
});

test('a replicated log: an ack whose slot has no request in the input does not take another slot\'s request', (t) => {
  // p2 answers slot 1 (whose accept is not in the input) with a promise of
  // 5, then slot 2's accept at 1. Matched by slot, slot 2's ack answers n=1
  // and is an acceptance; taken in order, slot 1's ack would take slot 2's
  // request and show as a rejection.
  const chart = buildChart(twoLanes, [
    [L(1, 'sent', 'accept', '#2 v', 1), L(2, 'received', 'accept_ack', '#1 ', 5), L(2, 'received', 'accept_ack', '#2 v', 1)],
    [L(1, 'received', 'accept', '#2 v', 1), L(2, 'sent', 'accept_ack', '#1 ', 5), L(2, 'sent', 'accept_ack', '#2 v', 1)],
  ]);
  t.deepEqual(
    chart.arrows.map((a) => [a.label, a.rejected]),
    [
      ['#2 accept v n=1', false],
      ['#2 accepted v n=1', false],
    ],
  );
  t.is(chart.unmatched, 1, "slot 1's ack, whose request is missing");
});

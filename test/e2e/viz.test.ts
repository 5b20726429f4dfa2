// paxos viz: every testcase renders, and the chart's structure matches the
// transcript: one lane per peer, one arrow per received message, one marker
// per chose line, rejections where acks refuse their requests.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { LogLine } from '../../src/paxos/logline.js';
import { buildChart, type Lane } from '../../src/viz/events.js';
import { chartSvg } from '../../src/viz/svg.js';
import { paxosSync, ROOT as root } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const out = tempDir('viz');
const count = (svg: string, re: RegExp): number => (svg.match(re) ?? []).length;

// The chart's geometry read back from the SVG itself, as a browser would
// draw it: every arrow's line (a curve sampled finely), and every label's
// box. Text at font-size 11 in a monospace font is 6.62 px a character
// (measured in Chromium with DejaVu Sans Mono), from 10 px above its
// baseline to 3 px below.
type P = readonly [number, number];
interface B {
  readonly text: string;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}
function arrowSegments(svg: string): Array<[P, P]> {
  const segs: Array<[P, P]> = [];
  for (const m of svg.matchAll(/<path[^>]*\bd="(M[^"]+)"[^>]*marker-end="url\(#head-/g)) {
    const n = [...m[1]!.matchAll(/-?[\d.]+/g)].map((x) => Number(x[0]));
    if (!m[1]!.includes('C')) {
      segs.push([
        [n[0]!, n[1]!],
        [n[2]!, n[3]!],
      ]);
      continue;
    }
    const [x0, y0, x1, y1, x2, y2, x3, y3] = n as [number, number, number, number, number, number, number, number];
    let prev: P = [x0, y0];
    for (let i = 1; i <= 32; i++) {
      const t = i / 32;
      const u = 1 - t;
      const p: P = [
        u * u * u * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t * t * t * x3,
        u * u * u * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t * t * t * y3,
      ];
      segs.push([prev, p]);
      prev = p;
    }
  }
  return segs;
}
const unesc = (s: string): string =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
/** Message labels (their text, wherever it is anchored) and chose markers (their pill). */
function labelBoxes(svg: string): B[] {
  const out: B[] = [];
  for (const m of svg.matchAll(
    new RegExp(
      /<g class="arrow[^"]*"[^>]*>[\s\S]*?<text x="([-\d.]+)" /.source +
        /y="([-\d.]+)"(?: text-anchor="(\w+)")?[^>]*>([^<]*)<\/text>/.source,
      'g',
    ),
  )) {
    const text = unesc(m[4]!);
    const w = [...text].length * 6.62;
    const x = Number(m[1]);
    out.push({ text, x: m[3] === 'end' ? x - w : m[3] === 'middle' ? x - w / 2 : x, y: Number(m[2]) - 10, w, h: 13 });
  }
  for (const m of svg.matchAll(
    /<g class="chose"[^>]*>\s*<rect x="([-\d.]+)" y="([-\d.]+)" width="([\d.]+)" height="([\d.]+)"/g,
  )) {
    out.push({ text: 'chose marker', x: Number(m[1]), y: Number(m[2]), w: Number(m[3]), h: Number(m[4]) });
  }
  return out;
}
/** Whether segment p-q enters box b (Liang–Barsky). */
function crosses([p, q]: [P, P], b: B): boolean {
  const [dx, dy] = [q[0] - p[0], q[1] - p[1]];
  let [t0, t1] = [0, 1];
  for (const [pe, qe] of [
    [-dx, p[0] - b.x],
    [dx, b.x + b.w - p[0]],
    [-dy, p[1] - b.y],
    [dy, b.y + b.h - p[1]],
  ] as const) {
    if (pe === 0) {
      if (qe < 0) return false;
      continue;
    }
    const t = qe / pe;
    if (pe < 0) {
      if (t > t1) return false;
      t0 = Math.max(t0, t);
    } else {
      if (t < t0) return false;
      t1 = Math.min(t1, t);
    }
  }
  return true;
}
const overlap = (a: B, b: B): boolean => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
/** Every label under a line or on another label, and every line above the lane headers, as sentences. */
function clutter(svg: string): string[] {
  const segs = arrowSegments(svg);
  const boxes = labelBoxes(svg);
  const out: string[] = [];
  for (const b of boxes) {
    const n = segs.filter((s) => crosses(s, b)).length;
    if (n > 0) out.push(`"${b.text}" at (${b.x.toFixed(0)},${b.y.toFixed(0)}) is under ${n} arrow line(s)`);
  }
  boxes.forEach((a, i) =>
    boxes
      .slice(i + 1)
      .forEach(
        (b) =>
          overlap(a, b) && out.push(`"${a.text}" and "${b.text}" overlap at (${a.x.toFixed(0)},${a.y.toFixed(0)})`),
      ),
  );
  const header = Math.max(
    ...[...svg.matchAll(/<g class="lane"[^>]*>\s*<text x="[-\d.]+" y="([-\d.]+)"/g)].map((m) => Number(m[1])),
  );
  if (segs.some(([p, q]) => Math.min(p[1], q[1]) < header + 4)) out.push('an arrow runs into the lane headers');
  return out;
}

function render(input: string, file: string, ...extra: string[]): string {
  const r = paxosSync(['viz', input, '-o', file, ...extra], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`viz failed: ${r.err}`);
  return readFileSync(file, 'utf8');
}

const withGoldens = readdirSync(path.join(root, 'testcases')).filter((d) =>
  existsSync(path.join(root, 'testcases', d, 'expected')),
);

for (const tc of withGoldens) {
  test(`testcase ${tc} renders with lanes, arrows and markers matching its transcript`, (t) => {
    const dir = path.join(root, 'testcases', tc, 'expected');
    const logs = readdirSync(dir).map((f) =>
      readFileSync(path.join(dir, f), 'utf8')
        .trim()
        .split('\n')
        .filter((l) => l !== ''),
    );
    const lines = logs.flat();
    const svg = render(dir, path.join(out, `${tc}.svg`));
    t.regex(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    t.is(count(svg, /<g class="lane"/g), logs.length, 'one lane per peer');
    t.is(
      count(svg, /<g class="arrow/g),
      lines.filter((l) => l.includes('"action":"received"')).length,
      'one arrow per received message',
    );
    t.is(
      count(svg, /<g class="chose"/g),
      lines.filter((l) => l.includes('"action":"chose"')).length,
      'one marker per chose line',
    );
    t.notRegex(svg, /received with no matching send/);
    t.deepEqual(clutter(svg), [], 'no label under an arrow or on another label');
  });
}

test('the geometry check sees a label under an arrow', (t) => {
  // Two arrows from p1 to p2 and back, and a label across both: the check
  // must find it (so an empty answer above means something).
  const svg = [
    '<g class="lane"><text x="100" y="40">p1</text></g>',
    '<path d="M100,80 L300,120" marker-end="url(#head-prepare)"/>',
    '<path d="M300,140 C340,140 340,180 302,180" marker-end="url(#head-accept)"/>',
    '<g class="arrow" data-type="prepare"><text x="200" y="105" text-anchor="middle">prepare n=1</text></g>',
    '<g class="arrow" data-type="accept"><text x="300" y="165">accept v n=1</text></g>',
    '<g class="chose"><rect x="10" y="60" width="20" height="18"/></g>',
  ].join('\n');
  t.deepEqual(
    clutter(svg).map((s) => s.replace(/ at .*? is under \d+/, ' is under')),
    ['"prepare n=1" is under arrow line(s)', '"accept v n=1" is under arrow line(s)'],
  );
});

test('testcase 2: a key explains every colour drawn, each proposer shows its own value, and time has an axis', (t) => {
  const svg = render(path.join(root, 'testcases/2/expected'), path.join(out, 'tc2-key.svg'));
  const key = new Set(
    [...svg.matchAll(/<g class="legend-item" data-kind="([^"]+)" data-color="([^"]+)"/g)].map((m) => m[2]!),
  );
  const used = new Set([...svg.matchAll(/<path class="arrow-line[^"]*"[^>]*stroke="([^"]+)"/g)].map((m) => m[1]!));
  t.true(used.size >= 5, `${used.size} arrow colours`);
  for (const c of used) t.true(key.has(c), `the key explains ${c}`);
  t.regex(svg, /<g class="legend-item" data-kind="rejected"[^>]*>[\s\S]*?rejection/, 'and what a rejection looks like');
  t.regex(svg, /<g class="legend-item" data-kind="marker"[^>]*>[\s\S]*?★ chose/, 'and the chose marker');
  // peer1 proposes X; peer5 proposes Y after 10 s (its -v and -t in the compose file), on their own lanes.
  const laneX = new Map(
    [...svg.matchAll(/<g class="lane" data-peer="([^"]+)">\s*<text x="([-\d.]+)"/g)].map((m) => [m[1]!, Number(m[2])]),
  );
  const own = [
    ...svg.matchAll(
      /<g class="proposes" data-peer="([^"]+)" data-value="([^"]*)">[\s\S]*?<text x="([-\d.]+)"[^>]*>([^<]*)<\/text>/g,
    ),
  ].map((m) => ({ peer: m[1]!, value: m[2]!, x: Number(m[3]), text: m[4]! }));
  t.deepEqual(
    own.map((o) => [o.peer, o.value, o.text]),
    [
      ['peer1', 'X', 'proposes X'],
      ['peer5', 'Y', 'proposes Y after 10 s'],
    ],
  );
  for (const o of own) t.is(o.x, laneX.get(o.peer) ?? NaN, `${o.peer}'s value sits on its lane`);
  // Time: an axis with a tick per log line, numbered from 1 down the chart.
  t.regex(svg, /<g class="axis" data-unit="step">/);
  t.regex(svg, /time → \(step: one log line, in causal order\)/);
  const ticks = [...svg.matchAll(/<text class="tick" x="[-\d.]+" y="([-\d.]+)"[^>]*>(\d+)<\/text>/g)].map((m) => ({
    n: Number(m[2]),
    y: Number(m[1]),
  }));
  t.deepEqual(
    ticks.map((k) => k.n),
    [1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55],
  );
  t.true(
    ticks.every((k, i) => i === 0 || k.y > ticks[i - 1]!.y),
    'time runs down',
  );
});

test('rejections are drawn differently: red and dashed, and counted', (t) => {
  // slide-25: all three acceptors refuse pa's accept 1 (they promised 2).
  const s25 = render(path.join(root, 'testcases/slide-25/expected'), path.join(out, 's25.html'));
  t.regex(s25, /^<!doctype html>/);
  t.is(count(s25, /<g class="arrow rejected" data-type="accept_ack"/g), 3);
  t.is(count(s25, /<path class="arrow-line rejected"[^>]*stroke-dasharray/g), 3);
  t.is(count(s25, /stroke-dasharray/g), 4, "those three, and the key's sample");
  t.regex(s25, /✗ reject: promised 2/);
  // b-wins: pa's prepare 1 arrives after B was accepted at 2.
  const bw = render(path.join(root, 'testcases/b-wins/expected'), path.join(out, 'bw.svg'));
  t.is(count(bw, /<g class="arrow rejected" data-type="prepare_ack"/g), 3);
  // testcase 1 has no rejections at all.
  t.is(count(render(path.join(root, 'testcases/1/expected'), path.join(out, 'tc1.svg')), /class="arrow rejected"/g), 0);
});

test('a livelock run with dozens of messages renders from merged output', (t) => {
  const run = paxosSync(['run', path.join(root, 'testcases/livelock')], { timeoutMs: 180_000 });
  t.is(run.code, 0, run.err);
  const file = path.join(out, 'livelock.txt');
  writeFileSync(file, run.out);
  const svg = render(
    file,
    path.join(out, 'livelock.svg'),
    '--hostsfile',
    path.join(root, 'testcases/livelock/hostsfile'),
  );
  const received = run.out.split('\n').filter((l) => / \| .*"action":"received"/.test(l)).length;
  t.true(received > 40, `${received} messages`);
  t.is(count(svg, /<g class="arrow/g), received);
  t.is(count(svg, /<g class="lane"/g), 6);
  t.true(count(svg, /class="arrow rejected"/g) >= 2, 'the livelock shows as rejections');
  t.deepEqual(clutter(svg), [], 'a dense run too: no label under an arrow or on another label');
});

test('a livelock run whose labels once ran out of rounds of room renders with every label clear', (t) => {
  // The first 302 lines of a real `paxos run testcases/livelock` (every
  // message in them sent and received). The layout used to give room, round
  // after round, to the gap after a crowded label's row, which only made the
  // line in its way steeper across it (and it tried places only sparsely
  // along long arrows): after its 40 rounds "✗ reject: promised 21" still
  // had no clear place, and was drawn under an arrow.
  const file = path.join(root, 'test/fixtures/transcripts/livelock-crowded.txt');
  const lines = readFileSync(file, 'utf8').split('\n');
  const svg = render(
    file,
    path.join(out, 'livelock-crowded.svg'),
    '--hostsfile',
    path.join(root, 'testcases/livelock/hostsfile'),
  );
  t.is(count(svg, /<g class="arrow/g), lines.filter((l) => l.includes('"action":"received"')).length);
  t.notRegex(svg, /received with no matching send/);
  t.deepEqual(clutter(svg), [], 'no label under an arrow or on another label');
  t.is(count(svg, /class="listed"/g), 0, 'and each beside its own arrow');
});

test('usage: -o must be .html or .svg', (t) => {
  const r = paxosSync(['viz', path.join(root, 'testcases/1/expected'), '-o', path.join(out, 'x.png')], {
    timeoutMs: 60_000,
  });
  t.is(r.code, 2);
  t.regex(r.err, /viz needs -o OUT\.html or -o OUT\.svg/);
});

const L = (
  peer_id: number,
  action: LogLine['action'],
  message_type: LogLine['message_type'],
  message_value: string,
  proposal_num: number,
): LogLine => ({
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

test("a replicated log: an ack whose slot has no request in the input does not take another slot's request", (t) => {
  // p2 answers slot 1 (whose accept is not in the input) with a promise of
  // 5, then slot 2's accept at 1. Matched by slot, slot 2's ack answers n=1
  // and is an acceptance; taken in order, slot 1's ack would take slot 2's
  // request and show as a rejection.
  const chart = buildChart(twoLanes, [
    [
      L(1, 'sent', 'accept', '#2 v', 1),
      L(2, 'received', 'accept_ack', '#1 ', 5),
      L(2, 'received', 'accept_ack', '#2 v', 1),
    ],
    [
      L(1, 'received', 'accept', '#2 v', 1),
      L(2, 'sent', 'accept_ack', '#1 ', 5),
      L(2, 'sent', 'accept_ack', '#2 v', 1),
    ],
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

test('a label with no clear place beside its arrow is listed under the rows, never drawn under a line', (t) => {
  // One peer sends itself an accept: its label is wider than the room on
  // either side of the loop its arrow makes, however much room the rows get.
  const chart = buildChart(
    [{ label: 'p1', id: 1, roles: 'proposer1 acceptor1' }],
    [[L(1, 'sent', 'accept', 'a long value', 1), L(1, 'received', 'accept', 'a long value', 1)]],
  );
  const svg = chartSvg(chart, 'one peer');
  t.deepEqual(clutter(svg), []);
  t.regex(svg, /<text class="listed" x="[\d.]+" y="[\d.]+" fill="#555">step 2, p1 → p1:<\/text>/);
  t.regex(svg, /<g class="arrow"[^>]*>\s*<text [^>]*>accept a long value n=1<\/text>/);
  const label = /<g class="arrow"[^>]*>\s*<text x="[\d.]+" y="([\d.]+)"/.exec(svg);
  const lowest = Math.max(...arrowSegments(svg).flatMap(([p, q]) => [p[1], q[1]]));
  t.true(Number(label?.[1]) - 10 > lowest, 'the list is below every line');
});

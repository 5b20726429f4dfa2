// Drawing a Chart as a message sequence chart: one vertical lane per peer,
// one arrow per message (type, value, number), a marker where a peer chose,
// and rejections in red and dashed. Plain SVG, so it needs no library and
// renders in any browser and on GitHub.

import { shortValue, type Chart } from './events.js';

// Exported so the live page (src/ui/web) lines its lane headers up with the
// chart's lanes and draws its legend in the chart's own colours.
export const LANE_W = 170;
export const ROW_H = 22;
export const TOP = 70;
export const LEFT = 40;

export const COLORS: Record<string, string> = {
  prepare: '#1f77b4',
  prepare_ack: '#6baed6',
  accept: '#2ca02c',
  accept_ack: '#74c476',
  chose: '#9467bd',
};
export const REJECT_COLOR = '#d62728';
/** A lane whose peer is down (killed) or paused, on the live page. */
export const LANE_STATE_COLORS = { up: '#bbb', down: '#d62728', paused: '#ff7f0e' } as const;
export type LaneState = keyof typeof LANE_STATE_COLORS;

/** Something done to a peer (kill, restart, pause, cut), drawn on its lane before `row`. */
export interface Note {
  readonly lane: number;
  readonly row: number;
  readonly text: string;
  readonly state: LaneState;
}

/** What only the live page draws; a saved chart passes none. */
export interface SvgOptions {
  /** Each lane's peer now: its lane line is drawn in that state's colour. */
  readonly laneStates?: readonly LaneState[];
  readonly notes?: readonly Note[];
  /** Leave out the title line (the page shows its own). */
  readonly bare?: boolean;
}

export function chartSvg(chart: Chart, title: string, opts: SvgOptions = {}): string {
  // Notes get rows of their own, so they never sit on a line's row: a note
  // before row r pushes r and every row after it one row down. Notes on
  // one lane at one place become one note.
  const merged = new Map<string, Note>();
  for (const n of opts.notes ?? []) {
    const k = `${n.row}|${n.lane}`;
    const had = merged.get(k);
    merged.set(k, had === undefined ? n : { ...n, text: `${had.text} → ${n.text}` });
  }
  const notes = [...merged.values()];
  const noteRows = [...new Set(notes.map((n) => n.row))].sort((a, b) => a - b);
  const shift: number[] = [];
  for (let r = 0, k = 0; r <= chart.rows.length; r++) {
    while (k < noteRows.length && noteRows[k]! <= r) k++;
    shift.push(k);
  }
  const width = LEFT * 2 + LANE_W * chart.lanes.length;
  const height = TOP + ROW_H * (chart.rows.length + noteRows.length + 1) + 40;
  const x = (lane: number): number => LEFT + LANE_W * lane + LANE_W / 2;
  const y = (row: number): number => TOP + ROW_H * (row + 0.5 + (shift[row] ?? 0));
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11">`,
    `<title>${esc(title)}</title>`,
    '<defs>',
    ...Object.entries(COLORS).map(([t, c]) => `<marker id="head-${t}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${c}"/></marker>`),
    `<marker id="head-rejected" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${REJECT_COLOR}"/></marker>`,
    '</defs>',
    `<rect width="100%" height="100%" fill="white"/>`,
  );
  if (opts.bare !== true) out.push(`<text x="${LEFT}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`);
  chart.lanes.forEach((lane, i) => {
    const state = opts.laneStates?.[i] ?? 'up';
    out.push(
      `<g class="lane" data-peer="${esc(lane.label)}">`,
      `<text x="${x(i)}" y="${TOP - 28}" text-anchor="middle" font-size="13" font-weight="bold">${esc(lane.label)} (${lane.id})</text>`,
      `<text x="${x(i)}" y="${TOP - 14}" text-anchor="middle" fill="#555">${esc(lane.roles)}</text>`,
      `<line class="lane-line ${state}" x1="${x(i)}" y1="${TOP - 6}" x2="${x(i)}" y2="${height - 30}" stroke="${LANE_STATE_COLORS[state]}" stroke-width="${state === 'up' ? 1.5 : 3}"${state === 'up' ? '' : ' stroke-dasharray="6,4"'}/>`,
      '</g>',
    );
  });
  for (const a of chart.arrows) {
    const from = chart.rows[a.from]!;
    const to = chart.rows[a.to]!;
    const type = to.line.message_type;
    const color = a.rejected ? REJECT_COLOR : COLORS[type]!;
    const [x1, y1, x2, y2] = [x(from.lane), y(a.from), x(to.lane), y(a.to)];
    const self = from.lane === to.lane;
    const path = self
      ? `M${x1},${y1} C${x1 + 40},${y1} ${x2 + 40},${y2} ${x2 + 2},${y2}`
      : `M${x1},${y1} L${x2 + (x2 > x1 ? -3 : 3)},${y2}`;
    // The label sits under the arrowhead, on the received line's row (every
    // arrow runs downwards, so its own line is never there): a
    // row holds one line, so two labels never share one (midpoints of
    // arrows into one lane from two senders did).
    const right = x2 > x1;
    const [mx, my, anchor] = self ? [x1 + 34, (y1 + y2) / 2 - 3, 'middle'] : [x2 + (right ? -10 : 10), y2 + 11, right ? 'end' : 'start'];
    out.push(
      `<g class="arrow${a.rejected ? ' rejected' : ''}" data-type="${type}">`,
      `<path d="${path}" fill="none" stroke="${color}" stroke-width="${a.rejected ? 1.8 : 1.2}"${a.rejected ? ' stroke-dasharray="5,3"' : ''} marker-end="url(#head-${a.rejected ? 'rejected' : type})"/>`,
      `<text x="${mx}" y="${my}" text-anchor="${anchor}" fill="${color}" paint-order="stroke" stroke="white" stroke-width="5" stroke-linejoin="round">${esc(a.rejected ? `✗ ${a.label}` : a.label)}</text>`,
      '</g>',
    );
  }
  chart.rows.forEach((r, i) => {
    if (r.line.action !== 'chose') return;
    const cx = x(r.lane);
    const text = `★ chose ${shortValue(r.line, 10)} @${r.line.proposal_num}`;
    // As wide as its text (monospace, about 6.7 px a character), at least as before.
    const w = Math.max(112, 14 + 6.7 * text.length);
    out.push(
      `<g class="chose" data-peer="${esc(chart.lanes[r.lane]!.label)}">`,
      `<rect x="${cx - w / 2}" y="${y(i) - 9}" width="${w}" height="18" rx="9" fill="#ffd54f" stroke="#b58900"/>`,
      `<text x="${cx}" y="${y(i) + 4}" text-anchor="middle" font-weight="bold">${esc(text)}</text>`,
      '</g>',
    );
  });
  for (const n of notes) {
    const ny = TOP + ROW_H * (n.row + noteRows.indexOf(n.row) + 0.5);
    const color = n.state === 'up' ? '#2a7d2a' : LANE_STATE_COLORS[n.state];
    const text = n.text.length > 24 ? `${n.text.slice(0, 23)}…` : n.text;
    const w = 8 + 6.6 * text.length;
    out.push(
      `<g class="note ${n.state}" data-peer="${esc(chart.lanes[n.lane]?.label ?? '')}">`,
      `<rect x="${x(n.lane) - w / 2}" y="${ny - 7}" width="${w}" height="14" rx="3" fill="white" stroke="${color}"/>`,
      `<text x="${x(n.lane)}" y="${ny + 4}" text-anchor="middle" fill="${color}" font-weight="bold">${esc(text)}</text>`,
      '</g>',
    );
  }
  out.push(
    `<text x="${LEFT}" y="${height - 10}" fill="#555">${chart.rows.length} log lines, ${chart.arrows.length} messages${chart.unmatched > 0 ? `, ${chart.unmatched} received with no matching send in the input` : ''}. Red dashed: a rejection. ★: a peer chose. Time runs down.</text>`,
    '</svg>',
  );
  return out.join('\n');
}

export function chartHtml(svg: string, title: string): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(title)}</title>`,
    '<style>body{margin:16px;font-family:system-ui,sans-serif} .chart{overflow:auto;border:1px solid #ddd}</style>',
    '</head><body>',
    `<div class="chart">${svg}</div>`,
    '</body></html>',
  ].join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

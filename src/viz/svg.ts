// Drawing a Chart as a message sequence chart: one vertical lane per peer,
// one arrow per message (type, value, number), a marker where a peer chose,
// and rejections in red and dashed. Plain SVG, so it needs no library and
// renders in any browser and on GitHub.

import type { Chart } from './events.js';
import { layoutChart, LANE_W, LEFT, TOP, textWidth } from './layout.js';

// Exported so the live page (src/ui/web) lines its lane headers up with the
// chart's lanes and draws its legend in the chart's own colours.
export { LANE_W, LEFT, ROW_H, TOP } from './layout.js';

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

/** What each colour and mark means: the saved chart's key, and the live page's. */
export const LEGEND: ReadonlyArray<{ readonly kind: string; readonly color: string; readonly text: string }> = [
  { kind: 'prepare', color: COLORS['prepare']!, text: 'prepare (phase 1a)' },
  { kind: 'prepare_ack', color: COLORS['prepare_ack']!, text: 'promise: prepare_ack (1b)' },
  { kind: 'accept', color: COLORS['accept']!, text: 'accept (phase 2a)' },
  { kind: 'accept_ack', color: COLORS['accept_ack']!, text: 'accepted: accept_ack (2b)' },
  { kind: 'chose', color: COLORS['chose']!, text: 'chose (decision sent)' },
  { kind: 'rejected', color: REJECT_COLOR, text: '✗ rejection: promised higher' },
];
const MARKER_FILL = '#ffd54f';
const MARKER_STROKE = '#b58900';
const VALUE_COLOR = '#8c510a';

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
  /**
   * The live page's form: no title, key or time axis (the page shows its
   * own), the first lane at LEFT and the rows from TOP, where its lane
   * cards are.
   */
  readonly bare?: boolean;
}

/** A saved chart's left margin: room for the time axis. */
const AXIS_LEFT = 64;

export function chartSvg(chart: Chart, title: string, opts: SvgOptions = {}): string {
  // Notes on one lane at one place become one note.
  const merged = new Map<string, Note>();
  for (const n of opts.notes ?? []) {
    const k = `${n.row}|${n.lane}`;
    const had = merged.get(k);
    merged.set(k, had === undefined ? n : { ...n, text: `${had.text} → ${n.text}` });
  }
  const notes = [...merged.values()];
  const bare = opts.bare === true;
  const left = bare ? LEFT : AXIS_LEFT;
  const width = left + LANE_W * chart.lanes.length + LEFT;
  const proposes = chart.lanes.some((l) => l.proposes !== undefined);

  // Top down: the title, the key, each lane's name, roles and own value, then the rows.
  const key = bare ? [] : legendRows(width - left - 8, proposes);
  const keyTop = 34;
  const nameY = bare ? TOP - 28 : keyTop + key.length * 18 + 22;
  const top = bare && !proposes ? TOP : nameY + (proposes ? 50 : 34);
  const layout = layoutChart(chart, { top, left, notes, rounds: bare ? 4 : 40 });
  const height = Math.ceil(layout.end + 40);
  const x = (lane: number): number => layout.laneX[lane]!;
  // The lanes end a little below the rows (above the list of what found no place beside its arrow, if any).
  const laneEnd = Math.ceil(layout.bottom + 40) - 30;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}` +
      `" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11">`,
    `<title>${esc(title)}</title>`,
    '<defs>',
    ...Object.entries(COLORS).map(
      ([t, c]) =>
        `<marker id="head-${t}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" ` +
        `orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${c}"/></marker>`,
    ),
    `<marker id="head-rejected" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" ` +
      `orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${REJECT_COLOR}"/></marker>`,
    '</defs>',
    `<rect width="100%" height="100%" fill="white"/>`,
  );
  if (!bare) {
    out.push(`<text x="${left}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`);
    out.push(...drawKey(key, left, keyTop));
    out.push(...drawAxis(layout.rowY, left - 16, top, layout.bottom));
  }
  chart.lanes.forEach((lane, i) => {
    const state = opts.laneStates?.[i] ?? 'up';
    const own = lane.proposes;
    out.push(
      `<g class="lane" data-peer="${esc(lane.label)}">`,
      `<text x="${x(i)}" y="${nameY}" text-anchor="middle" font-size="13" font-weight="bold">${esc(lane.label)} (` +
        `${lane.id})</text>`,
      `<text x="${x(i)}" y="${nameY + 14}" text-anchor="middle" fill="#555">${esc(lane.roles)}</text>`,
    );
    if (own !== undefined) {
      const text = `proposes ${clip(own.value, 12)}${own.after === undefined ? '' : ` after ${own.after} s`}`;
      const w = textWidth(text) + 12;
      out.push(
        `<g class="proposes" data-peer="${esc(lane.label)}" data-value="${esc(own.value)}">`,
        `<rect x="${x(i) - w / 2}" y="${nameY + 20}" width="${w}" height="17" rx="3" fill="#fff7e6" ` +
          `stroke="${VALUE_COLOR}"/>`,
        `<text x="${x(i)}" y="${nameY + 32}" text-anchor="middle" fill="${VALUE_COLOR}" font-weight="bold">` +
          `${esc(text)}</text>`,
        '</g>',
      );
    }
    out.push(
      `<line class="lane-line ${state}" x1="${x(i)}" y1="${top - 6}" x2="${x(i)}" y2="${laneEnd}" stroke="` +
        `${LANE_STATE_COLORS[state]}" stroke-width="${state === 'up' ? 1.5 : 3}"` +
        `${state === 'up' ? '' : ' stroke-dasharray="6,4"'}/>`,
      '</g>',
    );
  });
  // Every line first, then the labels and markers over them: a label's place
  // is clear of every line anyway, and a marker is never hidden by one.
  for (const al of layout.arrows) {
    const a = chart.arrows[al.index]!;
    const type = chart.rows[a.to]!.line.message_type;
    const color = a.rejected ? REJECT_COLOR : COLORS[type]!;
    out.push(
      `<path class="arrow-line${a.rejected ? ' rejected' : ''}" data-arrow="${al.index}" d="${al.d}" fill="none" ` +
        `stroke="${color}" stroke-width="${a.rejected ? 1.8 : 1.2}"${a.rejected ? ' stroke-dasharray="5,3"' : ''}` +
        ` marker-end="url(#head-${a.rejected ? 'rejected' : type})"/>`,
    );
  }
  for (const al of layout.arrows) {
    const a = chart.arrows[al.index]!;
    const type = chart.rows[a.to]!.line.message_type;
    const color = a.rejected ? REJECT_COLOR : COLORS[type]!;
    const l = al.label;
    out.push(
      `<g class="arrow${a.rejected ? ' rejected' : ''}" data-type="${type}" data-arrow="${al.index}" data-color="` +
        `${color}">`,
      `<text x="${l.tx}" y="${l.ty}" fill="${color}" paint-order="stroke" stroke="white" stroke-width="4" ` +
        `stroke-linejoin="round">${esc(l.text)}</text>`,
      '</g>',
    );
  }
  // Labels and markers with no clear place beside their arrows: listed under the rows, each after where it belongs.
  for (const l of layout.listed)
    out.push(`<text class="listed" x="${l.x}" y="${l.y}" fill="#555">${esc(l.note)}</text>`);
  for (const m of layout.markers) {
    const b = m.label;
    out.push(
      `<g class="chose" data-peer="${esc(chart.lanes[m.lane]!.label)}">`,
      `<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="9" fill="${MARKER_FILL}" stroke="` +
        `${MARKER_STROKE}"/>`,
      `<text x="${b.tx}" y="${b.ty}" text-anchor="middle" font-weight="bold">${esc(b.text)}</text>`,
      '</g>',
    );
  }
  for (const n of layout.notes) {
    const state = merged.get(`${n.row}|${n.lane}`)?.state ?? 'up';
    const color = state === 'up' ? '#2a7d2a' : LANE_STATE_COLORS[state];
    out.push(
      `<g class="note ${state}" data-peer="${esc(chart.lanes[n.lane]?.label ?? '')}">`,
      `<rect x="${n.box.x}" y="${n.box.y}" width="${n.box.w}" height="${n.box.h}" rx="3" fill="white" ` +
        `stroke="${color}"/>`,
      `<text x="${n.cx}" y="${n.cy + 4}" text-anchor="middle" fill="${color}" font-weight="bold">${esc(n.shown)}` +
        `</text>`,
      '</g>',
    );
  }
  const counts =
    `${chart.rows.length} log lines, ${chart.arrows.length} messages` +
    `${chart.unmatched > 0 ? `, ${chart.unmatched} received with no matching send in the input` : ''}.`;
  out.push(
    `<text x="${left}" y="${height - 10}" fill="#555">${counts} ` +
      (bare
        ? 'Red dashed: a rejection. ★: a peer chose. Time runs down.'
        : 'Time runs down: the logs carry no clock, so each step is one log line, in causal order.') +
      '</text>',
    '</svg>',
  );
  return out.join('\n');
}

interface KeyItem {
  readonly kind: string;
  readonly color: string;
  readonly text: string;
  readonly w: number;
}

/** The key's items, in rows that fit `room`. */
function legendRows(room: number, proposes: boolean): KeyItem[][] {
  const items: KeyItem[] = [
    ...LEGEND.map((l) => ({ ...l, w: 40 + textWidth(l.text) })),
    {
      kind: 'marker',
      color: MARKER_FILL,
      text: 'a peer chose this value at that n',
      w: 40 + textWidth('★ chose v @n') + textWidth(' a peer chose this value at that n'),
    },
    ...(proposes
      ? [
          {
            kind: 'proposes',
            color: VALUE_COLOR,
            text: "a proposer's own value (its -v)",
            w: 40 + textWidth("proposes v  a proposer's own value (its -v)"),
          },
        ]
      : []),
  ];
  const rows: KeyItem[][] = [[]];
  let used = 0;
  for (const it of items) {
    if (used > 0 && used + it.w > room) {
      rows.push([]);
      used = 0;
    }
    rows[rows.length - 1]!.push(it);
    used += it.w;
  }
  return rows;
}

function drawKey(rows: readonly KeyItem[][], left: number, top: number): string[] {
  const out = [`<g class="legend">`];
  rows.forEach((row, r) => {
    let x = left;
    const y = top + r * 18;
    for (const it of row) {
      out.push(`<g class="legend-item" data-kind="${it.kind}" data-color="${it.color}">`);
      if (it.kind === 'marker') {
        const t = '★ chose v @n';
        const w = textWidth(t) + 12;
        out.push(
          `<rect x="${x}" y="${y - 7}" width="${w}" height="16" rx="8" fill="${MARKER_FILL}" stroke="` +
            `${MARKER_STROKE}"/>`,
          `<text x="${x + w / 2}" y="${y + 5}" text-anchor="middle" font-weight="bold">${t}</text>`,
          `<text x="${x + w + 6}" y="${y + 5}" fill="#333">${esc(it.text)}</text>`,
        );
      } else if (it.kind === 'proposes') {
        const t = 'proposes v';
        const w = textWidth(t) + 12;
        out.push(
          `<rect x="${x}" y="${y - 7}" width="${w}" height="16" rx="3" fill="#fff7e6" stroke="${VALUE_COLOR}"/>`,
          `<text x="${x + w / 2}" y="${y + 5}" text-anchor="middle" fill="${VALUE_COLOR}" font-weight="bold">${t}` +
            `</text>`,
          `<text x="${x + w + 6}" y="${y + 5}" fill="#333">${esc(it.text)}</text>`,
        );
      } else {
        const rejected = it.kind === 'rejected';
        out.push(
          `<line x1="${x}" y1="${y + 1}" x2="${x + 28}" y2="${y + 1}" stroke="${it.color}" stroke-width="` +
            `${rejected ? 1.8 : 1.5}"${rejected ? ' stroke-dasharray="5,3"' : ''} marker-end="url(#head-${it.kind})"/>`,
          `<text x="${x + 34}" y="${y + 5}" fill="${it.color}">${esc(it.text)}</text>`,
        );
      }
      out.push('</g>');
      x += it.w;
    }
  });
  out.push('</g>');
  return out;
}

/** Time, down the left margin: a tick per step (log line), numbered every 5. */
function drawAxis(rowY: readonly number[], ax: number, top: number, bottom: number): string[] {
  const out = [
    `<g class="axis" data-unit="step">`,
    `<line x1="${ax}" y1="${top - 6}" x2="${ax}" y2="${bottom}" stroke="#888"/>`,
    `<text transform="translate(10,${top}) rotate(90)" fill="#555">time → (step: one log line, in causal ` +
      `order)</text>`,
  ];
  rowY.forEach((y, r) => {
    const major = r === 0 || (r + 1) % 5 === 0;
    out.push(`<line x1="${ax - (major ? 5 : 3)}" y1="${y}" x2="${ax}" y2="${y}" stroke="#888"/>`);
    if (major) out.push(`<text class="tick" x="${ax - 7}" y="${y + 4}" text-anchor="end" fill="#555">${r + 1}</text>`);
  });
  out.push('</g>');
  return out;
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
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

// Where everything of a sequence chart goes: each row's y, each arrow's
// line, and a place for every label and chose marker where no arrow runs
// through it and no other label sits. svg.ts draws this; tests check it.
//
// A label is tried at places along its own arrow, from the head back, with
// one corner on the line (an arrow only runs downwards, so a box beside the
// line on either side never meets it); the first place clear of every arrow
// and every label placed so far wins. Where no place is clear, the rows
// there get more room, which makes the arrows crossing them steeper and
// opens gaps between them, and the chart is laid out again.

import type { Chart } from './events.js';
import { shortValue } from './events.js';

// Exported (through svg.ts) so the live page (src/ui/web) lines its lane
// headers up with the chart's lanes.
export const LANE_W = 170;
export const ROW_H = 22;
export const TOP = 70;
export const LEFT = 40;

/**
 * A monospace character at font-size 11 is 6.6 px wide (DejaVu Sans Mono, Menlo, Consolas); a little more, to be safe.
 */
export const CHAR_W = 6.8;
/** A line of 11 px text: from 10 px above its baseline to 3 px below. */
export const TEXT_H = 13;
const ASCENT = 10;

export interface Pt {
  readonly x: number;
  readonly y: number;
}

export interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export interface Label extends Box {
  readonly text: string;
  /** Where the text starts (anchor start) and its baseline. */
  readonly tx: number;
  readonly ty: number;
}

export interface ArrowLayout {
  /** Index into chart.arrows. */
  readonly index: number;
  /** The line as drawn: two points, or a curve (a message to oneself) sampled finely. */
  readonly points: readonly Pt[];
  /** The SVG path. */
  readonly d: string;
  readonly label: Label;
}

export interface MarkerLayout {
  readonly row: number;
  readonly lane: number;
  /** Where the peer's lane is at its row. */
  readonly at: Pt;
  readonly label: Label;
}

export interface NoteAt {
  readonly lane: number;
  readonly row: number;
  readonly text: string;
}

export interface NoteLayout extends NoteAt {
  readonly box: Box;
  readonly cx: number;
  readonly cy: number;
  readonly shown: string;
}

export interface Layout {
  readonly width: number;
  /** Where the rows end: the last row's band, or the lowest label. */
  readonly bottom: number;
  readonly top: number;
  readonly laneX: readonly number[];
  readonly rowY: readonly number[];
  readonly arrows: readonly ArrowLayout[];
  readonly markers: readonly MarkerLayout[];
  readonly notes: readonly NoteLayout[];
  /** Labels and markers no place could be found for (drawn where they cross least). */
  readonly crowded: number;
}

export interface LayoutOptions {
  /** y where the first row's band starts. */
  readonly top?: number;
  /** x where the first lane's band starts. */
  readonly left?: number;
  /** Notes on lanes (the live page's kills, pauses), each on a row of its own before `row`. */
  readonly notes?: readonly NoteAt[];
  /** How many times rows may be given more room before the rest is drawn as it falls (the live page redraws often). */
  readonly rounds?: number;
}

/** Margin kept between a label and any line or other label. */
const GAP = 3;

export function labelText(chart: Chart, index: number): string {
  const a = chart.arrows[index]!;
  return a.rejected ? `✗ ${a.label}` : a.label;
}

/** A chose marker's text, and a shorter one for where lines crowd its lane. */
export function markerTexts(chart: Chart, row: number): [string, string] {
  const l = chart.rows[row]!.line;
  return [`★ chose ${shortValue(l, 10)} @${l.proposal_num}`, `★ ${shortValue(l, 6)} @${l.proposal_num}`];
}

export const textWidth = (s: string): number => [...s].length * CHAR_W;

export function layoutChart(chart: Chart, opts: LayoutOptions = {}): Layout {
  const top = opts.top ?? TOP;
  const left = opts.left ?? LEFT;
  const rounds = opts.rounds ?? 40;
  const extra = new Array<number>(chart.rows.length + 1).fill(0);
  // A row that stays short gets more each time: a crossing moves away by a
  // fraction of the room added, and a dense run would take many rounds.
  const times = new Array<number>(chart.rows.length + 1).fill(0);
  const notes = opts.notes ?? [];
  for (let round = 0; ; round++) {
    const { layout, short } = attempt(chart, top, left, extra, notes);
    if (short.size > 0 && round < rounds) {
      for (const r of short) extra[r]! += (ROW_H / 4) * ++times[r]!;
      continue;
    }
    if (short.size > 0 || round === 0) return layout;
    // That may have given rows more room than they need (the room added
    // grows each round): take back each row's, or half of it, wherever
    // everything stays clear, until nothing more can go.
    let best = layout;
    let tries = 0;
    for (let changed = true; changed && tries < 400;) {
      changed = false;
      for (let r = 0; r < extra.length && tries < 400; r++) {
        const had = extra[r]!;
        for (const less of [0, Math.floor(had / 2 / (ROW_H / 4)) * (ROW_H / 4)]) {
          if (less >= had) continue;
          extra[r] = less;
          tries += 1;
          const again = attempt(chart, top, left, extra, notes);
          if (again.short.size === 0) {
            best = again.layout;
            changed = true;
            break;
          }
          extra[r] = had;
        }
      }
    }
    return best;
  }
}

/**
 * One layout with `extra` room before each row; `short` says where more
 * room would help: before a row whose box a line crosses that ends at or
 * above it, after it (before the next row) for a line that ends below it,
 * on both sides for a box in the way.
 */
function attempt(
  chart: Chart,
  top: number,
  left: number,
  extra: readonly number[],
  notesIn: readonly NoteAt[],
): { layout: Layout; short: Set<number> } {
  const laneX = chart.lanes.map((_, i) => left + LANE_W * i + LANE_W / 2);
  const width = left + LANE_W * chart.lanes.length + LEFT;

  // Rows, with a band of their own for notes before the row they precede
  // (one note per lane and place; merged by the caller).
  const noteRows = new Map<number, number>(); // row -> y of its note band
  const rowY: number[] = [];
  let pos = top;
  const notesBefore = new Set(notesIn.map((n) => n.row));
  for (let r = 0; r <= chart.rows.length; r++) {
    if (notesBefore.has(r)) {
      noteRows.set(r, pos + ROW_H / 2);
      pos += ROW_H;
    }
    if (r === chart.rows.length) break;
    pos += extra[r]!;
    rowY.push(pos + ROW_H / 2);
    pos += ROW_H;
  }
  let bottom = pos;

  const grid = new Grid();
  const arrowPts = chart.arrows.map((a) => {
    const from = chart.rows[a.from]!;
    const to = chart.rows[a.to]!;
    const [x1, y1, x2, y2] = [laneX[from.lane]!, rowY[a.from]!, laneX[to.lane]!, rowY[a.to]!];
    const pts =
      from.lane === to.lane
        ? selfCurve(x1, y1, x2, y2)
        : [
            { x: x1, y: y1 },
            { x: x2 + (x2 > x1 ? -3 : 3), y: y2 },
          ];
    for (let i = 1; i < pts.length; i++) grid.addSegment(pts[i - 1]!, pts[i]!, a.to);
    return {
      pts,
      d:
        from.lane === to.lane
          ? `M${x1},${y1} C${x1 + 40},${y1} ${x2 + 40},${y2} ${x2 + 2},${y2}`
          : `M${x1},${y1} L${pts[1]!.x},${y2}`,
    };
  });

  const short = new Set<number>();
  let crowded = 0;
  const within = (b: Box): boolean => b.x >= left - 2 && b.x + b.w <= width - 4 && b.y >= top;
  /** The first candidate clear of everything, else the one crossing least (and its row gets more room). */
  const choose = <C extends Box>(cands: C[], row: number): C => {
    let best: C | undefined;
    let bestHits: number[] = [];
    for (const c of cands) {
      if (!within(c)) continue;
      const hits = grid.hits(inflate(c, GAP));
      if (hits.length === 0) return c;
      if (best === undefined || hits.length < bestHits.length) [best, bestHits] = [c, hits];
    }
    crowded += 1;
    if (best === undefined) short.add(row).add(row + 1);
    for (const end of bestHits) short.add(end > row ? row + 1 : row);
    if (bestHits.includes(BOX)) short.add(row).add(row + 1);
    return best ?? cands[0]!;
  };

  // Notes first (they have rows of their own), then chose markers, then the
  // arrows' labels, top down.
  const notes: NoteLayout[] = notesIn.map((n) => {
    const shown = n.text.length > 24 ? `${n.text.slice(0, 23)}…` : n.text;
    const w = 8 + 6.6 * [...shown].length;
    const cx = laneX[n.lane] ?? laneX[0] ?? left;
    const cy = noteRows.get(n.row)!;
    const box = { x: cx - w / 2, y: cy - 7, w, h: 14 };
    grid.addBox(box);
    return { ...n, box, cx, cy, shown };
  });

  const markers: MarkerLayout[] = [];
  chart.rows.forEach((r, row) => {
    if (r.line.action !== 'chose') return;
    const at = { x: laneX[r.lane]!, y: rowY[row]! };
    // The whole marker, centred on the lane, else anywhere along its row
    // that still covers the lane, nearest the centre first; where lines
    // crowd the lane, a short one ("★ X @2": the key says what it means).
    const cands: Array<Box & { text: string }> = [];
    for (const text of markerTexts(chart, row)) {
      const w = 14 + textWidth(text);
      const h = 18;
      const xs = [at.x - w / 2];
      for (let d = 8; d < w / 2 - 6; d += 8) xs.push(at.x - w / 2 + d, at.x - w / 2 - d);
      xs.push(at.x - 8, at.x + 8 - w);
      cands.push(...xs.map((x) => ({ x, y: at.y - h / 2, w, h, text })));
    }
    const { text, ...box } = choose(cands, row);
    grid.addBox(box);
    markers.push({ row, lane: r.lane, at, label: { ...box, text, tx: box.x + box.w / 2, ty: at.y + 4 } });
  });

  const order = chart.arrows.map((_, i) => i).sort((a, b) => chart.arrows[a]!.to - chart.arrows[b]!.to || a - b);
  const labels = new Map<number, Label>();
  for (const i of order) {
    const text = labelText(chart, i);
    const w = textWidth(text) + 2;
    const box = choose(candidates(arrowPts[i]!.pts, w, TEXT_H), chart.arrows[i]!.to);
    grid.addBox(box);
    labels.set(i, { ...box, text, tx: box.x + 1, ty: box.y + ASCENT });
    bottom = Math.max(bottom, box.y + box.h + GAP);
  }
  const arrows = chart.arrows.map((_, i) => ({
    index: i,
    points: arrowPts[i]!.pts,
    d: arrowPts[i]!.d,
    label: labels.get(i)!,
  }));
  return { layout: { width, bottom, top, laneX, rowY, arrows, markers, notes, crowded }, short };
}

/** A message to oneself: a loop out to the right, sampled as a polyline. */
function selfCurve(x1: number, y1: number, x2: number, y2: number): Pt[] {
  const p = [
    { x: x1, y: y1 },
    { x: x1 + 40, y: y1 },
    { x: x2 + 40, y: y2 },
    { x: x2 + 2, y: y2 },
  ] as const;
  const out: Pt[] = [];
  for (let i = 0; i <= 16; i++) {
    const t = i / 16;
    const u = 1 - t;
    const [a, b, c, d] = [u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t];
    out.push({
      x: a * p[0].x + b * p[1].x + c * p[2].x + d * p[3].x,
      y: a * p[0].y + b * p[1].y + c * p[2].y + d * p[3].y,
    });
  }
  return out;
}

/**
 * Places for a w×h label beside its arrow, nearest the head first: at
 * points along the line, a box with one corner just off the line, on the
 * side towards the sender first (below the line), then the other. The line
 * runs down and to one side, so it never enters either box.
 */
function candidates(pts: readonly Pt[], w: number, h: number): Box[] {
  const segs: Array<{ a: Pt; b: Pt; len: number }> = [];
  for (let i = pts.length - 1; i > 0; i--) {
    const a = pts[i]!;
    const b = pts[i - 1]!;
    segs.push({ a, b, len: Math.hypot(b.x - a.x, b.y - a.y) });
  }
  const total = segs.reduce((s, g) => s + g.len, 0);
  const out: Box[] = [];
  const m = GAP + 1;
  for (let d = 8; d <= total - 6; d = d < 40 ? d + 8 : d * 1.18) {
    // The point d along the line from its head, and the line's direction there (tail to head).
    let rest = d;
    let seg = segs[0]!;
    for (const g of segs) {
      seg = g;
      if (rest <= g.len) break;
      rest -= g.len;
    }
    const f = seg.len === 0 ? 0 : Math.min(1, rest / seg.len);
    const q = { x: seg.a.x + (seg.b.x - seg.a.x) * f, y: seg.a.y + (seg.b.y - seg.a.y) * f };
    const dx = seg.a.x - seg.b.x;
    const dy = seg.a.y - seg.b.y;
    if (Math.abs(dx) < 0.5 || dy < -0.5) {
      // Straight down (or a curve's turn): to either side, centred on the point.
      out.push({ x: q.x + m, y: q.y - h / 2, w, h }, { x: q.x - m - w, y: q.y - h / 2, w, h });
    } else if (dx > 0) {
      out.push({ x: q.x - m - w, y: q.y + m, w, h }, { x: q.x + m, y: q.y - m - h, w, h });
    } else {
      out.push({ x: q.x + m, y: q.y + m, w, h }, { x: q.x - m - w, y: q.y - m - h, w, h });
    }
  }
  if (out.length === 0) {
    const q = pts[pts.length - 1]!;
    out.push({ x: q.x + m, y: q.y + m, w, h }, { x: q.x - m - w, y: q.y + m, w, h });
  }
  return out;
}

const inflate = (b: Box, by: number): Box => ({ x: b.x - by, y: b.y - by, w: b.w + 2 * by, h: b.h + 2 * by });

export const boxesMeet = (a: Box, b: Box): boolean =>
  a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** Whether the segment p-q enters the box (Liang–Barsky clipping). */
export function segmentMeetsBox(p: Pt, q: Pt, b: Box): boolean {
  const dx = q.x - p.x;
  const dy = q.y - p.y;
  let t0 = 0;
  let t1 = 1;
  const edges: Array<[number, number]> = [
    [-dx, p.x - b.x],
    [dx, b.x + b.w - p.x],
    [-dy, p.y - b.y],
    [dy, b.y + b.h - p.y],
  ];
  for (const [pe, qe] of edges) {
    if (pe === 0) {
      if (qe < 0) return false;
      continue;
    }
    const t = qe / pe;
    if (pe < 0) {
      if (t > t1) return false;
      if (t > t0) t0 = t;
    } else {
      if (t < t0) return false;
      if (t < t1) t1 = t;
    }
  }
  return true;
}

/** What a box in the way stands for among Grid.hits' answers. */
const BOX = -1;

/** Segments and boxes by horizontal band of the chart, so a query looks only at what is near it. */
class Grid {
  private static readonly BAND = 48;
  /** Each segment with the row its arrow ends at. */
  private readonly segs = new Map<number, Array<[Pt, Pt, number]>>();
  private readonly boxes = new Map<number, Box[]>();

  private bands(y0: number, y1: number): number[] {
    const out: number[] = [];
    for (let k = Math.floor(Math.min(y0, y1) / Grid.BAND); k <= Math.floor(Math.max(y0, y1) / Grid.BAND); k++)
      out.push(k);
    return out;
  }

  addSegment(p: Pt, q: Pt, endRow: number): void {
    for (const k of this.bands(p.y, q.y)) {
      const at = this.segs.get(k);
      if (at === undefined) this.segs.set(k, [[p, q, endRow]]);
      else at.push([p, q, endRow]);
    }
  }

  addBox(b: Box): void {
    for (const k of this.bands(b.y, b.y + b.h)) {
      const at = this.boxes.get(k);
      if (at === undefined) this.boxes.set(k, [b]);
      else at.push(b);
    }
  }

  /**
   * What meets b: for each segment the row its arrow ends at, BOX for each box (one met in two bands may count twice).
   */
  hits(b: Box): number[] {
    const out: number[] = [];
    for (const k of this.bands(b.y, b.y + b.h)) {
      for (const [p, q, end] of this.segs.get(k) ?? []) if (segmentMeetsBox(p, q, b)) out.push(end);
      for (const o of this.boxes.get(k) ?? []) if (boxesMeet(o, b)) out.push(BOX);
    }
    return out;
  }
}

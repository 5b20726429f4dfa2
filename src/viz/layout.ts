// Where everything of a sequence chart goes: each row's y, each arrow's
// line, and a place for every label and chose marker where no arrow runs
// through it and no other label sits. svg.ts draws this; tests check it.
//
// A label is tried at places along its own arrow, from the head back, with
// one corner on the line (an arrow only runs downwards, so a box beside the
// line on either side never meets it); the first place clear of every arrow
// and every label placed so far wins. Where no place is clear, the chart is
// laid out again with more room between some rows. Room added before a row
// moves everything below it down and stretches each arrow across that gap
// (a point of it by its share of the stretch), so which gap gets it decides
// whether a line in the way moves up or down past the label, and how fast:
// for each line across the place that crosses fewest, the gap that moves
// it off with the least room gets that room. (A label in the way, or no
// place within the chart at all, gets room on both sides of its row.)
// After a bounded number of rounds, whatever still has no clear place goes
// in a list under the rows, after a note of where it belongs: a label is
// never drawn under a line or on another label.

import type { Arrow, Chart } from './events.js';
import { shortValue } from './events.js';
import { Grid, candidates, GAP, inflate, selfCurve, type Box, type Pt } from './geometry.js';

export { boxesMeet, segmentMeetsBox, type Box, type Pt } from './geometry.js';

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
  /**
   * Labels and markers no clear place beside their arrow (or on their lane)
   * could be found for, even with more room: each is drawn in a list under
   * the rows instead, after a note of where it belongs.
   */
  readonly listed: readonly ListedLayout[];
  /** Where the drawing ends: `bottom`, or below the list. */
  readonly end: number;
}

/** A list entry: its note ("step 12, a1 → pb:"), drawn at (x, y) as text; the label or marker follows it. */
export interface ListedLayout {
  readonly note: string;
  readonly x: number;
  readonly y: number;
}

export interface LayoutOptions {
  /** y where the first row's band starts. */
  readonly top?: number;
  /** x where the first lane's band starts. */
  readonly left?: number;
  /** Notes on lanes (the live page's kills, pauses), each on a row of its own before `row`. */
  readonly notes?: readonly NoteAt[];
  /**
   * How many times rows may be given more room before what still has no
   * clear place is listed under the rows (the live page redraws often).
   */
  readonly rounds?: number;
}

/** The most room one round adds before a row (the rows are laid out again after each). */
const MAX_STEP = 6 * ROW_H;
/** From one entry of the list under the rows to the next (a marker is 18 px tall). */
const LIST_H = 24;

/**
 * What a label or marker is attached to, for where room moves it: its row,
 * the gaps (rows room is added before) where how it moves changes, and how.
 */
interface Owner {
  readonly row: number;
  readonly edges: readonly number[];
  /** How far it moves, per pixel of room added before row k. */
  moves(k: number): number;
}

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
    const { layout, short, wants } = attempt(chart, top, left, extra, notes);
    const clear = short.size === 0 && wants.size === 0;
    if (!clear && round < rounds) {
      for (const r of short) extra[r]! += (ROW_H / 4) * ++times[r]!;
      for (const [r, more] of wants) extra[r]! += more;
      continue;
    }
    if (!clear || round === 0) return layout;
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
          if (again.short.size === 0 && again.wants.size === 0) {
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
 * One layout with `extra` room before each row, in which whatever found no
 * clear place is listed under the rows; and where more room would help:
 * `wants`, room before a row that moves a line off a label or marker (see
 * `apart`); `short`, rows that should get some more (on both sides of one
 * with a box in the way or no place at all, and where no gap moves a line
 * off, before the row for a line that ends at or above it, after it for one
 * that ends below). Both empty: everything has its place.
 */
function attempt(
  chart: Chart,
  top: number,
  left: number,
  extra: readonly number[],
  notesIn: readonly NoteAt[],
): { layout: Layout; short: Set<number>; wants: Map<number, number> } {
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
  const arrowPts = chart.arrows.map((a, index) => {
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
    for (let i = 1; i < pts.length; i++) grid.addSegment(pts[i - 1]!, pts[i]!, index);
    return {
      pts,
      d:
        from.lane === to.lane
          ? `M${x1},${y1} C${x1 + 40},${y1} ${x2 + 40},${y2} ${x2 + 2},${y2}`
          : `M${x1},${y1} L${pts[1]!.x},${y2}`,
    };
  });

  const short = new Set<number>();
  const wants = new Map<number, number>();
  const within = (b: Box): boolean => b.x >= left - 2 && b.x + b.w <= width - 4 && b.y >= top;

  // How many arrows each gap between rows stretches (room added before row
  // k stretches every arrow from above k to k or below).
  const spans = new Array<number>(chart.rows.length + 2).fill(0);
  for (const a of chart.arrows) {
    spans[a.from + 1]! += 1;
    spans[a.to + 1]! -= 1;
  }
  for (let k = 1; k < spans.length; k++) spans[k]! += spans[k - 1]!;
  /**
   * How far a point of arrow `a` at height y moves when room is added before
   * row k, per pixel added: all the way if the arrow starts at or below k,
   * not at all if it ends above k, else by its share of the stretch.
   */
  const moves = (a: Arrow, k: number, y: number): number => {
    if (k <= a.from) return 1;
    if (k > a.to) return 0;
    const [y0, y1] = [rowY[a.from]!, rowY[a.to]!];
    return y1 === y0 ? 1 : Math.min(1, Math.max(0, (y - y0) / (y1 - y0)));
  };
  /**
   * Where room takes line p-q (of arrow c) out of box b, a label or marker
   * that moves as `owner` says: the part of the line over the box must pass
   * wholly above it or wholly below, and room added before row k moves the
   * line and the box apart (or together) at a rate that depends on which of
   * their rows k comes after. The gap, and how much room, that does it with
   * the least room; undefined if none can (then the rows around get some).
   */
  const apart = (b: Box, p: Pt, q: Pt, c: Arrow, owner: Owner): [number, number] | undefined => {
    const dx = q.x - p.x;
    let [t0, t1] = [0, 1];
    if (Math.abs(dx) > 1e-9) {
      const [u, v] = [(b.x - p.x) / dx, (b.x + b.w - p.x) / dx];
      [t0, t1] = [Math.max(0, Math.min(u, v)), Math.min(1, Math.max(u, v))];
    }
    const ys = [t0, t1].map((t) => p.y + (q.y - p.y) * t);
    const rise = Math.max(...ys) - b.y;
    const sink = b.y + b.h - Math.min(...ys);
    // Room moves things the same way between these gaps: try each stretch.
    const edges = [...new Set([1, ...owner.edges, c.from + 1, c.to + 1, chart.rows.length])]
      .filter((k) => k >= 1 && k <= chart.rows.length)
      .sort((x, y) => x - y);
    let best: [number, number] | undefined;
    for (let e = 0; e + 1 < edges.length; e++) {
      const [lo, hi] = [edges[e]!, edges[e + 1]! - 1];
      for (const [dir, need] of [
        [-1, rise],
        [1, sink],
      ] as const) {
        const rate = Math.min(...ys.map((y) => dir * (moves(c, lo, y) - owner.moves(lo))));
        if (rate < 0.02) continue;
        const room = need / rate;
        if (best !== undefined && room >= best[1]) continue;
        // Within the stretch, the gap fewest other arrows cross, nearest the box's row.
        let k = lo;
        for (let g = lo + 1; g <= hi; g++)
          if (spans[g]! < spans[k]! || (spans[g] === spans[k] && Math.abs(g - owner.row) < Math.abs(k - owner.row)))
            k = g;
        best = [k, room];
      }
    }
    return best;
  };
  /**
   * The first candidate clear of everything; else undefined, and where more
   * room would clear the one crossing least goes into `wants` (or, where no
   * room along its lines would, its row gets more on both sides, in `short`).
   */
  const choose = <C extends Box>(cands: C[], ownerOf: (c: C) => Owner): C | undefined => {
    let best: C | undefined;
    let bestHits = Infinity;
    for (const c of cands) {
      if (!within(c)) continue;
      const hits = grid.hits(inflate(c, GAP));
      if (hits === 0) return c;
      if (best === undefined || hits < bestHits) [best, bestHits] = [c, hits];
    }
    if (best === undefined) {
      const row = ownerOf(cands[0]!).row;
      short.add(row).add(row + 1);
      return undefined;
    }
    const owner = ownerOf(best);
    const b = inflate(best, GAP);
    const { segs, boxes } = grid.meeting(b);
    if (boxes > 0) short.add(owner.row).add(owner.row + 1);
    for (const [p, q, i] of segs) {
      const c = chart.arrows[i]!;
      const fix = apart(b, p, q, c, owner);
      if (fix === undefined) short.add(c.to > owner.row ? owner.row + 1 : owner.row);
      else {
        const room = Math.min(MAX_STEP, Math.ceil((fix[1] + 1) / (ROW_H / 4)) * (ROW_H / 4));
        wants.set(fix[0], Math.max(wants.get(fix[0]) ?? 0, room));
      }
    }
    return undefined;
  };
  /** What found no clear place, in order: a marker (its row) or a label (its arrow). */
  const unplaced: Array<{ marker: number } | { arrow: number }> = [];

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
    const markerOwner: Owner = { row, edges: [row + 1], moves: (k) => (k <= row ? 1 : 0) };
    const found = choose(cands, () => markerOwner);
    if (found === undefined) {
      unplaced.push({ marker: row });
      return;
    }
    const { text, ...box } = found;
    grid.addBox(box);
    markers.push({ row, lane: r.lane, at, label: { ...box, text, tx: box.x + box.w / 2, ty: at.y + 4 } });
  });

  const order = chart.arrows.map((_, i) => i).sort((a, b) => chart.arrows[a]!.to - chart.arrows[b]!.to || a - b);
  const labels = new Map<number, Label>();
  for (const i of order) {
    const text = labelText(chart, i);
    const w = textWidth(text) + 2;
    const a = chart.arrows[i]!;
    const found = choose(candidates(arrowPts[i]!.pts, w, TEXT_H), (c) => ({
      row: a.to,
      edges: [a.from + 1, a.to + 1],
      moves: (k) => moves(a, k, c.at.y),
    }));
    if (found === undefined) {
      unplaced.push({ arrow: i });
      continue;
    }
    const { at, ...box } = found;
    grid.addBox(box);
    labels.set(i, { ...box, text, tx: box.x + 1, ty: box.y + ASCENT });
    bottom = Math.max(bottom, box.y + box.h + GAP);
  }

  // What found no clear place goes in a list under everything else (where
  // no line runs), in the order of the rows, each after a note of where it
  // belongs: "step 12, a1 → pb:" for a message, "step 40, pa:" for a marker.
  const listed: ListedLayout[] = [];
  let end = bottom + LIST_H / 2; // past the lane lines' ends
  const lane = (row: number): string => chart.lanes[chart.rows[row]!.lane]?.label ?? '?';
  const rowOf = (u: (typeof unplaced)[number]): number => ('marker' in u ? u.marker : chart.arrows[u.arrow]!.to);
  for (const u of unplaced.sort((p, q) => rowOf(p) - rowOf(q))) {
    const y = end + LIST_H;
    if ('marker' in u) {
      const [text] = markerTexts(chart, u.marker);
      const note = `step ${u.marker + 1}, ${lane(u.marker)}:`;
      const box = { x: left + textWidth(note) + 8, y: y - 13, w: 14 + textWidth(text), h: 18 };
      listed.push({ note, x: left, y });
      const r = chart.rows[u.marker]!;
      markers.push({
        row: u.marker,
        lane: r.lane,
        at: { x: laneX[r.lane]!, y: rowY[u.marker]! },
        label: { ...box, text, tx: box.x + box.w / 2, ty: y },
      });
    } else {
      const a = chart.arrows[u.arrow]!;
      const text = labelText(chart, u.arrow);
      const note = `step ${a.to + 1}, ${lane(a.from)} → ${lane(a.to)}:`;
      const box = { x: left + textWidth(note) + 6, y: y - ASCENT, w: textWidth(text) + 2, h: TEXT_H };
      listed.push({ note, x: left, y });
      labels.set(u.arrow, { ...box, text, tx: box.x + 1, ty: y });
    }
    end = y + 8;
  }
  if (listed.length === 0) end = bottom;
  markers.sort((p, q) => p.row - q.row);
  const arrows = chart.arrows.map((_, i) => ({
    index: i,
    points: arrowPts[i]!.pts,
    d: arrowPts[i]!.d,
    label: labels.get(i)!,
  }));
  return { layout: { width, bottom, top, laneX, rowY, arrows, markers, notes, listed, end }, short, wants };
}

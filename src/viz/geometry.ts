// The geometry under a chart's layout (layout.ts): points and boxes, the
// places a label may take beside its arrow, a message to oneself as a
// curve, and an index of what is drawn by band, for quick overlap tests.

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

/** Margin kept between a label and any line or other label. */
export const GAP = 3;
/**
 * Places for a label are tried this far apart along its line (after the
 * first few, closer to its head): close enough that a gap between two lines
 * as tall as a label is not stepped over.
 */
export const STEP = 10;

/** A message to oneself: a loop out to the right, sampled as a polyline. */
export function selfCurve(x1: number, y1: number, x2: number, y2: number): Pt[] {
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
export function candidates(pts: readonly Pt[], w: number, h: number): Array<Box & { at: Pt }> {
  const segs: Array<{ a: Pt; b: Pt; len: number }> = [];
  for (let i = pts.length - 1; i > 0; i--) {
    const a = pts[i]!;
    const b = pts[i - 1]!;
    segs.push({ a, b, len: Math.hypot(b.x - a.x, b.y - a.y) });
  }
  const total = segs.reduce((s, g) => s + g.len, 0);
  const out: Array<Box & { at: Pt }> = [];
  const m = GAP + 1;
  for (let d = 8; d <= total - 6; d += d < 40 ? 8 : STEP) {
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
      out.push({ x: q.x + m, y: q.y - h / 2, w, h, at: q }, { x: q.x - m - w, y: q.y - h / 2, w, h, at: q });
    } else if (dx > 0) {
      out.push({ x: q.x - m - w, y: q.y + m, w, h, at: q }, { x: q.x + m, y: q.y - m - h, w, h, at: q });
    } else {
      out.push({ x: q.x + m, y: q.y + m, w, h, at: q }, { x: q.x - m - w, y: q.y - m - h, w, h, at: q });
    }
  }
  if (out.length === 0) {
    const q = pts[pts.length - 1]!;
    out.push({ x: q.x + m, y: q.y + m, w, h, at: q }, { x: q.x - m - w, y: q.y + m, w, h, at: q });
  }
  return out;
}

export const inflate = (b: Box, by: number): Box => ({ x: b.x - by, y: b.y - by, w: b.w + 2 * by, h: b.h + 2 * by });

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

/** Segments and boxes by horizontal band of the chart, so a query looks only at what is near it. */
export class Grid {
  private static readonly BAND = 48;
  /** Each segment with its arrow's index. */
  private readonly segs = new Map<number, Array<[Pt, Pt, number]>>();
  private readonly boxes = new Map<number, Box[]>();

  private bands(y0: number, y1: number): number[] {
    const out: number[] = [];
    for (let k = Math.floor(Math.min(y0, y1) / Grid.BAND); k <= Math.floor(Math.max(y0, y1) / Grid.BAND); k++)
      out.push(k);
    return out;
  }

  addSegment(p: Pt, q: Pt, arrow: number): void {
    const s: [Pt, Pt, number] = [p, q, arrow];
    for (const k of this.bands(p.y, q.y)) {
      const at = this.segs.get(k);
      if (at === undefined) this.segs.set(k, [s]);
      else at.push(s);
    }
  }

  addBox(b: Box): void {
    for (const k of this.bands(b.y, b.y + b.h)) {
      const at = this.boxes.get(k);
      if (at === undefined) this.boxes.set(k, [b]);
      else at.push(b);
    }
  }

  /** How many segments and boxes meet b (one met in two bands may count twice). */
  hits(b: Box): number {
    let n = 0;
    for (const k of this.bands(b.y, b.y + b.h)) {
      for (const [p, q] of this.segs.get(k) ?? []) if (segmentMeetsBox(p, q, b)) n += 1;
      for (const o of this.boxes.get(k) ?? []) if (boxesMeet(o, b)) n += 1;
    }
    return n;
  }

  /** The segments that meet b (each once, with its arrow), and how many boxes do. */
  meeting(b: Box): { segs: Array<[Pt, Pt, number]>; boxes: number } {
    const segs = new Set<[Pt, Pt, number]>();
    let boxes = 0;
    for (const k of this.bands(b.y, b.y + b.h)) {
      for (const s of this.segs.get(k) ?? []) if (segmentMeetsBox(s[0], s[1], b)) segs.add(s);
      for (const o of this.boxes.get(k) ?? []) if (boxesMeet(o, b)) boxes += 1;
    }
    return { segs: [...segs], boxes };
  }
}

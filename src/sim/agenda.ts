// The simulators' event queue: a binary heap ordered by time, then by
// scheduling order, so a seed replays exactly.

export interface Scheduled<T> {
  readonly at: number;
  readonly seq: number;
  readonly item: T;
}

const before = <T>(a: Scheduled<T>, b: Scheduled<T>): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

export class Agenda<T> {
  private readonly h: Scheduled<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.h.length;
  }

  push(at: number, item: T): void {
    const h = this.h;
    h.push({ at, seq: this.seq++, item });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  pop(): Scheduled<T> | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

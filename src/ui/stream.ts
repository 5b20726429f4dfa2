// The live page's event stream: every line the peers print goes through
// here, in batches, to every open page. A page that opens late first gets
// the hello, the recent lines and each peer's latest state.
//
// Aggregation. A replicated log under load prints thousands of lines a
// second; a browser cannot draw that. Per-link counts (messages received per
// second, from each peer to each) always cover every line. The chart gets
// every line while the cluster prints at most SAMPLE_ABOVE lines a second.
// Above that it is sampled: each second, the first SAMPLED_SLOTS_PER_SEC
// slots that start are drawn with every line they have (so their arrows
// stay whole), and the other slots are left out and counted. It goes back
// to every line once the rate falls below half the threshold. The hub keeps
// time by its caller's tick() (once a second) and flush() (a few times a
// second), so tests drive it without clocks.

import type { LogLine } from '../rules/index.js';
import type { LaneState } from '../viz/svg.js';
import type { PeerFacts, StreamLine, UiEvent } from './protocol.js';

export const SAMPLE_ABOVE = 200;
export const SAMPLED_SLOTS_PER_SEC = 4;
/** Lab lines (no slot) drawn per second while sampling. */
const SAMPLED_LINES_PER_SEC = 50;
/** Lines a late page is sent first; the page itself draws at most the last MAX_ROWS (web/app.ts). */
const HISTORY_LINES = 2000;
const HISTORY_NOTES = 200;
/** Slots remembered as drawn or left out; older ones are forgotten. */
const SLOT_MEMORY = 5000;

export type Send = (ev: UiEvent) => void;

export class EventHub {
  private readonly subscribers = new Set<Send>();
  private hello: UiEvent | undefined;
  private readonly history: StreamLine[] = [];
  private readonly notes: UiEvent[] = [];
  private readonly peers = new Map<number, UiEvent>();
  private lastLinks: UiEvent | undefined;
  private pending: StreamLine[] = [];
  private seq = 0;
  /** Lines in the current second, and per link (from*n+to). */
  private count = 0;
  private linkCounts: number[];
  private sampling = false;
  private slotBudget = SAMPLED_SLOTS_PER_SEC;
  private lineBudget = SAMPLED_LINES_PER_SEC;
  private readonly slots = new Map<number, boolean>();
  private maxSlot = 0;
  private skipped = 0;
  private cut: readonly string[] = [];

  constructor(private readonly lanes: number) {
    this.linkCounts = new Array<number>(lanes * lanes).fill(0);
  }

  setHello(ev: UiEvent & { type: 'hello' }): void {
    this.hello = ev;
    this.broadcast(ev);
  }

  /** A page connects: catch it up, then keep it posted. Returns the unsubscribe. */
  subscribe(send: Send): () => void {
    // Lines gathered but not yet flushed go out to everyone first, so the
    // catch-up and the next batch never hold the same line.
    this.flush();
    if (this.hello !== undefined) send(this.hello);
    if (this.history.length > 0) send({ type: 'lines', lines: [...this.history] });
    for (const n of this.notes) send(n);
    for (const p of this.peers.values()) send(p);
    if (this.lastLinks !== undefined) send(this.lastLinks);
    this.subscribers.add(send);
    return () => this.subscribers.delete(send);
  }

  /** One line lane `lane` printed; `from` is the lane of the peer that sent it, for received lines. */
  line(lane: number, line: LogLine, slot: number | undefined, from: number | undefined): void {
    this.count += 1;
    if (line.action === 'received' && from !== undefined) this.linkCounts[from * this.lanes + lane]! += 1;
    if (!this.admit(slot)) {
      this.skipped += 1;
      return;
    }
    const s: StreamLine = { seq: this.seq++, lane, line };
    this.pending.push(s);
    this.history.push(s);
    if (this.history.length > HISTORY_LINES * 1.5) this.history.splice(0, this.history.length - HISTORY_LINES);
  }

  private admit(slot: number | undefined): boolean {
    if (slot === undefined) {
      if (!this.sampling) return true;
      if (this.lineBudget <= 0) return false;
      this.lineBudget -= 1;
      return true;
    }
    const known = this.slots.get(slot);
    if (known !== undefined) return known;
    const take = !this.sampling || this.slotBudget > 0;
    if (this.sampling && take) this.slotBudget -= 1;
    // Only slots at most SLOT_MEMORY below the highest are remembered. A new
    // highest slot drops the keys it pushes out of that window: one when
    // slots come in order, never a scan of the map (except after a jump of
    // more than SLOT_MEMORY, when the map is at most that big).
    if (slot > this.maxSlot) {
      const gone = slot - SLOT_MEMORY;
      if (slot - this.maxSlot > SLOT_MEMORY) {
        for (const k of this.slots.keys()) if (k < gone) this.slots.delete(k);
      } else {
        for (let k = this.maxSlot - SLOT_MEMORY; k < gone; k++) this.slots.delete(k);
      }
      this.maxSlot = slot;
    }
    if (slot >= this.maxSlot - SLOT_MEMORY) this.slots.set(slot, take);
    return take;
  }

  /** A peer's process and protocol state changed. */
  peer(lane: number, proc: LaneState, facts: PeerFacts): void {
    const ev: UiEvent = { type: 'peer', lane, proc, facts };
    const last = this.peers.get(lane);
    if (last !== undefined && JSON.stringify(last) === JSON.stringify(ev)) return;
    this.peers.set(lane, ev);
    this.broadcast(ev);
  }

  /** Something was done to a peer: drawn on its lane after the lines so far. */
  note(lane: number, text: string, state: LaneState): void {
    this.flush();
    const ev: UiEvent = { type: 'note', lane, seq: this.seq, text, state };
    this.notes.push(ev);
    if (this.notes.length > HISTORY_NOTES) this.notes.shift();
    this.broadcast(ev);
  }

  setCut(cut: readonly string[]): void {
    this.cut = cut;
    this.emitLinks(this.lastRates());
  }

  /** Send the lines gathered since the last flush, as one event. */
  flush(): void {
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.broadcast({ type: 'lines', lines });
  }

  /** Once a second: publish the per-link rates and decide whether to sample. */
  tick(): void {
    this.flush();
    const rate = this.count;
    if (!this.sampling && rate > SAMPLE_ABOVE) this.sampling = true;
    else if (this.sampling && rate < SAMPLE_ABOVE / 2) this.sampling = false;
    const rates: number[][] = [];
    for (let i = 0; i < this.lanes; i++) rates.push(this.linkCounts.slice(i * this.lanes, (i + 1) * this.lanes));
    this.emitLinks(rates, rate);
    this.count = 0;
    this.linkCounts.fill(0);
    this.slotBudget = SAMPLED_SLOTS_PER_SEC;
    this.lineBudget = SAMPLED_LINES_PER_SEC;
  }

  get isSampling(): boolean {
    return this.sampling;
  }

  private lastRates(): number[][] {
    if (this.lastLinks?.type === 'links') return this.lastLinks.rates.map((r) => [...r]);
    return Array.from({ length: this.lanes }, () => new Array<number>(this.lanes).fill(0));
  }

  private emitLinks(
    rates: number[][],
    linesPerSec = this.lastLinks?.type === 'links' ? this.lastLinks.linesPerSec : 0,
  ): void {
    const ev: UiEvent = {
      type: 'links',
      cut: this.cut,
      rates,
      linesPerSec,
      sampling: this.sampling,
      skipped: this.skipped,
    };
    this.lastLinks = ev;
    this.broadcast(ev);
  }

  private broadcast(ev: UiEvent): void {
    for (const s of this.subscribers) s(ev);
  }
}

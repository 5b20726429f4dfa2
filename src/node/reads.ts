// Reads answered by read index (LogNode.read), off the log (gets and
// ranges): each waits here under an id given to the core until the core
// confirms it with a log index, then until this replica has applied that
// index, and is answered from the store as it is then.

import { READ_REASK_MS } from '../paxos/defaults.js';

interface WaitingRead {
  /** Read the store now (at slot `applied`) and answer. */
  readonly answer: (applied: number) => void;
  readonly unreadable: () => void;
  /** The log index to wait for; -1 until the core confirms the read. */
  index: number;
  /** When the core confirmed it (the node's clock). */
  confirmedAt: number;
}

export class IndexReads {
  private readonly reads = new Map<number, WaitingRead>();
  private ids = 0;

  get size(): number {
    return this.reads.size;
  }

  /** A new read; returns the id to give the core. */
  add(answer: WaitingRead['answer'], unreadable: () => void): number {
    const id = ++this.ids;
    this.reads.set(id, { answer, unreadable, index: -1, confirmedAt: 0 });
    return id;
  }

  /** Forget a read (its client went away, or it was answered). */
  drop(id: number): void {
    this.reads.delete(id);
  }

  confirmed(id: number, index: number, now: number): void {
    const w = this.reads.get(id);
    if (w === undefined) return;
    w.index = index;
    w.confirmedAt = now;
  }

  /** The core cannot serve read `id`: no leader known. */
  refused(id: number): void {
    const w = this.reads.get(id);
    if (w === undefined) return;
    this.reads.delete(id);
    w.unreadable();
  }

  /** Answer the confirmed reads whose index is applied. */
  serve(applied: number): void {
    for (const [id, w] of this.reads) {
      if (w.index < 0 || w.index > applied) continue;
      this.reads.delete(id);
      w.answer(applied);
    }
  }

  /** Confirmed reads still not served READ_REASK_MS after: their ids, to ask the core again. */
  late(now: number): number[] {
    const late: number[] = [];
    for (const [id, w] of this.reads) {
      if (w.index < 0 || now - w.confirmedAt < READ_REASK_MS) continue;
      w.index = -1;
      late.push(id);
    }
    return late;
  }
}

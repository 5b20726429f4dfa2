// A lab peer's durable state in memory: the simulator's disk (it outlives
// the peer's crashes: a restarted peer loads what was saved before) and the
// tests'. Saves finish at once, so the node loop performs a whole Ready in
// one synchronous call.

import { EMPTY_STATE, type DurableState } from '../core/types.js';
import type { Storage } from './storage.js';

export class MemoryStorage implements Storage {
  private readonly all: DurableState[] = [];

  constructor(private state: DurableState = EMPTY_STATE) {}

  load(): DurableState {
    return this.state;
  }

  save(state: DurableState): void {
    this.state = state;
    this.all.push(state);
  }

  /** Every state saved, oldest first (tests check what was saved when). */
  get saves(): readonly DurableState[] {
    return this.all;
  }
}

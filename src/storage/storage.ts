// Where a peer keeps its durable state. The daemon awaits `save` (under its
// state mutex) before any message that depends on the state leaves.

import { EMPTY_STATE, type DurableState } from '../core/types.js';

export interface Storage {
  /** The state saved last, or the empty state on first start. */
  load(): Promise<DurableState>;
  /** Resolves once `state` is on stable storage. */
  save(state: DurableState): Promise<void>;
}

/**
 * Keeps state in memory only, so a restarted peer starts empty. For tests
 * and in-process tools; peers run with FileStorage (file.ts).
 */
export class MemoryStorage implements Storage {
  private state: DurableState = EMPTY_STATE;

  async load(): Promise<DurableState> {
    return this.state;
  }

  async save(state: DurableState): Promise<void> {
    this.state = state;
  }
}

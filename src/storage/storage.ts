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
 * Keeps state in memory only: a restarted peer starts empty. This is what
 * the daemon uses today; a disk-backed store is issue 4's work.
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

// Where a peer keeps its durable state. The daemon awaits `save` (under its
// state mutex) before any message that depends on the state leaves.

import type { DurableState } from '../core/types.js';

export interface Storage {
  /** The state saved last, or the empty state on first start. */
  load(): Promise<DurableState>;
  /** Resolves once `state` is on stable storage. */
  save(state: DurableState): Promise<void>;
}

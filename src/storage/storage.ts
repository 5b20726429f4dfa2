// Where a lab peer keeps its durable state: the state log in its data
// directory (wal-state.ts; file.ts, the older state.json), or memory
// (memory-state.ts: the simulator's disk, and the tests'). The node loop
// (node/lab-node.ts) saves a batch's state, and waits for the save, before
// any message, line or answer that depends on it. A save that finishes at
// once (memory) keeps the batch in one synchronous call.

import type { DurableState } from '../core/types.js';
import type { MaybePromise } from '../util/maybe.js';

export interface Storage {
  /** The state saved last, or the empty state on first start. */
  load(): MaybePromise<DurableState>;
  /** Done (resolves, or returns) once `state` is on stable storage. */
  save(state: DurableState): MaybePromise<void>;
}

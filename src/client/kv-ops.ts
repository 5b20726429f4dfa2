// What a lock (lock.ts) and an election (election.ts) need of their client
// (api.ts's KvClient): its own file, so they depend on this interface and
// not on api.ts, which builds them.

import type { RangeQuery } from '../sm/range.js';
import type { CallOptions } from './call-options.js';
import type { Lease, LeaseOptions } from './lease.js';
import type { RangeResult, WriteResult } from './results.js';
import type { TxnBuilder } from './txn-builder.js';
import type { Watcher } from './watcher.js';

export interface KvOps {
  txn(): TxnBuilder;
  range(query: RangeQuery, o?: CallOptions): Promise<RangeResult>;
  del(key: string, o?: CallOptions): Promise<WriteResult>;
  watch(opts: { readonly key?: string; readonly prefix?: string; readonly fromRevision?: number }): Watcher;
  lease(ttl: number, o?: LeaseOptions): Promise<Lease>;
}

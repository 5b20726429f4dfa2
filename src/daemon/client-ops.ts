// What a client asked a replica, and how it went, as /metrics counts it
// (paxos_client_ops_total{op,outcome}, metrics.ts): the op is the command's
// kind (put, get, del, cas, txn, grant, keep, revoke, leases) or the
// request's (range, watch, dump, status); the outcome is "ok", or the
// store's refusal (mismatch, stale, expired, quota, nolease, toomany; a txn
// whose compares failed: else), or the replica's (no_leader, not_ready,
// compacted).

import type { KvResult, ReceivedKvRequest } from '../wire/kv.js';

export interface ClientOp {
  readonly op: string;
  /** The outcome of an answer, or null for one not counted (a dump's parts, a watch's events). */
  outcome(r: KvResult): string | null;
}

/** The op of a request that is counted, or null (acks, cancels). */
export function clientOpOf(req: ReceivedKvRequest): ClientOp | null {
  switch (req.type) {
    case 'kv':
      return { op: req.cmd.o, outcome };
    case 'range':
    case 'watch':
    case 'dump':
    case 'status':
      return { op: req.type, outcome };
    case 'dump_ack':
    case 'watch_cancel':
      return null;
  }
}

function outcome(r: KvResult): string | null {
  switch (r.status) {
    case 'done': {
      const k = r.result['r'];
      if (k === 'txn') return r.result['ok'] === true ? 'ok' : 'else';
      return k === 'lease' || k === 'leases' || typeof k !== 'string' ? 'ok' : k;
    }
    case 'dump_part':
    case 'events':
      return null;
    case 'range':
    case 'dump':
    case 'status':
    case 'watching':
      return 'ok';
    default:
      return r.status;
  }
}

// What a client of the replicated key-value store says to a replica, and
// what it hears back, on the replica's port (after the usual hello or
// authentication, as for `paxos submit`). One JSON object per line:
//
//   {"type":"kv","id":"9f..","cmd":{"o":"put","c":"cli-1a2b","s":1,"k":"a","v":"x"}}
//   {"type":"dump","id":"9f.."}
//   {"type":"range","id":"9f..","prefix":"user/","limit":100}           read by index, never logged
//   {"type":"range","id":"9f..","from":"a","to":"m","keys_only":true}   (also "count_only")
//   {"type":"watch","id":"9f..","prefix":"user/","rev":120}             or "key"; no "rev": from now
//   {"type":"watch_cancel","id":"9f.."}                                  the watch with that id stops
//   {"type":"status","id":"9f.."}                                        this replica's own state (paxos status)
//
//   {"type":"kv_result","id":"9f..","peer":"peer2","status":"done","slot":17,"result":{"r":"ok"}}
//   {"type":"kv_result","id":"9f..","peer":"peer2","status":"no_leader"}      nothing done; try again
//   {"type":"kv_result","id":"9f..","peer":"peer2","status":"not_ready","why":".."}
//                                         recovering: nothing done; try another
//   {"type":"kv_result","id":"9f..","peer":"peer2","status":"invalid","why":".."}  nothing done
//   {"type":"kv_result","id":"9f..","peer":"peer2","status":"not_replica"}    a lab peer: nothing done
//   {"type":"kv_result","id":"9f..","peer":"peer2","status":"range","applied":17,"count":2,"more":false,
//    "data":[["a","x",3,9,2],["b","y",5,5,1]]}   the keys in order, as of slot `applied` (src/sm/range.ts):
//                                         [key, value, create, mod, version] (src/sm/key-entry.ts)
//   {"type":"kv_result","id":"9f..","peer":"peer2","status":"watching","rev":120}   then, any number:
//   {"type":"kv_result","id":"9f..","peer":"peer2","status":"events","events":[[121,"user/a","1"],[122,"user/a",null]]}
//                                         [revision, key, value], null: deleted (src/node/watch-hub.ts)
//   {"type":"kv_result","id":"9f..","peer":"peer2","status":"compacted","oldest":500}  "rev" is too old
//   {"type":"kv_result","id":"9f..","peer":"peer2","status":"status","role":"follower","leader":"peer1",
//    "ballot":0,"promise":4,"commit":17,"leaderCommit":17,"applied":17,"snapshot":0}
//                                         its own view, not the log's: role leader, follower or
//                                         candidate; "leader" "" if none known; "recovering": why,
//                                         while it recovers (src/node/replica-types.ts ReplicaStatus)
//
// A dump streams: any number of parts, then the final line, which carries the
// last keys and the replica's applied slot and leader. The client acks each
// part it has read; the replica sends at most DUMP_WINDOW (src/paxos/defaults.ts) parts ahead of the
// acks, so a store of any size goes out in bounded lines and bounded memory:
//   {"type":"kv_result","id":"9f..","peer":"peer2","status":"dump_part","seq":0,"data":[["a","x",3,9,2],...]}
//   {"type":"dump_ack","id":"9f..","seq":0}                                   (client to replica)
//   {"type":"kv_result","id":"9f..","peer":"peer2","status":"dump","applied":17,"data":[["z","y",4,4,1]],
//    "leader":"peer1","parts":1,"keys":2}
//
// `cmd` is a command in src/sm/command.ts's wire form; `result` a result in
// its form. A replica answers "done" once it has applied the command, so
// any replica may be asked: a follower passes the command to the leader and
// answers when the slot reaches its own copy.

import { checkClientCommand, type CheckedClientCommand, type ClientCommand } from '../sm/command.js';
import { checkRangeQuery, type RangeQuery } from '../sm/range.js';
import type { EntryLine } from '../sm/key-entry.js';
import type { LeaseLine } from '../sm/lease.js';
import { checkWatch, type WatchFilter } from '../node/watch-hub.js';

export type KvRequest =
  | { readonly type: 'kv'; readonly id: string; readonly cmd: ClientCommand }
  | { readonly type: 'range'; readonly id: string; readonly query: RangeQuery }
  | { readonly type: 'watch'; readonly id: string; readonly filter: WatchFilter; readonly rev?: number }
  | { readonly type: 'watch_cancel'; readonly id: string }
  | { readonly type: 'dump'; readonly id: string }
  /** The replica's own state: role, leader, ballot, indexes (`paxos status`). */
  | { readonly type: 'status'; readonly id: string }
  /** The client has read the dump's parts up to `seq`. */
  | { readonly type: 'dump_ack'; readonly id: string; readonly seq: number };

/**
 * A request as a replica receives it: the command checked where it arrived,
 * and kept in the wire form it came in (the form the log holds), never
 * decoded again (src/sm/command.ts).
 */
export type ReceivedKvRequest =
  | Exclude<KvRequest, { readonly type: 'kv' }>
  | { readonly type: 'kv'; readonly id: string; readonly cmd: CheckedClientCommand };

export type KvResult = { readonly type: 'kv_result'; readonly id: string; readonly peer: string } & (
  | { readonly status: 'done'; readonly slot: number; readonly result: Record<string, unknown> }
  | { readonly status: 'no_leader' }
  /** The replica is recovering lost state (docs/recovery.md): nothing done. */
  | { readonly status: 'not_ready'; readonly why: string }
  | { readonly status: 'invalid'; readonly why: string }
  | { readonly status: 'not_replica' }
  | { readonly status: 'watching'; readonly rev: number }
  | { readonly status: 'events'; readonly events: ReadonlyArray<readonly [number, string, string | null]> }
  | { readonly status: 'compacted'; readonly oldest: number }
  | {
      readonly status: 'range';
      readonly applied: number;
      readonly count: number;
      readonly more: boolean;
      readonly data: readonly EntryLine[];
    }
  | { readonly status: 'dump_part'; readonly seq: number; readonly data: readonly EntryLine[] }
  | ({ readonly status: 'status' } & StatusFields)
  /**
   * `leader`: the replica this one follows ("" if none known); `parts`: dump_parts sent before this line; `keys`: keys
   * in all;
   * `recovering`: why it votes for nothing yet (docs/recovery.md).
   */
  | {
      readonly status: 'dump';
      readonly applied: number;
      readonly data: readonly EntryLine[];
      readonly leader?: string;
      readonly parts?: number;
      readonly keys?: number;
      readonly recovering?: string;
      /** The store's leases, [id, ttl, renewed] each, and the id its next lease gets (src/sm/lease.ts). */
      readonly leases?: readonly LeaseLine[];
      readonly nextLease?: number;
    }
);

/** A replica's answer to a status request (its ReplicaStatus, the leader by name, and its snapshot's slot). */
export interface StatusFields {
  readonly role: 'leader' | 'follower' | 'candidate';
  /** The leader it knows by name, itself when leading; "" if none. */
  readonly leader: string;
  readonly ballot: number;
  readonly promise: number;
  /** The last slot it knows chosen. */
  readonly commit: number;
  /** The last slot the leader said was chosen, as it last heard. */
  readonly leaderCommit: number;
  readonly applied: number;
  /** The slot of its last snapshot (0: none). */
  readonly snapshot: number;
  /** Why it recovers before it votes; absent once it votes. */
  readonly recovering?: string;
}

/** A client request off the wire, checked field by field. */
export function decodeKvRequest(
  o: Record<string, unknown>,
): { ok: true; req: ReceivedKvRequest } | { ok: false; why: string } {
  const id = o['id'];
  if (typeof id !== 'string' || id.length === 0 || id.length > 64)
    return { ok: false, why: '"id" must be a string of 1 to 64 characters' };
  if (o['type'] === 'dump') return { ok: true, req: { type: 'dump', id } };
  if (o['type'] === 'status') return { ok: true, req: { type: 'status', id } };
  if (o['type'] === 'dump_ack') {
    const seq = o['seq'];
    if (!Number.isSafeInteger(seq) || (seq as number) < 0)
      return { ok: false, why: '"seq" must be a non-negative integer' };
    return { ok: true, req: { type: 'dump_ack', id, seq: seq as number } };
  }
  if (o['type'] === 'watch_cancel') return { ok: true, req: { type: 'watch_cancel', id } };
  if (o['type'] === 'watch') {
    const w = watchOf(o);
    if (typeof w === 'string') return { ok: false, why: `watch: ${w}` };
    return { ok: true, req: { type: 'watch', id, ...w } };
  }
  if (o['type'] === 'range') {
    const q = rangeQueryOf(o);
    if (typeof q === 'string') return { ok: false, why: `range: ${q}` };
    return { ok: true, req: { type: 'range', id, query: q } };
  }
  if (o['type'] !== 'kv') return { ok: false, why: `unknown request type ${JSON.stringify(o['type']).slice(0, 40)}` };
  const c = checkClientCommand(o['cmd']);
  if (!c.ok) return { ok: false, why: c.why };
  return { ok: true, req: { type: 'kv', id, cmd: c.value } };
}

const RANGE_FIELDS = new Set(['type', 'id', 'prefix', 'from', 'to', 'limit', 'keys_only', 'count_only']);

/** A range request's query, checked field by field, or why not. */
function rangeQueryOf(o: Record<string, unknown>): RangeQuery | string {
  const extra = Object.keys(o).find((k) => !RANGE_FIELDS.has(k));
  if (extra !== undefined) return `unexpected field ${JSON.stringify(extra).slice(0, 40)}`;
  for (const k of ['prefix', 'from', 'to'])
    if (o[k] !== undefined && typeof o[k] !== 'string') return `"${k}" must be a string`;
  for (const k of ['keys_only', 'count_only'])
    if (o[k] !== undefined && typeof o[k] !== 'boolean') return `"${k}" must be true or false`;
  if (o['limit'] !== undefined && typeof o['limit'] !== 'number') return '"limit" must be a number';
  const q: RangeQuery = {
    ...(o['prefix'] === undefined ? {} : { prefix: o['prefix'] as string }),
    ...(o['from'] === undefined ? {} : { from: o['from'] as string }),
    ...(o['to'] === undefined ? {} : { to: o['to'] as string }),
    ...(o['limit'] === undefined ? {} : { limit: o['limit'] as number }),
    ...(o['keys_only'] === true ? { keysOnly: true } : {}),
    ...(o['count_only'] === true ? { countOnly: true } : {}),
  };
  return checkRangeQuery(q) ?? q;
}

/** A range request as it goes on the wire. */
export function rangeRequestWire(id: string, q: RangeQuery): Record<string, unknown> {
  return {
    type: 'range',
    id,
    ...(q.prefix === undefined ? {} : { prefix: q.prefix }),
    ...(q.from === undefined ? {} : { from: q.from }),
    ...(q.to === undefined ? {} : { to: q.to }),
    ...(q.limit === undefined ? {} : { limit: q.limit }),
    ...(q.keysOnly === true ? { keys_only: true } : {}),
    ...(q.countOnly === true ? { count_only: true } : {}),
  };
}

/** A watch request's key or prefix and revision, checked, or why not. */
function watchOf(o: Record<string, unknown>): { filter: WatchFilter; rev?: number } | string {
  const extra = Object.keys(o).find((k) => !['type', 'id', 'key', 'prefix', 'rev'].includes(k));
  if (extra !== undefined) return `unexpected field ${JSON.stringify(extra).slice(0, 40)}`;
  const w = checkWatch(o['key'], o['prefix'], o['rev']);
  if (typeof w === 'string') return w;
  return w.rev === undefined ? { filter: w.filter } : { filter: w.filter, rev: w.rev };
}

/** A watch request as it goes on the wire. */
export function watchRequestWire(id: string, filter: WatchFilter, rev: number | undefined): Record<string, unknown> {
  return { type: 'watch', id, ...filter, ...(rev === undefined ? {} : { rev }) };
}

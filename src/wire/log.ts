// The replicated log's wire format between replicas: one JSON object per
// line, the messages of src/log/types.ts as they are, e.g.
//   {"type":"prepare","from":2,"n":5,"slot":17,"life":81}
//   {"type":"accept","from":2,"n":5,"slot":17,"v":[{"o":"put","c":"cli-1","s":1,"k":"a","v":"x"}],"commit":17}
//   {"type":"chose","from":2,"n":5,"slot":17}
//   {"type":"read_index","from":3,"life":7,"ids":[41,42]}
//   {"type":"read_index_ack","from":2,"n":5,"life":7,"ids":[41,42],"index":17}
//   {"type":"recover","from":3,"life":9,"slot":1}
//   {"type":"recover_ack","from":1,"life":9,"promised":5,"votes":[..],"base":1,"commit":18}
// plus the handshake and pings every connection has (lab.ts), and the
// clients' requests (kv.ts). Every field is checked: a replica must
// never act on a message it half understands.
//
// A snapshot never travels as one line: the sender streams it as
// `snapshot_chunk`s of a few hundred KiB each, numbered from 0, the last one
// marked (src/daemon/snapshot-transfer.ts), and the receiver hands its core a
// `snapshot` message holding the store it rebuilt:
//   {"type":"snapshot_chunk","from":2,"index":9000,"seq":0,"last":false,"entries":[["a","x",3,9,2],...],
//    "sessions":[]}                       entries: [key, value, create, mod, version] (src/sm/key-entry.ts)
//   {"type":"snapshot_chunk","from":2,"index":9000,"seq":7,"last":true,"entries":[],
//    "sessions":[["cli-1",4,8990,{"r":"ok"}],...]}

import { MAX_PROPOSAL } from '../paxos/defaults.js';
import type { PeerId } from '../paxos/ids.js';
import type { Batch, LogMessage, SlotReport } from '../log/types.js';
import { checkCommand } from '../sm/command.js';
import { parseEntryLine, type EntryLine } from '../sm/key-entry.js';
import { checkLeaseLine, type LeaseLine } from '../sm/lease.js';
import type { SessionLine } from '../sm/kv.js';
import { decodeKvRequest, type KvResult, type ReceivedKvRequest } from './kv.js';
import type { Codec, Decoded } from '../transport/codec.js';
import { rememberJson } from '../util/json-once.js';
import { jsonLength } from '../util/json-length.js';
import type { ClientResult } from './lab.js';

type Obj = Record<string, unknown>;

/** One piece of a snapshot streamed between replicas: keys first, then sessions (KvView.pieces). */
export interface SnapshotChunk {
  readonly type: 'snapshot_chunk';
  readonly from: PeerId;
  /** The slot the snapshot was taken at. */
  readonly index: number;
  /** 0, 1, 2, ... within one transfer. */
  readonly seq: number;
  readonly last: boolean;
  readonly entries: readonly EntryLine[];
  /** The store's leases (after the keys, before the sessions), and the id its next lease gets. */
  readonly leases: readonly LeaseLine[];
  readonly nextLease: number;
  /** The configuration, once changed from the hostsfile's (checked where the snapshot is built: KvBuilder). */
  readonly members?: unknown;
  readonly sessions: readonly SessionLine[];
}

/**
 * What replicas say to each other: the core's messages and snapshot chunks (a `snapshot` is never decoded off the
 * wire).
 */
export type ReplicaWire = LogMessage | SnapshotChunk;

class Bad extends Error {}

function int(o: Obj, key: string, min: number): number {
  const x = o[key];
  if (!Number.isSafeInteger(x) || (x as number) < min || (x as number) > MAX_PROPOSAL)
    throw new Bad(`"${key}" must be an integer from ${min} to ${MAX_PROPOSAL}`);
  return x as number;
}

/**
 * A batch of commands, each checked here, at the edge, and then never
 * decoded again (src/sm/command.ts): the array itself, unless a command
 * came in another key order (then a copy, with canonical ones).
 */
function batch(x: unknown, name: string): Batch {
  if (!Array.isArray(x)) throw new Bad(`${name} must be an array of commands`);
  let out: unknown[] = x;
  for (const [i, c] of x.entries()) {
    const d = checkCommand(c);
    if (!d.ok) throw new Bad(`${name}: ${d.why}`);
    if (d.value !== c) {
      if (out === x) out = [...x];
      out[i] = d.value;
    }
  }
  return out;
}

/** Read ids: a replica's own counter, so any safe integer from 1. */
function ids(x: unknown): number[] {
  if (!Array.isArray(x) || x.length === 0) throw new Bad('"ids" must be a non-empty array');
  for (const id of x)
    if (!Number.isSafeInteger(id) || (id as number) < 1) throw new Bad('"ids" must hold integers from 1');
  return x as number[];
}

function reports(x: unknown): SlotReport[] {
  if (!Array.isArray(x)) throw new Bad('"votes" must be an array');
  return x.map((r: unknown, i) => {
    if (typeof r !== 'object' || r === null) throw new Bad(`"votes"[${i}] must be an object`);
    const o = r as Obj;
    const s = int(o, 's', 1);
    const n = int(o, 'n', 0);
    const v = batch(o['v'], `"votes"[${i}].v`);
    if (o['chosen'] !== undefined && o['chosen'] !== true) throw new Bad(`"votes"[${i}].chosen must be true or absent`);
    return o['chosen'] === true ? { s, n, v, chosen: true } : { s, n, v };
  });
}

function entries(x: unknown, index: number): EntryLine[] {
  if (!Array.isArray(x)) throw new Bad('"entries" must be an array of [key, value, create, mod, version]');
  for (const [i, e] of x.entries()) {
    const line = parseEntryLine(e, index);
    if (typeof line === 'string') throw new Bad(`"entries"[${i}]: ${line}`);
  }
  return x as EntryLine[];
}

function leases(x: unknown, index: number): LeaseLine[] {
  if (!Array.isArray(x)) throw new Bad('"leases" must be an array of [id, ttl, renewed]');
  for (const [i, l] of x.entries()) {
    const why = checkLeaseLine(l, index);
    if (why !== undefined) throw new Bad(`"leases"[${i}]: ${why}`);
  }
  return x as LeaseLine[];
}

/** Sessions' shape; KvBuilder checks the rest as it takes them. */
function sessions(x: unknown): SessionLine[] {
  if (!Array.isArray(x)) throw new Bad('"sessions" must be an array of [client, seq, index, result]');
  for (const [i, e] of x.entries()) {
    const ok =
      Array.isArray(e) &&
      e.length === 4 &&
      typeof e[0] === 'string' &&
      Number.isSafeInteger(e[1]) &&
      Number.isSafeInteger(e[2]) &&
      typeof e[3] === 'object' &&
      e[3] !== null &&
      !Array.isArray(e[3]);
    if (!ok) throw new Bad(`"sessions"[${i}] must be [client, seq, index, result]`);
  }
  return x as SessionLine[];
}

/**
 * An accept in log/encode.ts's exact form carries its batch's JSON: remember
 * that text (json-once.ts) rather than stringify the batch again for the WAL
 * record and the chose line. Only when the text is as long as JSON.stringify
 * would write it: no spaces, escapes or keys the parse dropped.
 */
function keepBatchText(m: Extract<LogMessage, { type: 'accept' }>, line: string): void {
  const head = `{"type":"accept","from":${m.from},"n":${m.n},"slot":${m.slot},"v":`;
  const tail = `,"commit":${m.commit}}`;
  if (!line.startsWith(head) || !line.endsWith(tail)) return;
  const text = line.slice(head.length, line.length - tail.length);
  if (text.length === jsonLength(m.v)) rememberJson(m.v, text);
}

function message(o: Obj, type: string, from: PeerId, line: string | undefined): ReplicaWire {
  switch (type) {
    case 'prepare':
      return { type, from, n: int(o, 'n', 1), slot: int(o, 'slot', 1), life: int(o, 'life', 1) };
    case 'prepare_ack':
      return {
        type,
        from,
        n: int(o, 'n', 1),
        slot: int(o, 'slot', 1),
        life: int(o, 'life', 1),
        promised: int(o, 'promised', 0),
        votes: reports(o['votes']),
        base: int(o, 'base', 1),
      };
    case 'accept': {
      const m: Extract<LogMessage, { type: 'accept' }> = {
        type,
        from,
        n: int(o, 'n', 1),
        slot: int(o, 'slot', 1),
        v: batch(o['v'], '"v"'),
        commit: int(o, 'commit', 1),
      };
      if (line !== undefined && m.v === o['v']) keepBatchText(m, line);
      return m;
    }
    case 'accept_ack':
      return { type, from, n: int(o, 'n', 1), slot: int(o, 'slot', 1), promised: int(o, 'promised', 0) };
    case 'chose':
      return { type, from, n: int(o, 'n', 1), slot: int(o, 'slot', 1) };
    case 'heartbeat':
      return o['r'] === undefined
        ? { type, from, n: int(o, 'n', 1), commit: int(o, 'commit', 1) }
        : { type, from, n: int(o, 'n', 1), commit: int(o, 'commit', 1), r: int(o, 'r', 1) };
    case 'heartbeat_ack':
      return o['r'] === undefined
        ? { type, from, n: int(o, 'n', 0) }
        : { type, from, n: int(o, 'n', 0), r: int(o, 'r', 1) };
    case 'read_index':
      return { type, from, life: int(o, 'life', 1), ids: ids(o['ids']) };
    case 'read_index_ack':
      return { type, from, n: int(o, 'n', 1), life: int(o, 'life', 1), ids: ids(o['ids']), index: int(o, 'index', 0) };
    case 'fetch':
      return { type, from, slot: int(o, 'slot', 1) };
    case 'entries': {
      const values = o['values'];
      if (!Array.isArray(values)) throw new Bad('"values" must be an array');
      return { type, from, start: int(o, 'start', 1), values: values.map((v, i) => batch(v, `"values"[${i}]`)) };
    }
    case 'snapshot_chunk': {
      if (typeof o['last'] !== 'boolean') throw new Bad('"last" must be true or false');
      const index = int(o, 'index', 0);
      return {
        type,
        from,
        index,
        seq: int(o, 'seq', 0),
        last: o['last'],
        entries: entries(o['entries'], index),
        leases: leases(o['leases'], index),
        nextLease: int(o, 'nextLease', 1),
        ...(o['members'] === undefined ? {} : { members: o['members'] }),
        sessions: sessions(o['sessions']),
      };
    }
    case 'forward': {
      const cmds = batch(o['cmds'], '"cmds"');
      return { type, from, cmds };
    }
    case 'recover':
      return { type, from, life: int(o, 'life', 1), slot: int(o, 'slot', 1) };
    case 'recover_ack':
      return {
        type,
        from,
        life: int(o, 'life', 1),
        promised: int(o, 'promised', 0),
        votes: reports(o['votes']),
        base: int(o, 'base', 1),
        commit: int(o, 'commit', 1),
      };
    default:
      throw new Bad(`unknown message type ${JSON.stringify(type).slice(0, 40)}`);
  }
}

/** The key-value clients' request types (wire/kv.ts). */
const CLIENT_TYPES = new Set(['kv', 'range', 'watch', 'watch_cancel', 'dump', 'dump_ack', 'status']);

/** `line`: the text `raw` was parsed from, if the caller has it (an accept's batch text is kept: keepBatchText). */
export function decodeLog(raw: unknown, line?: string): Decoded<ReplicaWire, ReceivedKvRequest> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, why: 'not a JSON object' };
  const o = raw as Obj;
  const type = o['type'];
  if (typeof type !== 'string') return { ok: false, why: 'missing "type"' };
  if (type === 'ping') return { ok: true, ping: true };
  if (CLIENT_TYPES.has(type)) {
    const r = decodeKvRequest(o);
    if (!r.ok) return r;
    // Acks and cancels get no answer: they must not count as requests in flight.
    const oneWay = r.req.type === 'dump_ack' || r.req.type === 'watch_cancel';
    return oneWay ? { ok: true, client: r.req, oneWay: true } : { ok: true, client: r.req };
  }
  try {
    if (type === 'hello') {
      const from = int(o, 'from', 1);
      const to = o['to'] === undefined ? 0 : int(o, 'to', 0);
      return { ok: true, hello: { from, to } };
    }
    return { ok: true, msg: message(o, type, int(o, 'from', 1), line) };
  } catch (err) {
    if (err instanceof Bad) return { ok: false, why: err.message };
    throw err;
  }
}

export function logCodec(peer: string): Codec<ReplicaWire, ReceivedKvRequest, KvResult | ClientResult> {
  return {
    decode: decodeLog,
    invalidReply(raw, why) {
      const r = raw as { type?: unknown; id?: unknown } | null;
      if (typeof r?.id !== 'string' || r.id.length === 0 || r.id.length > 64) return null;
      if (r.type === 'kv' || r.type === 'range' || r.type === 'watch' || r.type === 'dump')
        return { type: 'kv_result', id: r.id, peer, status: 'invalid', why };
      // A lab client (paxos submit, or get --from) asking a replica.
      if (r.type === 'submit' || r.type === 'get') {
        return {
          type: 'result',
          id: r.id,
          status: 'invalid',
          peer,
          why:
            'this is a replica of a replicated log, not a lab peer; use npx paxos put KEY VALUE or npx ' +
            'paxos get KEY',
        };
      }
      return null;
    },
  };
}

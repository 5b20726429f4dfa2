// The NDJSON wire format between peers: one JSON object per line, e.g.
//   {"type":"prepare","from":1,"n":1}
//   {"type":"prepare_ack","from":2,"n":1,"promised":1,"accepted":null,"chosen":null}
//   {"type":"accept","from":1,"n":1,"v":"X"}
//   {"type":"accept_ack","from":2,"n":1,"promised":1,"accepted":{"n":1,"v":"X"},"chosen":null}
//   {"type":"chose","from":1,"n":1,"v":"X"}
//   {"type":"chose_ack","from":2,"n":1}  (not logged: it only stops retransmissions)
// and, first on every peer connection, {"type":"hello","from":2,"to":1}: who
// is calling and whom it means to reach (see auth.ts); then {"type":"ping"}
// every heartbeat, which the callee answers with {"type":"pong"}.
// Clients send {"type":"submit","id":..,"value":..} or {"type":"get","id":..}
// and get a {"type":"result",...} back on the same connection.
// Anything read off the network is untrusted: `decode` checks every field
// and says what is wrong, so a bad line is dropped, never half-handled.

import { MAX_PROPOSAL, MAX_VALUE_BYTES } from '../paxos/defaults.js';
import type { PeerId } from '../paxos/ids.js';
import type { Accepted, Message } from '../core/types.js';
import type { Codec } from '../transport/codec.js';

/** What a client (`paxos submit`, `paxos get`) asks a peer. Never logged on stdout. */
export type ClientRequest =
  | { readonly type: 'submit'; readonly id: string; readonly value: string }
  | { readonly type: 'get'; readonly id: string };

/** A peer's answer to a client request, on the same connection. */
export type ClientResult =
  | {
      readonly type: 'result';
      readonly id: string;
      readonly status: 'chosen';
      readonly value: string;
      readonly n: number;
      readonly peer: string;
    }
  | { readonly type: 'result'; readonly id: string; readonly status: 'not_chosen'; readonly peer: string }
  | {
      readonly type: 'result';
      readonly id: string;
      readonly status: 'not_proposer';
      readonly peer: string;
      readonly proposers: readonly string[];
    }
  | {
      readonly type: 'result';
      readonly id: string;
      readonly status: 'invalid';
      readonly peer: string;
      readonly why: string;
    };

export type Decoded =
  | { ok: true; msg: Message }
  | { ok: true; hello: { readonly from: PeerId; readonly to: PeerId } }
  | { ok: true; ping: true }
  | { ok: true; client: ClientRequest }
  | { ok: false; why: string };

type Obj = Record<string, unknown>;

export function decode(raw: unknown): Decoded {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('not a JSON object');
  const o = raw as Obj;
  const type = o['type'];
  if (typeof type !== 'string') return bad('missing "type"');
  if (type === 'submit' || type === 'get') return decodeClient(o, type);
  if (type === 'ping') return { ok: true, ping: true };
  const from = positiveInt(o, 'from');
  if (typeof from === 'string') return bad(from);
  if (type === 'hello') {
    // `to` is optional: 0 (or absent) means the caller takes whichever peer answers.
    const to = o['to'] === undefined ? 0 : o['to'];
    if (!Number.isSafeInteger(to) || (to as number) < 0) return bad('"to" must be an integer >= 0');
    return { ok: true, hello: { from, to: to as number } };
  }
  const n = proposal(o, 'n', 1);
  if (typeof n === 'string') return bad(n);
  switch (type) {
    case 'prepare':
    case 'chose_ack':
      return { ok: true, msg: { type, from, n } };
    case 'accept':
    case 'chose': {
      const v = value(o['v'], '"v"');
      return typeof v === 'string' ? { ok: true, msg: { type, from, n, v } } : v;
    }
    case 'prepare_ack':
    case 'accept_ack': {
      const promised = proposal(o, 'promised', 0);
      if (typeof promised === 'string') return bad(promised);
      const accepted = acceptedPair(o['accepted'], 'accepted');
      if (accepted !== null && 'ok' in accepted) return accepted;
      const chosen = o['chosen'] === undefined ? null : acceptedPair(o['chosen'], 'chosen');
      if (chosen !== null && 'ok' in chosen) return chosen;
      return { ok: true, msg: { type, from, n, promised, accepted, chosen } };
    }
    default:
      return bad(`unknown message type ${JSON.stringify(type).slice(0, 40)}`);
  }
}

function decodeClient(o: Obj, type: 'submit' | 'get'): Decoded {
  const id = o['id'];
  if (typeof id !== 'string' || id.length === 0 || id.length > 64)
    return bad('"id" must be a string of 1 to 64 characters');
  if (type === 'get') return { ok: true, client: { type, id } };
  const v = value(o['value'], '"value"');
  if (typeof v !== 'string') return v;
  if (v === '') return bad('"value" must not be empty');
  return { ok: true, client: { type, id, value: v } };
}

function acceptedPair(a: unknown, key: string): Accepted | null | { ok: false; why: string } {
  if (a === null) return null;
  if (typeof a !== 'object' || Array.isArray(a)) return bad(`"${key}" must be null or {"n":..,"v":..}`);
  const n = proposal(a as Obj, 'n', 1);
  if (typeof n === 'string') return bad(`"${key}".${n}`);
  const v = value((a as Obj)['v'], `"${key}".v`);
  return typeof v === 'string' ? { n, v } : v;
}

function value(v: unknown, name: string): string | { ok: false; why: string } {
  if (typeof v !== 'string') return bad(`${name} must be a string`);
  if (Buffer.byteLength(v, 'utf8') > MAX_VALUE_BYTES) return bad(`${name} is over ${MAX_VALUE_BYTES} bytes`);
  return v;
}

function positiveInt(o: Obj, key: string): number | string {
  const x = o[key];
  return Number.isSafeInteger(x) && (x as number) >= 1 ? (x as number) : `"${key}" must be an integer >= 1`;
}

function proposal(o: Obj, key: string, min: 0 | 1): number | string {
  const x = o[key];
  return Number.isSafeInteger(x) && (x as number) >= min && (x as number) <= MAX_PROPOSAL
    ? (x as number)
    : `"${key}" must be an integer from ${min} to ${MAX_PROPOSAL}`;
}

function bad(why: string): { ok: false; why: string } {
  return { ok: false, why };
}

/** The lab's protocol, as the listener (src/transport/server.ts) reads it. */
export const LAB_CODEC: Codec<Message, ClientRequest, ClientResult> = {
  decode,
  invalidReply(raw, why) {
    const r = raw as { type?: unknown; id?: unknown } | null;
    return (r?.type === 'submit' || r?.type === 'get') && typeof r.id === 'string' && r.id.length <= 64
      ? { type: 'result', id: r.id, status: 'invalid', peer: '', why }
      : null;
  },
};

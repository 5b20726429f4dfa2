// The NDJSON wire format between peers: one JSON object per line, e.g.
//   {"type":"prepare","from":1,"n":1}
//   {"type":"prepare_ack","from":2,"n":1,"promised":1,"accepted":null,"chosen":null}
//   {"type":"accept","from":1,"n":1,"v":"X"}
//   {"type":"accept_ack","from":2,"n":1,"promised":1,"accepted":{"n":1,"v":"X"},"chosen":null}
//   {"type":"chose","from":1,"n":1,"v":"X"}
// and, first on every connection, {"type":"hello","from":2}: who is calling,
// so the callee can retry its own link to a peer it now knows is up.
// Anything read off the network is untrusted: `decode` checks every field
// and says what is wrong, so a bad line is dropped, never half-handled.

import { MAX_PROPOSAL, MAX_VALUE_BYTES } from '../core/limits.js';
import type { Accepted, Message, PeerId } from '../core/types.js';

export type Decoded = { ok: true; msg: Message } | { ok: true; hello: PeerId } | { ok: false; why: string };

type Obj = Record<string, unknown>;

export function decode(raw: unknown): Decoded {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('not a JSON object');
  const o = raw as Obj;
  const type = o['type'];
  if (typeof type !== 'string') return bad('missing "type"');
  const from = positiveInt(o, 'from');
  if (typeof from === 'string') return bad(from);
  if (type === 'hello') return { ok: true, hello: from };
  const n = proposal(o, 'n', 1);
  if (typeof n === 'string') return bad(n);
  switch (type) {
    case 'prepare':
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

export function helloFrom(from: PeerId): { type: 'hello'; from: PeerId } {
  return { type: 'hello', from };
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

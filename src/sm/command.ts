// Commands of the key-value state machine and their results, with the compact
// JSON wire encoding used in the replicated log and between client and peer:
//
//   {"o":"put","c":"cli-7","s":3,"k":"key","v":"value"}
//   {"o":"get","c":"cli-7","s":4,"k":"key"}
//   {"o":"del","c":"cli-7","s":5,"k":"key"}
//   {"o":"cas","c":"cli-7","s":6,"k":"key","e":"old","v":"new"}   "e":null = key must be absent
//   {"o":"noop"}                                                  fills a log hole; no client
//   {"o":"put",...,"l":4}   a put with lease 4; grant, keep, revoke, leases and expire: lease.ts
//
//   {"r":"ok"}  {"r":"ok","p":"old"}        put/del/cas/noop; "p" = previous value, absent if there was none
//   {"r":"ok","v":"x","rev":[3,9,2]}        get: the value and its [create, mod, version] (key-entry.ts)
//   {"r":"ok","v":null}                     get of an absent key
//   {"r":"mismatch","cur":"y"}              cas whose "e" differed from the current value (null = absent)
//   {"r":"stale","last":9}                  seq below the client's last applied seq: not applied
//   {"r":"expired"}                         unknown client with seq > 1 (session evicted): not applied
//   {"r":"lease","id":4,"ttl":10}  {"r":"nolease","id":4}  {"r":"leases","ls":[[4,10,2]]}   lease.ts
//
// Keys are non-empty, values may be empty; both are well-formed Unicode (no
// lone surrogates, so they survive UTF-8 encoding in snapshots unchanged).
// Anything read off the log or the network is untrusted: the decoders check
// every field and say what is wrong.
//
// Decoded once, at the edge. A command is checked where its bytes arrive (a
// client's request, src/wire/kv.ts; a peer's accept, forward, entries or
// votes, src/wire/log.ts; a WAL record on load, src/storage/file-log-store.ts)
// by checkCommand, which hands back the object it was given, typed as
// CheckedCommand (or a copy in canonical key order). From there it travels
// in that form, the wire form the log, the WAL and the log lines hold, to
// the store's applyBatch, which reads its fields as they are: no decode or
// encode on the way. One put in a cluster of 3, counted by instrumenting
// these functions (issue 20):
//   before: the leader decoded it 3 times and encoded it twice (the client
//     edge, ReplicaNode.submit's encode, applySlot's decode, applyBatch's
//     decode(encode())); each follower 3 decodes (the accept, applySlot,
//     applyBatch) and 1 encode: 9 decodes and 4 encodes in all. Forwarded:
//     4 decodes and 2 encodes at the follower that took it, 3 and 1 at the
//     leader.
//   now: one check per replica per arrival: the leader 1 (the client edge),
//     each follower 1 (the accept); forwarded, 2 at the follower that took it
//     (its client, then the accept) and 1 at the leader (the forward). No
//     encodes. (The leader still serializes each command once to size its
//     batch, as it serializes the accepts, the WAL records and the lines.)
// decodeCommand (the typed form, Command) is for clients and viewers.

import { MAX_CLIENT_CHARS, MAX_VALUE_BYTES } from '../paxos/defaults.js';
import { checkKey, checkValue, show, wellFormed } from './check.js';
import { checkRevisions, type Revisions } from './key-entry.js';
import { checkTtl, isLeaseId, type LeaseInfo } from './lease.js';
import {
  checkMemberAddr,
  checkMemberName,
  checkMembership,
  type ChangeRefusal,
  type Member,
} from '../paxos/membership.js';

const REFUSALS: readonly string[] = ['busy', 'exists', 'unknown', 'voter', 'last', 'full'] satisfies ChangeRefusal[];
import {
  compareFromWire,
  compareToWire,
  invalidTxn,
  opFromWire,
  opToWire,
  type TxnBody,
  type WireCompare,
  type WireTxnOp,
} from './txn.js';

export { checkKey, checkValue } from './check.js';

// One value limit for both protocols: src/paxos/defaults.ts.
export { MAX_VALUE_BYTES };

interface Session {
  /** Client id, unique per client process: 1 to 64 characters. */
  readonly client: string;
  /** Positive, increasing per client; a new client starts at 1. */
  readonly seq: number;
}

export type ClientCommand = Session &
  /** `lease`: attach the key to that lease (lease.ts); without it the key has none. */
  (
    | { readonly op: 'put'; readonly key: string; readonly value: string; readonly lease?: number }
    | { readonly op: 'get'; readonly key: string }
    | { readonly op: 'del'; readonly key: string }
    /** Sets `value` iff the current value equals `expected`; `expected: null` means "key absent". */
    | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string }
    /** A transaction (txn.ts): compares, then one list of ops or the other, in one slot. */
    | ({ readonly op: 'txn' } & TxnBody)
    /** A new lease of `ttl` seconds. */
    | { readonly op: 'grant'; readonly ttl: number }
    /** Renew a lease (keepalive), or revoke it and delete its keys. */
    | { readonly op: 'keep' | 'revoke'; readonly id: number }
    /** List the leases. */
    | { readonly op: 'leases' }
    /** Membership (paxos/membership.ts): add a learner, promote one, remove a member; list them. */
    | { readonly op: 'madd'; readonly name: string; readonly addr: string }
    | { readonly op: 'mpromote' | 'mremove'; readonly name: string }
    | { readonly op: 'members' }
  );

/** The leader's: lease `id` expires if its last renewal is still slot `at` (lease.ts). Never a client's. */
export type ExpireCommand = { readonly op: 'expire'; readonly id: number; readonly at: number };

export type Command = ClientCommand | { readonly op: 'noop' } | ExpireCommand;

/** A client command on one key: a put, get, del or cas. */
export type KeyCommand = Extract<ClientCommand, { readonly op: 'put' | 'get' | 'del' | 'cas' }>;

/** A command in its wire form, keys in this order (what encodeCommand returns). */
export type WireClientCommand =
  | {
      readonly o: 'put';
      readonly c: string;
      readonly s: number;
      readonly k: string;
      readonly v: string;
      readonly l?: number;
    }
  | { readonly o: 'get' | 'del'; readonly c: string; readonly s: number; readonly k: string }
  | {
      readonly o: 'cas';
      readonly c: string;
      readonly s: number;
      readonly k: string;
      readonly e: string | null;
      readonly v: string;
    }
  | {
      readonly o: 'txn';
      readonly c: string;
      readonly s: number;
      readonly if: readonly WireCompare[];
      readonly then: readonly WireTxnOp[];
      readonly else: readonly WireTxnOp[];
    }
  | { readonly o: 'grant'; readonly c: string; readonly s: number; readonly t: number }
  | { readonly o: 'keep' | 'revoke'; readonly c: string; readonly s: number; readonly id: number }
  | { readonly o: 'leases' | 'members'; readonly c: string; readonly s: number }
  | { readonly o: 'madd'; readonly c: string; readonly s: number; readonly n: string; readonly a: string }
  | { readonly o: 'mpromote' | 'mremove'; readonly c: string; readonly s: number; readonly n: string };
export type WireCommand =
  WireClientCommand | { readonly o: 'noop' } | { readonly o: 'expire'; readonly id: number; readonly at: number };

declare const CHECKED: unique symbol;
/** A wire command checkCommand has passed: only it makes one, so holding one means it was checked. */
export type CheckedCommand = WireCommand & { readonly [CHECKED]: true };
export type CheckedClientCommand = WireClientCommand & { readonly [CHECKED]: true };

export type Result =
  /** put, del, cas success, noop. `prev` is the value before put/del, absent if the key was absent. */
  | { readonly status: 'ok'; readonly prev?: string }
  /** get of a key that is present: its value and [create, mod, version] revisions (key-entry.ts). */
  | { readonly status: 'ok'; readonly value: string; readonly rev: Revisions }
  /** get of an absent key. */
  | { readonly status: 'ok'; readonly value: null }
  | { readonly status: 'mismatch'; readonly current: string | null }
  /** A transaction: whether its compares held (the "then" list ran, else the "else" list), a result per op. */
  | { readonly status: 'txn'; readonly succeeded: boolean; readonly results: readonly Result[] }
  /** The client already applied seq `last` > this seq: this one is an old duplicate, never applied. */
  | { readonly status: 'stale'; readonly last: number }
  /** The client's session was evicted (or never existed) and seq > 1: not applied; outcome of earlier seqs unknown. */
  | { readonly status: 'expired' }
  /**
   * put or cas refused, nothing changed: it would take the store past its
   * quota. `used` is the store's size (UTF-8 bytes of its keys and values)
   * when it was refused, `quota` the limit.
   */
  | { readonly status: 'quota'; readonly used: number; readonly quota: number }
  /** A lease granted or renewed: its id and TTL in seconds. */
  | { readonly status: 'lease'; readonly id: number; readonly ttl: number }
  /** No lease `id` (never granted, revoked or expired): nothing changed. */
  | { readonly status: 'nolease'; readonly id: number }
  /** A grant refused: the store holds `max` leases, the most it may (lease.ts, MAX_LEASES). */
  | { readonly status: 'toomany'; readonly max: number }
  /** The leases: [id, ttl, keys] each, by id. */
  | { readonly status: 'leases'; readonly leases: readonly LeaseInfo[] }
  /** The members after a change (`id`: the member it concerned), or as listed. */
  | { readonly status: 'members'; readonly members: readonly Member[]; readonly id?: number }
  /** A membership change refused (paxos/membership.ts, change): nothing changed. */
  | { readonly status: 'nochange'; readonly why: ChangeRefusal; readonly detail: string };

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly why: string };

type Obj = Record<string, unknown>;

/** Each op's fields in order. A put's "l" is optional: the only field that may be missing. */
const COMMAND_KEYS: Readonly<Record<Command['op'], readonly string[]>> = {
  put: ['o', 'c', 's', 'k', 'v', 'l'],
  get: ['o', 'c', 's', 'k'],
  del: ['o', 'c', 's', 'k'],
  cas: ['o', 'c', 's', 'k', 'e', 'v'],
  txn: ['o', 'c', 's', 'if', 'then', 'else'],
  noop: ['o'],
  grant: ['o', 'c', 's', 't'],
  keep: ['o', 'c', 's', 'id'],
  revoke: ['o', 'c', 's', 'id'],
  leases: ['o', 'c', 's'],
  expire: ['o', 'id', 'at'],
  madd: ['o', 'c', 's', 'n', 'a'],
  mpromote: ['o', 'c', 's', 'n'],
  mremove: ['o', 'c', 's', 'n'],
  members: ['o', 'c', 's'],
};
const OPS = Object.keys(COMMAND_KEYS).join(', ');

/** The wire form; keys in a fixed order so JSON.stringify gives the same bytes on every replica. */
export function encodeCommand(cmd: ClientCommand): WireClientCommand;
export function encodeCommand(cmd: Command): WireCommand;
export function encodeCommand(cmd: Command): WireCommand {
  if (cmd.op === 'txn') {
    const { client: c, seq: s } = cmd;
    const [cmp, then, els] = [cmd.compares.map(compareToWire), cmd.success.map(opToWire), cmd.failure.map(opToWire)];
    return { o: 'txn', c, s, if: cmp, then, else: els };
  }
  return renamed(cmd, COMMAND_KEYS[cmd.op], (k) => FIELDS[k]!) as WireCommand;
}

/** Each wire key's field in the typed form: one table serves both directions. */
const FIELDS: Readonly<Record<string, string>> = {
  o: 'op',
  c: 'client',
  s: 'seq',
  k: 'key',
  e: 'expected',
  v: 'value',
  l: 'lease',
  t: 'ttl',
  id: 'id',
  at: 'at',
  n: 'name',
  a: 'addr',
};
const WIRE_KEYS: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(FIELDS).map(([w, f]) => [f, w]));

/** A copy of `from` with each of `keys` (in that order) taken from the field `source(key)` names. */
function renamed(from: object, keys: readonly string[], source: (key: string) => string): Obj {
  const src = from as Obj;
  const out: Obj = {};
  for (const k of keys) if (src[source(k)] !== undefined) out[k] = src[source(k)];
  return out;
}

/**
 * The edge's check: `raw` itself if it is a valid command in canonical key
 * order, typed as checked; a valid one in another order comes back as a
 * canonical copy, so its JSON is the same on every replica; else why not.
 */
export function checkCommand(raw: unknown): Decoded<CheckedCommand> {
  const why = invalid(raw);
  if (why !== null) return bad(why);
  const o = raw as WireCommand;
  const keys = Object.keys(o);
  const canonical = COMMAND_KEYS[o.o];
  // Valid means exactly the allowed keys, so only their order can differ.
  if (keys.every((k, i) => k === canonical[i])) return { ok: true, value: o as CheckedCommand };
  return { ok: true, value: encodeCommand(typed(o)) as CheckedCommand };
}

/** A checked client command (not a noop), or why not: a client's request, or a command passed on. */
export function checkClientCommand(raw: unknown): Decoded<CheckedClientCommand> {
  const c = checkCommand(raw);
  if (c.ok && c.value.o === 'noop') return bad('a client cannot send a noop');
  if (c.ok && c.value.o === 'expire') return bad('a client cannot send an expire: only the leader expires a lease');
  return c as Decoded<CheckedClientCommand>;
}

/** The typed form of a wire command (for clients and viewers; the replicas apply the wire form). */
export function decodeCommand(raw: unknown): Decoded<Command> {
  const why = invalid(raw);
  return why === null ? { ok: true, value: typed(raw as WireCommand) } : bad(why);
}

/** The typed form of a wire command that is valid. */
function typed(o: WireCommand): Command {
  if (o.o === 'txn') {
    const [compares, success, failure] = [o.if.map(compareFromWire), o.then.map(opFromWire), o.else.map(opFromWire)];
    return { op: 'txn', client: o.c, seq: o.s, compares, success, failure };
  }
  return renamed(
    o,
    COMMAND_KEYS[o.o].map((k) => FIELDS[k]!),
    (f) => WIRE_KEYS[f]!,
  ) as Command;
}

/** Why `raw` is not a valid wire command, or null if it is. */
function invalid(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'command is not a JSON object';
  const o = raw as Obj;
  const op = o['o'];
  if (typeof op !== 'string' || !Object.hasOwn(COMMAND_KEYS, op)) return `"o" must be one of ${OPS}; got ${show(op)}`;
  const allowed = COMMAND_KEYS[op as Command['op']];
  // Unknown fields are refused, not ignored: a replica must never apply a command it half understands.
  const extra = Object.keys(o).find((k) => !allowed.includes(k));
  if (extra !== undefined)
    return `${op}: unexpected field ${JSON.stringify(extra).slice(0, 40)} (allowed: ${allowed.join(', ')})`;
  if (op === 'noop') return null;
  if (op === 'expire') {
    if (!isLeaseId(o['id'])) return `expire: "id" must be a lease id (a positive integer); got ${show(o['id'])}`;
    return isLeaseId(o['at']) ? null : `expire: "at" must be a slot (a positive integer); got ${show(o['at'])}`;
  }

  const why = checkClient(o['c']);
  if (why !== undefined) return `${op}: ${why}`;
  const seq = o['s'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1)
    return `${op}: "s" (seq) must be a positive integer; got ${show(seq)}`;
  if (op === 'txn') {
    const why = invalidTxn(o['if'], o['then'], o['else']);
    return why === null ? null : `txn: ${why}`;
  }
  if (op === 'leases' || op === 'members') return null;
  if (op === 'madd' || op === 'mpromote' || op === 'mremove') {
    const why = checkMemberName(o['n']) ?? (op === 'madd' ? checkMemberAddr(o['a']) : undefined);
    return why === undefined ? null : `${op}: ${why}`;
  }
  if (op === 'grant') {
    const why = checkTtl(o['t']);
    return why === undefined ? null : `grant: "t": ${why}`;
  }
  if (op === 'keep' || op === 'revoke')
    return isLeaseId(o['id']) ? null : `${op}: "id" must be a lease id (a positive integer); got ${show(o['id'])}`;
  const key = checkKey(o['k']);
  if (key !== undefined) return `${op}: ${key}`;
  if (op === 'get' || op === 'del') return null;
  const v = checkValue(o['v'], '"v"');
  if (v !== undefined) return `${op}: ${v}`;
  if (op === 'put') {
    if (o['l'] === undefined || isLeaseId(o['l'])) return null;
    return `put: "l" (lease) must be a lease id (a positive integer); got ${show(o['l'])}`;
  }
  if (!Object.hasOwn(o, 'e')) return 'cas: missing "e" (expected value; null means the key must be absent)';
  const e = o['e'] === null ? undefined : checkValue(o['e'], '"e"');
  return e === undefined ? null : `cas: ${e}`;
}

export function encodeResult(r: Result): Obj {
  switch (r.status) {
    case 'txn':
      return { r: 'txn', ok: r.succeeded, res: r.results.map(encodeResult) };
    case 'ok':
      if ('rev' in r) return { r: 'ok', v: r.value, rev: r.rev };
      if ('value' in r) return { r: 'ok', v: null };
      return r.prev === undefined ? { r: 'ok' } : { r: 'ok', p: r.prev };
    case 'mismatch':
      return { r: 'mismatch', cur: r.current };
    case 'stale':
      return { r: 'stale', last: r.last };
    case 'expired':
      return { r: 'expired' };
    case 'quota':
      return { r: 'quota', used: r.used, quota: r.quota };
    case 'lease':
      return { r: 'lease', id: r.id, ttl: r.ttl };
    case 'members': {
      const ms = r.members.map((m) => [m.id, m.name, m.addr, m.voter ? 1 : 0]);
      return r.id === undefined ? { r: 'members', ms } : { r: 'members', ms, id: r.id };
    }
    case 'nochange':
      return { r: 'nochange', why: r.why, msg: r.detail };
    case 'nolease':
      return { r: 'nolease', id: r.id };
    case 'toomany':
      return { r: 'toomany', max: r.max };
    case 'leases':
      return { r: 'leases', ls: r.leases };
  }
}

export function decodeResult(raw: unknown): Decoded<Result> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('result is not a JSON object');
  const o = raw as Obj;
  const keys = Object.keys(o).sort().join(',');
  const str = (k: string): boolean => typeof o[k] === 'string' && checkValue(o[k], k) === undefined;
  const strOrNull = (k: string): boolean => o[k] === null || str(k);
  switch (o['r']) {
    case 'ok':
      if (keys === 'r') return { ok: true, value: { status: 'ok' } };
      if (keys === 'p,r' && str('p')) return { ok: true, value: { status: 'ok', prev: o['p'] as string } };
      if (keys === 'r,v' && o['v'] === null) return { ok: true, value: { status: 'ok', value: null } };
      if (keys === 'r,rev,v' && str('v') && checkRevisions(o['rev']) === undefined)
        return { ok: true, value: { status: 'ok', value: o['v'] as string, rev: o['rev'] as Revisions } };
      return bad(
        '"ok" result must be {"r":"ok"}, {"r":"ok","p":string}, {"r":"ok","v":string,"rev":[create,mod,version]} ' +
          'or {"r":"ok","v":null}',
      );
    case 'mismatch':
      if (keys === 'cur,r' && strOrNull('cur'))
        return { ok: true, value: { status: 'mismatch', current: o['cur'] as string | null } };
      return bad('"mismatch" result must be {"r":"mismatch","cur":string|null}');
    case 'stale': {
      const last = o['last'];
      if (keys === 'last,r' && typeof last === 'number' && Number.isSafeInteger(last) && last >= 1)
        return { ok: true, value: { status: 'stale', last } };
      return bad('"stale" result must be {"r":"stale","last":positive integer}');
    }
    case 'expired':
      if (keys === 'r') return { ok: true, value: { status: 'expired' } };
      return bad('"expired" result must be {"r":"expired"}');
    case 'txn': {
      if (keys !== 'ok,r,res' || typeof o['ok'] !== 'boolean' || !Array.isArray(o['res']))
        return bad('"txn" result must be {"r":"txn","ok":true|false,"res":[results]}');
      const results: Result[] = [];
      for (const x of o['res'] as unknown[]) {
        const d = decodeResult(x);
        if (!d.ok) return bad(`a result in a "txn" result: ${d.why}`);
        if (d.value.status !== 'ok') return bad('a "txn" result holds "ok" results only');
        results.push(d.value);
      }
      return { ok: true, value: { status: 'txn', succeeded: o['ok'], results } };
    }
    case 'quota': {
      const count = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
      if (keys === 'quota,r,used' && count(o['used']) && count(o['quota']))
        return { ok: true, value: { status: 'quota', used: o['used'], quota: o['quota'] } };
      return bad('"quota" result must be {"r":"quota","used":bytes,"quota":bytes}');
    }
    case 'lease':
      if (keys === 'id,r,ttl' && isLeaseId(o['id']) && checkTtl(o['ttl']) === undefined)
        return { ok: true, value: { status: 'lease', id: o['id'], ttl: o['ttl'] as number } };
      return bad('"lease" result must be {"r":"lease","id":lease id,"ttl":seconds}');
    case 'nolease':
      if (keys === 'id,r' && isLeaseId(o['id'])) return { ok: true, value: { status: 'nolease', id: o['id'] } };
      return bad('"nolease" result must be {"r":"nolease","id":lease id}');
    case 'toomany':
      if (keys === 'max,r' && Number.isSafeInteger(o['max']) && (o['max'] as number) >= 1)
        return { ok: true, value: { status: 'toomany', max: o['max'] as number } };
      return bad('"toomany" result must be {"r":"toomany","max":count}');
    case 'members': {
      const ms = o['ms'];
      const member = (x: unknown): Member | null => {
        if (!Array.isArray(x) || x.length !== 4) return null;
        const [id, name, addr, voter] = x as unknown[];
        const m = { id, name, addr, voter: voter === 1 };
        const ok = checkMembership({ members: [m], nextId: 1, changed: 0, before: [] }) === null;
        return ok && (voter === 0 || voter === 1) ? (m as Member) : null;
      };
      const list = Array.isArray(ms) ? ms.map(member) : [null];
      const withId = keys === 'id,ms,r' && Number.isSafeInteger(o['id']);
      if ((keys === 'ms,r' || withId) && !list.includes(null)) {
        const members = list as Member[];
        return {
          ok: true,
          value: withId ? { status: 'members', members, id: o['id'] as number } : { status: 'members', members },
        };
      }
      return bad('"members" result must be {"r":"members","ms":[[id,name,addr,voter 0|1],...](,"id":id)}');
    }
    case 'nochange': {
      const why = o['why'];
      if (keys === 'msg,r,why' && typeof o['msg'] === 'string' && typeof why === 'string' && REFUSALS.includes(why))
        return { ok: true, value: { status: 'nochange', why: why as ChangeRefusal, detail: o['msg'] } };
      return bad('"nochange" result must be {"r":"nochange","why":reason,"msg":text}');
    }
    case 'leases': {
      const ls = o['ls'];
      const count = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0;
      const line = (l: unknown): boolean =>
        Array.isArray(l) && l.length === 3 && isLeaseId(l[0]) && checkTtl(l[1]) === undefined && count(l[2]);
      if (keys === 'ls,r' && Array.isArray(ls) && ls.every(line))
        return { ok: true, value: { status: 'leases', leases: ls as LeaseInfo[] } };
      return bad('"leases" result must be {"r":"leases","ls":[[id, ttl, keys], ...]}');
    }
    default:
      return bad(
        '"r" must be one of ok, mismatch, txn, stale, expired, quota, lease, nolease, toomany, leases; ' +
          `got ${show(o['r'])}`,
      );
  }
}

/** Why `c` is not a valid client id, or undefined if it is. */
function checkClient(c: unknown): string | undefined {
  if (typeof c !== 'string' || c.length === 0 || [...c].length > MAX_CLIENT_CHARS || !wellFormed(c)) {
    return `"c" (client id) must be a string of 1 to ${MAX_CLIENT_CHARS} characters; got ${show(c)}`;
  }
  return undefined;
}

function bad(why: string): { ok: false; why: string } {
  return { ok: false, why };
}

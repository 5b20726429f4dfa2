// A client of the replicated key-value store (src/wire/kv.ts).
//
// kvRequest: one request to one replica on one connection, ending one of
// three ways that are kept apart, as in client.ts:
//   reply:       the replica answered;
//   unreachable: the request never left (nothing happened);
//   unknown:     it was sent, but no answer came in time (it may or may not
//                take effect).
//
// kvCall: one command, carried to whichever replica can take it. It starts
// at one replica and moves on to the next, with randomized exponential
// backoff, while replicas are unreachable or know no leader. A replica that
// took the request but did not answer in time is not asked again; the SAME
// command (same client id and seq) goes to the next replica, so the store,
// which applies each client seq at most once and answers a duplicate with
// the original result, never applies it twice. The call ends with a result,
// a definite failure (nothing was done), or "unknown" (some attempt was sent
// and never answered: it may still take effect).

import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '../util/backoff.js';
import { ATTEMPT_MS, MAX_LINE_BYTES, RETRY_BASE_MS, RETRY_CAP_MS } from '../paxos/defaults.js';
import { decodeResult, encodeCommand, type ClientCommand, type Result } from '../sm/command.js';
import type { Secret } from '../transport/auth.js';
import type { ClientTls } from '../config/tls-files.js';
import { exchange, type Exchange } from './lab.js';
import { rangeRequestWire, type KvRequest, type KvResult, type StatusFields } from '../wire/kv.js';
import type { RangeAnswer, RangeQuery } from '../sm/range.js';
import type { EntryLine } from '../sm/key-entry.js';
import type { LeaseLine } from '../sm/lease.js';
import type { Endpoint } from '../transport/link.js';

export type KvOutcome = Exchange<KvResult>;

/** A client id for this process: unique enough that two clients never share a session. */
export function newClientId(): string {
  return `cli-${randomBytes(6).toString('hex')}`;
}

export function newRequestId(): string {
  return randomBytes(8).toString('hex');
}

/** The request as it goes on the wire: the command in src/sm/command.ts's form. */
function wireForm(req: KvRequest): Record<string, unknown> {
  if (req.type === 'kv') return { type: 'kv', id: req.id, cmd: encodeCommand(req.cmd) };
  if (req.type === 'range') return rangeRequestWire(req.id, req.query);
  return { ...req };
}

/**
 * One request, one answer; for a dump, the parts that come before it too
 * (each acked as it is read, so the replica sends more), gathered into one
 * answer. A dump's timeout counts from the last line heard: a big store
 * takes as long as it takes, while it keeps coming.
 */
export function kvRequest(
  at: Endpoint,
  req: KvRequest,
  secret: Secret | null,
  timeoutMs: number,
  /** With TLS: the client's, and the replica's name, which its certificate must hold (or its address: tls.ts). */
  tls: { readonly tls: ClientTls; readonly name: string } | null = null,
): Promise<KvOutcome> {
  const parts: Array<readonly EntryLine[]> = [];
  // A dump from an older replica carries the whole store in one line: longer lines than a peer's.
  return exchange<KvResult>(
    at,
    wireForm(req),
    {
      secret,
      timeoutMs,
      maxLineBytes: MAX_LINE_BYTES * 64,
      who: 'replica',
      idleTimeout: req.type === 'dump',
      ...(tls ?? {}),
    },
    (o, say) => {
      if (o['type'] !== 'kv_result' || o['id'] !== req.id) return undefined;
      const r = checkKvResult(o);
      if (!r.ok) return { kind: 'unknown', why: `it answered with something we cannot read (${r.why})` };
      const res = r.result;
      if (res.status === 'dump_part') {
        if (res.seq !== parts.length)
          return { kind: 'unknown', why: `it sent dump part ${res.seq} after ${parts.length} parts` };
        parts.push(res.data);
        say({ type: 'dump_ack', id: req.id, seq: res.seq });
        return undefined;
      }
      if (res.status !== 'dump') return { kind: 'reply', result: res };
      if ((res.parts ?? 0) !== parts.length)
        return {
          kind: 'unknown',
          why: `its dump ended after ${parts.length} parts, where it says it sent ${res.parts ?? 0}`,
        };
      const data = parts.length === 0 ? res.data : [...parts.flat(), ...res.data];
      if (res.keys !== undefined && res.keys !== data.length)
        return { kind: 'unknown', why: `its dump holds ${data.length} keys, where it says ${res.keys}` };
      return { kind: 'reply', result: { ...res, data } };
    },
  );
}

/** A list of [key, value, create, mod, version] (src/sm/key-entry.ts), or null. */
function pairs(data: unknown): EntryLine[] | null {
  const rev = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 1;
  const line = (p: unknown): boolean =>
    Array.isArray(p) &&
    (p.length === 5 || (p.length === 6 && rev(p[5]))) &&
    typeof p[0] === 'string' &&
    typeof p[1] === 'string' &&
    rev(p[2]) &&
    rev(p[3]) &&
    rev(p[4]);
  return Array.isArray(data) && data.every(line) ? (data as EntryLine[]) : null;
}

const count_ = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** A kv_result off the wire, checked field by field: replies are untrusted too. */
export function checkKvResult(o: Record<string, unknown>): { ok: true; result: KvResult } | { ok: false; why: string } {
  const id = o['id'];
  const peer = o['peer'];
  if (typeof id !== 'string') return { ok: false, why: '"id" is not a string' };
  if (typeof peer !== 'string') return { ok: false, why: '"peer" is not a string' };
  const base = { type: 'kv_result', id, peer } as const;
  switch (o['status']) {
    case 'done': {
      const slot = o['slot'];
      const result = o['result'];
      if (typeof slot !== 'number' || !Number.isSafeInteger(slot) || slot < 0)
        return { ok: false, why: 'a done without a proper "slot"' };
      if (typeof result !== 'object' || result === null || Array.isArray(result))
        return { ok: false, why: 'a done without a "result" object' };
      return { ok: true, result: { ...base, status: 'done', slot, result: result as Record<string, unknown> } };
    }
    case 'no_leader':
      return { ok: true, result: { ...base, status: 'no_leader' } };
    case 'not_ready':
      return {
        ok: true,
        result: { ...base, status: 'not_ready', why: typeof o['why'] === 'string' ? o['why'] : 'recovering' },
      };
    case 'not_replica':
      return { ok: true, result: { ...base, status: 'not_replica' } };
    case 'invalid':
      return {
        ok: true,
        result: { ...base, status: 'invalid', why: typeof o['why'] === 'string' ? o['why'] : '(no reason given)' },
      };
    case 'watching':
      if (!count_(o['rev'])) return { ok: false, why: 'a watching answer without a proper "rev"' };
      return { ok: true, result: { ...base, status: 'watching', rev: o['rev'] } };
    case 'compacted':
      if (!count_(o['oldest'])) return { ok: false, why: 'a compacted answer without a proper "oldest"' };
      return { ok: true, result: { ...base, status: 'compacted', oldest: o['oldest'] } };
    case 'events': {
      const ev = o['events'];
      const okEvent = (e: unknown): boolean =>
        Array.isArray(e) &&
        e.length === 3 &&
        count_(e[0]) &&
        typeof e[1] === 'string' &&
        (e[2] === null || typeof e[2] === 'string');
      if (!Array.isArray(ev) || !ev.every(okEvent)) return { ok: false, why: 'events that are not [rev, key, value]' };
      return { ok: true, result: { ...base, status: 'events', events: ev as Array<[number, string, string | null]> } };
    }
    case 'range': {
      const { applied, count, more } = o;
      const data = pairs(o['data']);
      if (!count_(applied) || !count_(count))
        return { ok: false, why: 'a range without a proper "applied" or "count"' };
      if (typeof more !== 'boolean') return { ok: false, why: 'a range whose "more" is not true or false' };
      if (data === null) return { ok: false, why: 'a range whose "data" is not a list of [key, value] strings' };
      return { ok: true, result: { ...base, status: 'range', applied, count, more, data } };
    }
    case 'status': {
      const f = statusFields(o);
      return typeof f === 'string' ? { ok: false, why: f } : { ok: true, result: { ...base, status: 'status', ...f } };
    }
    case 'dump_part': {
      const data = pairs(o['data']);
      if (!count_(o['seq'])) return { ok: false, why: 'a dump part without a proper "seq"' };
      if (data === null) return { ok: false, why: 'a dump part whose "data" is not a list of [key, value] strings' };
      return { ok: true, result: { ...base, status: 'dump_part', seq: o['seq'], data } };
    }
    case 'dump': {
      const { applied, leader, parts: n, keys, recovering, leases, nextLease } = o;
      const data = pairs(o['data']);
      if (!count_(applied)) return { ok: false, why: 'a dump without a proper "applied"' };
      if (data === null) return { ok: false, why: 'a dump whose "data" is not a list of [key, value] strings' };
      if ((n !== undefined && !count_(n)) || (keys !== undefined && !count_(keys)))
        return { ok: false, why: 'a dump whose "parts" or "keys" is not a count' };
      const leaseLine = (l: unknown): boolean => Array.isArray(l) && l.length === 3 && l.every((x) => count_(x));
      if (
        (leases !== undefined && !(Array.isArray(leases) && leases.every(leaseLine))) ||
        (nextLease !== undefined && !count_(nextLease))
      )
        return {
          ok: false,
          why: 'a dump whose "leases" is not a list of [id, ttl, renewed] or "nextLease" not a count',
        };
      const extra = {
        ...(leases === undefined ? {} : { leases: leases as LeaseLine[] }),
        ...(nextLease === undefined ? {} : { nextLease }),
        ...(typeof leader === 'string' ? { leader } : {}),
        ...(n === undefined ? {} : { parts: n }),
        ...(keys === undefined ? {} : { keys }),
        ...(typeof recovering === 'string' ? { recovering } : {}),
      };
      return { ok: true, result: { ...base, status: 'dump', applied, data, ...extra } };
    }
    default:
      return { ok: false, why: `unknown status ${JSON.stringify(o['status'])?.slice(0, 40) ?? 'nothing'}` };
  }
}

const ROLES = ['leader', 'follower', 'candidate'] as const;

/** A status answer's fields, checked, or what is wrong with them. */
function statusFields(o: Record<string, unknown>): StatusFields | string {
  const { role, leader, recovering } = o;
  const role_ = ROLES.find((r) => r === role);
  if (role_ === undefined) return 'a status whose "role" is not leader, follower or candidate';
  if (typeof leader !== 'string') return 'a status whose "leader" is not a string';
  if (recovering !== undefined && typeof recovering !== 'string') return 'a status whose "recovering" is not a string';
  const n = {} as Record<'ballot' | 'promise' | 'commit' | 'leaderCommit' | 'applied' | 'snapshot', number>;
  for (const k of ['ballot', 'promise', 'commit', 'leaderCommit', 'applied', 'snapshot'] as const) {
    const x = o[k];
    if (!count_(x)) return `a status whose "${k}" is not a count`;
    n[k] = x;
  }
  return { role: role_, leader, ...n, ...(recovering === undefined ? {} : { recovering }) };
}

/** A replica by its hostsfile name, and where to reach it. */
export interface KvTarget {
  readonly name: string;
  readonly at: Endpoint;
}

export type KvBody =
  | { readonly type: 'kv'; readonly cmd: ClientCommand }
  | { readonly type: 'range'; readonly query: RangeQuery }
  | { readonly type: 'dump' };

/** One try at one replica, for --json and --verbose. */
export interface Attempt {
  readonly peer: string;
  /** The replica's status, or what became of the request. */
  readonly outcome:
    'done' | 'range' | 'dump' | 'no_leader' | 'not_ready' | 'invalid' | 'not_replica' | 'unreachable' | 'unknown';
  readonly why?: string;
  /** Milliseconds this attempt took. */
  readonly ms: number;
}

export interface KvCallOptions {
  readonly secret: Secret | null;
  /** --ca, --cert, --key: connect with TLS (the default send's); null or absent: plain. */
  readonly tls?: ClientTls | null;
  /** Give up after this long, in all. */
  readonly timeoutMs: number;
  /** Wait this long for one replica's answer before trying the next (default min(2 s, timeoutMs)). */
  readonly attemptMs?: number;
  /** For backoff and the starting replica (default Math.random). */
  readonly random?: () => number;
  /** Index in `targets` to start at (default: a random one). */
  readonly first?: number;
  /** Stop after this many attempts (default: no limit but the time). */
  readonly maxAttempts?: number;
  /** Called after each attempt. */
  readonly onAttempt?: (a: Attempt, n: number) => void;
  /** How one attempt reaches a replica (default kvRequest: a connection of its own). */
  readonly send?: (target: KvTarget, req: KvRequest, timeoutMs: number, signal?: AbortSignal) => Promise<KvOutcome>;
  /** Give up early: a definite failure ('aborted') if nothing was sent yet, else unknown. */
  readonly signal?: AbortSignal;
}

export type CallOutcome =
  | {
      readonly kind: 'done';
      readonly peer: string;
      readonly slot: number;
      readonly result: Result;
      readonly attempts: readonly Attempt[];
    }
  | {
      readonly kind: 'range';
      readonly peer: string;
      /** The slot the range was read at. */
      readonly applied: number;
      readonly answer: RangeAnswer;
      readonly attempts: readonly Attempt[];
    }
  | {
      readonly kind: 'dump';
      readonly peer: string;
      readonly applied: number;
      readonly data: readonly EntryLine[];
      readonly leader: string | undefined;
      /** Set while the replica is recovering lost state. */
      readonly recovering?: string;
      /** The store's leases (lease.ts) and its next lease id; absent from a replica before leases. */
      readonly leases?: { readonly lines: readonly LeaseLine[]; readonly next: number };
      readonly attempts: readonly Attempt[];
    }
  /**
   * Nothing was done. `invalid`, `not_replica`: a replica refused the
   * request as such; `refused`: every attempt found the replica
   * unreachable or without a leader, until the time ran out.
   */
  | {
      readonly kind: 'failed';
      readonly reason: 'invalid' | 'not_replica' | 'refused' | 'aborted';
      readonly peer?: string;
      readonly why: string;
      readonly attempts: readonly Attempt[];
    }
  /** At least one attempt was sent and never answered: it may or may not take effect. */
  | { readonly kind: 'unknown'; readonly why: string; readonly attempts: readonly Attempt[] };

export async function kvCall(targets: readonly KvTarget[], body: KvBody, opts: KvCallOptions): Promise<CallOutcome> {
  if (targets.length === 0) throw new Error('kvCall: no replicas to ask');
  const random = opts.random ?? Math.random;
  const attemptMs = opts.attemptMs ?? Math.min(ATTEMPT_MS, opts.timeoutMs);
  const maxAttempts = opts.maxAttempts ?? Infinity;
  const deadline = Date.now() + opts.timeoutMs;
  const attempts: Attempt[] = [];
  let i = opts.first ?? Math.floor(random() * targets.length);
  /** Replicas that took the request and never answered. */
  const unanswered = new Set<string>();
  let authFailures = 0;

  const record = (a: Attempt): void => {
    attempts.push(a);
    opts.onAttempt?.(a, attempts.length);
  };
  const stillUnknown = (why: string): CallOutcome => ({
    kind: 'unknown',
    why:
      `${why}; but ${[...unanswered].join(', ')} took the request earlier and never answered, so it may still ` +
      `take effect`,
    attempts,
  });

  const tls = opts.tls ?? null;
  const send =
    opts.send ?? ((t, req, ms) => kvRequest(t.at, req, opts.secret, ms, tls === null ? null : { tls, name: t.name }));
  const signal = opts.signal;
  while (attempts.length < maxAttempts) {
    if (signal?.aborted === true) {
      const why = 'the caller gave up (aborted)';
      return unanswered.size > 0 ? stillUnknown(why) : { kind: 'failed', reason: 'aborted', why, attempts };
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    const target = targets[i % targets.length]!;
    i += 1;
    const id = newRequestId();
    const req: KvRequest =
      body.type === 'kv'
        ? { type: 'kv', id, cmd: body.cmd }
        : body.type === 'range'
          ? { type: 'range', id, query: body.query }
          : { type: 'dump', id };
    const t0 = Date.now();
    const o = await send(target, req, Math.max(1, Math.min(attemptMs, left)), signal);
    const ms = Date.now() - t0;
    const peer = target.name;
    if (o.kind === 'unreachable') {
      record({ peer, outcome: 'unreachable', why: o.why, ms });
      authFailures = o.auth === true ? authFailures + 1 : 0;
      // Every replica in turn refused our credentials: more tries will not help.
      if (authFailures >= targets.length) {
        const why = `${peer} refused us: ${o.why}`;
        return unanswered.size > 0 ? stillUnknown(why) : { kind: 'failed', reason: 'refused', peer, why, attempts };
      }
    } else if (o.kind === 'unknown') {
      authFailures = 0;
      record({ peer, outcome: 'unknown', why: o.why, ms });
      unanswered.add(peer);
    } else {
      authFailures = 0;
      const r = o.result;
      switch (r.status) {
        case 'done': {
          const d = decodeResult(r.result);
          if (body.type !== 'kv' || !d.ok) {
            const why =
              body.type !== 'kv'
                ? `it answered a ${body.type} with a command result`
                : `it answered with a result we cannot read (${d.ok ? '' : d.why})`;
            record({ peer, outcome: 'unknown', why, ms });
            unanswered.add(peer);
            break;
          }
          record({ peer, outcome: 'done', ms });
          return { kind: 'done', peer: r.peer || peer, slot: r.slot, result: d.value, attempts };
        }
        case 'range': {
          if (body.type !== 'range') {
            record({ peer, outcome: 'unknown', why: 'it answered with a range', ms });
            unanswered.add(peer);
            break;
          }
          record({ peer, outcome: 'range', ms });
          const { applied, count, more, data } = r;
          return { kind: 'range', peer: r.peer || peer, applied, answer: { count, more, data }, attempts };
        }
        case 'watching':
        case 'events':
        case 'compacted':
        case 'status':
          record({ peer, outcome: 'unknown', why: `it answered with a ${r.status} answer`, ms });
          unanswered.add(peer);
          break;
        case 'dump_part': // kvRequest gathers the parts
        case 'dump':
          if (body.type !== 'dump' || r.status !== 'dump') {
            record({ peer, outcome: 'unknown', why: 'it answered a command with a dump', ms });
            unanswered.add(peer);
            break;
          }
          record({ peer, outcome: 'dump', ms });
          return {
            kind: 'dump',
            peer: r.peer || peer,
            applied: r.applied,
            data: r.data,
            leader: r.leader,
            ...(r.recovering === undefined ? {} : { recovering: r.recovering }),
            ...(r.leases === undefined ? {} : { leases: { lines: r.leases, next: r.nextLease ?? 1 } }),
            attempts,
          };
        case 'no_leader':
          record({ peer, outcome: 'no_leader', why: 'it knows no leader', ms });
          break;
        case 'not_ready':
          record({ peer, outcome: 'not_ready', why: `not ready: ${r.why}`, ms });
          break;
        case 'invalid': {
          record({ peer, outcome: 'invalid', why: r.why, ms });
          const why = `${peer} says the request is invalid: ${r.why}`;
          return unanswered.size > 0 ? stillUnknown(why) : { kind: 'failed', reason: 'invalid', peer, why, attempts };
        }
        case 'not_replica': {
          record({ peer, outcome: 'not_replica', why: 'it is not a replica of a replicated log', ms });
          const why = `${peer} is not a replica of a replicated log (a lab peer?); check the hostsfile`;
          return unanswered.size > 0
            ? stillUnknown(why)
            : { kind: 'failed', reason: 'not_replica', peer, why, attempts };
        }
      }
    }
    // Pause before the next try, less the time this one took (a timed-out
    // attempt has waited already), and never past the deadline.
    const pause = Math.min(
      backoffDelay(attempts.length, RETRY_BASE_MS, RETRY_CAP_MS, random) - ms,
      deadline - Date.now(),
    );
    if (pause > 0 && attempts.length < maxAttempts) await sleep(pause, undefined, { signal }).catch(() => undefined);
  }

  const secs = opts.timeoutMs / 1000;
  if (unanswered.size > 0) {
    return {
      kind: 'unknown',
      why: `${[...unanswered].join(', ')} took the request but no answer came within ${secs} s`,
      attempts,
    };
  }
  return {
    kind: 'failed',
    reason: 'refused',
    why: `no replica could take the request within ${secs} s (${lastWords(attempts)})`,
    attempts,
  };
}

/** Each replica's last answer, e.g. "peer1: ECONNREFUSED; peer2: no leader". */
function lastWords(attempts: readonly Attempt[]): string {
  const last = new Map<string, string>();
  for (const a of attempts) last.set(a.peer, a.outcome === 'no_leader' ? 'no leader' : (a.why ?? a.outcome));
  return [...last].map(([p, w]) => `${p}: ${w}`).join('; ') || 'no attempt could be made';
}

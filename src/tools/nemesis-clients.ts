// The nemesis's clients (nemesis.ts): each runs one op at a time, through
// the client library, issuing random put, get, cas and one-key transactions
// on a few keys, and records each in the history the run checks for
// linearizability. An op with an unknown outcome retires its process id (the
// op may still take effect later), as in Jepsen. A one-key transaction (if
// the key's mod revision is the one this client last saw, put, else get) is
// a cas in the history: every value is unique, so a revision stands for a
// value. The counts and writes kept here feed the report and the watchers'
// check.

import { setTimeout as delay } from 'node:timers/promises';
import { pick } from '../util/prng.js';
import { DefiniteError, UnknownOutcomeError, type KvClient } from '../client/api.js';
import type { WriteRecord } from './nemesis-watch.js';

type Kind = 'put' | 'get' | 'cas' | 'txn';

/** What the clients share with the run. */
export interface ClientsSetup {
  readonly rng: () => number;
  readonly keys: readonly string[];
  /** ms since the run began (t0), the history's clock. */
  readonly now: () => number;
  /** performance.now() when the run began. */
  readonly t0: number;
  /** Add an event to the history, at `time`. */
  readonly record: (time: number, o: object) => void;
  /** Each client pauses this long between ops (NemesisOptions.pauseMs). */
  readonly pauseMs: number | undefined;
  /** False once the run is over: each client finishes its op and stops. */
  readonly running: () => boolean;
}

export class NemesisClients {
  readonly counts: Record<Kind, Record<'ok' | 'fail' | 'info', number>> = {
    put: { ok: 0, fail: 0, info: 0 },
    get: { ok: 0, fail: 0, info: 0 },
    cas: { ok: 0, fail: 0, info: 0 },
    txn: { ok: 0, fail: 0, info: 0 },
  };
  readonly refusals: Record<Kind, number> = { put: 0, get: 0, cas: 0, txn: 0 };
  /** Successful writes: [invoked, completed] (performance.now()). */
  readonly writesOk: Array<[number, number]> = [];
  /** Every write made, and how it ended: for the watchers' check. */
  readonly writes: WriteRecord[] = [];
  /** Shared by every client, so that every value written is unique. */
  private valueCounter = 0;

  constructor(private readonly s: ClientsSetup) {}

  /** Client `c`: random ops through `kv` while the run goes on; then closes `kv`. */
  async run(c: number, kv: KvClient): Promise<void> {
    const { rng, keys, now, t0, record } = this.s;
    const { counts, refusals, writesOk, writes } = this;
    let incarnation = 0;
    let process_ = `c${c}`;
    const lastSeen = new Map<string, string | null>();
    /** The mod revision of what lastSeen holds (0: absent), where known: a mismatch tells only the value. */
    const lastRev = new Map<string, number>();
    while (this.s.running()) {
      const kind: Kind = pick(rng, ['put', 'put', 'get', 'get', 'cas', 'txn'] as const);
      const key = pick(rng, keys);
      this.valueCounter += 1;
      const value = `v${this.valueCounter}`;
      const expected = lastSeen.get(key) ?? null;
      const f = kind === 'txn' ? 'cas' : kind;
      const invokeValue = kind === 'put' ? value : kind === 'get' ? undefined : [expected, value];
      const invoked = now();
      const invoke = {
        process: process_,
        type: 'invoke',
        f,
        key,
        ...(invokeValue === undefined ? {} : { value: invokeValue }),
      };
      const end = (type: 'ok' | 'fail' | 'info', extra: object = {}): void => {
        counts[kind][type] += 1;
        record(invoked, invoke);
        record(now(), { process: process_, type, f, key, ...extra });
      };
      const wrote = (outcome: WriteRecord['outcome'], slot?: number): void => {
        if (kind !== 'get') writes.push({ key, value, outcome, ...(slot === undefined ? {} : { slot }) });
        if (outcome === 'ok') writesOk.push([t0 + invoked, performance.now()]);
      };
      /** What the key holds, as this op saw it, and its mod revision if known. */
      const saw = (v: string | null, rev: number | undefined): void => {
        lastSeen.set(key, v);
        if (rev === undefined) lastRev.delete(key);
        else lastRev.set(key, rev);
      };
      /** A write done at `slot`, or a compare that failed on what the key holds instead. */
      const wroteAt = (slot: number): void => {
        saw(value, slot);
        wrote('ok', slot);
        end('ok');
      };
      const failed = (cur: string | null, rev: number | undefined): void => {
        saw(cur, rev);
        wrote('never');
        end('fail');
      };
      let unavailable = false;
      try {
        if (kind === 'put') wroteAt((await kv.put(key, value)).slot);
        else if (kind === 'get') {
          const e = await kv.getEntry(key);
          saw(e?.value ?? null, e?.modRevision ?? 0);
          end('ok', { value: e?.value ?? null });
        } else if (kind === 'cas') {
          const r = await kv.cas(key, expected, value);
          if (r.swapped) wroteAt(r.slot);
          else failed(r.current, undefined);
        } else {
          const rev = lastSeen.has(key) ? lastRev.get(key) : 0;
          const b = kv.txn();
          if (rev === undefined) b.if(key, '=', expected);
          else b.if(key, 'mod', '=', rev);
          const r = await b.then({ op: 'put', key, value }).else({ op: 'get', key }).commit();
          const got = r.results[0];
          if (r.succeeded) wroteAt(r.slot);
          else failed(got?.value ?? null, got?.modRevision ?? 0);
        }
      } catch (err) {
        if (err instanceof UnknownOutcomeError) {
          wrote('unknown');
          end('info');
          // Retire this process id: the op may still land.
          incarnation += 1;
          process_ = `c${c}.${incarnation}`;
        } else if (err instanceof DefiniteError) {
          // Refused before anything was done: it observed nothing, so it is
          // left out of the history (a failed cas would read as a mismatch).
          refusals[kind] += 1;
          wrote('never');
          unavailable = true;
        } else throw err;
      }
      if (unavailable) await delay(20 + rng() * 80);
      else if ((this.s.pauseMs ?? 0) > 0) await delay(this.s.pauseMs!);
    }
    await kv.close();
  }
}

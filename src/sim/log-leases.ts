// The log simulator's lease holders (src/sm/lease.ts). Each grants a lease
// of LEASE_TTL_S, puts its own key with it, and keeps it alive every third
// of the TTL for a while; then it revokes it, or walks away and lets the
// leader expire it, and starts again. Its commands go through the replicas'
// client entry, retried at other replicas as the clients' are. Their keys
// are not the clients' (the linearizability check knows nothing of
// expiries), but every replica's watch sees their deletes, checked against
// the log's (checkWatches).
//
// What the invariants check of leases (log-checks.ts, at each proposed
// expiry): no lease expires within its TTL of the first apply of its last
// renewal, and a leader expires none within TTL + the extension of taking
// office. `leaseNoExtension` must be caught by the second.

import type { PeerId } from '../core/types.js';
import { pick } from '../util/prng.js';
import type { Answer } from '../node/replica-node.js';
import { checkClientCommand, encodeCommand, type ClientCommand } from '../sm/command.js';
import type { Invariants } from './log-checks.js';
import type { SimReplicas } from './log-replicas.js';
import type { SimContext } from './log-world-types.js';

/** Seconds: the smallest TTL. A sim run is 6 s, with an election timeout of 100 to 200 ms. */
export const LEASE_TTL_S = 1;
const GIVE_UP_MS = 2000;

/** A client command without its session: the holder adds its own. */
type Body = ClientCommand extends infer C ? (C extends ClientCommand ? Omit<C, 'client' | 'seq'> : never) : never;
type Done = Extract<Answer, { status: 'done' }>['result'];

interface Holder {
  readonly idx: number;
  session: string;
  seq: number;
  lease: number | null;
  /** Keep the lease alive until then. */
  keepUntil: number;
  /** The op in flight, bumped per attempt. */
  attempt: number;
  busy: boolean;
}

export class SimLeases {
  private readonly holders: Holder[] = [];
  private sessions = 0;

  constructor(
    private readonly ctx: SimContext,
    private readonly replicas: SimReplicas,
    private readonly checks: Invariants,
    count: number,
    private readonly stopAt: number,
  ) {
    for (let i = 0; i < count; i++) {
      const h: Holder = { idx: i, session: '', seq: 0, lease: null, keepUntil: 0, attempt: 0, busy: false };
      this.newSession(h);
      this.holders.push(h);
      ctx.agenda.push(20 + Math.floor(ctx.rng() * 300), () => this.step(h));
    }
  }

  private newSession(h: Holder): void {
    h.session = `L${h.idx}s${++this.sessions}`;
    h.seq = 0;
  }

  /** The holder's next move. */
  private step(h: Holder): void {
    const { ctx } = this;
    if (ctx.now >= this.stopAt || h.busy) return;
    const r = ctx.rng;
    const next = (ms: number): void => void ctx.agenda.push(ctx.now + ms, () => this.step(h));
    if (h.lease === null) {
      return this.send(h, { op: 'grant', ttl: LEASE_TTL_S }, (res) => {
        if (res === null || res.status !== 'lease') return next(50);
        h.lease = res.id;
        h.keepUntil = ctx.now + 300 + Math.floor(r() * 2500);
        this.send(h, { op: 'put', key: `lease${h.idx}`, value: `l${res.id}`, lease: res.id }, () => next(10));
      });
    }
    const id = h.lease;
    if (ctx.now < h.keepUntil) {
      return this.send(h, { op: 'keep', id }, (res) => {
        if (res?.status === 'nolease') {
          ctx.stats.leasesLostWhileKept += 1;
          ctx.note(`holder ${h.idx} lost lease ${id} while keeping it alive`);
          h.lease = null;
        }
        next((LEASE_TTL_S * 1000) / 3);
      });
    }
    // Done with it: revoke it, or walk away and let it expire.
    h.lease = null;
    if (r() < 0.3) return this.send(h, { op: 'revoke', id }, () => next(10));
    ctx.stats.leasesAbandoned += 1;
    next(Math.floor(r() * 1500));
  }

  /** Send `body` from holder `h` until a replica applies it, or give up (then `done(null)`). */
  private send(h: Holder, body: Body, done: (res: Done | null) => void): void {
    const { ctx } = this;
    h.seq += 1;
    const wire = checkClientCommand(encodeCommand({ ...body, client: h.session, seq: h.seq } as ClientCommand));
    if (!wire.ok) throw new Error(`the simulator made an invalid lease command: ${wire.why}`);
    this.checks.issue(wire.value);
    const start = ctx.now;
    h.busy = true;
    const finish = (res: Done | null): void => {
      h.busy = false;
      h.attempt += 1;
      if (res === null) this.newSession(h); // unknown outcome: a new session, as a client's
      done(res);
    };
    const attempt = (last: PeerId): void => {
      if (ctx.now - start > GIVE_UP_MS) return finish(null);
      const mine = ++h.attempt;
      const all = this.replicas.all;
      const others = all.filter((x) => x.id !== last);
      const rep = pick(ctx.rng, others.length > 0 ? others : all);
      const later = (ms: number): void =>
        void ctx.agenda.push(ctx.now + ms, () => {
          if (h.attempt === mine) attempt(rep.id);
        });
      if (rep.node === null) return later(20);
      this.replicas.submit(rep, wire.value, {
        reply: (a) => {
          if (h.attempt !== mine) return;
          if (a.status === 'done') return finish(a.result);
          later(20 + Math.floor(ctx.rng() * 40));
        },
        onClose: () => () => undefined,
      });
      later(250 + Math.floor(ctx.rng() * 100));
    };
    attempt(0);
  }
}

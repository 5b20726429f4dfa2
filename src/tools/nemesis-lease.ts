// The nemesis's lease keepers (src/sm/lease.ts, src/node/lease-clock.ts):
// each grants a lease, puts its key with it, keeps it alive every second for
// a while, then revokes it or walks away and lets it expire, and starts
// again, through the faults.
//
// The check: no lease expires while it is kept alive. A keepalive answered
// "nolease" at time R, when the last keepalive that succeeded was sent at S,
// is a violation if R < S + TTL: that renewal was applied after S, and the
// leader that expired the lease counted the TTL from when it applied it (or,
// if it took office since, from then, plus an extension). The clocks are one
// machine's. A keepalive whose answer never came is not counted as one that
// succeeded, so it cannot make the check stricter than the truth.
//
// And at the end, with every fault healed and no keeper left: every lease
// expires (none is left behind), and so every keeper's key is gone.

import { setTimeout as delay } from 'node:timers/promises';
import { pick } from '../util/prng.js';
import type { KvClient } from '../client/api.js';
import { LeaseNotFoundError } from '../client/errors.js';

/** Seconds: long enough that a keeper's keepalives get through a fault, short enough to expire often. */
export const KEEPER_TTL_S = 3;

export class LeaseKeeper {
  granted = 0;
  renewals = 0;
  revoked = 0;
  abandoned = 0;
  /** Keepalives answered "nolease" a TTL or more after the last renewal sent: legitimate expiries. */
  lostAfterTtl = 0;
  readonly problems: string[] = [];

  constructor(
    readonly name: string,
    private readonly kv: KvClient,
    private readonly key: string,
    private readonly rng: () => number,
    private readonly now: () => number,
  ) {}

  /** Keep leases until `running()` says stop. */
  async run(running: () => boolean): Promise<void> {
    while (running()) {
      const sent = this.now();
      let id: number;
      try {
        id = (await this.kv.leaseGrant(KEEPER_TTL_S)).id;
      } catch {
        await delay(100 + this.rng() * 200); // no leader, or no answer: a new lease later
        continue;
      }
      this.granted += 1;
      let lastOk = sent;
      await this.kv.put(this.key, `${this.name}-${id}`, { lease: id }).catch(() => undefined);
      const keepUntil = this.now() + pick(this.rng, [3, 6, 12]) * 1000;
      let held = true;
      while (held && running() && this.now() < keepUntil) {
        await delay(1000);
        const at = this.now();
        try {
          await this.kv.leaseKeepAlive(id);
          this.renewals += 1;
          lastOk = at;
        } catch (err) {
          if (!(err instanceof LeaseNotFoundError)) continue; // no leader or no answer: keep trying
          held = false;
          const since = this.now() - lastOk;
          if (since < KEEPER_TTL_S * 1000)
            this.problems.push(
              `${this.name}: lease ${id} expired while kept alive: "nolease" ${since} ms after the last ` +
                `keepalive that succeeded was sent, within its TTL of ${KEEPER_TTL_S} s`,
            );
          else this.lostAfterTtl += 1;
        }
      }
      if (!held) continue;
      if (this.rng() < 0.3) {
        await this.kv.leaseRevoke(id).catch(() => undefined);
        this.revoked += 1;
      } else this.abandoned += 1;
    }
  }

  summary(): string {
    return (
      `${this.name}: ${this.granted} leases, ${this.renewals} keepalives, ${this.revoked} revoked, ` +
      `${this.abandoned} left to expire, ${this.lostAfterTtl} lost a TTL after the last keepalive that got through`
    );
  }
}

/**
 * After the run: every lease expires once nothing keeps it alive, and takes
 * its keys along. Null if so within `withinMs`, else what is left.
 */
export async function leasesDrain(kv: KvClient, keys: readonly string[], withinMs: number): Promise<string | null> {
  const deadline = Date.now() + withinMs;
  let left = 'no answer';
  while (Date.now() < deadline) {
    try {
      const ls = await kv.leases();
      const present = (await Promise.all(keys.map(async (k) => ((await kv.get(k)) === null ? null : k)))).filter(
        (k) => k !== null,
      );
      if (ls.length === 0 && present.length === 0) return null;
      left = `${ls.length} leases (${ls.map((l) => l.id).join(', ')}) and keys ${present.join(', ') || 'none'}`;
    } catch (err) {
      left = (err as Error).message;
    }
    await delay(500);
  }
  return left;
}

// The nemesis's membership changes (paxos/membership.ts): while it kills and
// partitions, a changer adds each spare replica (one not in the hostsfile)
// with member add, starts it with --join, promotes it once it has caught up
// (its status says it applied up to its leader's commit), and then removes
// a voter, the leader half the time; the removed replica must exit 0 by
// itself. One change at a time; a "busy" answer, or a change whose outcome
// is unknown, is tried again (a repeat is refused, never applied twice).

import { setTimeout as delay } from 'node:timers/promises';
import { MembershipChangeError, PaxosError, type KvClient } from '../client/api.js';
import { kvRequest, newRequestId } from '../client/kv.js';
import type { Endpoint } from '../transport/link.js';
import { pick } from '../util/prng.js';
import { readiness } from '../node/readiness.js';

export interface MemberHost {
  readonly host: string;
  /** Start it (a spare: with --join). */
  start(join: boolean): void;
  /** Resolves with its exit code once it has exited by itself (removed), or null after `ms`. */
  exited(ms: number): Promise<number | null>;
  /** Mark it removed: the faults and the final checks leave it alone. */
  remove(): void;
}

export class MemberChanger {
  readonly log: string[] = [];
  readonly problems: string[] = [];
  /** Seconds from `member add` to `member promote` done, per spare. */
  readonly growSeconds: number[] = [];

  constructor(
    private readonly kv: KvClient,
    private readonly rng: () => number,
    private readonly now: () => number,
    private readonly endpointOf: (host: string) => Endpoint,
    private readonly leader: () => string | undefined,
  ) {}

  /**
   * `more`: whether to start on another spare (during the faults); a spare
   * begun is seen through until `until` (performance.now()), faults or not.
   */
  async run(spares: readonly MemberHost[], voters: MemberHost[], more: () => boolean, until: number): Promise<void> {
    for (const s of spares) {
      if (!more()) return;
      await delay(1000 + this.rng() * 3000);
      const t0 = performance.now();
      const at = this.endpointOf(s.host);
      if (!(await this.change(() => this.kv.memberAdd(s.host, `${at.host}:${at.port}`), `add ${s.host}`, until)))
        return;
      s.start(true);
      if (!(await this.caughtUp(s.host, until))) return;
      if (!(await this.change(() => this.kv.memberPromote(s.host), `promote ${s.host}`, until))) return;
      this.growSeconds.push((performance.now() - t0) / 1000);
      voters.push(s);
      const L = this.leader();
      const victim =
        (L !== undefined && this.rng() < 0.5 ? voters.find((v) => v.host === L) : undefined) ?? pick(this.rng, voters);
      if (!(await this.change(() => this.kv.memberRemove(victim.host), `remove ${victim.host}`, until))) return;
      voters.splice(voters.indexOf(victim), 1);
      victim.remove();
      const code = await victim.exited(30_000);
      if (code !== 0)
        this.problems.push(
          `${victim.host} was removed, but ${code === null ? 'did not exit in 30 s' : `exited ${code}`}`,
        );
    }
  }

  /** Run `op` until done (true), retrying busy and unknown outcomes; false once the run ends first. */
  private async change(op: () => Promise<unknown>, what: string, until: number): Promise<boolean> {
    for (let attempt = 1; performance.now() < until; attempt++) {
      try {
        await op();
        this.log.push(`${(this.now() / 1000).toFixed(1)} s: member ${what}`);
        return true;
      } catch (err) {
        if (err instanceof MembershipChangeError && err.why !== 'busy') {
          // A retry of a change that was applied: refused as done already.
          if (
            (what.startsWith('add') && err.why === 'exists') ||
            (what.startsWith('promote') && err.why === 'voter') ||
            (what.startsWith('remove') && err.why === 'unknown')
          ) {
            this.log.push(`${(this.now() / 1000).toFixed(1)} s: member ${what} (done by an earlier try)`);
            return true;
          }
          this.problems.push(`member ${what}: ${err.message}`);
          return false;
        }
        if (!(err instanceof PaxosError)) throw err;
        await delay(Math.min(2000, 50 * 2 ** Math.min(attempt, 6)) * (0.5 + this.rng()));
      }
    }
    this.problems.push(`member ${what}: not done by the end of the run`);
    return false;
  }

  /** Wait until `host` is ready by the /readyz rule (it knows a leader and has applied close to its commit). */
  private async caughtUp(host: string, until: number): Promise<boolean> {
    let last = 'no answer';
    while (performance.now() < until) {
      const o = await kvRequest(this.endpointOf(host), { type: 'status', id: newRequestId() }, null, 2000);
      if (o.kind === 'reply' && o.result.status === 'status') {
        const r = o.result;
        const ready = readiness({
          leaderKnown: r.leader !== '',
          recovering: r.recovering ?? null,
          applied: r.applied,
          commit: r.leaderCommit,
        });
        if (ready.ready) return true;
        last = ready.why;
      }
      await delay(200);
    }
    this.problems.push(`${host} did not catch up by the end of the run (${last})`);
    return false;
  }
}

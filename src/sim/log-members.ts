// The log simulator's membership changes (paxos/membership.ts): a client
// that, through the faults, adds the spare replicas (those not in the
// hostsfile) as learners, promotes them, and removes voters, the leader
// among them, one change at a time, so that the cluster ends with as many
// voters as it began with, none of them the first ones it removed. Its
// commands go to the leader when one is known (as a redirected client's
// would), else to any replica, and are retried, with a new session, until
// one is applied. A "busy" answer (the last change still taking effect) is
// tried again a little later.
//
// What the invariants check (log-world.ts): every replica that applied
// slot s counts the quorums of the slots after it with the same voters
// (agreeConfig), the values chosen agree, and the client history is
// linearizable; the two negative controls, memberOutsideLog and
// twoChangesInFlight, must be caught.

import type { PeerId } from '../core/types.js';
import { pick } from '../util/prng.js';
import type { Answer } from '../node/replica-node.js';
import { checkClientCommand } from '../sm/command.js';
import type { Invariants } from './log-checks.js';
import type { SimReplicas } from './log-replicas.js';
import type { SimContext } from './log-world-types.js';

type Done = Extract<Answer, { status: 'done' }>['result'];
type Change = { o: 'madd'; n: string; a: string } | { o: 'mpromote' | 'mremove'; n: string };

const GIVE_UP_MS = 1500;

export class SimMembers {
  private readonly plan: Change[] = [];
  private session = 0;
  private attempt = 0;

  /** `first`: the hostsfile's voters (ids 1..first); the rest, up to `n`, are spares. */
  constructor(
    private readonly ctx: SimContext,
    private readonly replicas: SimReplicas,
    private readonly checks: Invariants,
    first: number,
    n: number,
    private readonly stopAt: number,
  ) {
    const r = ctx.rng;
    const voters = Array.from({ length: first }, (_, i) => i + 1);
    for (let id = first + 1; id <= n; id++) {
      const name = `r${id}`;
      this.plan.push({ o: 'madd', n: name, a: `${name}:8080` }, { o: 'mpromote', n: name });
      // Remove one of the voters: sometimes the leader (found when the command goes out).
      const gone = voters.splice(Math.floor(r() * voters.length), 1)[0]!;
      this.plan.push({ o: 'mremove', n: r() < 0.4 ? 'leader' : `r${gone}` });
      voters.push(id);
    }
    ctx.agenda.push(200 + Math.floor(r() * 400), () => this.next());
  }

  private next(): void {
    const { ctx } = this;
    const c = this.plan.shift();
    if (c === undefined || ctx.now >= this.stopAt) return;
    let change: Change = c;
    if (c.o === 'mremove' && c.n === 'leader') {
      const leader = this.replicas.leader();
      const member = leader !== undefined && leader.node?.kv.membership?.members.some((m) => m.id === leader.id);
      change = { o: 'mremove', n: member === true ? `r${leader!.id}` : this.anyVoter() };
    }
    this.send(change, (res) => {
      ctx.stats.memberChanges += res?.status === 'members' ? 1 : 0;
      if (res?.status === 'nochange' && res.why === 'busy') this.plan.unshift(change);
      else if (res === null) this.plan.unshift(change); // unknown: try again (a repeat is refused, not applied twice)
      ctx.agenda.push(ctx.now + 50 + Math.floor(ctx.rng() * 300), () => this.next());
    });
  }

  private anyVoter(): string {
    const m = this.replicas.all.find((x) => x.node !== null)?.node?.kv.membership;
    const voters = m?.members.filter((x) => x.voter) ?? [];
    return voters.length > 1 ? pick(this.ctx.rng, voters).name : 'nobody';
  }

  /** Send `c` until a replica applies it, or give up (then `done(null)`). */
  private send(c: Change, done: (res: Done | null) => void): void {
    const { ctx } = this;
    const wire = checkClientCommand({ ...c, c: `M${++this.session}`, s: 1 });
    if (!wire.ok) throw new Error(`the simulator made an invalid member command: ${wire.why}`);
    const cmd = wire.value;
    this.checks.issue(cmd);
    const start = ctx.now;
    const attempt = (last: PeerId): void => {
      if (ctx.now - start > GIVE_UP_MS) return done(null);
      const mine = ++this.attempt;
      const leader = this.replicas.leader();
      const others = this.replicas.all.filter((x) => x.id !== last && x.node !== null);
      const rep =
        leader !== undefined && leader.id !== last ? leader : others.length > 0 ? pick(ctx.rng, others) : null;
      const later = (ms: number): void =>
        void ctx.agenda.push(ctx.now + ms, () => {
          if (this.attempt === mine) attempt(rep?.id ?? 0);
        });
      if (rep === null) return later(20);
      this.replicas.submit(rep, cmd, {
        reply: (a) => {
          if (this.attempt !== mine) return;
          if (a.status === 'done') {
            this.attempt += 1;
            return done(a.result);
          }
          later(20 + Math.floor(ctx.rng() * 40));
        },
        onClose: () => () => undefined,
      });
      later(250 + Math.floor(ctx.rng() * 100));
    };
    attempt(0);
  }
}

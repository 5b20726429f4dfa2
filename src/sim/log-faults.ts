// The log simulator's faults, one every 60-410 ms of simulated time until
// the quiet period: crashes (also in the middle of a Ready) and restarts,
// long outages (so the replica needs a snapshot to catch up), lost or
// damaged disks (one replica at a time), partitions (isolate the leader,
// mute it: it hears everyone, nobody hears it; minority / majority splits,
// one-way cuts), message drop, duplication, long delays (reordering) and a
// long tail.

import { pick } from '../util/prng.js';
import type { SimNet } from './log-net.js';
import type { SimReplica, SimReplicas } from './log-replicas.js';
import { STORAGE_VARIANTS, type LogWorldVariant, type SimContext } from './log-world-types.js';

export class Faults {
  constructor(
    private readonly ctx: SimContext,
    private readonly net: SimNet,
    private readonly replicas: SimReplicas,
    private readonly variant: LogWorldVariant | undefined,
    private readonly faultMs: number,
  ) {}

  fault(): void {
    if (this.ctx.now >= this.faultMs) return;
    const r = this.ctx.rng;
    const L = this.replicas.leader();
    const storage = this.variant !== undefined && STORAGE_VARIANTS.has(this.variant);
    const all = this.replicas.all;
    const kinds = [
      'crash',
      'crashLeader',
      'crashLeader',
      'outage',
      'isolateLeader',
      'isolateLeader',
      'muteLeader',
      'split',
      'oneWay',
      'lossy',
      'slow',
      'tail',
      'heal',
      'calm',
      'disk',
    ] as const;
    const kind = storage && r() < 0.5 ? 'disk' : pick(r, kinds);
    /** `whileDown` happens to its disk just before it restarts. */
    const crashIt = (victim: SimReplica, downFor: number, whileDown?: () => void): void => {
      if (victim.node === null) return;
      const mode = pick(r, ['now', 'now', 'beforeSync', 'afterSync'] as const);
      if (mode === 'now') this.replicas.crash(victim, 'now');
      else {
        victim.crashAt = mode;
        // If no Ready comes soon, die anyway.
        this.ctx.agenda.push(this.ctx.now + 30, () => {
          if (victim.crashAt !== null) this.replicas.crash(victim, 'now (no Ready came)');
        });
      }
      const life = victim.life;
      this.ctx.agenda.push(this.ctx.now + downFor, () => {
        if (victim.life !== life) return;
        if (victim.node === null) whileDown?.();
        this.replicas.restart(victim);
      });
    };
    switch (kind) {
      case 'crash':
        crashIt(pick(r, all), 30 + Math.floor(r() * 400));
        break;
      case 'crashLeader':
        crashIt(L ?? pick(r, all), 30 + Math.floor(r() * 400));
        break;
      case 'outage':
        // Long enough to fall more than a snapshot behind.
        crashIt(pick(r, all), 600 + Math.floor(r() * 1200));
        break;
      case 'disk': {
        // One replica at a time loses state, so a majority holds every acknowledged write.
        const victim = storage && L !== undefined && r() < 0.5 ? L : pick(r, all);
        if (victim.node === null || all.some((o) => o !== victim && (o.doomed || o.lost !== null || !o.disk.member)))
          break;
        const how = pick(r, ['wipe', 'corrupt', 'corrupt', 'snapshot'] as const);
        victim.doomed = true;
        crashIt(victim, 60 + Math.floor(r() * 600), () => this.replicas.damage(victim, how));
        break;
      }
      case 'isolateLeader': {
        const victim = L ?? pick(r, all);
        this.net.heal();
        for (const o of all) if (o !== victim) this.net.cutBoth(victim.id, o.id);
        this.ctx.stats.partitions += 1;
        this.ctx.note(`PARTITION isolate r${victim.id}${victim === L ? ' (leader)' : ''}`);
        break;
      }
      case 'muteLeader': {
        // One way: it hears everyone, nobody hears it.
        const victim = L ?? pick(r, all);
        this.net.heal();
        for (const o of all) if (o !== victim) this.net.cut.add(`${victim.id}>${o.id}`);
        this.ctx.stats.partitions += 1;
        this.ctx.note(`PARTITION mute r${victim.id}${victim === L ? ' (leader)' : ''}: it hears, is not heard`);
        break;
      }
      case 'split': {
        this.net.heal();
        const side = new Set(all.filter(() => r() < 0.5).map((x) => x.id));
        for (const a of all) for (const b of all) if (side.has(a.id) && !side.has(b.id)) this.net.cutBoth(a.id, b.id);
        this.ctx.stats.partitions += 1;
        this.ctx.note(`PARTITION {${[...side].join(',')}} | rest`);
        break;
      }
      case 'oneWay': {
        const a = pick(r, all).id;
        const b = pick(r, all).id;
        if (a !== b) {
          this.net.cut.add(`${a}>${b}`);
          this.ctx.stats.partitions += 1;
          this.ctx.note(`PARTITION one way ${a}>${b}`);
        }
        break;
      }
      case 'lossy':
        this.net.dropP = pick(r, [0.05, 0.2, 0.4]);
        this.net.dupP = pick(r, [0, 0.1, 0.3]);
        this.ctx.note(`NET drop ${this.net.dropP} dup ${this.net.dupP}`);
        break;
      case 'slow':
        this.net.maxDelay = pick(r, [30, 80, 150]);
        this.ctx.note(`NET delay <= ${this.net.maxDelay} ms`);
        break;
      case 'tail':
        this.net.tailP = pick(r, [0.02, 0.05, 0.1]);
        this.ctx.note(`NET ${this.net.tailP * 100}% of messages held 200-1000 ms`);
        break;
      case 'heal':
        this.net.heal();
        break;
      case 'calm':
        this.net.calm();
        this.ctx.note('NET calm');
        break;
    }
    this.ctx.agenda.push(this.ctx.now + 60 + Math.floor(r() * 350), () => this.fault());
  }
}

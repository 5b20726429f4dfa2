// The acceptor of one replica: it promises ballots and votes per slot. It
// votes at ballot n iff n >= its promise (onAccept), and a promise or vote is
// written before the answer that depends on it leaves (Ready order).

import type { PeerId } from '../paxos/ids.js';
import { ALPHA } from '../paxos/membership.js';
import type { LogState, Msg, Roles } from './state.js';
import type { SlotReport } from './types.js';

export class Acceptor {
  constructor(
    private readonly s: LogState,
    private readonly roles: Roles,
  ) {}

  /**
   * Whether a leader other than `from` is known to be alive: heard from
   * within the minimum election timeout (or, for a leader, it has a quorum).
   * Such a replica ignores prepares, so a replica that was cut off and comes
   * back with a high ballot cannot depose a working leader (Raft's "leader
   * stickiness"). Only liveness depends on this, never safety.
   */
  private leaderAlive(from: PeerId): boolean {
    const s = this.s;
    if (s.role === 'leader') return s.hasQuorumContact();
    return (
      s.role === 'follower' && s.leaderId !== 0 && s.leaderId !== from && s.electionElapsed < s.timing.electionTicks
    );
  }

  onPrepare(m: Msg<'prepare'>): void {
    const s = this.s;
    if (m.n > s.promised && this.leaderAlive(m.from)) return;
    // n == promised is this same candidate asking again (ballots are unique).
    const granted = m.n >= s.promised;
    if (granted) {
      if (m.n > s.promised) {
        s.promise(m.n);
        s.out.received.push(m);
      }
      if (s.role !== 'follower' && m.n > s.ballot) this.roles.stepDown(0);
      // Give the candidate time to finish before standing ourselves.
      s.electionElapsed = 0;
      s.leaderId = 0;
    }
    // A refusal reports no votes: its promise above n is all the candidate needs.
    const votes = granted ? this.reportFrom(m.slot) : [];
    s.send([m.from], {
      type: 'prepare_ack',
      from: s.self,
      n: m.n,
      slot: m.slot,
      life: m.life,
      promised: s.promised,
      votes,
      base: s.logStart,
    });
  }

  /** Every slot from `slot` up that this replica voted for or knows chosen. */
  reportFrom(slot: number): SlotReport[] {
    const { votes, chosen } = this.s;
    const slots = new Set<number>();
    for (const s of votes.keys()) if (s >= slot) slots.add(s);
    for (const s of chosen.keys()) if (s >= slot) slots.add(s);
    return [...slots]
      .sort((a, b) => a - b)
      .map((s) => {
        const c = chosen.get(s);
        if (c !== undefined) return { s, n: votes.get(s)?.n ?? 0, v: c, chosen: true as const };
        const vote = votes.get(s)!;
        return { s, n: vote.n, v: vote.v };
      });
  }

  onAccept(m: Msg<'accept'>): void {
    const s = this.s;
    if (m.n < s.promised) {
      s.send([m.from], { type: 'accept_ack', from: s.self, n: m.n, slot: m.slot, promised: s.promised });
      return;
    }
    if (m.n > s.promised) s.promise(m.n);
    this.roles.follow(m.from, m.n);
    const prev = s.votes.get(m.slot);
    const fresh = prev === undefined || prev.n !== m.n;
    if (fresh) {
      s.out.received.push(m);
      if (m.slot >= s.logStart) {
        s.vote(m.slot, m.n, m.v);
        // The leader voted (n, v) before it sent this, and ours is durable
        // before anything of this Ready is applied: a quorum of two.
        // Only where we know the slot's voters, and the leader and we are two of them.
        const known = m.slot < s.commitIndex + ALPHA;
        if (known && s.pairIsQuorum(m.slot, m.from) && s.isVoter(m.slot)) this.roles.learn(m.slot, m.v, m.n, true);
      }
    }
    s.send(
      [m.from],
      { type: 'accept_ack', from: s.self, n: m.n, slot: m.slot, promised: s.promised },
      fresh ? undefined : true,
    );
    this.roles.learnUpTo(m.commit, m.n);
  }

  /** The leader of ballot m.n is alive, and says every slot below m.commit is chosen. */
  onHeartbeat(m: Msg<'heartbeat'>): void {
    const s = this.s;
    if (m.n < s.promised) {
      // A leader below our promise (we promised a candidate that did not
      // win, or stood ourselves while cut off): it is alive, so do not stand
      // again; tell it our promise, so it moves above it.
      if (s.role === 'follower') s.electionElapsed = 0;
      // No read round echoed: this ack confirms nothing (the heartbeat may be
      // from an earlier life of a leader that now leads at our promise).
      s.send([m.from], { type: 'heartbeat_ack', from: s.self, n: s.promised }, true);
      return;
    }
    this.roles.follow(m.from, m.n);
    s.send(
      [m.from],
      m.r === undefined
        ? { type: 'heartbeat_ack', from: s.self, n: m.n }
        : { type: 'heartbeat_ack', from: s.self, n: m.n, r: m.r },
      true,
    );
    this.roles.learnUpTo(m.commit, m.n);
  }
}

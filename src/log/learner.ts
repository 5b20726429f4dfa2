// The learner of one replica, and its catch-up: which slots are chosen, the
// commit index, fetching values it missed from a peer's log (or a snapshot,
// once that peer has compacted them), and the compaction of its own log. A
// slot is applied only once every slot before it is (advance).

import { change, memberChangeOf } from '../paxos/membership.js';
import { ballotOwner } from './ballot.js';
import { sizeOf, type LogState, type Msg, type Roles } from './state.js';
import type { PeerId } from '../paxos/ids.js';
import type { Batch, LogRecord } from './types.js';

export class Learner {
  /** The tick we last fetched at. */
  private fetchAt = -Infinity;

  constructor(
    private readonly s: LogState,
    private readonly roles: Roles,
  ) {}

  /** See LogNode.liveRecords. */
  liveRecords(after: number): LogRecord[] {
    const { votes, chosen } = this.s;
    const recs: LogRecord[] = [{ t: 'p', n: this.s.promised }];
    const slots = new Set([...votes.keys(), ...chosen.keys()]);
    for (const s of [...slots].sort((a, b) => a - b)) {
      if (s <= after) continue;
      const vote = votes.get(s);
      const c = chosen.get(s);
      if (vote !== undefined) recs.push({ t: 'v', s, n: vote.n, v: vote.v });
      if (c !== undefined) recs.push(vote !== undefined && vote.v === c ? { t: 'c', s } : { t: 'e', s, v: c });
    }
    return recs;
  }

  /** See LogNode.compact. */
  compact(index: number, keepFrom: number, keepBytes: number): void {
    const st = this.s;
    let from = keepFrom;
    if (keepBytes !== Infinity) {
      let bytes = 0;
      for (let s = Math.min(index, st.appliedIndex); s >= from; s--) {
        const v = st.chosen.get(s);
        if (v === undefined) break;
        bytes += sizeOf(v);
        if (bytes > keepBytes) {
          from = s + 1;
          break;
        }
      }
    }
    const upTo = Math.min(index + 1, from, st.appliedIndex + 1);
    if (upTo <= st.logStart) return;
    this.forgetBelow(upTo);
    st.logStart = upTo;
  }

  /** A follower behind its leader's commit fetches again, once a resend interval has passed. */
  tick(): void {
    const s = this.s;
    if (s.leaderCommit > s.commitIndex && s.ticks - this.fetchAt >= s.timing.resendTicks && s.leaderId !== 0) {
      this.fetch(s.leaderId);
    }
  }

  onChose(m: Msg<'chose'>): void {
    const s = this.s;
    if (m.n >= s.promised) this.roles.follow(m.from, m.n);
    if (m.slot < s.commitIndex || s.chosen.has(m.slot)) return;
    const vote = s.votes.get(m.slot);
    if (vote !== undefined && vote.n === m.n) {
      s.out.received.push(m);
      this.learn(m.slot, vote.v, m.n, true);
    } else {
      // We did not vote for the value of ballot n here: ask for it.
      s.leaderCommit = Math.max(s.leaderCommit, m.slot + 1);
      this.fetch(m.from);
    }
  }

  /** The leader of ballot n says every slot below `commit` is chosen. */
  learnUpTo(commit: number, n: number): void {
    const st = this.s;
    st.leaderCommit = Math.max(st.leaderCommit, commit);
    for (let s = st.commitIndex; s < commit; s++) {
      if (st.chosen.has(s)) continue;
      const vote = st.votes.get(s);
      // The leader of ballot n proposed one value per slot at n: a vote at n is it.
      if (vote !== undefined && vote.n === n) this.learn(s, vote.v, n, true);
    }
    if (st.commitIndex < st.leaderCommit && st.ticks - this.fetchAt >= st.timing.resendTicks) {
      const from = ballotOwner(n);
      if (from !== st.self) this.fetch(from);
    }
  }

  fetch(from: PeerId): void {
    const s = this.s;
    this.fetchAt = s.ticks;
    s.send([from], { type: 'fetch', from: s.self, slot: s.commitIndex }, true);
  }

  onFetch(m: Msg<'fetch'>): void {
    const st = this.s;
    if (m.slot < st.logStart) {
      st.out.sendSnapshotTo.push(m.from);
      return;
    }
    const values: Batch[] = [];
    let bytes = 0;
    for (let s = m.slot; values.length < st.timing.maxEntries && bytes < st.timing.maxBatchBytes; s++) {
      const v = st.chosen.get(s);
      if (v === undefined) break;
      values.push(v);
      bytes += sizeOf(v);
    }
    if (values.length > 0) st.send([m.from], { type: 'entries', from: st.self, start: m.slot, values }, true);
  }

  onEntries(m: Msg<'entries'>): void {
    if (m.values.some((_, i) => this.isNews(m.start + i))) this.stopLeading();
    m.values.forEach((v, i) => this.learn(m.start + i, v, 0, false));
    if (this.s.commitIndex < this.s.leaderCommit) this.fetch(m.from);
  }

  onSnapshot(m: Msg<'snapshot'>): void {
    const s = this.s;
    if (m.index < s.commitIndex) return; // nothing new in it
    this.stopLeading();
    s.out.snapshot = { index: m.index, data: m.data };
    if (m.data.membership !== undefined && m.data.membership !== null) s.setMembership(m.data.membership);
    s.out.committed.length = 0; // superseded by the snapshot
    this.forgetBelow(m.index + 1);
    s.appliedIndex = m.index;
    s.commitIndex = m.index + 1;
    s.logStart = m.index + 1;
    this.advance();
    if (s.commitIndex < s.leaderCommit) this.fetch(m.from);
  }

  /** Forget votes and values below `slot`: a snapshot holds them. */
  private forgetBelow(slot: number): void {
    const { votes, chosen } = this.s;
    for (const s of [...votes.keys()]) if (s < slot) votes.delete(s);
    for (const s of [...chosen.keys()]) if (s < slot) chosen.delete(s);
  }

  /** Whether learning slot s would be new to this replica. */
  private isNews(s: number): boolean {
    const st = this.s;
    return s >= st.commitIndex && s >= st.logStart && !st.chosen.has(s);
  }

  /**
   * A leader or candidate that learns chosen values from a peer's log (a late
   * reply to a fetch it sent while behind) gives up its ballot first. Its
   * followers read "commit c at ballot b" as "every slot below c holds the
   * value proposed at b", so a leader's commit must only ever cover slots it
   * chose itself or adopted in phase 1. A slot learned from a peer may have
   * been chosen at a higher ballot over this leader's own proposal, and a
   * follower holding that proposal's vote would learn it. Its next ballot
   * runs phase 1 again from its (now larger) commit.
   */
  private stopLeading(): void {
    if (this.s.role !== 'follower') this.roles.stepDown(0);
  }

  /** Slot s is chosen with value v (n: the ballot, 0 if learned from a peer's log). */
  learn(s: number, v: Batch, n: number, fromVote: boolean): void {
    const st = this.s;
    if (s < st.commitIndex || s < st.logStart || st.chosen.has(s)) return;
    st.chosen.set(s, v);
    st.out.records.push(fromVote ? { t: 'c', s } : { t: 'e', s, v });
    st.out.learned.push({ slot: s, n, v });
    this.advance();
  }

  /** Move the commit index over the slots now chosen, and hand out in order those it passes. */
  advance(): void {
    const s = this.s;
    while (s.chosen.has(s.commitIndex)) s.commitIndex += 1;
    if (s.variant.applyPastHole === true) {
      // Broken on purpose: applies whatever is chosen, skipping holes.
      for (const slot of [...s.chosen.keys()].sort((a, b) => a - b)) {
        if (slot > s.appliedIndex) {
          s.appliedIndex = slot;
          this.configure(slot, s.chosen.get(slot)!);
          s.out.committed.push({ slot, v: s.chosen.get(slot)! });
        }
      }
      return;
    }
    while (s.appliedIndex < s.commitIndex - 1) {
      s.appliedIndex += 1;
      const v = s.chosen.get(s.appliedIndex)!;
      this.configure(s.appliedIndex, v);
      s.out.committed.push({ slot: s.appliedIndex, v });
    }
  }

  /**
   * Membership changes in a slot handed out to apply: the store applies the
   * same rule to the same commands (paxos/membership.ts), to answer its
   * client; we keep the configuration for our quorums. Every slot is handed
   * out here once, in order, so a change is taken once.
   */
  private configure(slot: number, v: Batch): void {
    const s = this.s;
    for (const cmd of v) {
      const c = memberChangeOf(cmd);
      if (c === null) continue;
      const o = change(s.membership, c, slot, s.variant.twoChangesInFlight === true);
      if (o.ok) s.setMembership(o.m);
    }
  }
}

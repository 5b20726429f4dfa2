// Linearizable reads without going through the log (read index, as in the
// Raft thesis, section 6.4). A read is answered only once a quorum is known
// to have still followed its leader's ballot after the read arrived: the
// leader's heartbeat acks, or, with 3 replicas, the leader itself and the
// follower that asked (onReadIndex). And only from a state that holds every
// slot chosen by then (Leader.readIndex). See LogNode.read.

import type { PeerId } from '../paxos/ids.js';
import type { LogState, Msg, Roles } from './state.js';

interface ReadBatch {
  readonly from: PeerId;
  /** The asking replica's life (LogState.life); 0 for our own reads. */
  readonly life: number;
  readonly ids: readonly number[];
}

interface ReadRound {
  readonly r: number;
  readonly index: number;
  /** Confirmed by a quorum of heartbeat acks echoing `r`. */
  readonly acks: Set<PeerId>;
  readonly batches: ReadBatch[];
}

export class ReadIndex {
  /** Leader or candidate: reads waiting for the next round, by the replica that asked. */
  private queue: ReadBatch[] = [];
  /** Leader: the round in flight. */
  private round: ReadRound | null = null;
  private rounds = 0;
  /** Follower: our reads the leader has not answered yet, and the tick we last asked. */
  private readonly asked = new Map<number, number>();
  /** Follower: reads to ask the leader about in the next batch. */
  private toAsk: number[] = [];

  constructor(
    private readonly s: LogState,
    private readonly roles: Roles,
  ) {}

  get hasToAsk(): boolean {
    return this.toAsk.length > 0;
  }

  get inFlight(): number | undefined {
    return this.round?.r;
  }

  /** Reads arriving at this replica (not recovering). */
  read(ids: readonly number[]): void {
    const s = this.s;
    if (s.role === 'leader') return this.queueReads(s.self, ids);
    // A candidate, like a follower with no leader, cannot confirm a read now.
    if (s.role === 'candidate' || s.leaderId === 0) {
      s.out.unreadable.push(...ids);
      return;
    }
    for (const id of ids) this.asked.set(id, s.ticks);
    this.toAsk.push(...ids);
  }

  /** A follower asks us, as leader, for a read index. */
  onReadIndex(m: Msg<'read_index'>): void {
    const s = this.s;
    // A follower that asked someone who no longer leads asks again later.
    if (s.role === 'follower') return;
    if (s.role === 'leader' && s.pairWith(m.from) && s.variant.staleReads !== true) {
      // The asker and we make a quorum (3 replicas or fewer), so no round is
      // needed: we lead at our ballot now, after the read arrived, and the
      // asker takes our answer only if it has promised no higher ballot by
      // then (onReadIndexAck). A leader that chose a write answered before
      // the read would have needed the promise of one of us two, first.
      const ack = { type: 'read_index_ack', from: s.self, n: s.ballot, life: m.life, ids: m.ids } as const;
      s.send([m.from], { ...ack, index: this.roles.readIndex() }, true);
      return;
    }
    this.queueReads(m.from, m.ids, m.life);
  }

  private queueReads(from: PeerId, ids: readonly number[], life = 0): void {
    this.queue.push({ from, life, ids });
    this.startRound();
  }

  /** Start a round for the reads queued, unless one is in flight: its acks predate them. */
  startRound(): void {
    const s = this.s;
    if (s.role !== 'leader' || this.round !== null || this.queue.length === 0) return;
    const stale = s.variant.staleReads === true;
    // Broken on purpose (stale): answers from what it has applied, without asking whether it still leads.
    const index = stale ? s.appliedIndex : this.roles.readIndex();
    const round = { r: ++this.rounds, index, acks: new Set([s.self]), batches: this.queue };
    this.queue = [];
    this.round = round;
    if (stale) {
      for (const id of s.others) round.acks.add(id);
    } else {
      this.roles.heartbeat(round.r);
    }
    this.maybeConfirmed();
  }

  onReadAck(from: PeerId, n: number, r: number): void {
    const s = this.s;
    const round = this.round;
    // Only an ack at our ballot to this round's heartbeat says `from` still follows us.
    if (s.role !== 'leader' || round === null || r !== round.r || n !== s.ballot) return;
    round.acks.add(from);
    this.maybeConfirmed();
  }

  private maybeConfirmed(): void {
    const s = this.s;
    const round = this.round;
    if (round === null || !s.isFrontierQuorum(round.acks)) return;
    this.round = null;
    for (const b of round.batches) {
      if (b.from === s.self) for (const id of b.ids) s.out.reads.push({ id, index: round.index });
      else
        s.send(
          [b.from],
          { type: 'read_index_ack', from: s.self, n: s.ballot, life: b.life, ids: b.ids, index: round.index },
          true,
        );
    }
    this.startRound();
  }

  /** Send the reads collected since the last Ready to the leader, in one message. */
  askBatch(): void {
    if (this.toAsk.length === 0) return;
    const ids = this.toAsk;
    this.toAsk = [];
    this.askForReadIndex(ids);
  }

  /** Ask the leader about those of `ids` still unanswered (each once). */
  private askForReadIndex(ids: readonly number[]): void {
    const s = this.s;
    const wanted = [...new Set(ids)].filter((id) => this.asked.has(id));
    if (wanted.length === 0) return;
    if (s.role !== 'follower' || s.leaderId === 0) {
      for (const id of wanted) this.asked.delete(id);
      if (s.role !== 'follower') this.queueReads(s.self, wanted);
      else s.out.unreadable.push(...wanted);
      return;
    }
    for (const id of wanted) this.asked.set(id, s.ticks);
    s.send([s.leaderId], { type: 'read_index', from: s.self, life: s.life, ids: wanted }, true);
  }

  /** Ask again for reads the leader has not answered in a while (it may be gone). */
  reaskLate(): void {
    const s = this.s;
    const late: number[] = [];
    for (const [id, at] of this.asked) if (s.ticks - at >= s.timing.resendTicks) late.push(id);
    if (late.length > 0) this.toAsk.push(...late);
  }

  /** We follow a new leader: ask it about the reads the old one did not answer. */
  reaskAll(): void {
    if (this.asked.size > 0) this.toAsk.push(...this.asked.keys());
  }

  /** The leader answers our reads. */
  onReadIndexAck(m: Msg<'read_index_ack'>): void {
    const s = this.s;
    if (m.life !== s.life) return; // asked by an earlier life of ours
    // We are part of the quorum that confirms it (onReadIndex): not if we
    // have promised a newer leader since. Asked again later (reaskLate).
    if (m.n < s.promised) return;
    for (const id of m.ids) {
      if (!this.asked.delete(id)) continue; // answered already, or not ours
      s.out.reads.push({ id, index: m.index });
    }
  }

  /**
   * Becoming a candidate: reads in a round of the old ballot wait for a round
   * of the new one, and reads we asked a leader about are now ours to confirm.
   */
  takeOver(): void {
    if (this.round !== null) this.queue.unshift(...this.round.batches);
    this.round = null;
    if (this.asked.size > 0) this.queue.push({ from: this.s.self, life: 0, ids: [...this.asked.keys()] });
    this.asked.clear();
  }

  /**
   * Stepping down to follow `leader` (0: none known yet). Our own waiting
   * reads go to it; other replicas ask again. With no leader known, they
   * wait (resendTicks at most) for one.
   */
  stepDown(leader: PeerId): void {
    const s = this.s;
    const own = [...this.queue, ...(this.round?.batches ?? [])].filter((b) => b.from === s.self).flatMap((b) => b.ids);
    this.queue = [];
    this.round = null;
    for (const id of own) this.asked.set(id, s.ticks);
    if (leader !== 0) this.toAsk.push(...own);
  }
}

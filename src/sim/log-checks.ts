// The log simulator's invariants, checked as things happen (see the list
// at the top of log-world.ts): one value per slot, commands some client
// issued, snapshots that agree, ballots led by their owners and by one life
// only, and memories that survive lost state.

import { ALPHA, change, currentVoters, memberChangeOf, type Membership } from '../paxos/membership.js';
import type { PeerId } from '../core/types.js';
import { ballotOwner } from '../log/ballot.js';
import type { Batch } from '../log/types.js';
import { batchText } from './log-trace.js';
import type { SimContext } from './log-world-types.js';

/** What the checks need to know of a replica. */
export interface Checked {
  readonly id: PeerId;
  readonly life: number;
  /** A promise lost with the disk, which recovery must restore, and when it was lost. */
  lost: { promise: number; at: number } | null;
  /** When this replica last lost durable state (-1: never). */
  readonly lostAt: number;
}

export class Invariants {
  private readonly chosen = new Map<number, { text: string; who: string }>();
  /** The highest slot any replica learned. */
  maxSlot = 0;
  private readonly snapshots = new Map<number, string>();
  /** ballot -> "replica#life" that led at it. */
  private readonly ledBy = new Map<number, string>();
  /** The voters the log gives slots from each point on: [first slot, voters], in slot order (trueVoters). */
  private readonly history: Array<[number, readonly PeerId[]]> = [];
  private truth: Membership | null = null;
  private truthAt = 0;
  /** Per applied slot, the configuration the first replica to apply it counted the next slots' quorums in. */
  private readonly configs = new Map<number, { text: string; who: string }>();
  private readonly issued = new Set<string>();
  /** When each slot was first applied anywhere: when its changes took effect. */
  private readonly appliedAt = new Map<number, number>();

  constructor(
    private readonly ctx: SimContext,
    private readonly n: number,
    /** Check durability (promises kept, ballots never reused). */
    private readonly durability: boolean,
    private readonly lostAt: (id: PeerId) => number,
  ) {}

  /** Every slot's chosen value, as text, by slot. */
  chosenTexts(): ReadonlyMap<number, string> {
    return new Map([...this.chosen].map(([slot, c]) => [slot, c.text]));
  }

  /** A client issued this command (as proposed). */
  issue(wire: unknown): void {
    this.issued.add(JSON.stringify(wire));
  }

  chose(rep: Checked, slot: number, v: Batch, how: string): void {
    const text = batchText(v);
    const prev = this.chosen.get(slot);
    if (prev === undefined) {
      this.chosen.set(slot, { text, who: `replica ${rep.id} (${how})` });
      if (slot > this.maxSlot) this.maxSlot = slot;
      if (v.length > 1) this.ctx.stats.multiCommandSlots += 1;
      for (const cmd of v) {
        const c = JSON.stringify(cmd);
        if (c !== '{"o":"noop"}' && !this.issued.has(c))
          this.ctx.fail('safety', `slot ${slot} holds ${c.slice(0, 80)}, which no client issued`);
      }
      this.ctx.note(`r${rep.id} ${how} slot ${slot} = ${text.slice(0, 100)}`);
    } else if (prev.text !== text) {
      this.ctx.fail(
        'safety',
        `slot ${slot}: replica ${rep.id} ${how} ${text.slice(0, 100)} but ${prev.who} had ${prev.text.slice(0, 100)}`,
      );
    }
  }

  snapshot(rep: Checked, index: number, data: string): void {
    const prev = this.snapshots.get(index);
    if (prev === undefined) this.snapshots.set(index, data);
    else if (prev !== data)
      this.ctx.fail(
        'safety',
        `replica ${rep.id}'s store at slot ${index} differs from another replica's at the same slot`,
      );
  }

  /**
   * Every replica that applied the log up to `applied` counts the quorums of
   * the slots after it in the same configuration: the one the log says
   * (paxos/membership.ts). memberOutsideLog must be caught here.
   */
  config(rep: Checked, applied: number, m: Membership): void {
    const text = JSON.stringify(m);
    const prev = this.configs.get(applied);
    if (prev === undefined) this.configs.set(applied, { text, who: `replica ${rep.id}` });
    else if (prev.text !== text)
      this.ctx.fail(
        'safety',
        `after slot ${applied}, replica ${rep.id} holds members ${shown(m)}, ${prev.who} ` +
          `${shown(JSON.parse(prev.text) as Membership)}: a configuration not from the log`,
      );
  }

  /**
   * Slot `slot` was applied somewhere with value `v`, in slot order: follow
   * its membership changes as the log gives them, each governing the slots
   * from its own + ALPHA on (twoChangesInFlight: all of them, even while the
   * last one takes effect).
   */
  applyTruth(slot: number, v: Batch, first: Membership, concurrent: boolean): void {
    if (slot <= this.truthAt) return;
    this.truthAt = slot;
    this.truth ??= first;
    if (this.history.length === 0) this.history.push([0, currentVoters(first)]);
    for (const cmd of v) {
      const c = memberChangeOf(cmd);
      if (c === null) continue;
      const o = change(this.truth, c, slot, concurrent);
      if (!o.ok) continue;
      this.truth = o.m;
      this.history.push([slot + ALPHA, currentVoters(o.m)]);
    }
  }

  /**
   * A replica that applied up to `applied` counts the quorums of the next
   * ALPHA slots among the voters the log gives them (paxos/membership.ts):
   * twoChangesInFlight must be caught here.
   */
  votersOf(rep: Checked, applied: number, votersAt: (slot: number) => readonly PeerId[]): void {
    if (this.history.length === 0 || applied > this.truthAt) return;
    for (let s = applied + 1; s <= applied + ALPHA; s++) {
      let want: readonly PeerId[] = this.history[0]![1];
      for (const [from, voters] of this.history) if (from <= s) want = voters;
      const got = votersAt(s);
      if (got.join(',') !== want.join(','))
        this.ctx.fail(
          'safety',
          `after slot ${applied}, replica ${rep.id} counts slot ${s}'s quorums among voters [${got.join(',')}], ` +
            `but the log gives it voters [${want.join(',')}]`,
        );
    }
  }

  /** A leader at a ballot: owned by it, and never used by two lives. */
  leads(rep: Checked, ballot: number): void {
    const who = `${rep.id}#${rep.life}`;
    const prev = this.ledBy.get(ballot);
    if (prev === undefined) {
      this.ledBy.set(ballot, who);
      this.ctx.stats.leaders += 1;
      this.ctx.note(`r${rep.id} leads at ballot ${ballot}`);
      if (this.durability && ballotOwner(ballot) !== rep.id)
        this.ctx.fail(
          'durability',
          `replica ${rep.id} leads at ballot ${ballot}, owned by replica ${ballotOwner(ballot)}`,
        );
    } else if (prev !== who && this.durability) {
      this.ctx.fail('durability', `ballot ${ballot} led by ${prev} and again by ${who}`);
    }
  }

  /** A replica applies `slot` now. */
  applied(slot: number): void {
    if (!this.appliedAt.has(slot)) this.appliedAt.set(slot, this.ctx.now);
  }

  /**
   * Leader `rep`, in office since `since`, proposes now that lease `id`
   * (`ttl` s; last renewed at slot `at`) expire. No lease expires within its
   * TTL of its last renewal taking effect, nor, across leader changes,
   * within TTL + the extension of a leader taking office (node/lease-clock.ts).
   */
  expiring(rep: Checked, id: number, at: number, ttl: number, since: number, extensionMs: number): void {
    this.issue({ o: 'expire', id, at });
    this.ctx.stats.leaseExpiries += 1;
    const now = this.ctx.now;
    const renewed = this.appliedAt.get(at);
    if (renewed !== undefined && now < renewed + ttl * 1000)
      this.ctx.fail(
        'safety',
        `replica ${rep.id} expires lease ${id} ${now - renewed} ms after its last renewal (slot ${at}) took ` +
          `effect, within its TTL of ${ttl} s`,
      );
    if (now < since + extensionMs + ttl * 1000)
      this.ctx.fail(
        'safety',
        `replica ${rep.id} expires lease ${id} ${now - since} ms after it took office, before the lease's TTL ` +
          `(${ttl} s) and the extension (${extensionMs} ms) a new leader gives every lease`,
      );
  }

  /** A replica that lost state votes again: its promise must cover the one it lost. */
  restored(rep: Checked, promise: number): void {
    const lost = rep.lost;
    rep.lost = null;
    if (lost === null || !this.durability || promise >= lost.promise) return;
    // Only the owner of a ballot knows it for sure; if it lost its own state since, its candidacy died with it.
    const owner = ballotOwner(lost.promise);
    if (owner !== rep.id && this.lostAt(owner) < lost.at) {
      this.ctx.fail(
        'durability',
        `replica ${rep.id} votes again with promise ${promise}, below the ${lost.promise} it had promised before ` +
          `it lost state`,
      );
    }
  }
}

/** Members as "1 2 4(learner)". */
function shown(m: Membership): string {
  return m.members.map((x) => `${x.id}${x.voter ? '' : '(learner)'}`).join(' ');
}

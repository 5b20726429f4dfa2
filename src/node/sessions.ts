// Clients waiting at a replica for their commands to be applied, by session
// (client id and seq: sessionKey, the one home of that rule), and which of
// those commands were passed on (to a leader, or into this replica's own
// pending queue): one that was may still be chosen, so it is never answered
// "no leader, nothing done".

import type { CheckedClientCommand } from '../sm/command.js';
import { MAX_PASSED_ON } from '../paxos/defaults.js';

/** A client command's identity across retries and replicas (its wire form's client and seq). */
export const sessionKey = (c: { readonly c: string; readonly s: number }): string => `${c.c}\u0000${c.s}`;

export interface Waiter<A> {
  readonly reply: (answer: A) => void;
}

interface Entry<A> {
  /** The command as proposed. */
  readonly cmd: CheckedClientCommand;
  list: Waiter<A>[];
  placed: boolean;
}

export class Waiters<A> {
  private readonly waiting = new Map<string, Entry<A>>();
  /**
   * Commands passed on whose clients all hung up before they were applied,
   * by session key (oldest first, at most MAX_PASSED_ON): a retry of one may
   * still be chosen, so it too is never answered "nothing done".
   */
  private readonly passedOn = new Set<string>();

  get size(): number {
    return this.waiting.size;
  }

  /** `w` waits for `cmd`; `placed`: it is being passed on now. */
  add(cmd: CheckedClientCommand, w: Waiter<A>, placed: boolean): void {
    const key = sessionKey(cmd);
    const entry = this.waiting.get(key) ?? { cmd, list: [], placed: this.passedOn.has(key) };
    if (placed) entry.placed = true;
    entry.list.push(w);
    this.waiting.set(key, entry);
  }

  /** `w`'s client went away before its answer. */
  drop(cmd: CheckedClientCommand, w: Waiter<A>): void {
    const key = sessionKey(cmd);
    const entry = this.waiting.get(key);
    if (entry === undefined) return;
    entry.list = entry.list.filter((x) => x !== w);
    if (entry.list.length > 0) return;
    this.waiting.delete(key);
    if (entry.placed) {
      this.passedOn.add(key);
      if (this.passedOn.size > MAX_PASSED_ON) this.passedOn.delete(this.passedOn.values().next().value!);
    }
  }

  /** Whether `cmd` was passed on: it may yet be chosen. */
  placed(cmd: CheckedClientCommand): boolean {
    return this.waiting.get(sessionKey(cmd))?.placed === true;
  }

  /** Every waiting command, all now passed on (again: to a new leader). */
  placeAll(): CheckedClientCommand[] {
    const cmds: CheckedClientCommand[] = [];
    for (const e of this.waiting.values()) {
      e.placed = true;
      cmds.push(e.cmd);
    }
    return cmds;
  }

  /** Answer everyone waiting for `cmd` (it was applied, or will not be). */
  answer(cmd: CheckedClientCommand, answer: A): void {
    const key = sessionKey(cmd);
    this.passedOn.delete(key); // settled: a retry now finds its session
    const entry = this.waiting.get(key);
    if (entry === undefined) return;
    this.waiting.delete(key);
    for (const w of entry.list) w.reply(answer);
  }
}

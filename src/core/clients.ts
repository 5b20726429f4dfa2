// Clients of a lab peer: a `get` hears what this peer knows is chosen; a
// `submit` to a proposer starts it (one proposal per peer: a later submit
// waits for the first one's outcome) and waits for its groups' outcome. The
// shell numbers each request (a ticket) and holds its connection; the core
// decides what each one hears, and when: answers leave in a Ready, after
// the state they report is saved.

import type { Outbox } from './ready.js';
import type { Accepted } from './types.js';
import { MAX_WAITING_CLIENTS } from '../paxos/defaults.js';

/** What the client rules read of, and do to, the node. */
export interface ClientView {
  /** What this peer knows is chosen. */
  chosen(): Accepted | null;
  /** The outcome for this peer's proposers' groups, if known. */
  outcome(): Accepted | null;
  /** The hosts that propose, if this peer does not (else null). */
  proposersElsewhere(): readonly string[] | null;
  /** Whether this peer's proposers have started. */
  proposing(): boolean;
  /** Start them, with `value` (a no-op if they have started). */
  propose(value: string): void;
}

export class Clients {
  private readonly waiting = new Set<number>();

  constructor(
    private readonly out: Outbox,
    private readonly node: ClientView,
  ) {}

  get(client: number): void {
    const known = this.node.chosen();
    this.out.answer(
      known === null ? { client, status: 'not_chosen' } : { client, status: 'chosen', v: known.v, n: known.n },
    );
  }

  submit(client: number, value: string): void {
    const elsewhere = this.node.proposersElsewhere();
    if (elsewhere !== null) return this.out.answer({ client, status: 'not_proposer', proposers: elsewhere });
    const outcome = this.node.outcome();
    if (outcome !== null) return this.out.answer({ client, status: 'chosen', v: outcome.v, n: outcome.n });
    if (this.waiting.size >= MAX_WAITING_CLIENTS) {
      return this.out.answer({
        client,
        status: 'busy',
        why: `${MAX_WAITING_CLIENTS} clients are already waiting; try again later`,
      });
    }
    this.waiting.add(client);
    this.out.note(
      'info',
      `client submits ${JSON.stringify(value.slice(0, 40))}` +
        `${this.node.proposing() ? '; already proposing, so it waits for the outcome' : ''}`,
    );
    this.node.propose(value);
  }

  /** The client hung up: nothing to answer. */
  hangUp(client: number): void {
    this.waiting.delete(client);
  }

  /** This peer printed chose for its proposers' groups: everyone waiting hears it. */
  decided(c: Accepted): void {
    for (const client of this.waiting) this.out.answer({ client, status: 'chosen', v: c.v, n: c.n });
    this.waiting.clear();
  }
}

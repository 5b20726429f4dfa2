// The lab core's output, in the replicated log's shape (log/types.ts): the
// core accumulates a Ready while the shell feeds it inputs (step, tick,
// propose, ...); the node loop (node/loop.ts, wired for the lab by
// node/lab-node.ts) takes it with ready(), performs it in the order below,
// and calls advance(). The daemon and the simulator both run that loop, so
// there is one way to perform a lab Ready.
//
// The order:
//  1. persist: save `records` (the durable state, when it changed), and
//     write the replica file once the saved state holds a chosen value;
//     nothing below happens before both are done;
//  2. print `lines`, in the order they happened (the graders diff them byte
//     for byte, so a `chose` line comes before the `sent chose` that
//     announces it), then send `messages`;
//  3. report `learned`, answer clients, check suspect links, say `notes` on
//     stderr.
// Lines are formatted here rather than by the shell because their order
// within a batch is the contract, and only the core knows it.

import { choseLine, messageLine } from './logline.js';
import type { Accepted, DurableState, LoggedMessage, Message, PeerId } from './types.js';

/** A message out, to one or more peers. */
export interface Outbound {
  readonly to: readonly PeerId[];
  readonly msg: Message;
  /** A retransmission or a chose_ack: no `sent` line, and not activity for --exit-after-idle. */
  readonly silent?: true;
}

/** What a client hears (clients.ts decides). */
export type ClientAnswer =
  | { readonly client: number; readonly status: 'chosen'; readonly v: string; readonly n: number }
  | { readonly client: number; readonly status: 'not_chosen' }
  /** This peer proposes for no group; `proposers` are the hosts that do. */
  | { readonly client: number; readonly status: 'not_proposer'; readonly proposers: readonly string[] }
  /** Too many clients are waiting already. */
  | { readonly client: number; readonly status: 'busy'; readonly why: string };

export interface Note {
  readonly level: 'info' | 'warn' | 'error';
  readonly text: string;
}

export interface LabReady {
  /** The durable state to save before anything else: one, or none when unchanged since the last advance(). */
  readonly records: readonly DurableState[];
  /**
   * Values this peer printed `chose` for, in order (the replica file holds the first the peer ever learned: the state's
   * `chosen`).
   */
  readonly learned: readonly Accepted[];
  /** stdout lines, in order. */
  readonly lines: readonly string[];
  readonly messages: readonly Outbound[];
  /** Answers to clients (by the shell's ticket numbers). */
  readonly answers: readonly ClientAnswer[];
  /**
   * These peers did not answer a round in time: the shell should check that
   * its links to them are alive, not retry into a socket that is dead.
   */
  readonly suspect: readonly PeerId[];
  /** Messages step() refused, and why: a shell warns, the simulator fails (its peers are correct). */
  readonly dropped: ReadonlyArray<{ readonly msg: Message; readonly why: string }>;
  /** For stderr. */
  readonly notes: readonly Note[];
  /** --exit-after-idle: no protocol message in or out for that long. */
  readonly idle: boolean;
}

/** Where the roles put their output until the shell takes it. */
export class Outbox {
  private learnedNow: Accepted[] = [];
  private linesNow: string[] = [];
  private messagesNow: Outbound[] = [];
  private answersNow: ClientAnswer[] = [];
  private suspectNow: PeerId[] = [];
  private droppedNow: Array<{ msg: Message; why: string }> = [];
  private notesNow: Note[] = [];
  private idleNow = false;
  /** Protocol activity since the last look (resets the idle countdown). */
  active = false;

  constructor(private readonly self: PeerId) {}

  get isEmpty(): boolean {
    return (
      this.linesNow.length +
        this.messagesNow.length +
        this.learnedNow.length +
        this.answersNow.length +
        this.suspectNow.length +
        this.droppedNow.length +
        this.notesNow.length ===
        0 && !this.idleNow
    );
  }

  received(msg: LoggedMessage): void {
    this.linesNow.push(messageLine('received', this.self, msg));
    this.active = true;
  }

  /** Send `msg`; a silent send prints no line and is not activity. */
  send(to: readonly PeerId[], msg: Message, silent = false): void {
    if (silent || msg.type === 'chose_ack') {
      this.messagesNow.push({ to, msg, silent: true });
      return;
    }
    this.messagesNow.push({ to, msg });
    this.linesNow.push(messageLine('sent', this.self, msg));
    this.active = true;
  }

  chose(c: Accepted): void {
    this.learnedNow.push(c);
    this.linesNow.push(choseLine(this.self, c.v, c.n));
  }

  answer(a: ClientAnswer): void {
    this.answersNow.push(a);
  }

  suspect(peers: readonly PeerId[]): void {
    this.suspectNow.push(...peers);
  }

  drop(msg: Message, why: string): void {
    this.droppedNow.push({ msg, why });
  }

  note(level: Note['level'], text: string): void {
    this.notesNow.push({ level, text });
  }

  idle(): void {
    this.idleNow = true;
  }

  /** Everything since the last take, with the state to save (if any) from the node. */
  take(persist: DurableState | null): LabReady {
    const r: LabReady = {
      records: persist === null ? [] : [persist],
      learned: this.learnedNow,
      lines: this.linesNow,
      messages: this.messagesNow,
      answers: this.answersNow,
      suspect: this.suspectNow,
      dropped: this.droppedNow,
      notes: this.notesNow,
      idle: this.idleNow,
    };
    this.learnedNow = [];
    this.linesNow = [];
    this.messagesNow = [];
    this.answersNow = [];
    this.suspectNow = [];
    this.droppedNow = [];
    this.notesNow = [];
    this.idleNow = false;
    return r;
  }
}

// Types shared by the pure Paxos core. Nothing here touches sockets, timers,
// clocks or disks: the daemon, the tests and the simulator feed messages in
// and perform the Ready that comes out (ready.ts).

// PeerId and the logged message types are shared with the replicated log
// (src/paxos/); re-exported so the lab's modules find them here too.
import type { PeerId } from '../paxos/ids.js';

export type { PeerId };
export type { MessageType } from '../paxos/logline.js';

/** A value some acceptor accepted, with the proposal number it came in. */
export interface Accepted {
  readonly n: number;
  readonly v: string;
}

/**
 * Messages between peers. The wire carries more than the log line shows: an
 * ack names the proposal it answers (`n`) and the acceptor's promise, so a
 * proposer never counts an ack for one number toward another.
 */
export type LoggedMessage =
  | { readonly type: 'prepare'; readonly from: PeerId; readonly n: number }
  | {
      readonly type: 'prepare_ack';
      readonly from: PeerId;
      /** The proposal this answers. */
      readonly n: number;
      /** The acceptor's promise after handling the prepare; above n means rejected. */
      readonly promised: number;
      readonly accepted: Accepted | null;
      /** A value this peer knows is chosen, if any (lets a rejected proposer stop). */
      readonly chosen: Accepted | null;
    }
  | { readonly type: 'accept'; readonly from: PeerId; readonly n: number; readonly v: string }
  | {
      readonly type: 'accept_ack';
      readonly from: PeerId;
      readonly n: number;
      readonly promised: number;
      readonly accepted: Accepted | null;
      readonly chosen: Accepted | null;
    }
  | { readonly type: 'chose'; readonly from: PeerId; readonly n: number; readonly v: string };

/**
 * Every message between peers: the five the log shows, plus `chose_ack`,
 * which a peer sends once it has durably learned the value chosen at `n`,
 * so the proposer that announced it stops retransmitting. Like the
 * heartbeats, it never appears on stdout: the log's five types are the
 * lab's contract.
 */
export type Message = LoggedMessage | { readonly type: 'chose_ack'; readonly from: PeerId; readonly n: number };

/** Everything a peer must find again after a restart. */
export interface DurableState {
  /** Highest proposal number this acceptor promised (0 = none). */
  readonly promised: number;
  readonly accepted: Accepted | null;
  /** Per proposer group: the last proposal number used (never reused). */
  readonly lastProposal: Readonly<Record<number, number>>;
  /** The value this peer learned as chosen, if any. */
  readonly chosen: Accepted | null;
}

export const EMPTY_STATE: DurableState = {
  promised: 0,
  accepted: null,
  lastProposal: {},
  chosen: null,
};

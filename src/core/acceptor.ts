// The acceptor rules of Paxos Made Simple, as docs/protocol.md states them:
//   prepare(n): if n > promised, promised := n. Reply with the accepted pair.
//   accept(n,v): if n >= promised, promised := accepted number := n and
//                accepted value := v. Reply with promised.
// One acceptor state per peer, shared by all the groups the peer accepts for:
// that is what lets proposer 2 in testcase 2 find proposer 1's value.

import type { Accepted } from './types.js';

export interface AcceptorState {
  readonly promised: number;
  readonly accepted: Accepted | null;
}

export interface AcceptorReply {
  /** The state after the request; persist it before replying if `changed`. */
  readonly state: AcceptorState;
  readonly changed: boolean;
  /** The promise after handling; a value above the request's n means rejected. */
  readonly promised: number;
  readonly accepted: Accepted | null;
}

export function handlePrepare(s: AcceptorState, n: number): AcceptorReply {
  const state = n > s.promised ? { ...s, promised: n } : s;
  return { state, changed: state !== s, promised: state.promised, accepted: state.accepted };
}

export function handleAccept(s: AcceptorState, n: number, v: string): AcceptorReply {
  if (n >= s.promised) {
    const same = s.promised === n && s.accepted?.n === n && s.accepted.v === v;
    const state = same ? s : { promised: n, accepted: { n, v } };
    return { state, changed: !same, promised: n, accepted: state.accepted };
  }
  return { state: s, changed: false, promised: s.promised, accepted: s.accepted };
}

// Broken Paxos, for the simulator's negative controls: each must be caught
// within a bounded number of seeds, or the simulator is not testing anything.

import type { AcceptorReply, AcceptorState } from '../core/acceptor.js';
import type { NodeVariant } from '../core/node.js';

export interface Broken {
  readonly name: string;
  readonly what: string;
  readonly variant?: NodeVariant;
  readonly forgetful?: boolean;
}

/** Accepts every accept, whatever it promised (it still raises its promise). */
function acceptRegardless(s: AcceptorState, n: number, v: string): AcceptorReply {
  const state = { promised: Math.max(s.promised, n), accepted: { n, v } };
  return { state, changed: true, promised: n, accepted: state.accepted };
}

export const BROKEN: readonly Broken[] = [
  { name: 'ignore-promise', what: 'an acceptor that ignores its promise', variant: { accept: acceptRegardless } },
  {
    name: 'no-adopt',
    what: 'a proposer that skips adopting the highest accepted value',
    variant: { adopt: () => null },
  },
  { name: 'quorum-of-one', what: 'a quorum of one', variant: { quorum: () => 1 } },
  { name: 'forgetful', what: 'peers that restart with empty state (no durable storage)', forgetful: true },
];

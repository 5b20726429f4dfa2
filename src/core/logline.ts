// The lab's stdout log line: a fixed, compact view of a message. The line's
// format itself (keys, their order) is frozen in src/paxos/logline.ts.
// Graders compare these byte for byte.

import { formatLine } from '../paxos/logline.js';
import type { LoggedMessage, PeerId } from './types.js';

/** The (value, number) a message shows in the log. */
export function view(msg: LoggedMessage): { value: string; num: number } {
  switch (msg.type) {
    case 'prepare':
      return { value: '', num: msg.n };
    case 'prepare_ack':
      // The accepted pair if the acceptor accepted anything, else "" with n.
      return msg.accepted === null ? { value: '', num: msg.n } : { value: msg.accepted.v, num: msg.accepted.n };
    case 'accept':
    case 'chose':
      return { value: msg.v, num: msg.n };
    case 'accept_ack':
      // The accepted value, and the promise after handling: above n = rejected.
      return { value: msg.accepted?.v ?? '', num: msg.promised };
  }
}

/** `peer_id` is the printer on sent lines and the sender on received lines. */
export function messageLine(action: 'sent' | 'received', self: PeerId, msg: LoggedMessage): string {
  const { value, num } = view(msg);
  return formatLine({
    peer_id: action === 'sent' ? self : msg.from,
    action,
    message_type: msg.type,
    message_value: value,
    proposal_num: num,
  });
}

export function choseLine(self: PeerId, value: string, n: number): string {
  return formatLine({ peer_id: self, action: 'chose', message_type: 'chose', message_value: value, proposal_num: n });
}

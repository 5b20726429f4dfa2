// The stdout log line: a fixed, compact view of a message, with the keys in
// exactly docs/protocol.md's order. Graders compare these byte for byte.

import type { LoggedMessage, MessageType, PeerId } from './types.js';

export type Action = 'sent' | 'received' | 'chose';

export interface LogLine {
  readonly peer_id: PeerId;
  readonly action: Action;
  readonly message_type: MessageType;
  readonly message_value: string;
  readonly proposal_num: number;
}

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

/** A replicated-log line (src/log/logline.ts): the lab's keys, then `slot`. */
export interface SlotLine extends LogLine {
  readonly slot: number;
}

export function formatLine(l: LogLine): string {
  return JSON.stringify(fields(l));
}

/** What a replica prints (src/log/logline.ts), so also what its transcripts are checked against. */
export function formatSlotLine(l: SlotLine): string {
  return JSON.stringify({ ...fields(l), slot: l.slot });
}

function fields(l: LogLine): LogLine {
  // Built field by field so the key order can never drift (nor a stray key, such as a slot, slip in).
  return {
    peer_id: l.peer_id,
    action: l.action,
    message_type: l.message_type,
    message_value: l.message_value,
    proposal_num: l.proposal_num,
  };
}

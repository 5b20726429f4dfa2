// Stdout lines for the replicated log: the lab's format, keys in the same
// order, with `slot` added after `proposal_num` (core/logline.ts's
// formatSlotLine, which the transcript checker holds lines to).
//   {"peer_id":2,"action":"sent","message_type":"accept","message_value":"[{\"o\":\"put\",...}]",
//    "proposal_num":5,"slot":17}
// message_value is the slot's batch as JSON on accept and chose lines, and
// "" on the others (a prepare_ack covers many slots).

import { formatSlotLine } from '../paxos/logline.js';
import type { PeerId } from '../paxos/ids.js';
import { jsonOfList } from '../util/json-once.js';
import type { MessageType } from '../paxos/logline.js';
import type { Batch, LogMessage } from './types.js';

export type LoggedLogMessage = Extract<
  LogMessage,
  { type: 'prepare' | 'prepare_ack' | 'accept' | 'accept_ack' | 'chose' }
>;

export function isLogged(m: LogMessage): m is LoggedLogMessage {
  return (
    m.type === 'prepare' ||
    m.type === 'prepare_ack' ||
    m.type === 'accept' ||
    m.type === 'accept_ack' ||
    m.type === 'chose'
  );
}

function format(
  peer: PeerId,
  action: 'sent' | 'received' | 'chose',
  type: MessageType,
  value: string,
  num: number,
  slot: number,
): string {
  return formatSlotLine({ peer_id: peer, action, message_type: type, message_value: value, proposal_num: num, slot });
}

/** `peer_id` is the printer on sent lines and the sender on received lines. */
export function logMessageLine(action: 'sent' | 'received', self: PeerId, m: LoggedLogMessage): string {
  const peer = action === 'sent' ? self : m.from;
  switch (m.type) {
    case 'prepare':
    case 'chose':
      return format(peer, action, m.type, '', m.n, m.slot);
    case 'prepare_ack':
    case 'accept_ack':
      // The promise after handling: above n means rejected, as in the lab.
      return format(peer, action, m.type, '', m.promised, m.slot);
    case 'accept':
      return format(peer, action, m.type, jsonOfList(m.v), m.n, m.slot);
  }
}

/** This replica learned that `slot` holds `v` (n: the ballot, 0 if learned from another replica's log). */
export function logChoseLine(self: PeerId, slot: number, n: number, v: Batch): string {
  return format(self, 'chose', 'chose', jsonOfList(v), n, slot);
}

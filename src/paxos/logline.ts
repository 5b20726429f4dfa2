// The stdout log line, frozen: the graders' contract, compared byte for byte.
// Both protocols print it (the lab's src/core/logline.ts, the replicated
// log's src/log/logline.ts, which adds `slot`), and the transcript readers,
// the charts and the live page read it. The keys are in exactly
// docs/protocol.md's order.

import type { PeerId } from './ids.js';

export type Action = 'sent' | 'received' | 'chose';

/** The message types a log line can show (the lab's and the replicated log's five). */
export type MessageType = 'prepare' | 'prepare_ack' | 'accept' | 'accept_ack' | 'chose';

export const MESSAGE_TYPES: readonly MessageType[] = ['prepare', 'prepare_ack', 'accept', 'accept_ack', 'chose'];

export interface LogLine {
  readonly peer_id: PeerId;
  readonly action: Action;
  readonly message_type: MessageType;
  readonly message_value: string;
  readonly proposal_num: number;
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

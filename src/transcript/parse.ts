// Reading log lines back: what the runner, the golden comparison and the
// checkers see of a peer's stdout. A replicated-log line is a lab line with
// `slot` last, so log-check.ts's parseSlotLine builds on the pieces here.

import { formatLine, type Action, type LogLine } from '../paxos/logline.js';
import { MESSAGE_TYPES, type MessageType } from '../paxos/logline.js';

const ACTIONS: readonly Action[] = ['sent', 'received', 'chose'];

export type Parsed<L> = { ok: true; line: L } | { ok: false; why: string };
export type ParsedLine = Parsed<LogLine>;

/** Parse one stdout line, and insist on the exact compact format and key order. */
export function parseLogLine(raw: string): ParsedLine {
  const r = parseFields(raw);
  return r.ok ? exactly(raw, r.line, formatLine) : r;
}

/** The lab's five fields of a JSON line, each checked, and the whole object (for a caller's further keys). */
export function parseFields(
  raw: string,
): { ok: true; line: LogLine; json: Record<string, unknown> } | { ok: false; why: string } {
  let o: unknown;
  try {
    o = JSON.parse(raw);
  } catch {
    return { ok: false, why: 'not JSON' };
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { ok: false, why: 'not a JSON object' };
  const r = o as Record<string, unknown>;
  const peer = r['peer_id'];
  const action = r['action'];
  const type = r['message_type'];
  const value = r['message_value'];
  const num = r['proposal_num'];
  if (!Number.isSafeInteger(peer) || (peer as number) < 1) return { ok: false, why: 'peer_id must be an integer >= 1' };
  if (!ACTIONS.includes(action as Action)) return { ok: false, why: `action must be one of ${ACTIONS.join(', ')}` };
  if (!MESSAGE_TYPES.includes(type as MessageType))
    return { ok: false, why: `message_type must be one of ${MESSAGE_TYPES.join(', ')}` };
  if (typeof value !== 'string') return { ok: false, why: 'message_value must be a string' };
  if (!Number.isSafeInteger(num) || (num as number) < 0)
    return { ok: false, why: 'proposal_num must be an integer >= 0' };
  const line: LogLine = {
    peer_id: peer as number,
    action: action as Action,
    message_type: type as MessageType,
    message_value: value,
    proposal_num: num as number,
  };
  return { ok: true, line, json: r };
}

/**
 * `line` if `format` prints it back as `raw` byte for byte: compact, no other
 * keys, in order. `line` is built in the format's key order, so its keys name it.
 */
export function exactly<L extends LogLine>(raw: string, line: L, format: (l: L) => string): Parsed<L> {
  if (format(line) === raw) return { ok: true, line };
  return {
    ok: false,
    why: `not in the exact format: compact JSON with keys ${Object.keys(line).join(', ')} in that order`,
  };
}

// Checking a replicated-log run (Multi-Paxos replicas, src/log/logline.ts)
// from its transcripts alone:
//   - every stdout line is a log line in the exact format, with `slot`;
//   - safety: no slot is chosen with two different values, across the run
//     and within one replica;
//   - a leader proposes one value per (slot, ballot): every `sent accept`
//     with the same slot and proposal_num carries the same value;
//   - warnings only: a `received` line that matches no `sent` line of its
//     sender (same type, slot, number and value), when the sender's
//     transcript is given.

import type { MessageType } from '../paxos/logline.js';
import { formatSlotLine, type SlotLine } from '../paxos/logline.js';
import type { Transcript, Violation } from './check.js';
import { exactly, parseFields, type Parsed } from './parse.js';

export type ParsedSlotLine = Parsed<SlotLine>;

/** Whether a raw stdout line looks like a replicated-log line (has a `slot` key). */
export function hasSlot(raw: string): boolean {
  return /,"slot":-?\d+\}\s*$/.test(raw);
}

/** Parse one replica stdout line: a lab line's checks, then `slot`, and the exact format with slot last. */
export function parseSlotLine(raw: string): ParsedSlotLine {
  const r = parseFields(raw);
  if (!r.ok) return r;
  const slot = r.json['slot'];
  if (!Number.isSafeInteger(slot) || (slot as number) < 0) return { ok: false, why: 'slot must be an integer >= 0' };
  return exactly(raw, { ...r.line, slot: slot as number }, formatSlotLine);
}

export interface LogCheckResult {
  readonly violations: Violation[];
  /** Suspicious but not unsafe (e.g. a received message whose send is not in its sender's transcript). */
  readonly warnings: Violation[];
  /** slot -> the value chosen there (the first chose line seen). */
  readonly chosen: ReadonlyMap<number, string>;
}

interface At {
  readonly peer: string;
  readonly line: number;
  readonly l: SlotLine;
}

const show = (v: string): string => JSON.stringify(v);

export function checkLogTranscripts(peers: readonly Transcript[]): LogCheckResult {
  const violations: Violation[] = [];
  const warnings: Violation[] = [];
  const chosen = new Map<number, At>(); // across the run: first chose per slot
  const accepts = new Map<string, At>(); // `${slot}|${n}` -> first sent accept
  const sentKeys = new Map<number, Set<string>>(); // sender id -> keys of its sent lines
  const received: At[] = [];

  for (const p of peers) {
    const mine = new Map<number, At>(); // this replica's first chose per slot
    const sends = new Set<string>();
    let whole = true;
    p.lines.forEach((raw, i) => {
      const r = parseSlotLine(raw);
      if (!r.ok) {
        whole = false;
        violations.push({ peer: p.label, line: i + 1, message: `not a valid log line (${r.why}): ${raw}` });
        return;
      }
      const l = r.line;
      const at: At = { peer: p.label, line: i + 1, l };
      if (l.action === 'chose') {
        const own = mine.get(l.slot);
        if (own === undefined) mine.set(l.slot, at);
        else if (own.l.message_value !== l.message_value) {
          violations.push({
            peer: p.label,
            line: i + 1,
            message:
              `safety: slot ${l.slot} chosen again with ${show(l.message_value)}, but this replica chose ` +
              `${show(own.l.message_value)} on line ${own.line}`,
          });
        }
        const first = chosen.get(l.slot);
        if (first === undefined) chosen.set(l.slot, at);
        else if (first.l.message_value !== l.message_value && first.peer !== p.label) {
          violations.push({
            peer: p.label,
            line: i + 1,
            message:
              `safety: slot ${l.slot}: chose ${show(l.message_value)}, but ${first.peer} line ${first.line}` +
              ` chose ${show(first.l.message_value)}`,
          });
        }
      } else if (l.action === 'sent') {
        sends.add(sendKey(l.message_type, l.peer_id, l.slot, l.proposal_num, l.message_value));
        if (l.message_type === 'accept') {
          const k = `${l.slot}|${l.proposal_num}`;
          const first = accepts.get(k);
          if (first === undefined) accepts.set(k, at);
          else if (first.l.message_value !== l.message_value) {
            violations.push({
              peer: p.label,
              line: i + 1,
              message:
                `slot ${l.slot} ballot ${l.proposal_num}: sent accept ${show(l.message_value)}, but ` +
                `${first.peer} line ${first.line} sent accept ${show(first.l.message_value)} for the same slot ` +
                `and ballot`,
            });
          }
        }
      } else {
        received.push(at);
      }
    });
    // Matching received lines against a transcript with bad lines would only add noise.
    if (p.id !== undefined && whole) sentKeys.set(p.id, new Set([...(sentKeys.get(p.id) ?? []), ...sends]));
  }

  for (const r of received) {
    const sends = sentKeys.get(r.l.peer_id);
    if (sends === undefined) continue; // the sender's transcript is not given
    if (!sends.has(sendKey(r.l.message_type, r.l.peer_id, r.l.slot, r.l.proposal_num, r.l.message_value))) {
      warnings.push({
        peer: r.peer,
        line: r.line,
        message:
          `received ${r.l.message_type} slot ${r.l.slot} n=${r.l.proposal_num} from peer ${r.l.peer_id}` +
          `, which has no matching sent line`,
      });
    }
  }

  return { violations, warnings, chosen: new Map([...chosen].map(([s, a]) => [s, a.l.message_value])) };
}

function sendKey(type: MessageType, sender: number, slot: number, n: number, value: string): string {
  return `${type}|${sender}|${slot}|${n}|${value}`;
}

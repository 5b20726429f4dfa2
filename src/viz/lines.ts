// One stdout line as the chart draws it. A replicated log's line carries a
// slot: it is drawn like a lab line, with the slot leading its value
// ("#17 ..."), so messages match by slot too (events.ts splits it back off
// for labels). Shared by `paxos viz` and the live page (src/ui).

import type { LogLine } from '../rules/index.js';
import { parseSlotLine } from '../transcript/log-check.js';
import { parseLogLine } from '../transcript/parse.js';

/** The chart's form of a stdout line, with its slot (log mode) or undefined if it is not a log line. */
export function chartLine(raw: string, logMode: boolean): { line: LogLine; slot: number | undefined } | undefined {
  if (!logMode) {
    const r = parseLogLine(raw);
    return r.ok ? { line: r.line, slot: undefined } : undefined;
  }
  const r = parseSlotLine(raw);
  if (!r.ok) return undefined;
  const { slot, ...line } = r.line;
  return { line: { ...line, message_value: `#${slot} ${line.message_value}` }, slot };
}

/** acceptor1,acceptor2,acceptor3 -> acceptor1,2,3: short enough for a lane. */
export function compactRoles(roles: readonly { kind: string; group: number }[]): string {
  const byKind = new Map<string, number[]>();
  for (const r of roles) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r.group]);
  return [...byKind].map(([kind, groups]) => (kind === 'replica' ? kind : `${kind}${groups.join(',')}`)).join(' ');
}

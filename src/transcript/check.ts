// Checking a whole run from its transcripts alone, with no goldens: what must
// hold in every run, whatever the races, crashes or retries.
//   - every stdout line is a log line in the exact format;
//   - each peer's lines keep the orderings the protocol guarantees (order.ts);
//   - safety: every `chose` line in the run names the same value, and that
//     value went out in some proposer's `sent accept`.

import type { Cluster } from '../config/cluster.js';
import type { LogLine } from '../core/logline.js';
import { orderViolations } from './order.js';
import { parseLogLine } from './parse.js';

export interface Transcript {
  readonly label: string;
  /** The peer's id in the hostsfile; undefined if it is not in it. */
  readonly id: number | undefined;
  readonly lines: readonly string[];
}

export interface Violation {
  readonly peer: string;
  /** 1-based line in that peer's transcript, when one line is to blame. */
  readonly line?: number;
  readonly message: string;
}

export function checkTranscripts(peers: readonly Transcript[], cluster: Pick<Cluster, 'stride' | 'acceptorsOf'>): Violation[] {
  const out: Violation[] = [];
  const chose: Array<{ peer: string; line: number; l: LogLine }> = [];
  const proposed = new Set<string>();
  for (const p of peers) {
    const parsed: LogLine[] = [];
    p.lines.forEach((raw, i) => {
      const r = parseLogLine(raw);
      if (!r.ok) out.push({ peer: p.label, line: i + 1, message: `not a valid log line (${r.why}): ${raw}` });
      else {
        parsed.push(r.line);
        if (r.line.action === 'chose') chose.push({ peer: p.label, line: i + 1, l: r.line });
        if (r.line.action === 'sent' && r.line.message_type === 'accept') proposed.add(r.line.message_value);
      }
    });
    if (p.id !== undefined && parsed.length === p.lines.length) {
      for (const v of orderViolations(parsed, p.id, cluster)) {
        out.push({ peer: p.label, line: v.index + 1, message: `out of order: ${v.why}: ${p.lines[v.index]}` });
      }
    }
  }
  const first = chose[0];
  for (const c of chose) {
    if (first !== undefined && c.l.message_value !== first.l.message_value) {
      out.push({
        peer: c.peer,
        line: c.line,
        message: `safety: chose ${JSON.stringify(c.l.message_value)}, but ${first.peer} line ${first.line} chose ${JSON.stringify(first.l.message_value)}`,
      });
    }
    if (!proposed.has(c.l.message_value)) {
      out.push({ peer: c.peer, line: c.line, message: `safety: chose ${JSON.stringify(c.l.message_value)}, which no proposer sent in an accept` });
    }
  }
  return out;
}

// Golden comparison. Messages from different peers race, so a peer's lines
// are compared as a multiset against its expected/<peer>.log; what the
// protocol does order (see order.ts) is checked on the actual lines.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Cluster } from '../config/hostsfile.js';
import { orderViolations } from './order.js';
import { parseLogLine } from './parse.js';
import type { LogLine } from '../paxos/logline.js';

export interface Mismatch {
  readonly peer: string;
  readonly message: string;
}

export interface PeerTranscript {
  /** The compose label, e.g. peer3; names the golden file expected/peer3.log. */
  readonly label: string;
  /** The peer's id in the hostsfile, or undefined if it is not in it. */
  readonly id: number | undefined;
  readonly lines: readonly string[];
}

export function readGoldens(dir: string): Map<string, string[]> | null {
  if (!existsSync(dir)) return null;
  const goldens = new Map<string, string[]>();
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.log')) continue;
    const text = readFileSync(path.join(dir, f), 'utf8');
    goldens.set(
      f.slice(0, -4),
      text.split(/\r?\n/).filter((l) => l.trim() !== ''),
    );
  }
  return goldens;
}

export function compareWithGoldens(
  goldens: ReadonlyMap<string, readonly string[]>,
  actual: readonly PeerTranscript[],
  cluster: Pick<Cluster, 'stride' | 'acceptorsOf'>,
  goldenDir = 'expected',
): Mismatch[] {
  const out: Mismatch[] = [];
  const labels = new Set(actual.map((p) => p.label));
  for (const label of goldens.keys()) {
    if (!labels.has(label))
      out.push({ peer: label, message: `${goldenDir}/${label}.log has no peer ${label} in this run` });
  }
  for (const peer of actual) {
    const expected = goldens.get(peer.label);
    const file = `${goldenDir}/${peer.label}.log`;
    if (expected === undefined) {
      out.push({ peer: peer.label, message: `no ${file}; write one (an empty file if the peer prints nothing)` });
      continue;
    }
    const mine = (message: string): void => void out.push({ peer: peer.label, message });
    const left = new Map<string, number[]>();
    expected.forEach((l, i) => left.set(l, [...(left.get(l) ?? []), i + 1]));
    const parsed: LogLine[] = [];
    peer.lines.forEach((l, i) => {
      const p = parseLogLine(l);
      if (p.ok) parsed.push(p.line);
      else mine(`line ${i + 1} is not a valid log line (${p.why}): ${l}`);
      const slots = left.get(l);
      if (slots !== undefined && slots.length > 0) slots.shift();
      else mine(`line ${i + 1} is not in ${file}: ${l}`);
    });
    for (const [l, slots] of left) for (const n of slots) mine(`missing ${file} line ${n}: ${l}`);
    if (peer.id !== undefined && parsed.length === peer.lines.length) {
      for (const v of orderViolations(parsed, peer.id, cluster))
        mine(`line ${v.index + 1} out of order: ${v.why}: ${peer.lines[v.index]}`);
    }
  }
  return out;
}

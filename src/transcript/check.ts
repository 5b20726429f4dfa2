// Checking a whole run from its transcripts alone, with no goldens: what must
// hold in every run, whatever the races, crashes or retries.
//   - every stdout line is a log line in the exact format;
//   - each peer's lines keep the orderings the protocol guarantees (order.ts);
//   - safety: every `chose` line in the run names the same value, and that
//     value went out in some proposer's `sent accept`;
//   - every `chose` (v, n) had a quorum of accept_acks (v, n) at the proposer
//     that ran n (when that proposer's transcript is given);
//   - each acceptor's accept_acks never go down (they show its promise);
//   - each proposer adopted the highest accepted value: the value of every
//     `sent accept` n is justified by some quorum of the prepare_acks that
//     arrived since `sent prepare` n. The log does not say which round an ack
//     answers, so a late ack from an older round may join the quorum: the
//     check can miss a bad adoption, but never fails a correct one.
//
// A resumed run (`paxos run --data-root` a second time) starts peers from the
// state an earlier run left, and its transcripts hold only this run. A peer
// that remembers the chosen value v prints `chose` v from memory: the accept
// and the acks that justified it are in the earlier run. So a `chose` of a
// remembered value needs no accept in this run, and no quorum of acks at a
// proposer that itself remembers v; every other check still holds, and every
// `chose` must agree with what the resumed peers remember.

import type { Cluster } from '../paxos/cluster.js';
import type { LogLine } from '../paxos/logline.js';
import { groupOfProposal } from '../paxos/numbering.js';
import { quorumOf } from '../paxos/quorum.js';
import { orderViolations } from './order.js';
import { parseLogLine } from './parse.js';

export interface Transcript {
  readonly label: string;
  /** The peer's id in the hostsfile; undefined if it is not in it. */
  readonly id: number | undefined;
  readonly lines: readonly string[];
  /**
   * The peer started from state an earlier run left (not empty), and
   * `remembered` is the value it had already learned as chosen, if it knew one.
   */
  readonly resumed?: { readonly remembered: string | undefined } | undefined;
}

export interface Violation {
  readonly peer: string;
  /** 1-based line in that peer's transcript, when one line is to blame. */
  readonly line?: number;
  readonly message: string;
}

export function checkTranscripts(
  peers: readonly Transcript[],
  cluster: Pick<Cluster, 'stride' | 'acceptorsOf' | 'proposerOf'>,
): Violation[] {
  const out: Violation[] = [];
  const chose: Array<{ peer: string; line: number; l: LogLine }> = [];
  const proposed = new Set<string>();
  const quorum = (n: number): number =>
    quorumOf(cluster.acceptorsOf(groupOfProposal(Math.max(1, n), cluster.stride)).length);
  const byId = new Map<number, { label: string; lines: LogLine[]; remembered: string | undefined }>();
  // What resumed peers remember, and who remembers it first.
  const remembered = new Map<string, string>();
  for (const p of peers) {
    const v = p.resumed?.remembered;
    if (v !== undefined && !remembered.has(v)) remembered.set(v, p.label);
  }
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
    if (p.id === undefined || parsed.length !== p.lines.length) continue;
    byId.set(p.id, { label: p.label, lines: parsed, remembered: p.resumed?.remembered });
    for (const v of orderViolations(parsed, p.id, cluster, p.resumed?.remembered)) {
      out.push({ peer: p.label, line: v.index + 1, message: `out of order: ${v.why}: ${p.lines[v.index]}` });
    }
    out.push(...promisesNeverDrop(p.label, parsed), ...adoptions(p.label, parsed, quorum));
  }

  // Every chose (v, n) needs a quorum of accept_acks (v, n) at n's proposer.
  const acksAt = new Map<string, { by: string; count: number } | null>();
  const matchingAcks = (v: string, n: number): { by: string; count: number } | null => {
    const key = `${v}\u0000${n}`;
    if (!acksAt.has(key)) {
      const proposer = cluster.proposerOf(groupOfProposal(Math.max(1, n), cluster.stride));
      const found = proposer === undefined ? undefined : byId.get(proposer.id);
      // Without that proposer's transcript there is nothing to count; nor when
      // it resumed remembering v: its acks came in the earlier run.
      const log = found?.remembered === v ? undefined : found;
      const acks = log?.lines.filter(
        (l) =>
          l.action === 'received' && l.message_type === 'accept_ack' && l.message_value === v && l.proposal_num === n,
      );
      acksAt.set(key, log === undefined ? null : { by: log.label, count: new Set(acks?.map((l) => l.peer_id)).size });
    }
    return acksAt.get(key)!;
  };
  for (const c of chose) {
    const acks = matchingAcks(c.l.message_value, c.l.proposal_num);
    if (acks !== null && acks.count < quorum(c.l.proposal_num)) {
      out.push({
        peer: c.peer,
        line: c.line,
        message:
          `chose ${JSON.stringify(c.l.message_value)} at ${c.l.proposal_num}, but ${acks.by} got only ` +
          `${acks.count} matching accept_acks (quorum ${quorum(c.l.proposal_num)})`,
      });
    }
  }
  // Resumed peers that remember different values: two values were chosen.
  const [firstMemory, ...otherMemories] = [...remembered];
  for (const [v, label] of otherMemories) {
    out.push({
      peer: label,
      message:
        `safety: resumed remembering ${JSON.stringify(v)} as chosen, but ${firstMemory![1]} remembers ` +
        `${JSON.stringify(firstMemory![0])}`,
    });
  }
  const first = chose[0];
  for (const c of chose) {
    if (firstMemory !== undefined) {
      if (c.l.message_value !== firstMemory[0]) {
        out.push({
          peer: c.peer,
          line: c.line,
          message:
            `safety: chose ${JSON.stringify(c.l.message_value)}, but ${firstMemory[1]} resumed remembering ` +
            `${JSON.stringify(firstMemory[0])} as chosen`,
        });
      }
    } else if (first !== undefined && c.l.message_value !== first.l.message_value) {
      out.push({
        peer: c.peer,
        line: c.line,
        message:
          `safety: chose ${JSON.stringify(c.l.message_value)}, but ${first.peer} line ${first.line} chose ` +
          `${JSON.stringify(first.l.message_value)}`,
      });
    }
    if (!proposed.has(c.l.message_value) && !remembered.has(c.l.message_value)) {
      out.push({
        peer: c.peer,
        line: c.line,
        message: `safety: chose ${JSON.stringify(c.l.message_value)}, which no proposer sent in an accept`,
      });
    }
  }
  return out;
}

/** An acceptor's accept_acks show its promise, which never goes down. */
function promisesNeverDrop(label: string, lines: readonly LogLine[]): Violation[] {
  const out: Violation[] = [];
  let last = 0;
  lines.forEach((l, i) => {
    if (l.action !== 'sent' || l.message_type !== 'accept_ack') return;
    if (l.proposal_num < last) {
      out.push({
        peer: label,
        line: i + 1,
        message: `accept_ack shows promise ${l.proposal_num}, below the ${last} this acceptor showed before`,
      });
    }
    last = Math.max(last, l.proposal_num);
  });
  return out;
}

/**
 * Whether the value of each `sent accept` n is the highest accepted value of
 * some quorum among the prepare_acks received since `sent prepare` n (any
 * value will do when that quorum accepted nothing).
 */
function adoptions(label: string, lines: readonly LogLine[], quorum: (n: number) => number): Violation[] {
  const out: Violation[] = [];
  const windows = new Map<number, LogLine[]>();
  lines.forEach((l, i) => {
    if (l.action === 'sent' && l.message_type === 'prepare') windows.set(l.proposal_num, []);
    else if (l.action === 'received' && l.message_type === 'prepare_ack') for (const w of windows.values()) w.push(l);
    else if (l.action === 'sent' && l.message_type === 'accept') {
      const acks = windows.get(l.proposal_num);
      if (acks === undefined) return; // order.ts reports an accept with no prepare
      const q = quorum(l.proposal_num);
      const empty = acks.filter((a) => a.message_value === '').length;
      if (empty >= q) return;
      // A quorum whose highest accepted pair is (v, m): every member accepted
      // nothing, or something numbered below m, or (v, m) itself.
      const ok = acks.some(
        (a) =>
          a.message_value === l.message_value &&
          acks.filter(
            (b) =>
              b.message_value === '' ||
              b.proposal_num < a.proposal_num ||
              (b.proposal_num === a.proposal_num && b.message_value === a.message_value),
          ).length >= q,
      );
      if (!ok) {
        const best = acks.filter((a) => a.message_value !== '').sort((a, b) => b.proposal_num - a.proposal_num)[0];
        out.push({
          peer: label,
          line: i + 1,
          message:
            `sent accept ${JSON.stringify(l.message_value)} at ${l.proposal_num}, but its promises report ` +
            (best === undefined ? 'values' : `${JSON.stringify(best.message_value)} accepted at ${best.proposal_num}`) +
            ' as the highest accepted: it must adopt that',
        });
      }
    }
  });
  return out;
}

// From transcripts to a sequence chart's events: one global order (logs have
// no timestamps, so causality decides: a received line goes after the sent
// line it matches), and one arrow per received message, from the sender's
// `sent` line to it. An acceptor answers requests in order, so its k-th ack
// answers its k-th request; that tells which acks are rejections.

import type { LogLine, PeerId } from '../rules/index.js';

export interface Lane {
  readonly label: string;
  readonly id: PeerId;
  readonly roles: string;
  /** A proposer's own value (its -v), and the seconds it waits first (-t), where the run's compose file says. */
  readonly proposes?: { readonly value: string; readonly after?: string };
}

export interface Row {
  /** Index of the lane this line was printed on. */
  readonly lane: number;
  readonly line: LogLine;
}

export interface Arrow {
  readonly from: number; // row of the sent line
  readonly to: number; // row of the received line
  readonly label: string;
  /** An ack that refuses the request it answers. */
  readonly rejected: boolean;
}

export interface Chart {
  readonly lanes: readonly Lane[];
  readonly rows: readonly Row[];
  readonly arrows: readonly Arrow[];
  /** Received lines with no matching sent line in the input. */
  readonly unmatched: number;
}

/** An ack also names its destination: two equal-looking acks may go to different proposers. */
const key = (sender: PeerId, l: LogLine, to?: PeerId): string =>
  `${sender}|${l.message_type}|${l.message_value}|${l.proposal_num}${to === undefined ? '' : `|${to}`}`;
const isAck = (l: LogLine): boolean => l.message_type === 'prepare_ack' || l.message_type === 'accept_ack';

export function buildChart(lanes: readonly Lane[], perLane: readonly (readonly LogLine[])[]): Chart {
  const laneOf = new Map(lanes.map((l, i) => [l.id, i]));
  const rows: Row[] = [];
  const arrows: Arrow[] = [];
  // Sent lines not yet drained, per (sender, type, value, number): a
  // broadcast is one sent line that several received lines match.
  const sent = new Map<string, number[]>();
  const next = perLane.map(() => 0);
  // Sent lines not yet placed, by (sender, type, value, number): a received
  // line whose send is still to come must wait for it, even when nothing
  // else can go on.
  const unplacedSends = new Map<string, number>();
  perLane.forEach((ls, lane) => {
    for (const l of ls)
      if (l.action === 'sent')
        unplacedSends.set(key(lanes[lane]!.id, l), (unplacedSends.get(key(lanes[lane]!.id, l)) ?? 0) + 1);
  });
  // What each acceptor was asked, by whom, in order: its k-th ack answers
  // its k-th request, which gives the ack's destination and the n it answers.
  const asked = new Map<string, Array<{ n: number; by: PeerId; slot: string }>>();
  const answered = new Map<number, number>(); // row of an ack -> n it answers
  let unmatched = 0;

  /** The key a received line matches its sent line by. */
  const recvKey = (lane: number, l: LogLine): string => key(l.peer_id, l, isAck(l) ? lanes[lane]!.id : undefined);
  const ready = (lane: number): boolean => {
    const l = perLane[lane]![next[lane]!];
    if (l === undefined) return false;
    if (l.action !== 'received') return true;
    return (sent.get(recvKey(lane, l))?.length ?? 0) > 0 || !laneOf.has(l.peer_id);
  };

  const place = (lane: number): void => {
    const l = perLane[lane]![next[lane]!++]!;
    const row = rows.length;
    rows.push({ lane, line: l });
    const self = lanes[lane]!.id;
    if (l.action === 'sent') {
      unplacedSends.set(key(self, l), unplacedSends.get(key(self, l))! - 1);
      const request = isAck(l)
        ? takeRequest(asked.get(`${self}|${l.message_type === 'prepare_ack' ? 'prepare' : 'accept'}`), split(l).slot)
        : undefined;
      if (request !== undefined) answered.set(row, request.n);
      const k = key(self, l, request?.by);
      sent.set(k, [...(sent.get(k) ?? []), row]);
    } else if (l.action === 'received') {
      if (l.message_type === 'prepare' || l.message_type === 'accept') {
        const k = `${self}|${l.message_type}`;
        asked.set(k, [...(asked.get(k) ?? []), { n: l.proposal_num, by: l.peer_id, slot: split(l).slot }]);
      }
      const from = sent.get(recvKey(lane, l));
      const src = from?.[0];
      if (src === undefined) {
        unmatched += 1;
        return;
      }
      // An ack is one message; a broadcast stays until the peer's next send of the same.
      if (isAck(l)) from!.shift();
      const n = answered.get(src);
      arrows.push({ from: src, to: row, label: labelOf(l, n), rejected: isRejection(l, n) });
    }
  };

  // Replay the run as a network would: a handler's lines come together (a
  // received line, then what it made the peer send or print); otherwise the
  // earliest message sent is delivered next; a line nothing caused (a
  // proposer starting, a timer) only when nothing is in flight.
  let burst = -1;
  const remaining = (lane: number): boolean => next[lane]! < perLane[lane]!.length;
  for (;;) {
    if (burst >= 0 && remaining(burst) && perLane[burst]![next[burst]!]!.action !== 'received') {
      place(burst);
      continue;
    }
    let best = -1;
    let bestSent = Infinity;
    for (let lane = 0; lane < perLane.length; lane++) {
      const l = perLane[lane]![next[lane]!];
      if (l?.action !== 'received' || !ready(lane)) continue;
      const src = sent.get(recvKey(lane, l))?.[0] ?? -1;
      if (src < bestSent) [best, bestSent] = [lane, src];
    }
    if (best < 0) best = perLane.findIndex((ls, i) => remaining(i) && ls[next[i]!]!.action !== 'received');
    // Nothing can go on causally (a send is missing from the input): take a
    // received line whose send is missing, so every line is drawn; one
    // whose send is merely later would lose its arrow (a part of a log, as
    // the live page draws, starts with such lines on every lane).
    if (best < 0) {
      best = perLane.findIndex((ls, i) => {
        const l = ls[next[i]!];
        return l !== undefined && (unplacedSends.get(key(l.peer_id, l)) ?? 0) === 0;
      });
    }
    if (best < 0) best = perLane.findIndex((_, i) => remaining(i));
    if (best < 0) break;
    place(best);
    burst = best;
  }
  return { lanes, rows, arrows, unmatched };
}

/**
 * The request an ack answers: the acceptor's oldest unanswered one; in a
 * replicated log, its oldest one for the ack's slot. A part of a log (the
 * live page's last lines, or a sample of its slots) may lack some requests,
 * and matching by slot keeps one missing request from shifting every later
 * ack onto the wrong request.
 */
function takeRequest<T extends { slot: string }>(queue: T[] | undefined, slot: string): T | undefined {
  if (queue === undefined) return undefined;
  const i = slot === '' ? 0 : queue.findIndex((r) => r.slot === slot);
  return i < 0 ? undefined : queue.splice(i, 1)[0];
}

/**
 * An ack that refuses its request: its promise (accept_ack) or accepted number (prepare_ack) is above the request's n.
 */
function isRejection(l: LogLine, n: number | undefined): boolean {
  if (n === undefined) return false;
  if (l.message_type === 'accept_ack') return l.proposal_num > n;
  if (l.message_type === 'prepare_ack') return split(l).value !== '' && l.proposal_num > n;
  return false;
}

/** A replicated log's line carries its slot as a "#17 " prefix of the value (see viz-command). */
function split(l: LogLine): { slot: string; value: string } {
  const m = /^(#\d+) (.*)$/s.exec(l.message_value);
  return m === null ? { slot: '', value: l.message_value } : { slot: `${m[1]!} `, value: m[2]! };
}

/**
 * A value short enough for a label. A replicated log's value is a batch of
 * commands as JSON: it is named by its commands ("put greeting", "get k +3",
 * "no-op") rather than cut off mid-JSON.
 */
export function shortValue(l: LogLine, max = 12): string {
  const { slot, value } = split(l);
  let v = value;
  if (slot !== '' && value.startsWith('[')) {
    try {
      const batch = JSON.parse(value) as unknown;
      if (Array.isArray(batch)) {
        const first = batch[0] as { o?: unknown; k?: unknown } | undefined;
        const one =
          first === undefined
            ? 'no-op'
            : `${String(first.o ?? '?')}${typeof first.k === 'string' ? ` ${first.k}` : ''}`;
        v = batch.length > 1 ? `${one} +${batch.length - 1}` : one;
      }
    } catch {
      // not JSON after all: shown as it is
    }
  }
  return v === '' ? '∅' : v.length > max ? `${v.slice(0, max - 1)}…` : v;
}

function labelOf(l: LogLine, n: number | undefined): string {
  const { slot, value } = split(l);
  const v = shortValue(l);
  switch (l.message_type) {
    case 'prepare':
      return `${slot}prepare n=${l.proposal_num}`;
    case 'accept':
      return `${slot}accept ${v} n=${l.proposal_num}`;
    case 'chose':
      return `${slot}chose ${v} n=${l.proposal_num}`;
    case 'prepare_ack':
      return (
        `${slot}promise${n === undefined ? '' : ` ${n}`}: ` +
        `${value === '' ? 'had none' : `had ${v}@${l.proposal_num}`}`
      );
    case 'accept_ack':
      return isRejection(l, n)
        ? `${slot}reject: promised ${l.proposal_num}`
        : `${slot}accepted ${v} n=${l.proposal_num}`;
  }
}

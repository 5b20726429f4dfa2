// What each peer's lane header shows, worked out from the lines the peers
// print (the runner's knowledge), so the daemons need no status query.
// Lab: what an acceptor promised and accepted (by the core's own acceptor
// rule, replayed over the lines it received), what a proposer proposes,
// what was chosen. Replicated log: ballot, commit and applied index, log
// length, and the store's size, from a shadow store that applies each
// chosen slot's batch in order, as the replica does.

import {
  checkCommand,
  handleAccept,
  handlePrepare,
  KvStore,
  type AcceptorState,
  type CheckedCommand,
  type LogLine,
} from '../rules/index.js';
import type { PeerFacts } from './protocol.js';

export interface PeerTracker {
  /** One parsed line this peer printed (log mode: `slot` set). */
  see(line: LogLine, slot: number | undefined): void;
  /** Its own ballot, for telling the leader (log mode), else 0. */
  readonly ownBallot: number;
  /** Highest ballot it has promised or used. */
  readonly promise: number;
  facts(role: string): PeerFacts;
}

export function labTracker(): PeerTracker {
  let acceptor: AcceptorState = { promised: 0, accepted: null };
  let chosen: string | undefined;
  let proposing: number | undefined;
  return {
    see(l) {
      if (l.action === 'chose') chosen = l.message_value;
      else if (l.action === 'sent' && l.message_type === 'prepare') proposing = l.proposal_num;
      else if (l.action === 'received' && l.message_type === 'prepare')
        acceptor = handlePrepare(acceptor, l.proposal_num).state;
      else if (l.action === 'received' && l.message_type === 'accept')
        acceptor = handleAccept(acceptor, l.proposal_num, l.message_value).state;
    },
    ownBallot: 0,
    get promise() {
      return acceptor.promised;
    },
    facts() {
      const f: Record<string, string> = {};
      const { promised, accepted } = acceptor;
      if (proposing !== undefined) f['proposing'] = `n=${proposing}`;
      if (promised > 0) f['promised'] = String(promised);
      if (accepted !== null) f['accepted'] = `(${accepted.n}, ${show(accepted.v)})`;
      f['chosen'] = chosen === undefined ? '-' : show(chosen);
      return f;
    },
  };
}

export function logTracker(): PeerTracker {
  let promise = 0;
  let ownBallot = 0;
  const slots = slotCounter();
  const chosen = new Map<number, readonly CheckedCommand[]>();
  let commit = 0;
  const store = new KvStore();
  return {
    see(l, slot) {
      if (slot === undefined) return;
      if (l.action === 'sent' && (l.message_type === 'prepare' || l.message_type === 'accept')) {
        ownBallot = Math.max(ownBallot, l.proposal_num);
        promise = Math.max(promise, l.proposal_num);
      }
      // An ack's number is the acceptor's promise after handling the message.
      if (l.action === 'sent' && (l.message_type === 'prepare_ack' || l.message_type === 'accept_ack'))
        promise = Math.max(promise, l.proposal_num);
      if (l.message_type === 'accept' || l.action === 'chose') slots.add(slot);
      if (l.action !== 'chose') return;
      commit = Math.max(commit, slot);
      if (slot <= store.appliedIndex || chosen.has(slot)) return;
      // chartLine put the slot in front of the value ("#17 ..."): take it off.
      const prefix = `#${slot} `;
      chosen.set(
        slot,
        batchOf(l.message_value.startsWith(prefix) ? l.message_value.slice(prefix.length) : l.message_value),
      );
      // Apply strictly in order, never past a hole, as the replica does.
      for (let next = store.appliedIndex + 1; chosen.has(next); next++) {
        store.applyBatch(chosen.get(next)!, next);
        chosen.delete(next);
      }
    },
    get ownBallot() {
      return ownBallot;
    },
    get promise() {
      return promise;
    },
    facts(role) {
      return {
        role,
        ballot: String(promise),
        commit: String(commit),
        applied: String(store.appliedIndex),
        log: String(slots.count),
        keys: String(store.size),
      };
    },
  };
}

/** Slots kept individually above the contiguous prefix, at most (see slotCounter). */
const SLOT_WINDOW = 4096;

/**
 * How many distinct slots a peer has seen, in bounded memory: the slots
 * 1..floor count as seen, and only those above it are kept. The floor
 * rises over every slot seen without a hole below it; if more than
 * SLOT_WINDOW slots are kept (holes, or a log that starts mid-way after a
 * restart), it jumps to SLOT_WINDOW/2 below the newest, and a slot below
 * the floor that shows up later is no longer counted.
 */
function slotCounter(): { add(slot: number): void; readonly count: number } {
  let floor = 0;
  let count = 0;
  const above = new Set<number>();
  return {
    add(slot) {
      if (slot <= floor || above.has(slot)) return;
      above.add(slot);
      count += 1;
      if (above.size > SLOT_WINDOW) {
        floor = Math.max(...above) - SLOT_WINDOW / 2;
        for (const k of above) if (k <= floor) above.delete(k);
      }
      while (above.delete(floor + 1)) floor += 1;
    },
    get count() {
      return count;
    },
  };
}

/** A chose line's batch; anything unreadable counts as a no-op, so the shadow store never stops. */
/** A chosen line's batch, each command checked as it arrives (src/sm/command.ts); invalid ones are left out. */
function batchOf(value: string): CheckedCommand[] {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  const out: CheckedCommand[] = [];
  for (const c of raw) {
    const d = checkCommand(c);
    if (d.ok) out.push(d.value);
  }
  return out;
}

function show(v: string): string {
  return v.length > 14 ? `${JSON.stringify(v.slice(0, 12))}…` : JSON.stringify(v);
}

/**
 * The leader of a replicated log, as far as the lines tell: the running
 * replica whose own ballot is the highest promise anyone holds. Undefined
 * when that replica is down or no one has stood yet.
 */
export function leaderOf(trackers: readonly PeerTracker[], running: readonly boolean[]): number | undefined {
  const top = Math.max(0, ...trackers.map((t) => t.promise));
  if (top === 0) return undefined;
  const i = trackers.findIndex((t, k) => t.ownBallot === top && running[k] === true);
  return i < 0 ? undefined : i;
}

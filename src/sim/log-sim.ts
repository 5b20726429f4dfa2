// A deterministic simulator for the replicated log: N LogNodes with their
// key-value stores and simulated disks, a network that delays, drops,
// duplicates and reorders, partitions, crashes and restarts, and clients
// issuing random put, get and cas. Same seed, same run.
//
// Checked after every event:
//   - no slot has two different values learned or applied anywhere;
//   - every replica applies slots one after another, with no hole, so the
//     applied sequences are prefixes of one another;
// and at the end: the clients' history is linearizable, and once faults
// stop every replica catches up and every client finishes (liveness).
//
// Negative controls (broken on purpose; each must be caught):
//   skipPhase1    a new leader proposes without phase 1;
//   forgetLog     a replica restarts with an empty disk (loses its votes);
//   applyPastHole a replica applies a chosen slot before earlier ones;
//   staleReads    a replica that thinks it leads answers gets from its own store.

import type { PeerId } from '../core/types.js';
import { mulberry32, pick } from '../core/prng.js';
import { checkHistory, type CheckResult } from '../lincheck/checker.js';
import { parseHistory } from '../lincheck/history.js';
import { LogNode } from '../log/node.js';
import { DEFAULT_LOG_TIMING, replay, type Batch, type LogMessage, type LogRecord, type Ready } from '../log/types.js';
import { decodeCommand, encodeResult } from '../sm/command.js';
import { KvStore } from '../sm/kv.js';

export type LogVariantName = 'skipPhase1' | 'forgetLog' | 'applyPastHole' | 'staleReads';
export const LOG_VARIANTS: readonly LogVariantName[] = ['skipPhase1', 'forgetLog', 'applyPastHole', 'staleReads'];

export interface LogSimOptions {
  readonly seed: number;
  readonly replicas?: number;
  readonly clients?: number;
  readonly variant?: LogVariantName;
  /** Simulated ms of faults, then as long again without. */
  readonly faultMs?: number;
}

export interface LogSimResult {
  readonly seed: number;
  /** The first safety violation, if any. */
  readonly violation: string | null;
  readonly lincheck: CheckResult['verdict'];
  /** Every replica caught up and every client finished after the faults. */
  readonly live: boolean;
  readonly ops: number;
  readonly slots: number;
  readonly events: number;
}

const TICK_MS = 10;
const SNAPSHOT_EVERY = 25;

interface Disk {
  records: LogRecord[];
  snap: { index: number; data: string } | null;
}

interface Replica {
  readonly id: PeerId;
  node: LogNode;
  kv: KvStore;
  readonly disk: Disk;
  up: boolean;
  /** Last slot applied by this incarnation (its store's index). */
  lastApplied: number;
  /** Clients waiting here: client\0seq -> callback (a result, or why there is none). */
  readonly waiting: Map<string, (r: Record<string, unknown> | 'refused' | 'unknown') => void>;
}

interface Event {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
}

export function runLogSim(o: LogSimOptions): LogSimResult {
  const rng = mulberry32(o.seed);
  const n = o.replicas ?? 5;
  const faultMs = o.faultMs ?? 3000;
  const endMs = faultMs * 2 + 2000;
  const variant = o.variant;
  const nodeVariant = variant === 'skipPhase1' ? { skipPhase1: true } : variant === 'applyPastHole' ? { applyPastHole: true } : {};
  let now = 0;
  let seq = 0;
  let events = 0;
  const queue: Event[] = [];
  const at = (delay: number, run: () => void): void => {
    const e = { at: now + delay, seq: seq++, run };
    // Binary insertion keeps the queue ordered by (time, seq).
    let lo = 0;
    let hi = queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const q = queue[mid]!;
      if (q.at < e.at || (q.at === e.at && q.seq < e.seq)) lo = mid + 1;
      else hi = mid;
    }
    queue.splice(lo, 0, e);
  };
  let violation: string | null = null;
  const fail = (why: string): void => void (violation ??= `t=${now} ms: ${why}`);

  const chosen = new Map<number, string>();
  const noteChosen = (who: PeerId, slot: number, v: Batch): void => {
    const text = JSON.stringify(v);
    const prev = chosen.get(slot);
    if (prev === undefined) chosen.set(slot, text);
    else if (prev !== text) fail(`slot ${slot}: replica ${who} has ${text.slice(0, 80)} but ${prev.slice(0, 80)} was chosen`);
  };

  const newNode = (id: PeerId, disk: Disk): LogNode =>
    new LogNode({ self: id, replicas: n, random: mulberry32(o.seed * 31 + id * 7 + events), timing: DEFAULT_LOG_TIMING, variant: nodeVariant }, replay(disk.records, disk.snap?.index ?? 0));
  const replicas: Replica[] = [];
  for (let id = 1; id <= n; id++) {
    const disk: Disk = { records: [], snap: null };
    replicas.push({ id, node: newNode(id, disk), kv: new KvStore(), disk, up: true, lastApplied: 0, waiting: new Map() });
  }
  const byId = (id: PeerId): Replica => replicas[id - 1]!;

  // Network faults.
  let dropRate = 0;
  let dupRate = 0;
  const cut = new Set<string>();
  const blocked = (a: PeerId, b: PeerId): boolean => cut.has(`${a}>${b}`);
  const deliver = (to: PeerId, msg: LogMessage): void => {
    const r = byId(to);
    if (!r.up) return;
    r.node.step(msg);
    drain(r);
  };
  const send = (from: PeerId, to: PeerId, msg: LogMessage): void => {
    if (blocked(from, to) || rng() < dropRate) return;
    const copies = rng() < dupRate ? 2 : 1;
    for (let i = 0; i < copies; i++) at(1 + Math.floor(rng() * 15), () => (blocked(from, to) ? undefined : deliver(to, msg)));
  };

  const perform = (r: Replica, ready: Ready): void => {
    for (const out of ready.early) for (const to of out.to) send(r.id, to, out.msg);
    r.disk.records.push(...ready.records);
    for (const out of ready.messages) for (const to of out.to) send(r.id, to, out.msg);
    for (const l of ready.learned) noteChosen(r.id, l.slot, l.v);
    if (ready.snapshot !== null) {
      r.kv = KvStore.restore(new TextEncoder().encode(ready.snapshot.data));
      r.disk.snap = ready.snapshot;
      r.disk.records = r.node.liveRecords();
      r.lastApplied = ready.snapshot.index;
    }
    for (const c of ready.committed) {
      if (c.slot !== r.lastApplied + 1) fail(`replica ${r.id} applied slot ${c.slot} right after slot ${r.lastApplied}: a hole`);
      noteChosen(r.id, c.slot, c.v);
      r.lastApplied = c.slot;
      const cmds = c.v.map((x) => {
        const d = decodeCommand(x);
        if (!d.ok) throw new Error(`bad command in slot ${c.slot}: ${d.why}`);
        return d.value;
      });
      // A store that skipped a slot cannot apply at its index; that is the violation above.
      if (c.slot <= r.kv.appliedIndex) continue;
      const results = r.kv.applyBatch(cmds, c.slot);
      cmds.forEach((cmd, i) => {
        if (cmd.op === 'noop') return;
        const key = `${cmd.client}\u0000${cmd.seq}`;
        const w = r.waiting.get(key);
        if (w !== undefined) {
          r.waiting.delete(key);
          w(encodeResult(results[i]!));
        }
      });
    }
    for (const to of ready.sendSnapshotTo) {
      send(r.id, to, { type: 'snapshot', from: r.id, index: r.kv.appliedIndex, data: new TextDecoder().decode(r.kv.snapshot()) });
    }
    for (const raw of ready.unplaced) {
      const d = decodeCommand(raw);
      if (d.ok && d.value.op !== 'noop') {
        const key = `${d.value.client}\u0000${d.value.seq}`;
        const w = r.waiting.get(key);
        r.waiting.delete(key);
        w?.('refused'); // no leader known: never proposed
      }
    }
    if (r.kv.appliedIndex - (r.disk.snap?.index ?? 0) >= SNAPSHOT_EVERY) {
      const index = r.kv.appliedIndex;
      r.disk.snap = { index, data: new TextDecoder().decode(r.kv.snapshot()) };
      r.node.compact(index, index + 1 - 10);
      r.disk.records = r.node.liveRecords();
    }
  };
  const drain = (r: Replica): void => {
    while (r.up && r.node.hasReady) perform(r, r.node.ready());
  };

  const crash = (r: Replica): void => {
    r.up = false;
    // It may have passed the command on before it died: the outcome is unknown.
    for (const w of r.waiting.values()) w('unknown');
    r.waiting.clear();
  };
  const restart = (r: Replica): void => {
    if (variant === 'forgetLog') {
      r.disk.records = [];
      r.disk.snap = null;
    }
    r.kv = r.disk.snap === null ? new KvStore() : KvStore.restore(new TextEncoder().encode(r.disk.snap.data));
    r.lastApplied = r.disk.snap?.index ?? 0;
    r.node = newNode(r.id, r.disk);
    r.up = true;
    drain(r);
  };

  // Ticks.
  const tick = (): void => {
    for (const r of replicas) {
      if (!r.up) continue;
      r.node.tick();
      drain(r);
    }
    if (now + TICK_MS <= endMs) at(TICK_MS, tick);
  };
  at(TICK_MS, tick);

  // Faults, during the first faultMs.
  const leader = (): Replica | undefined => replicas.find((r) => r.up && r.node.role === 'leader');
  const heal = (): void => {
    cut.clear();
    dropRate = 0;
    dupRate = 0;
  };
  const fault = (): void => {
    if (now >= faultMs) return;
    heal();
    const L = leader();
    const kind = pick(rng, ['crash', 'crash', 'isolate', 'split', 'lossy', 'none'] as const);
    if (kind === 'crash') {
      const victim = L !== undefined && rng() < 0.6 ? L : pick(rng, replicas);
      if (victim.up) {
        crash(victim);
        at(50 + Math.floor(rng() * 400), () => restart(victim));
      }
    } else if (kind === 'isolate' && L !== undefined) {
      for (const r of replicas) if (r !== L) cut.add(`${L.id}>${r.id}`).add(`${r.id}>${L.id}`);
    } else if (kind === 'split') {
      const minority = new Set(replicas.filter(() => rng() < 0.4).map((r) => r.id));
      for (const a of replicas) for (const b of replicas) if (minority.has(a.id) !== minority.has(b.id)) cut.add(`${a.id}>${b.id}`);
    } else if (kind === 'lossy') {
      dropRate = 0.2;
      dupRate = 0.1;
    }
    at(150 + Math.floor(rng() * 350), fault);
  };
  at(300, fault);
  at(faultMs, () => {
    heal();
    for (const r of replicas) if (!r.up) restart(r);
  });

  // Clients.
  const history: Array<[number, number, string]> = [];
  let order = 0;
  const record = (time: number, ev: object): void => void history.push([time, order++, JSON.stringify({ ...ev, time })]);
  const clients = o.clients ?? 3;
  const keys = ['a', 'b'];
  let valueCounter = 0;
  let ops = 0;
  const finished: boolean[] = [];
  const client = (c: number): void => {
    let incarnation = 0;
    let id = `s${o.seed}c${c}`;
    let cseq = 0;
    const lastSeen = new Map<string, string | null>();
    const next = (): void => {
      if (now > endMs - 1500) {
        finished[c] = true;
        return;
      }
      const f = pick(rng, ['put', 'get', 'get', 'cas'] as const);
      const key = pick(rng, keys);
      cseq += 1;
      const value = `v${++valueCounter}`;
      const expected = lastSeen.get(key) ?? null;
      const cmd = f === 'put' ? { o: 'put', c: id, s: cseq, k: key, v: value } : f === 'get' ? { o: 'get', c: id, s: cseq, k: key } : { o: 'cas', c: id, s: cseq, k: key, e: expected, v: value };
      const process_ = `c${c}.${incarnation}`;
      const invoked = now;
      const invoke = { process: process_, type: 'invoke', f, key, ...(f === 'put' ? { value } : f === 'cas' ? { value: [expected, value] } : {}) };
      const r = pick(rng, replicas);
      let done = false;
      const finish = (res: Record<string, unknown> | 'refused' | 'unknown'): void => {
        if (done) return;
        done = true;
        ops += 1;
        if (res === 'refused') {
          cseq -= 1; // refused, never applied: try again
          at(20 + Math.floor(rng() * 50), next);
          return;
        }
        if (res === 'unknown' || res['r'] === 'stale' || res['r'] === 'expired') {
          // Unknown outcome: retire this process and session.
          record(invoked, invoke);
          record(now, { process: process_, type: 'info', f, key });
          incarnation += 1;
          id = `s${o.seed}c${c}i${incarnation}`;
          cseq = 0;
        } else if (f === 'get') {
          const v = (res['v'] as string | null | undefined) ?? null;
          lastSeen.set(key, v);
          record(invoked, invoke);
          record(now, { process: process_, type: 'ok', f, key, value: v });
        } else if (res['r'] === 'ok') {
          lastSeen.set(key, value);
          record(invoked, invoke);
          record(now, { process: process_, type: 'ok', f, key });
        } else {
          lastSeen.set(key, (res['cur'] as string | null | undefined) ?? null);
          record(invoked, invoke);
          record(now, { process: process_, type: 'fail', f, key });
        }
        at(1 + Math.floor(rng() * 20), next);
      };
      if (!r.up) return finish('refused');
      if (variant === 'staleReads' && f === 'get' && r.node.role === 'leader') {
        // Broken on purpose: answered from this replica's own store.
        at(1, () => finish({ r: 'ok', v: r.kv.read(key) }));
        return;
      }
      r.waiting.set(`${id}\u0000${cseq}`, finish);
      r.node.propose([cmd]);
      drain(r);
      at(400, () => finish('unknown'));
    };
    at(Math.floor(rng() * 50), next);
  };
  for (let c = 0; c < clients; c++) {
    finished.push(false);
    client(c);
  }

  while (queue.length > 0 && violation === null) {
    const e = queue.shift()!;
    now = e.at;
    e.run();
    events += 1;
  }

  history.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const text = history.map((h) => h[2]).join('\n');
  const checked = text === '' ? null : checkHistory(parseHistory(text, `seed ${o.seed}`), { maxSteps: 2_000_000 });
  const verdict = checked?.verdict ?? 'ok';
  if (violation === null && checked?.verdict === 'illegal') violation = `the client history is not linearizable: ${checked.failures[0]!.message}`;
  const top = Math.max(...replicas.map((r) => r.lastApplied));
  const live = violation === null && finished.every((f) => f) && replicas.every((r) => r.up && r.lastApplied === top);
  return { seed: o.seed, violation, lincheck: verdict, live, ops, slots: chosen.size, events };
}

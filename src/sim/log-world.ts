// A deterministic simulator for the replicated log (Multi-Paxos + the
// key-value store): the real LogNode and KvStore, not copies, on a simulated
// clock, network and disk, driven by one seeded PRNG, so a seed replays
// exactly.
//
// Each replica is a LogNode, a KvStore and a simulated durable store: the
// list of LogRecords appended from every Ready (all of a Ready's records are
// "fsync'd" before its messages leave, as the Ready contract demands) and
// the latest state-machine snapshot (a Ready's `early` messages leave before
// that fsync, the rest after). Every K applied slots the shell takes a
// snapshot, compacts the node and checkpoints the record list to
// liveRecords(), so followers that fall behind catch up by `entries` or, past
// the compacted prefix, by `snapshot`. A restart rebuilds the node from
// replay(records, snapshot.index) and the store from the snapshot.
//
// For `faultMs` of simulated time the world injects faults: crashes (also in
// the middle of a Ready: before its records are durable, or after they are
// but before its messages leave) and restarts, long outages (so the replica
// needs a snapshot to catch up), partitions (isolate the leader, mute it
// (it hears everyone, nobody hears it), minority / majority splits, one-way
// cuts), message drop, duplication, long delays
// (reordering) and a long tail (a few messages held back up to a second, so
// they arrive long stale). Then a quiet period: no faults, everyone up, a
// reliable network; by its end every replica must have applied the same last
// slot and every client must have finished (liveness).
//
// Storage faults, on a replica while it is down: its disk is wiped, or a
// record of its log is corrupt (the log keeps the records before it, as
// Wal.open's salvage does, and the damaged directory loses its identity),
// or its snapshot is damaged (it falls back to none, with the log's records
// on top, and loses its identity: the log forgot the votes the snapshot
// covered). A torn final write is a crash before a Ready's fsync, above. A
// disk that lost its identity (every disk at the start, too) recovers from
// every other replica before it votes (src/log/recovery.ts). One replica at
// a time loses state: a second loss waits until the first has recovered, so
// a majority always holds every acknowledged write.
//
// Clients issue put/get/del/cas on a few keys, one op at a time each, to a
// random replica. A client's answer comes when the replica it asked applies
// its command (matched by client id + seq; the store's result), or, for a get
// from a session the store knows, when the replica can answer it by read
// index (LogNode.read) from its own store, as the daemon does. If the
// replica cannot place it (Ready.unplaced) or there is no answer in time, the
// client retries the same client + seq at another replica (the store applies
// a seq once); if it gives up, the op is `info` (unknown) in the history.
//
// Checked after every event (each delivery, tick, client call, crash):
//   - no slot has two different values learned or applied anywhere
//     (Ready.learned and Ready.committed, across replicas and restarts);
//   - every replica applies slot after slot with no hole, so the applied
//     sequences are prefixes of one another;
//   - every command in a chosen slot is one some client issued;
//   - replicas that snapshot at the same index hold the same bytes (and, at
//     the end, replicas at the same applied slot hold the same store);
//   - a client's current command never comes back stale or expired;
//   - durability: a restarted replica's promise is at least what it had on
//     disk, and no two leaders (or two lives of one) use the same ballot;
//     a replica that lost state holds, once recovered, a promise at least
//     as high as the one it lost (unless that ballot's owner lost its
//     state since: then no one can still act on it).
// At the end the client history must be linearizable (checkHistory).
//
// Negative controls (broken on purpose; each must be caught):
//   skipPhase1     a new leader proposes without phase 1;
//   forgetLog      restarted replicas come back with an EMPTY durable store;
//   applyPastHole  a replica applies chosen slots past a hole;
//   staleReads     a leader answers reads at once from what it has applied,
//                  without the heartbeat round that confirms it still leads
//                  and without waiting for the slots it has proposed;
//   voteAtOnce     a replica that lost its disk or a record votes at once;
//   corruptAsTorn  a corrupt record is taken for a torn tail (and a damaged
//                  snapshot skipped): the replica keeps its identity, and votes;
//   fewRecoverers  recovery ends on answers from a majority counting itself,
//                  not from every other replica.

import { performance } from 'node:perf_hooks';
import type { PeerId } from '../core/types.js';
import { mulberry32, pick } from '../util/prng.js';
import { Agenda } from './agenda.js';
import { checkHistory } from '../lincheck/checker.js';
import { parseHistory } from '../lincheck/history.js';
import { ballotOwner } from '../log/ballot.js';
import { LogNode } from '../log/node.js';
import { DEFAULT_LOG_TIMING, mustSync, replay, type Batch, type LogMessage, type LogRecord, type LogTiming, type LogVariant, type Ready, type StateSnapshot } from '../log/types.js';
import { decodeCommand, encodeCommand, type ClientCommand, type Command, type Result } from '../sm/command.js';
import { KvStore } from '../sm/kv.js';

export type LogWorldVariant = 'skipPhase1' | 'forgetLog' | 'applyPastHole' | 'staleReads' | 'voteAtOnce' | 'corruptAsTorn' | 'fewRecoverers';
export const LOG_WORLD_VARIANTS: readonly LogWorldVariant[] = ['skipPhase1', 'forgetLog', 'applyPastHole', 'staleReads', 'voteAtOnce', 'corruptAsTorn', 'fewRecoverers'];
/** The variants about lost or damaged disks: storage faults come more often with them. */
const STORAGE_VARIANTS: ReadonlySet<LogWorldVariant> = new Set(['voteAtOnce', 'corruptAsTorn', 'fewRecoverers']);

export interface LogWorldOptions {
  readonly seed: number;
  /** 3 or 5 (any n >= 1 works); default 5. */
  readonly replicas?: number;
  /** Concurrent clients; default 4. */
  readonly clients?: number;
  readonly variant?: LogWorldVariant;
  /** Simulated ms with faults; default 3000. */
  readonly faultMs?: number;
  /** Simulated ms without faults afterwards, for liveness; default 3000. */
  readonly quietMs?: number;
  /** Take a snapshot every this many applied slots; default 20. */
  readonly snapshotEvery?: number;
  /**
   * Check durability (promise kept across restarts, ballots never reused);
   * default true. Off, a forgetLog run must be caught by what the lost
   * votes do: two values chosen or a history that is not linearizable.
   */
  readonly durabilityChecks?: boolean;
  /** Keep this many trace lines (the last events); default 40. */
  readonly traceLines?: number;
  /** Linearizability checker step budget; default 3,000,000. */
  readonly checkSteps?: number;
}

export type ViolationKind = 'safety' | 'durability' | 'linearizability';

export interface LogWorldStats {
  crashes: number;
  /** Crashes in the middle of a Ready (before or after its records are durable). */
  midReadyCrashes: number;
  restarts: number;
  /** Leaderships observed (distinct ballots). */
  leaders: number;
  partitions: number;
  messages: number;
  dropped: number;
  entriesDelivered: number;
  /** `entries` or `snapshot` delivered to a leader or candidate (a stale catch-up reply). */
  catchUpToNonFollower: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  snapshotsTaken: number;
  /** Disks wiped, logs with a corrupt record, damaged snapshots (each while its replica was down). */
  wipes: number;
  corruptions: number;
  damagedSnapshots: number;
  /** Recoveries finished (a replica that had lost its identity votes again). */
  rejoins: number;
  /** Slots whose batch held more than one command. */
  multiCommandSlots: number;
  forwards: number;
  unplaced: number;
  retries: number;
  /** Gets answered by read index, off the log. */
  indexReads: number;
}

/** Every count at zero: one world's start, and the sum over a sweep. */
function noStats(): LogWorldStats {
  return {
    crashes: 0,
    midReadyCrashes: 0,
    restarts: 0,
    leaders: 0,
    partitions: 0,
    messages: 0,
    dropped: 0,
    entriesDelivered: 0,
    catchUpToNonFollower: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
    snapshotsTaken: 0,
    wipes: 0,
    corruptions: 0,
    damagedSnapshots: 0,
    rejoins: 0,
    multiCommandSlots: 0,
    forwards: 0,
    unplaced: 0,
    retries: 0,
    indexReads: 0,
  };
}

export interface LogWorldResult {
  readonly seed: number;
  readonly replicas: number;
  readonly shape: string;
  /** The first invariant broken, or null. */
  readonly violation: string | null;
  readonly kind: ViolationKind | null;
  /** The last events before the end or the violation. */
  readonly trace: readonly string[];
  /** Every replica applied the same last slot and every client finished, once faults stopped. */
  readonly live: boolean;
  /** Why not live, or null. */
  readonly notLive: string | null;
  readonly lincheck: 'ok' | 'illegal' | 'unknown' | 'skipped';
  readonly ops: { readonly ok: number; readonly fail: number; readonly info: number };
  /** The highest slot any replica learned. */
  readonly slots: number;
  readonly events: number;
  readonly stats: LogWorldStats;
}

const TICK_MS = 10;
/** A client gives up on an op (outcome unknown) this long after invoking it. */
const GIVE_UP_MS = 2000;

interface Disk {
  records: LogRecord[];
  /** Appended but not yet fsynced (mustSync was false): lost in a crash. */
  unsynced: LogRecord[];
  snap: { index: number; data: string } | null;
  /** The identity file: this disk may vote. A new disk has none, and recovers first. */
  member: boolean;
}

interface Replica {
  readonly id: PeerId;
  /** null while crashed. */
  node: LogNode | null;
  kv: KvStore;
  readonly disk: Disk;
  life: number;
  /** The last slot this life applied (a snapshot install counts). */
  lastApplied: number;
  /** Highest promise in this replica's durable records, across lives. */
  durablePromise: number;
  /** A promise lost with the disk, which recovery must restore, and when it was lost. */
  lost: { promise: number; at: number } | null;
  /** When this replica last lost durable state (-1: never). */
  lostAt: number;
  /** Down, and to lose state before it restarts. */
  doomed: boolean;
  /** Crash while handling the next Ready, at this point. */
  crashAt: 'beforeSync' | 'afterSync' | null;
  /** Clients waiting here for a command: client\0seq -> client index. */
  readonly waiters: Map<string, number>;
  /** Gets served by read index (LogNode.read): read id -> the client and its op. */
  readonly reads: Map<number, { readonly ci: number; readonly op: ClientOp; index: number }>;
  /** Read ids count from 1 again in every life, as the daemon's do. */
  readIds: number;
}


interface ClientOp {
  readonly cmd: ClientCommand;
  readonly wire: Record<string, unknown>;
  readonly invokedAt: number;
  attempts: number;
  /** Bumped at every attempt: a timeout or unplaced for an older one is ignored. */
  attempt: number;
  lastReplica: PeerId;
}

interface Client {
  readonly idx: number;
  /** Session id; a new one after an op of unknown outcome (the store would say expired). */
  id: string;
  seq: number;
  process: string;
  gen: number;
  op: ClientOp | null;
  /** Sticky clients go back to the replica that last answered them (a kept connection). */
  readonly sticky: boolean;
  /** The replica that last answered (0: none yet). */
  home: PeerId;
  /** Some command of this session went through the log (the store knows the session). */
  established: boolean;
  done: boolean;
  readonly seen: Map<string, string | null>;
}

interface TraceEntry {
  readonly t: number;
  readonly what: string;
  readonly msg?: LogMessage;
  readonly to?: PeerId;
}

class Violation extends Error {
  constructor(
    readonly kind: ViolationKind,
    message: string,
  ) {
    super(message);
  }
}


const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function batchText(v: Batch): string {
  return JSON.stringify(v);
}

function showMsg(m: LogMessage): string {
  switch (m.type) {
    case 'prepare':
      return `prepare n=${m.n} slot=${m.slot} life=${m.life}`;
    case 'recover':
      return `recover life=${m.life} slot=${m.slot}`;
    case 'recover_ack':
      return `recover_ack life=${m.life} promised=${m.promised} commit=${m.commit} base=${m.base} votes=${m.votes.map((r) => `${r.s}@${r.n}${r.chosen === true ? '*' : ''}`).join(',')}`;
    case 'prepare_ack':
      return `prepare_ack n=${m.n} promised=${m.promised} slot=${m.slot} base=${m.base} votes=${m.votes.map((r) => `${r.s}@${r.n}${r.chosen === true ? '*' : ''}`).join(',')}`;
    case 'accept':
      return `accept n=${m.n} slot=${m.slot} commit=${m.commit} v=${batchText(m.v).slice(0, 80)}`;
    case 'accept_ack':
      return `accept_ack n=${m.n} slot=${m.slot} promised=${m.promised}`;
    case 'chose':
      return `chose n=${m.n} slot=${m.slot}`;
    case 'heartbeat':
      return `heartbeat n=${m.n} commit=${m.commit}${m.r === undefined ? '' : ` r=${m.r}`}`;
    case 'heartbeat_ack':
      return `heartbeat_ack n=${m.n}${m.r === undefined ? '' : ` r=${m.r}`}`;
    case 'read_index':
      return `read_index ids=${m.ids.join(',')}`;
    case 'read_index_ack':
      return `read_index_ack n=${m.n} index=${m.index} ids=${m.ids.join(',')}`;
    case 'fetch':
      return `fetch slot=${m.slot}`;
    case 'entries':
      return `entries start=${m.start} count=${m.values.length}`;
    case 'snapshot':
      return `snapshot index=${m.index}`;
    case 'forward':
      return `forward ${m.cmds.length} cmds`;
  }
}

export class LogWorld {
  private readonly rng: () => number;
  private readonly n: number;
  private readonly variant: LogWorldVariant | undefined;
  private readonly faultMs: number;
  private readonly endMs: number;
  private readonly stopIssuingAt: number;
  private readonly snapshotEvery: number;
  private readonly keepSlots: number;
  private readonly timing: LogTiming;
  private readonly nodeVariant: LogVariant;
  private readonly durability: boolean;
  private readonly traceLines: number;
  private readonly keys: readonly string[];
  readonly shape: string;

  private readonly agenda = new Agenda<() => void>();
  private now = 0;
  private events = 0;
  private readonly replicas: Replica[] = [];
  private readonly clients: Client[] = [];

  // Network state.
  private dropP = 0;
  private dupP = 0;
  private maxDelay = 8;
  /** Share of messages held back 200-1000 ms (a long tail: retransmits, GC pauses). */
  private tailP = 0;
  /** Directed cuts "a>b". */
  private readonly cut = new Set<string>();

  // What the invariants remember.
  private readonly chosen = new Map<number, { text: string; who: string }>();
  private maxSlot = 0;
  private readonly snapshots = new Map<number, string>();
  /** ballot -> "replica#life" that led at it. */
  private readonly ledBy = new Map<number, string>();
  private readonly issued = new Set<string>();

  private readonly history: string[] = [];
  private readonly ops = { ok: 0, fail: 0, info: 0 };
  /** Ops invoked after the faults stopped that still ended unknown. */
  private quietInfos = 0;
  private valueCounter = 0;
  /** Sessions started, for unique client ids. */
  private sessions = 0;
  private readonly trace: TraceEntry[] = [];
  private traceAt = 0;
  readonly stats: LogWorldStats = noStats();

  constructor(private readonly opts: LogWorldOptions) {
    this.rng = mulberry32(opts.seed * 2654435761);
    const r = this.rng;
    this.n = opts.replicas ?? 5;
    this.variant = opts.variant;
    this.faultMs = opts.faultMs ?? 3000;
    const quietMs = opts.quietMs ?? 3000;
    this.endMs = this.faultMs + quietMs;
    this.stopIssuingAt = this.faultMs + Math.max(0, quietMs - 1500);
    this.snapshotEvery = opts.snapshotEvery ?? 20;
    this.keepSlots = pick(r, [0, 3, 10]);
    this.keys = pick(r, [['x'], ['x', 'y'], ['x', 'y', 'z']]);
    this.durability = opts.durabilityChecks ?? true;
    this.traceLines = opts.traceLines ?? 40;
    // Timing varies per seed: small windows and batches make the leader
    // batch (several commands per slot) and queue; small entries replies make
    // catch-up take several rounds.
    this.timing = {
      ...DEFAULT_LOG_TIMING,
      window: pick(r, [1, 2, 4, 32]),
      maxBatch: pick(r, [1, 3, 512]),
      maxEntries: pick(r, [3, 256]),
    };
    this.nodeVariant =
      this.variant === 'skipPhase1'
        ? { skipPhase1: true }
        : this.variant === 'applyPastHole'
          ? { applyPastHole: true }
          : this.variant === 'staleReads'
            ? { staleReads: true }
            : this.variant === 'fewRecoverers'
              ? { recoverAnswers: Math.floor(this.n / 2) } // a majority, counting itself
              : {};
    const nClients = opts.clients ?? 4;
    this.shape = `${this.n} replicas, ${nClients} clients, ${this.keys.length} keys, window ${this.timing.window}, batch ${this.timing.maxBatch}, entries ${this.timing.maxEntries}, keep ${this.keepSlots}`;

    for (let id = 1; id <= this.n; id++) {
      const disk: Disk = { records: [], unsynced: [], snap: null, member: false };
      const rep: Replica = { id, node: null, kv: new KvStore(), disk, life: 0, lastApplied: 0, durablePromise: 0, lost: null, lostAt: -1, doomed: false, crashAt: null, waiters: new Map(), reads: new Map(), readIds: 0 };
      this.replicas.push(rep);
    }
    for (const rep of this.replicas) rep.node = this.makeNode(rep);
    for (let c = 0; c < nClients; c++) {
      const sticky = r() < 0.5;
      const client: Client = { idx: c, id: `c${c}`, seq: 0, process: `c${c}.0`, gen: 0, sticky, home: 0, op: null, established: false, done: false, seen: new Map() };
      this.clients.push(client);
      this.agenda.push(5 + Math.floor(r() * 100), () => this.nextOp(client));
    }
    this.agenda.push(TICK_MS, () => this.tick());
    this.agenda.push(150 + Math.floor(r() * 200), () => this.fault());
    this.agenda.push(this.faultMs, () => this.quiet());
  }

  // ---- running --------------------------------------------------------------

  run(): LogWorldResult {
    let violation: string | null = null;
    let kind: ViolationKind | null = null;
    let lincheck: LogWorldResult['lincheck'] = 'skipped';
    try {
      for (;;) {
        const e = this.agenda.pop();
        if (e === undefined || e.at > this.endMs) break;
        this.now = e.at;
        this.events += 1;
        e.item();
      }
      this.checkStoresAgree();
    } catch (err) {
      if (!(err instanceof Violation)) throw err;
      violation = `t=${this.now} ms: ${err.message}`;
      kind = err.kind;
    }
    if (violation === null) {
      const checked = this.history.length === 0 ? null : checkHistory(parseHistory(this.history.join('\n'), `seed ${this.opts.seed}`), { maxSteps: this.opts.checkSteps ?? 3_000_000 });
      lincheck = checked?.verdict ?? 'ok';
      if (checked?.verdict === 'illegal') {
        violation = `the client history is not linearizable: ${checked.failures[0]!.message}`;
        kind = 'linearizability';
      }
    }
    const notLive = violation === null ? this.whyNotLive() : 'a violation';
    return {
      seed: this.opts.seed,
      replicas: this.n,
      shape: this.shape,
      violation,
      kind,
      trace: this.formatTrace(),
      live: notLive === null,
      notLive,
      lincheck,
      ops: { ...this.ops },
      slots: this.maxSlot,
      events: this.events,
      stats: this.stats,
    };
  }

  /** The client history, Jepsen-style JSON lines (for inspection). */
  historyText(): string {
    return this.history.join('\n');
  }

  private whyNotLive(): string | null {
    const down = this.replicas.filter((r) => r.node === null);
    if (down.length > 0) return `replicas ${down.map((r) => r.id).join(',')} are down`;
    const applied = this.replicas.map((r) => r.lastApplied);
    if (applied.some((a) => a !== this.maxSlot)) return `applied indexes ${applied.join(',')} but slot ${this.maxSlot} was learned`;
    const busy = this.clients.filter((c) => !c.done || c.op !== null);
    if (busy.length > 0) return `clients ${busy.map((c) => c.id).join(',')} did not finish`;
    if (this.quietInfos > 0) return `${this.quietInfos} ops invoked after the faults stopped ended unknown`;
    return null;
  }

  /** At the end: replicas that applied the same slots hold the same bytes. */
  private checkStoresAgree(): void {
    const at = new Map<number, { id: PeerId; bytes: string }>();
    for (const r of this.replicas) {
      if (r.node === null) continue;
      const bytes = fromUtf8.decode(r.kv.snapshot());
      const other = at.get(r.lastApplied);
      if (other === undefined) at.set(r.lastApplied, { id: r.id, bytes });
      else if (other.bytes !== bytes) this.fail('safety', `replicas ${other.id} and ${r.id} both applied up to slot ${r.lastApplied} but hold different stores`);
    }
  }

  private fail(kind: ViolationKind, why: string): never {
    throw new Violation(kind, why);
  }

  private note(what: string, msg?: LogMessage, to?: PeerId): void {
    if (this.traceLines <= 0) return;
    const e: TraceEntry = msg === undefined ? { t: this.now, what } : to === undefined ? { t: this.now, what, msg } : { t: this.now, what, msg, to };
    if (this.trace.length < this.traceLines) this.trace.push(e);
    else this.trace[this.traceAt] = e;
    this.traceAt = (this.traceAt + 1) % this.traceLines;
  }

  private formatTrace(): string[] {
    const ordered = this.trace.length < this.traceLines ? this.trace : [...this.trace.slice(this.traceAt), ...this.trace.slice(0, this.traceAt)];
    return ordered.map((e) => `t=${e.t} ${e.what}${e.msg === undefined ? '' : ` ${e.msg.from}->${e.to ?? '?'} ${showMsg(e.msg)}`}`);
  }

  private makeNode(rep: Replica): LogNode {
    const rec = replay(rep.disk.records, rep.disk.snap?.index ?? 0);
    // voteAtOnce (broken on purpose) ignores a missing identity; so does forgetLog.
    const recover = !rep.disk.member && this.variant !== 'voteAtOnce' && this.variant !== 'forgetLog';
    if (!recover) rep.disk.member = true;
    return new LogNode({ self: rep.id, replicas: this.n, timing: this.timing, random: mulberry32(Math.floor(this.rng() * 2 ** 32)), variant: this.nodeVariant, life: rep.life + 1, recover }, rec);
  }

  // ---- replicas and the Ready contract ---------------------------------------

  private drain(rep: Replica): void {
    while (rep.node !== null && rep.node.hasReady) this.perform(rep, rep.node.ready());
  }

  private perform(rep: Replica, ready: Ready): void {
    const node = rep.node!;
    // 0. Early messages (a leader's accepts) may leave before the fsync.
    for (const out of ready.early) for (const to of out.to) this.send(rep.id, to, out.msg);
    if (rep.crashAt === 'beforeSync') {
      // Died before the fsync: nothing of this Ready but its early messages happened.
      this.stats.midReadyCrashes += 1;
      this.crash(rep, 'before its records were durable');
      return;
    }
    // 1. Durable (or, for records that only say what is chosen, appended).
    rep.disk.unsynced.push(...ready.records);
    if (mustSync(ready.records)) {
      for (const rec of rep.disk.unsynced) {
        rep.disk.records.push(rec);
        if (rec.t === 'p') rep.durablePromise = Math.max(rep.durablePromise, rec.n);
      }
      rep.disk.unsynced = [];
    }
    if (rep.crashAt === 'afterSync') {
      this.stats.midReadyCrashes += 1;
      this.crash(rep, 'after its records were durable, before its messages left');
      return;
    }
    // 2. Messages, learned, snapshot, applies.
    for (const out of ready.messages) for (const to of out.to) this.send(rep.id, to, out.msg);
    for (const l of ready.learned) this.noteChosen(rep, l.slot, l.v, 'learned');
    if (ready.snapshot !== null) {
      const s = { index: ready.snapshot.index, data: snapshotBytes(ready.snapshot.data) };
      const kv = KvStore.restore(utf8.encode(s.data));
      if (kv.appliedIndex !== s.index) this.fail('safety', `replica ${rep.id} installed a snapshot labelled ${s.index} holding a store at ${kv.appliedIndex}`);
      if (s.index < rep.lastApplied) this.fail('safety', `replica ${rep.id} installed a snapshot at ${s.index}, behind its applied slot ${rep.lastApplied}`);
      this.checkSnapshot(rep, s.index, s.data);
      rep.kv = kv;
      rep.lastApplied = s.index;
      rep.disk.snap = { index: s.index, data: s.data };
      // A checkpoint writes the live records, then what was appended after them.
      rep.disk.records = [...node.liveRecords(), ...rep.disk.unsynced];
      rep.disk.unsynced = [];
      this.stats.snapshotsInstalled += 1;
      this.note(`r${rep.id} installed snapshot ${s.index}`);
    }
    // Recovered: once the snapshot it installed (if any) is saved, every
    // record it appended is synced, then the identity is written, as the
    // daemon does.
    if (ready.rejoined) {
      rep.disk.records.push(...rep.disk.unsynced);
      rep.disk.unsynced = [];
      this.rejoined(rep, node);
    }
    for (const c of ready.committed) {
      if (c.slot !== rep.lastApplied + 1) this.fail('safety', `replica ${rep.id} applied slot ${c.slot} right after slot ${rep.lastApplied}: a hole`);
      this.noteChosen(rep, c.slot, c.v, 'applied');
      rep.lastApplied = c.slot;
      this.apply(rep, c.slot, c.v);
    }
    for (const to of ready.sendSnapshotTo) {
      this.stats.snapshotsSent += 1;
      this.send(rep.id, to, { type: 'snapshot', from: rep.id, index: rep.kv.appliedIndex, data: rep.kv });
    }
    for (const raw of ready.unplaced) {
      const d = decodeCommand(raw);
      if (!d.ok || d.value.op === 'noop') continue;
      this.stats.unplaced += 1;
      const key = `${d.value.client}\u0000${d.value.seq}`;
      const ci = rep.waiters.get(key);
      if (ci === undefined) continue;
      rep.waiters.delete(key);
      const client = this.clients[ci]!;
      const op = client.op;
      if (op !== null && op.cmd.seq === d.value.seq && op.lastReplica === rep.id) {
        // No leader known there: try another replica soon.
        const attempt = op.attempt;
        this.agenda.push(this.now + 20 + Math.floor(this.rng() * 40), () => {
          if (client.op === op && op.attempt === attempt) this.attempt(client);
        });
      }
    }
    // Reads: confirmed ones wait for their index to be applied here.
    for (const r of ready.reads) {
      const w = rep.reads.get(r.id);
      if (w !== undefined) w.index = r.index;
    }
    for (const id of ready.unreadable) {
      const w = rep.reads.get(id);
      if (w === undefined) continue;
      rep.reads.delete(id);
      this.stats.unplaced += 1;
      const op = w.op;
      const client = this.clients[w.ci]!;
      const attempt = op.attempt;
      this.agenda.push(this.now + 20 + Math.floor(this.rng() * 40), () => {
        if (client.op === op && op.attempt === attempt) this.attempt(client);
      });
    }
    this.serveReads(rep);
    // A leader at a ballot: owned by it, and never used by two lives.
    if (node.role === 'leader' && node === rep.node) {
      const b = node.currentBallot;
      const who = `${rep.id}#${rep.life}`;
      const prev = this.ledBy.get(b);
      if (prev === undefined) {
        this.ledBy.set(b, who);
        this.stats.leaders += 1;
        this.note(`r${rep.id} leads at ballot ${b}`);
        if (this.durability && ballotOwner(b, this.n) !== rep.id) this.fail('durability', `replica ${rep.id} leads at ballot ${b}, owned by replica ${ballotOwner(b, this.n)}`);
      } else if (prev !== who && this.durability) {
        this.fail('durability', `ballot ${b} led by ${prev} and again by ${who}`);
      }
    }
    // Snapshot, compact, checkpoint.
    if (rep.node !== null && rep.kv.appliedIndex - (rep.disk.snap?.index ?? 0) >= this.snapshotEvery) {
      const index = rep.kv.appliedIndex;
      const data = fromUtf8.decode(rep.kv.snapshot());
      this.checkSnapshot(rep, index, data);
      rep.disk.snap = { index, data };
      node.compact(index, index + 1 - this.keepSlots);
      // A checkpoint writes the live records, then what was appended after them.
      rep.disk.records = [...node.liveRecords(), ...rep.disk.unsynced];
      rep.disk.unsynced = [];
      this.stats.snapshotsTaken += 1;
    }
  }

  private serveReads(rep: Replica): void {
    for (const [id, w] of rep.reads) {
      if (w.index < 0 || rep.kv.appliedIndex < w.index) continue;
      rep.reads.delete(id);
      const client = this.clients[w.ci]!;
      if (client.op !== w.op || w.op.cmd.op !== 'get') continue;
      this.stats.indexReads += 1;
      this.complete(client, { status: 'ok', value: rep.kv.read(w.op.cmd.key) }, rep.id);
    }
  }

  private checkSnapshot(rep: Replica, index: number, data: string): void {
    const prev = this.snapshots.get(index);
    if (prev === undefined) this.snapshots.set(index, data);
    else if (prev !== data) this.fail('safety', `replica ${rep.id}'s store at slot ${index} differs from another replica's at the same slot`);
  }

  private noteChosen(rep: Replica, slot: number, v: Batch, how: string): void {
    const text = batchText(v);
    const prev = this.chosen.get(slot);
    if (prev === undefined) {
      this.chosen.set(slot, { text, who: `replica ${rep.id} (${how})` });
      if (slot > this.maxSlot) this.maxSlot = slot;
      if (v.length > 1) this.stats.multiCommandSlots += 1;
      for (const cmd of v) {
        const c = JSON.stringify(cmd);
        if (c !== '{"o":"noop"}' && !this.issued.has(c)) this.fail('safety', `slot ${slot} holds ${c.slice(0, 80)}, which no client issued`);
      }
      this.note(`r${rep.id} ${how} slot ${slot} = ${text.slice(0, 100)}`);
    } else if (prev.text !== text) {
      this.fail('safety', `slot ${slot}: replica ${rep.id} ${how} ${text.slice(0, 100)} but ${prev.who} had ${prev.text.slice(0, 100)}`);
    }
  }

  private apply(rep: Replica, slot: number, v: Batch): void {
    const cmds: Command[] = v.map((raw) => {
      const d = decodeCommand(raw);
      if (!d.ok) return this.fail('safety', `slot ${slot} holds an invalid command: ${d.why}`);
      return d.value;
    });
    // A store that skipped slots (applyPastHole) cannot apply out of order; that is caught above.
    const results = rep.kv.applyBatch(cmds, slot);
    cmds.forEach((cmd, i) => {
      if (cmd.op === 'noop') return;
      const key = `${cmd.client}\u0000${cmd.seq}`;
      const ci = rep.waiters.get(key);
      if (ci === undefined) return;
      rep.waiters.delete(key);
      const client = this.clients[ci]!;
      if (client.op !== null && client.op.cmd.seq === cmd.seq) {
        client.established = true;
        this.complete(client, results[i]!, rep.id);
      }
    });
  }

  /** Recovery finished (its records are durable): the disk votes again, with a memory at least as strong as the one it lost. */
  private rejoined(rep: Replica, node: LogNode): void {
    rep.disk.member = true;
    this.stats.rejoins += 1;
    this.note(`r${rep.id} REJOINED with promise ${node.promise}, commit ${node.commit}`);
    this.checkRestored(rep, node);
  }

  /** A replica that lost state votes again: its promise must cover the one it lost. */
  private checkRestored(rep: Replica, node: LogNode): void {
    const lost = rep.lost;
    rep.lost = null;
    if (lost === null || !this.durability || node.promise >= lost.promise) return;
    // Only the owner of a ballot knows it for sure; if it lost its own state since, its candidacy died with it.
    const owner = ballotOwner(lost.promise, this.n);
    if (owner !== rep.id && this.replicas[owner - 1]!.lostAt < lost.at) {
      this.fail('durability', `replica ${rep.id} votes again with promise ${node.promise}, below the ${lost.promise} it had promised before it lost state`);
    }
  }

  /** While `rep` is down, its disk loses state: wiped, a corrupt log record, or a damaged snapshot. */
  private damage(rep: Replica, how: 'wipe' | 'corrupt' | 'snapshot'): void {
    const d = rep.disk;
    rep.doomed = false;
    const before = d.records.length;
    if (how === 'snapshot') {
      if (d.snap === null) return;
      // It falls back to none (the sim keeps one). The log forgot the votes
      // the snapshot covers, so this is lost state too: recover.
      d.snap = null;
      this.stats.damagedSnapshots += 1;
    } else if (how === 'wipe') {
      d.records = [];
      d.snap = null;
      this.stats.wipes += 1;
    } else {
      if (before === 0) return;
      // Salvage keeps the records before the damaged one; the rest are gone.
      d.records = d.records.slice(0, Math.floor(this.rng() * before));
      this.stats.corruptions += 1;
    }
    // corruptAsTorn (broken on purpose): the damage is taken for a torn tail, and the disk keeps its identity.
    if (!(how !== 'wipe' && this.variant === 'corruptAsTorn')) d.member = false;
    rep.lost = { promise: Math.max(rep.lost?.promise ?? 0, rep.durablePromise), at: this.now };
    rep.lostAt = this.now;
    rep.durablePromise = replay(d.records).promised;
    this.note(`r${rep.id} DISK: ${how === 'wipe' ? 'wiped' : how === 'snapshot' ? 'snapshot damaged' : `corrupt record, kept ${d.records.length} of ${before}`}`);
  }

  private crash(rep: Replica, how: string): void {
    if (rep.node === null) return;
    rep.node = null;
    rep.crashAt = null;
    rep.disk.unsynced = [];
    rep.waiters.clear();
    rep.reads.clear();
    this.stats.crashes += 1;
    this.note(`r${rep.id} CRASH ${how}`);
  }

  private restart(rep: Replica): void {
    if (rep.node !== null) return;
    if (this.variant === 'forgetLog') {
      // Broken on purpose: the disk comes back empty.
      rep.disk.records = [];
      rep.disk.snap = null;
    }
    rep.life += 1;
    rep.readIds = 0;
    rep.kv = rep.disk.snap === null ? new KvStore() : KvStore.restore(utf8.encode(rep.disk.snap.data));
    rep.lastApplied = rep.kv.appliedIndex;
    const node = this.makeNode(rep);
    rep.node = node;
    this.stats.restarts += 1;
    this.note(`r${rep.id} RESTART life ${rep.life}, promise ${node.promise}, snapshot ${rep.disk.snap?.index ?? 0}, ${rep.disk.records.length} records`);
    if (this.durability && node.promise < rep.durablePromise) {
      this.fail('durability', `replica ${rep.id} restarted with promise ${node.promise}, below the ${rep.durablePromise} it had made durable`);
    }
    // Voting at once although it lost state (only the broken variants do).
    if (node.recovering === null && rep.lost !== null) this.checkRestored(rep, node);
    this.drain(rep);
  }

  // ---- network ---------------------------------------------------------------

  private blocked(a: PeerId, b: PeerId): boolean {
    return this.cut.size > 0 && this.cut.has(`${a}>${b}`);
  }

  private send(from: PeerId, to: PeerId, msg: LogMessage): void {
    this.stats.messages += 1;
    if (this.blocked(from, to) || this.rng() < this.dropP) {
      this.stats.dropped += 1;
      return;
    }
    // The wire: what arrives is a copy, never the sender's objects.
    // A snapshot's store goes as its bytes (the replicas stream theirs in chunks, src/daemon/snapshot-transfer.ts).
    const wire = JSON.stringify(msg.type === 'snapshot' ? { ...msg, data: snapshotBytes(msg.data) } : msg);
    const copies = this.rng() < this.dupP ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.tailP > 0 && this.rng() < this.tailP ? 200 + Math.floor(this.rng() * 800) : 1 + Math.floor(this.rng() * this.maxDelay);
      this.agenda.push(this.now + delay, () => this.deliver(from, to, wire));
    }
  }

  private deliver(from: PeerId, to: PeerId, wire: string): void {
    if (this.blocked(from, to)) return;
    const rep = this.replicas[to - 1]!;
    if (rep.node === null) return;
    const raw = JSON.parse(wire) as LogMessage | { type: 'snapshot'; from: PeerId; index: number; data: string };
    const msg: LogMessage = raw.type === 'snapshot' && typeof raw.data === 'string' ? { ...raw, data: KvStore.restore(utf8.encode(raw.data)) } : (raw as LogMessage);
    if (msg.type === 'entries') this.stats.entriesDelivered += 1;
    if (msg.type === 'forward') this.stats.forwards += 1;
    if ((msg.type === 'entries' || msg.type === 'snapshot') && rep.node.role !== 'follower') this.stats.catchUpToNonFollower += 1;
    if (msg.type !== 'heartbeat' && msg.type !== 'heartbeat_ack') this.note('deliver', msg, to);
    rep.node.step(msg);
    this.drain(rep);
  }

  // ---- time and faults ---------------------------------------------------------

  private tick(): void {
    // Rotate who ticks first, so no replica always wins a tie.
    const start = Math.floor(this.now / TICK_MS) % this.n;
    for (let i = 0; i < this.n; i++) {
      const rep = this.replicas[(start + i) % this.n]!;
      if (rep.node === null) continue;
      rep.node.tick();
      this.drain(rep);
    }
    if (this.now + TICK_MS <= this.endMs) this.agenda.push(this.now + TICK_MS, () => this.tick());
  }

  private leader(): Replica | undefined {
    return this.replicas.find((r) => r.node !== null && r.node.role === 'leader');
  }

  private heal(): void {
    if (this.cut.size > 0) this.note('HEAL all links');
    this.cut.clear();
  }

  private cutBoth(a: PeerId, b: PeerId): void {
    this.cut.add(`${a}>${b}`).add(`${b}>${a}`);
  }

  private fault(): void {
    if (this.now >= this.faultMs) return;
    const r = this.rng;
    const L = this.leader();
    const storage = this.variant !== undefined && STORAGE_VARIANTS.has(this.variant);
    const kinds = ['crash', 'crashLeader', 'crashLeader', 'outage', 'isolateLeader', 'isolateLeader', 'muteLeader', 'split', 'oneWay', 'lossy', 'slow', 'tail', 'heal', 'calm', 'disk'] as const;
    const kind = storage && r() < 0.5 ? 'disk' : pick(r, kinds);
    /** `whileDown` happens to its disk just before it restarts. */
    const crashIt = (victim: Replica, downFor: number, whileDown?: () => void): void => {
      if (victim.node === null) return;
      const mode = pick(r, ['now', 'now', 'beforeSync', 'afterSync'] as const);
      if (mode === 'now') this.crash(victim, 'now');
      else {
        victim.crashAt = mode;
        // If no Ready comes soon, die anyway.
        this.agenda.push(this.now + 30, () => {
          if (victim.crashAt !== null) this.crash(victim, 'now (no Ready came)');
        });
      }
      const life = victim.life;
      this.agenda.push(this.now + downFor, () => {
        if (victim.life !== life) return;
        if (victim.node === null) whileDown?.();
        this.restart(victim);
      });
    };
    switch (kind) {
      case 'crash':
        crashIt(pick(r, this.replicas), 30 + Math.floor(r() * 400));
        break;
      case 'crashLeader':
        crashIt(L ?? pick(r, this.replicas), 30 + Math.floor(r() * 400));
        break;
      case 'outage':
        // Long enough to fall more than a snapshot behind.
        crashIt(pick(r, this.replicas), 600 + Math.floor(r() * 1200));
        break;
      case 'disk': {
        // One replica at a time loses state, so a majority holds every acknowledged write.
        const victim = storage && L !== undefined && r() < 0.5 ? L : pick(r, this.replicas);
        if (victim.node === null || this.replicas.some((o) => o !== victim && (o.doomed || o.lost !== null || !o.disk.member))) break;
        const how = pick(r, ['wipe', 'corrupt', 'corrupt', 'snapshot'] as const);
        victim.doomed = true;
        crashIt(victim, 60 + Math.floor(r() * 600), () => this.damage(victim, how));
        break;
      }
      case 'isolateLeader': {
        const victim = L ?? pick(r, this.replicas);
        this.heal();
        for (const o of this.replicas) if (o !== victim) this.cutBoth(victim.id, o.id);
        this.stats.partitions += 1;
        this.note(`PARTITION isolate r${victim.id}${victim === L ? ' (leader)' : ''}`);
        break;
      }
      case 'muteLeader': {
        // One way: it hears everyone, nobody hears it.
        const victim = L ?? pick(r, this.replicas);
        this.heal();
        for (const o of this.replicas) if (o !== victim) this.cut.add(`${victim.id}>${o.id}`);
        this.stats.partitions += 1;
        this.note(`PARTITION mute r${victim.id}${victim === L ? ' (leader)' : ''}: it hears, is not heard`);
        break;
      }
      case 'split': {
        this.heal();
        const side = new Set(this.replicas.filter(() => r() < 0.5).map((x) => x.id));
        for (const a of this.replicas) for (const b of this.replicas) if (side.has(a.id) && !side.has(b.id)) this.cutBoth(a.id, b.id);
        this.stats.partitions += 1;
        this.note(`PARTITION {${[...side].join(',')}} | rest`);
        break;
      }
      case 'oneWay': {
        const a = pick(r, this.replicas).id;
        const b = pick(r, this.replicas).id;
        if (a !== b) {
          this.cut.add(`${a}>${b}`);
          this.stats.partitions += 1;
          this.note(`PARTITION one way ${a}>${b}`);
        }
        break;
      }
      case 'lossy':
        this.dropP = pick(r, [0.05, 0.2, 0.4]);
        this.dupP = pick(r, [0, 0.1, 0.3]);
        this.note(`NET drop ${this.dropP} dup ${this.dupP}`);
        break;
      case 'slow':
        this.maxDelay = pick(r, [30, 80, 150]);
        this.note(`NET delay <= ${this.maxDelay} ms`);
        break;
      case 'tail':
        this.tailP = pick(r, [0.02, 0.05, 0.1]);
        this.note(`NET ${this.tailP * 100}% of messages held 200-1000 ms`);
        break;
      case 'heal':
        this.heal();
        break;
      case 'calm':
        this.dropP = 0;
        this.dupP = 0;
        this.maxDelay = 8;
        this.tailP = 0;
        this.note('NET calm');
        break;
    }
    this.agenda.push(this.now + 60 + Math.floor(r() * 350), () => this.fault());
  }

  private quiet(): void {
    this.note('QUIET: faults stop');
    this.heal();
    this.dropP = 0;
    this.dupP = 0;
    this.maxDelay = 8;
    this.tailP = 0;
    for (const rep of this.replicas) {
      rep.crashAt = null;
      if (rep.node === null) this.restart(rep);
    }
  }

  // ---- clients -----------------------------------------------------------------

  private record(ev: Record<string, unknown>): void {
    this.history.push(JSON.stringify({ ...ev, time: this.now }));
  }

  private nextOp(client: Client): void {
    if (this.now >= this.stopIssuingAt) {
      client.done = true;
      return;
    }
    const r = this.rng;
    const f = pick(r, ['put', 'get', 'get', 'del', 'cas', 'cas'] as const);
    const key = pick(r, this.keys);
    client.seq += 1;
    const base = { client: client.id, seq: client.seq, key };
    let cmd: ClientCommand;
    let invoke: Record<string, unknown>;
    if (f === 'put') {
      const value = `v${++this.valueCounter}`;
      cmd = { op: 'put', ...base, value };
      invoke = { value };
    } else if (f === 'cas') {
      const value = `v${++this.valueCounter}`;
      const expected = r() < 0.8 ? (client.seen.get(key) ?? null) : null;
      cmd = { op: 'cas', ...base, expected, value };
      invoke = { value: [expected, value] };
    } else if (f === 'get') {
      cmd = { op: 'get', ...base };
      invoke = {};
    } else {
      cmd = { op: 'del', ...base };
      invoke = {};
    }
    const wire = encodeCommand(cmd);
    this.issued.add(JSON.stringify(wire));
    client.op = { cmd, wire, invokedAt: this.now, attempts: 0, attempt: 0, lastReplica: 0 };
    this.record({ process: client.process, type: 'invoke', f, key, ...invoke });
    this.attempt(client);
  }

  private attempt(client: Client): void {
    const op = client.op!;
    // Gives up by time only: retries after `unplaced` come fast.
    if (this.now - op.invokedAt > GIVE_UP_MS) return this.complete(client, null);
    if (op.attempts > 0) this.stats.retries += 1;
    op.attempts += 1;
    op.attempt += 1;
    const attempt = op.attempt;
    // A first attempt goes home (sticky clients) or anywhere; a retry goes elsewhere.
    const others = this.replicas.filter((x) => x.id !== op.lastReplica);
    const home = client.sticky && op.attempts === 1 && client.home !== 0 ? this.replicas[client.home - 1] : undefined;
    const rep = home ?? pick(this.rng, others.length > 0 ? others : this.replicas);
    op.lastReplica = rep.id;
    const retryLater = (ms: number): void =>
      this.agenda.push(this.now + ms, () => {
        if (client.op === op && op.attempt === attempt) this.attempt(client);
      });
    if (rep.node === null) return retryLater(10 + Math.floor(this.rng() * 20)); // connection refused
    const session = rep.kv.session(client.id);
    if (op.cmd.op === 'get' && session !== undefined && op.cmd.seq > session.seq) {
      // As the replica daemon does: a get from a known session is a read by
      // index, off the log (a first get goes through the log, so the
      // session exists before its next seq).
      const id = ++rep.readIds;
      rep.reads.set(id, { ci: client.idx, op, index: -1 });
      this.note(`client ${client.id} seq ${op.cmd.seq} get ${op.cmd.key} -> r${rep.id} read #${id} (attempt ${op.attempts})`);
      rep.node.read([id]);
      this.drain(rep);
      retryLater(250 + Math.floor(this.rng() * 100));
      return;
    }
    rep.waiters.set(`${client.id}\u0000${op.cmd.seq}`, client.idx);
    this.note(`client ${client.id} seq ${op.cmd.seq} ${op.cmd.op} ${op.cmd.key} -> r${rep.id} (attempt ${op.attempts})`);
    rep.node.propose([op.wire]);
    this.drain(rep);
    retryLater(250 + Math.floor(this.rng() * 100));
  }

  private newSession(client: Client): void {
    this.sessions += 1;
    client.id = `c${client.idx}s${this.sessions}`;
    client.seq = 0;
    client.established = false;
  }

  /** The op's answer (a store result) from replica `from`, or null: gave up, outcome unknown. */
  private complete(client: Client, res: Result | null, from: PeerId = 0): void {
    const op = client.op;
    if (op === null) return;
    client.op = null;
    client.home = from;
    const key = `${client.id}\u0000${op.cmd.seq}`;
    for (const rep of this.replicas) rep.waiters.delete(key);
    const f = op.cmd.op;
    const k = op.cmd.key;
    if (res === null) {
      this.ops.info += 1;
      if (op.invokedAt >= this.faultMs) this.quietInfos += 1;
      this.record({ process: client.process, type: 'info', f, key: k });
      // Jepsen style: the process that lost track of an op is retired.
      // Its session too: if that seq was never applied, the next would be
      // refused as expired, so it starts again as a new client.
      client.gen += 1;
      client.process = `c${client.idx}.${client.gen}`;
      this.newSession(client);
      client.seen.delete(k);
    } else if (res.status === 'stale' || res.status === 'expired') {
      this.fail('safety', `client ${client.id} seq ${op.cmd.seq} (${f}) came back ${res.status}: its current command was not applied`);
    } else if (res.status === 'mismatch') {
      if (f !== 'cas') this.fail('safety', `client ${client.id} ${f} came back mismatch`);
      this.ops.fail += 1;
      client.seen.set(k, res.current);
      this.record({ process: client.process, type: 'fail', f, key: k });
    } else {
      this.ops.ok += 1;
      if (op.cmd.op === 'get') {
        const v = 'value' in res ? res.value : null;
        client.seen.set(k, v);
        this.record({ process: client.process, type: 'ok', f, key: k, value: v });
      } else {
        client.seen.set(k, op.cmd.op === 'del' ? null : op.cmd.value);
        this.record({ process: client.process, type: 'ok', f, key: k });
      }
    }
    this.note(`client ${client.id} seq ${op.cmd.seq} ${f} ${res === null ? 'gave up' : JSON.stringify(res)}`);
    this.agenda.push(this.now + 1 + Math.floor(this.rng() * 20), () => this.nextOp(client));
  }
}

export function runLogWorld(opts: LogWorldOptions): LogWorldResult {
  return new LogWorld(opts).run();
}

export interface LogWorldSweep {
  readonly runs: number;
  readonly violations: LogWorldResult[];
  /** Runs with no violation that were live. */
  readonly live: number;
  readonly notLive: LogWorldResult[];
  readonly ops: { ok: number; fail: number; info: number };
  readonly slots: number;
  readonly lincheckUnknown: number;
  readonly stats: LogWorldStats;
  readonly seconds: number;
}

export function sweepLogWorld(
  from: number,
  count: number,
  o: Omit<LogWorldOptions, 'seed'> & {
    readonly stopAtFirst?: boolean;
    /** Count only violations of these kinds (others are skipped); default all. */
    readonly kinds?: readonly ViolationKind[];
  } = {},
): LogWorldSweep {
  const t0 = performance.now();
  const violations: LogWorldResult[] = [];
  const notLive: LogWorldResult[] = [];
  let live = 0;
  let runs = 0;
  let slots = 0;
  let lincheckUnknown = 0;
  const ops = { ok: 0, fail: 0, info: 0 };
  const stats = noStats();
  for (let seed = from; seed < from + count; seed++) {
    const { stopAtFirst: _s, kinds: _k, ...world } = o;
    const r = runLogWorld({ ...world, seed });
    runs += 1;
    slots += r.slots;
    ops.ok += r.ops.ok;
    ops.fail += r.ops.fail;
    ops.info += r.ops.info;
    if (r.lincheck === 'unknown') lincheckUnknown += 1;
    for (const k of Object.keys(stats) as (keyof LogWorldStats)[]) stats[k] += r.stats[k];
    if (r.violation !== null && (o.kinds === undefined || (r.kind !== null && o.kinds.includes(r.kind)))) {
      violations.push(r);
      if (o.stopAtFirst === true) break;
      continue;
    }
    if (r.violation !== null) continue;
    if (r.live) live += 1;
    else notLive.push(r);
  }
  return { runs, violations, live, notLive, ops, slots, lincheckUnknown, stats, seconds: (performance.now() - t0) / 1000 };
}

/** The bytes of a snapshot message's store (the simulator sends KvStores). */
function snapshotBytes(d: StateSnapshot): string {
  if (!(d instanceof KvStore)) throw new TypeError('a snapshot message that does not hold a KvStore');
  return fromUtf8.decode(d.snapshot());
}

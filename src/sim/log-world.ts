// A deterministic simulator for the replicated log (Multi-Paxos + the
// key-value store): the real LogNode and KvStore, not copies, on a simulated
// clock, network and disk, driven by one seeded PRNG, so a seed replays
// exactly.
//
// Each replica runs the real replica (src/node/replica-node.ts: LogNode,
// KvStore, clients, reads, snapshots, recovery) on the real node loop
// (src/node/loop.ts), as the daemon does, with simulated effects: the
// in-memory log store on a disk that survives its crashes
// (src/storage/memory-log-store.ts; a Ready's records are durable before its
// messages leave, its `early` messages before that), this network
// (log-net.ts) and this clock. Every K applied slots the replica takes a
// snapshot, compacts its log and checkpoints the store, so followers that
// fall behind catch up by `entries` or, past the compacted prefix, by
// `snapshot`. A restart opens the store again: the snapshot, and the log
// replayed on top. The parts: log-replicas.ts (lives and disks),
// log-clients.ts, log-faults.ts, log-checks.ts (the invariants), log-net.ts,
// log-trace.ts, log-world-types.ts.
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
// Clients (log-clients.ts) issue put/get/del/cas on a few keys, one op at a
// time each, to a random replica, through the replica's own client entry: a
// client's answer comes when the replica it asked applies its command, or,
// for a get from a session the store knows, by read index. If the replica
// answers "no leader" or "not ready", or there is no answer in time, the
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
//   - no lease expires within its TTL of its last renewal taking effect,
//     nor within its TTL + the extension of a leader taking office;
//   - durability: a restarted replica's promise is at least what it had on
//     disk, and no two leaders (or two lives of one) use the same ballot;
//     a replica that lost state holds, once recovered, a promise at least
//     as high as the one it lost (unless that ballot's owner lost its
//     state since: then no one can still act on it).
// At the end the client history must be linearizable (checkHistory), and
// every replica life's watch of every key must be a run of the log's own
// events, none skipped or repeated (checkWatches).
//
// Negative controls (broken on purpose; each must be caught):
//   skipPhase1     a new leader proposes without phase 1;
//   forgetLog      restarted replicas come back with an EMPTY durable store;
//   applyPastHole  a replica applies chosen slots past a hole;
//   staleReads     a leader answers reads at once from what it has applied,
//                  without the heartbeat round that confirms it still leads
//                  and without waiting for the slots it has proposed;
//   commitReads    the read index is the commit index even with 3 replicas,
//                  where a follower learns a slot from its own vote first;
//   earlyPairAccept  with 3 replicas the leader's accept leaves before its
//                  own vote is durable, though a follower's vote makes the
//                  slot chosen there;
//   skipWatchEvent a replica's watches lose one change in 50;
//   batchAnyKeys   the leader puts two writes of one key in one slot, so
//                  they share a revision (a client's transaction compares
//                  the key's mod revision with what it saw);
//   leaseNoExtension  a new leader expires leases on the timing it followed
//                  them by, without first giving each its TTL again and an
//                  extension (lease holders: log-leases.ts);
//   voteAtOnce     a replica that lost its disk or a record votes at once;
//   corruptAsTorn  a corrupt record is taken for a torn tail (and a damaged
//                  snapshot skipped): the replica keeps its identity, and votes;
//   fewRecoverers  recovery ends on answers from a majority counting itself,
//                  not from every other replica;
//   memberOutsideLog  a replica takes a membership change a client sends it
//                  at once, for its own quorums, without the log;
//   twoChangesInFlight  a change is taken while the last one is still
//                  taking effect (log-members.ts).
// With spares (a membership variant: 2), the hostsfile holds the first
// replicas only, and log-members.ts adds the rest and removes voters.

import { performance } from 'node:perf_hooks';
import type { PeerId } from '../core/types.js';
import { mulberry32, pick } from '../util/prng.js';
import { checkHistory } from '../lincheck/checker.js';
import { parseHistory } from '../lincheck/history.js';
import type { LogMessage, LogTiming, LogVariant } from '../log/types.js';
import { DEFAULT_LOG_TIMING } from '../paxos/defaults.js';
import { Agenda } from './agenda.js';
import { Invariants } from './log-checks.js';
import { SimClients } from './log-clients.js';
import { SimLeases } from './log-leases.js';
import { SimMembers } from './log-members.js';
import { initialMembership } from '../paxos/membership.js';
import { Faults } from './log-faults.js';
import { SimNet } from './log-net.js';
import { SimReplicas } from './log-replicas.js';
import { KvStore } from '../sm/kv.js';
import type { CheckedCommand } from '../sm/command.js';
import type { KvChange } from '../node/watch-hub.js';
import { Trace } from './log-trace.js';
import {
  MEMBER_VARIANTS,
  noStats,
  Violation,
  type LogWorldOptions,
  type LogWorldResult,
  type LogWorldStats,
  type LogWorldVariant,
  type SimContext,
  type ViolationKind,
} from './log-world-types.js';

export { LOG_WORLD_VARIANTS } from './log-world-types.js';
export type {
  LogWorldOptions,
  LogWorldResult,
  LogWorldStats,
  LogWorldVariant,
  ViolationKind,
} from './log-world-types.js';

const TICK_MS = 10;
const fromUtf8 = new TextDecoder();

/** The variants that are a flag of the core's own (LogVariant). */
const CORE_VARIANTS = new Set<LogWorldVariant>([
  'skipPhase1',
  'applyPastHole',
  'staleReads',
  'commitReads',
  'earlyPairAccept',
  'skipWatchEvent',
  'batchAnyKeys',
  'leaseNoExtension',
  'memberOutsideLog',
  'twoChangesInFlight',
]);

export class LogWorld implements SimContext {
  readonly rng: () => number;
  private readonly n: number;
  private readonly faultMs: number;
  private readonly endMs: number;
  readonly shape: string;

  readonly agenda = new Agenda<() => void>();
  now = 0;
  private events = 0;
  private readonly net: SimNet;
  private readonly checks: Invariants;
  private readonly replicas: SimReplicas;
  private readonly clients: SimClients;
  private readonly faults: Faults;
  private readonly trace: Trace;
  readonly stats: LogWorldStats = noStats();

  constructor(private readonly opts: LogWorldOptions) {
    this.rng = mulberry32(opts.seed * 2654435761);
    const r = this.rng;
    this.n = opts.replicas ?? 5;
    const variant = opts.variant;
    this.faultMs = opts.faultMs ?? 3000;
    const quietMs = opts.quietMs ?? 3000;
    this.endMs = this.faultMs + quietMs;
    const keepSlots = pick(r, [0, 3, 10]);
    const keys = pick(r, [['x'], ['x', 'y'], ['x', 'y', 'z']]);
    const durability = opts.durabilityChecks ?? true;
    this.trace = new Trace(opts.traceLines ?? 40);
    // Timing varies per seed: small windows and batches make the leader
    // batch (several commands per slot) and queue; small entries replies make
    // catch-up take several rounds.
    const timing: LogTiming = {
      ...DEFAULT_LOG_TIMING,
      window: pick(r, [1, 2, 4, 32]),
      maxBatch: pick(r, [1, 3, 512]),
      maxEntries: pick(r, [3, 256]),
    };
    const nodeVariant: LogVariant =
      variant === 'fewRecoverers'
        ? { recoverAnswers: Math.floor(this.n / 2) } // a majority, counting itself
        : variant !== undefined && CORE_VARIANTS.has(variant)
          ? { [variant]: true }
          : {};
    const nClients = opts.clients ?? 4;
    const spares = opts.spares ?? (variant !== undefined && MEMBER_VARIANTS.has(variant) ? 2 : 0);
    const first = this.n - spares;
    this.shape =
      `${this.n} replicas, ${nClients} clients, ${keys.length} keys, window ${timing.window}, batch ` +
      `${timing.maxBatch}, entries ${timing.maxEntries}, keep ${keepSlots}` +
      (spares > 0 ? `, ${spares} spares` : '');
    const kvOptions = {
      members: initialMembership(Array.from({ length: first }, (_, i) => ({ id: i + 1, name: `r${i + 1}` }))),
      concurrentChanges: variant === 'twoChangesInFlight',
    };

    this.net = new SimNet(this, (_from, to, msg) => this.replicas.deliver(to, msg), kvOptions);
    this.checks = new Invariants(this, this.n, durability, (id) => this.replicas.get(id).lostAt);
    this.replicas = new SimReplicas(
      this,
      {
        n: this.n,
        timing,
        nodeVariant,
        variant,
        snapshotEvery: opts.snapshotEvery ?? 20,
        keepSlots,
        durability,
        // As the daemon's: two of the longest election timeouts.
        leaseExtensionMs: 2 * 2 * timing.electionTicks * TICK_MS,
        kvOptions,
        first,
      },
      this.net,
      this.checks,
    );
    const stopIssuingAt = this.faultMs + Math.max(0, quietMs - 1500);
    this.clients = new SimClients(this, this.replicas, this.checks, keys, nClients, stopIssuingAt, this.faultMs);
    new SimLeases(this, this.replicas, this.checks, opts.leaseHolders ?? 2, stopIssuingAt);
    if (spares > 0) new SimMembers(this, this.replicas, this.checks, first, this.n, this.faultMs);
    this.faults = new Faults(this, this.net, this.replicas, variant, this.faultMs);
    this.agenda.push(TICK_MS, () => this.tick());
    this.agenda.push(150 + Math.floor(r() * 200), () => this.faults.fault());
    this.agenda.push(this.faultMs, () => this.quiet());
  }

  // ---- running --------------------------------------------------------------

  run(): LogWorldResult {
    let violation: string | null = null;
    let kind: ViolationKind | null = null;
    let lincheck: LogWorldResult['lincheck'] = 'skipped';
    const history = this.clients.history;
    try {
      for (;;) {
        const e = this.agenda.pop();
        if (e === undefined || e.at > this.endMs) break;
        this.now = e.at;
        this.events += 1;
        e.item();
      }
      this.checkStoresAgree();
      this.checkWatches();
    } catch (err) {
      if (!(err instanceof Violation)) throw err;
      violation = `t=${this.now} ms: ${err.message}`;
      kind = err.kind;
    }
    if (violation === null) {
      const checked =
        history.length === 0
          ? null
          : checkHistory(parseHistory(history.join('\n'), `seed ${this.opts.seed}`), {
              maxSteps: this.opts.checkSteps ?? 3_000_000,
            });
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
      trace: this.trace.format(),
      live: notLive === null,
      notLive,
      lincheck,
      ops: { ...this.clients.ops },
      slots: this.checks.maxSlot,
      events: this.events,
      stats: this.stats,
    };
  }

  /** The client history, Jepsen-style JSON lines (for inspection). */
  historyText(): string {
    return this.clients.history.join('\n');
  }

  note(what: string, msg?: LogMessage, to?: PeerId): void {
    this.trace.note(this.now, what, msg, to);
  }

  fail(kind: ViolationKind, why: string): never {
    throw new Violation(kind, why);
  }

  private whyNotLive(): string | null {
    // Only the members at the end must be up and caught up: a removed replica, or a spare never added, need not.
    const ahead = this.replicas.all.reduce((a, r) =>
      r.node !== null && r.lastApplied > (a?.lastApplied ?? -1) ? r : a,
    );
    const m = ahead.node?.kv.membership;
    const all = this.replicas.all.filter((r) => m === undefined || m === null || m.members.some((x) => x.id === r.id));
    const down = all.filter((r) => r.node === null);
    if (down.length > 0) return `replicas ${down.map((r) => r.id).join(',')} are down`;
    const applied = all.map((r) => r.lastApplied);
    const maxSlot = this.checks.maxSlot;
    if (applied.some((a) => a !== maxSlot))
      return `applied indexes ${applied.join(',')} but slot ${maxSlot} was learned`;
    const busy = this.clients.busy();
    if (busy !== null) return `clients ${busy} did not finish`;
    if (this.clients.quietInfos > 0)
      return `${this.clients.quietInfos} ops invoked after the faults stopped ended unknown`;
    return null;
  }

  /** At the end: replicas that applied the same slots hold the same bytes. */
  /**
   * Every life's watch stream is a run of the log's own events: the changes
   * the chosen slots make when applied in order to a fresh store, from the
   * revision its watch started at, none skipped, none repeated.
   */
  private checkWatches(): void {
    const kv = new KvStore();
    const events: KvChange[] = [];
    kv.onChange = (c) => events.push(c);
    const chosen = this.checks.chosenTexts();
    for (let slot = 1; chosen.has(slot); slot++) kv.applyBatch(JSON.parse(chosen.get(slot)!) as CheckedCommand[], slot);
    const first = new Map<number, number>();
    for (let i = events.length - 1; i >= 0; i--) first.set(events[i]!.rev, i);
    for (const w of this.replicas.watchStreams) {
      if (w.events.length === 0) continue;
      let at = first.get(w.events[0]!.rev) ?? -1;
      if (at < 0 || w.events[0]!.rev < w.start) at = -1;
      for (const [i, e] of w.events.entries()) {
        const want = at < 0 ? undefined : events[at + i];
        if (want === undefined || want.rev !== e.rev || want.key !== e.key || want.value !== e.value)
          this.fail(
            'safety',
            `replica ${w.id} (life ${w.life}) watched from revision ${w.start}: its event ${i} is ` +
              `${JSON.stringify(e).slice(0, 80)}, where the log's is ${JSON.stringify(want ?? null).slice(0, 80)}`,
          );
      }
      // From its start: the first event is the log's first at or after it.
      const firstAfter = events.find((e) => e.rev >= w.start);
      if (firstAfter !== undefined && firstAfter !== events[at])
        this.fail('safety', `replica ${w.id} (life ${w.life}) skipped events at the start of its watch`);
      this.stats.watchedEvents += w.events.length;
    }
  }

  private checkStoresAgree(): void {
    const at = new Map<number, { id: PeerId; bytes: string }>();
    for (const r of this.replicas.all) {
      if (r.node === null) continue;
      const bytes = fromUtf8.decode(r.node.kv.snapshot());
      const other = at.get(r.lastApplied);
      if (other === undefined) at.set(r.lastApplied, { id: r.id, bytes });
      else if (other.bytes !== bytes)
        this.fail(
          'safety',
          `replicas ${other.id} and ${r.id} both applied up to slot ${r.lastApplied} but hold different stores`,
        );
    }
  }

  // ---- time ------------------------------------------------------------------

  private tick(): void {
    // Rotate who ticks first, so no replica always wins a tie.
    const start = Math.floor(this.now / TICK_MS) % this.n;
    for (let i = 0; i < this.n; i++) this.replicas.tick(this.replicas.all[(start + i) % this.n]!);
    if (this.now + TICK_MS <= this.endMs) this.agenda.push(this.now + TICK_MS, () => this.tick());
  }

  private quiet(): void {
    this.note('QUIET: faults stop');
    this.net.heal();
    this.net.calm();
    for (const rep of this.replicas.all) {
      rep.crashAt = null;
      if (rep.node === null) this.replicas.restart(rep);
    }
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
  return {
    runs,
    violations,
    live,
    notLive,
    ops,
    slots,
    lincheckUnknown,
    stats,
    seconds: (performance.now() - t0) / 1000,
  };
}

// The log simulator's replicas: each runs the real replica (ReplicaNode, on
// the real node loop) over the simulator's network and an in-memory store
// on a MemoryDisk that outlives it. A crash drops the node and what its disk
// had not synced, also in the middle of a Ready (the disk's hooks throw
// before or after its records are durable); a restart opens a new store and
// node on the same disk. While a replica is down its disk may lose state:
// wiped, a corrupt log record, a damaged snapshot.

import type { PeerId } from '../core/types.js';
import { mulberry32 } from '../util/prng.js';
import { replay, type LogMessage, type LogTiming, type LogVariant } from '../log/types.js';
import { ReplicaNode, type ReplicaClient } from '../node/replica-node.js';
import type { CheckedClientCommand } from '../sm/command.js';
import { KvBuilder } from '../sm/kv-builder.js';
import type { KvOptions } from '../sm/kv.js';
import { MemoryDisk, MemoryLogStore } from '../storage/memory-log-store.js';
import { silentLogger } from '../util/logger.js';
import type { Checked, Invariants } from './log-checks.js';
import type { KvChange } from '../node/watch-hub.js';
import type { SimNet } from './log-net.js';
import type { LogWorldVariant, SimContext } from './log-world-types.js';

export interface SimReplica extends Checked {
  readonly id: PeerId;
  /** null while crashed. */
  node: ReplicaNode | null;
  readonly disk: MemoryDisk;
  life: number;
  /** The last slot this life applied (a snapshot install counts). */
  lastApplied: number;
  /** Since when it leads (null: it does not), as its batches say. */
  leaderSince: number | null;
  /** Highest promise in this replica's durable records, across lives. */
  durablePromise: number;
  lost: { promise: number; at: number } | null;
  lostAt: number;
  /** Down, and to lose state before it restarts. */
  doomed: boolean;
  /** Crash while handling the next Ready, at this point. */
  crashAt: 'beforeSync' | 'afterSync' | null;
}

export interface ReplicaSetup {
  readonly n: number;
  readonly timing: LogTiming;
  readonly nodeVariant: LogVariant;
  readonly variant: LogWorldVariant | undefined;
  readonly snapshotEvery: number;
  readonly keepSlots: number;
  readonly durability: boolean;
  /** A new leader's extension of every lease (node/lease-clock.ts). */
  readonly leaseExtensionMs: number;
  /** The stores' options: the hostsfile's members among them. */
  readonly kvOptions: KvOptions;
  /** How many replicas the hostsfile holds (ids 1..first); the rest are spares. */
  readonly first: number;
}

const fromUtf8 = new TextDecoder();

/** Thrown by a disk hook to stop a replica mid-Ready; caught where the world called into it. */
class Crashed extends Error {}

/** What one life of a replica's watch of every key was sent. */
export interface WatchStream {
  readonly id: PeerId;
  readonly life: number;
  start: number;
  readonly events: KvChange[];
}

export class SimReplicas {
  readonly watchStreams: WatchStream[] = [];
  readonly all: SimReplica[] = [];

  constructor(
    private readonly ctx: SimContext,
    private readonly o: ReplicaSetup,
    private readonly net: SimNet,
    private readonly checks: Invariants,
  ) {
    for (let id = 1; id <= o.n; id++) {
      this.all.push({
        id,
        node: null,
        disk: new MemoryDisk(),
        life: 0,
        lastApplied: 0,
        leaderSince: null,
        durablePromise: 0,
        lost: null,
        lostAt: -1,
        doomed: false,
        crashAt: null,
      });
    }
    for (const rep of this.all) this.start(rep);
  }

  get(id: PeerId): SimReplica {
    return this.all[id - 1]!;
  }

  leader(): SimReplica | undefined {
    return this.all.find((r) => r.node !== null && r.node.core.role === 'leader');
  }

  /** Call into a live replica; a crash in the middle is where it ends. */
  private enter(rep: SimReplica, f: (node: ReplicaNode) => void): void {
    if (rep.node === null) return;
    try {
      f(rep.node);
    } catch (err) {
      if (!(err instanceof Crashed)) throw err;
    }
  }

  deliver(to: PeerId, msg: LogMessage): void {
    const rep = this.get(to);
    const node = rep.node;
    if (node === null) return;
    const { stats } = this.ctx;
    if (msg.type === 'entries') stats.entriesDelivered += 1;
    if (msg.type === 'forward') stats.forwards += 1;
    if ((msg.type === 'entries' || msg.type === 'snapshot') && node.core.role !== 'follower')
      stats.catchUpToNonFollower += 1;
    if (msg.type !== 'heartbeat' && msg.type !== 'heartbeat_ack') this.ctx.note('deliver', msg, to);
    this.enter(rep, (n) => n.step(msg));
  }

  tick(rep: SimReplica): void {
    this.enter(rep, (n) => n.tick());
  }

  submit(rep: SimReplica, cmd: CheckedClientCommand, client: ReplicaClient): void {
    this.enter(rep, (n) => n.submit(cmd, client));
  }

  private start(rep: SimReplica): ReplicaNode {
    const { o, ctx, checks } = this;
    const disk = rep.disk;
    const store = new MemoryLogStore(disk, {
      kvOptions: o.kvOptions,
      snapshotEvery: o.snapshotEvery,
      keepSlots: o.keepSlots,
      // Broken on purpose: voteAtOnce ignores a missing identity; so does forgetLog.
      ignoreIdentity: o.variant === 'voteAtOnce' || o.variant === 'forgetLog',
      corruptAsTorn: o.variant === 'corruptAsTorn',
    });
    const opened = store.open();
    const life = rep.life;
    disk.hooks = {
      beforeSync: () => this.crashHere(rep, 'beforeSync', 'before its records were durable'),
      afterSync: () => this.crashHere(rep, 'afterSync', 'after its records were durable, before its messages left'),
      synced: (records) => {
        for (const rec of records) if (rec.t === 'p') rep.durablePromise = Math.max(rep.durablePromise, rec.n);
      },
      // Compared as the store's canonical bytes: the lines' order follows each store's history.
      snapshotSaved: (index, lines) =>
        checks.snapshot(rep, index, fromUtf8.decode(KvBuilder.fromLines(lines).snapshot())),
    };
    rep.lastApplied = opened.kv.appliedIndex;
    const node = new ReplicaNode(
      {
        self: rep.id,
        replicas: o.first,
        nameOf: (id) => (id === 0 ? undefined : `r${id}`),
        messageLines: false,
        timing: o.timing,
        random: mulberry32(Math.floor(ctx.rng() * 2 ** 32)),
        life: life + 1,
        variant: o.nodeVariant,
        leaseExtensionMs: o.leaseExtensionMs,
      },
      {
        store,
        network: { send: (to, msg) => this.net.send(rep.id, to, msg) },
        sendSnapshot: (to, view) => {
          ctx.stats.snapshotsSent += 1;
          this.net.send(rep.id, to, {
            type: 'snapshot',
            from: rep.id,
            index: view.applied,
            data: KvBuilder.fromLines(view.lines()),
          });
          return null;
        },
        now: () => ctx.now,
        out: () => undefined,
        log: silentLogger,
        fatal: (err) => {
          throw err;
        },
        snapshotSaved: () => void (ctx.stats.snapshotsTaken += 1),
        watch: {
          learned: (slot, v) => checks.chose(rep, slot, v, 'learned'),
          applying: (slot, v) => {
            if (slot !== rep.lastApplied + 1)
              ctx.fail('safety', `replica ${rep.id} applied slot ${slot} right after slot ${rep.lastApplied}: a hole`);
            checks.chose(rep, slot, v, 'applied');
            const first = o.kvOptions.members;
            if (first !== undefined) checks.applyTruth(slot, v, first, o.kvOptions.concurrentChanges === true);
            checks.applied(slot);
            rep.lastApplied = slot;
          },
          installing: (index) => {
            if (index < rep.lastApplied)
              ctx.fail(
                'safety',
                `replica ${rep.id} installed a snapshot at ${index}, behind its applied slot ${rep.lastApplied}`,
              );
            rep.lastApplied = index;
            ctx.stats.snapshotsInstalled += 1;
            ctx.note(`r${rep.id} installed snapshot ${index}`);
          },
          rejoined: (core) => {
            ctx.stats.rejoins += 1;
            ctx.note(`r${rep.id} REJOINED with promise ${core.promise}, commit ${core.commit}`);
            checks.restored(rep, core.promise);
          },
          performed: (core) => {
            checks.config(rep, core.applied, core.membership);
            checks.votersOf(rep, core.applied, (slot) => core.votersAt(slot));
            if (core.role === 'leader' && rep.node?.core === core) checks.leads(rep, core.currentBallot);
            rep.leaderSince = core.role === 'leader' ? (rep.leaderSince ?? ctx.now) : null;
          },
          expiring: (id, at) => {
            const ttl = rep.node?.kv.lease(id)?.ttl;
            if (ttl === undefined)
              return ctx.fail('safety', `replica ${rep.id} expires lease ${id}, which its store does not hold`);
            checks.expiring(rep, id, at, ttl, rep.leaderSince ?? ctx.now, o.leaseExtensionMs);
          },
        },
      },
      opened,
    );
    rep.node = node;
    // Every life watches every key from where it starts: the streams must be runs of the log's own events.
    const stream: WatchStream = { id: rep.id, life, start: 0, events: [] };
    this.watchStreams.push(stream);
    node.watch({ prefix: '' }, undefined, {
      reply: (a) => {
        if (a.status === 'watching') stream.start = a.rev;
        else if (a.status === 'events') stream.events.push(...a.events);
      },
      onClose: () => () => undefined,
    });
    return node;
  }

  private crashHere(rep: SimReplica, at: 'beforeSync' | 'afterSync', how: string): void {
    if (rep.crashAt !== at) return;
    this.ctx.stats.midReadyCrashes += 1;
    this.crash(rep, how);
    throw new Crashed(how);
  }

  crash(rep: SimReplica, how: string): void {
    if (rep.node === null) return;
    rep.node = null;
    rep.leaderSince = null;
    rep.crashAt = null;
    rep.disk.crash();
    this.ctx.stats.crashes += 1;
    this.ctx.note(`r${rep.id} CRASH ${how}`);
  }

  restart(rep: SimReplica): void {
    if (rep.node !== null) return;
    const { ctx, o } = this;
    // Broken on purpose: the disk comes back empty.
    if (o.variant === 'forgetLog') rep.disk.wipe();
    rep.life += 1;
    const node = this.start(rep);
    const core = node.core;
    ctx.stats.restarts += 1;
    ctx.note(
      `r${rep.id} RESTART life ${rep.life}, promise ${core.promise}, snapshot ${rep.disk.snapshot?.index ?? 0}, ` +
        `${rep.disk.records.length} records`,
    );
    if (o.durability && core.promise < rep.durablePromise) {
      ctx.fail(
        'durability',
        `replica ${rep.id} restarted with promise ${core.promise}, below the ${rep.durablePromise} it had made durable`,
      );
    }
    // Voting at once although it lost state (only the broken variants do).
    if (core.recovering === null && rep.lost !== null) this.checks.restored(rep, core.promise);
    this.enter(rep, (n) => n.kick());
  }

  /** While `rep` is down, its disk loses state: wiped, a corrupt log record, or a damaged snapshot. */
  damage(rep: SimReplica, how: 'wipe' | 'corrupt' | 'snapshot'): void {
    const { ctx } = this;
    const d = rep.disk;
    rep.doomed = false;
    const before = d.records.length;
    if (how === 'corrupt' && before === 0) return;
    if (how === 'snapshot') {
      // The log forgot the votes the snapshot covers, so this is lost state too: recover.
      if (!d.dropSnapshot()) return;
      ctx.stats.damagedSnapshots += 1;
    } else if (how === 'wipe') {
      d.wipe();
      ctx.stats.wipes += 1;
    } else {
      // Salvage keeps the records before the damaged one; the rest are gone.
      if (!d.cutLog(Math.floor(ctx.rng() * before))) return;
      ctx.stats.corruptions += 1;
    }
    rep.lost = { promise: Math.max(rep.lost?.promise ?? 0, rep.durablePromise), at: ctx.now };
    rep.lostAt = ctx.now;
    rep.durablePromise = replay(d.records).promised;
    const effect =
      how === 'wipe'
        ? 'wiped'
        : how === 'snapshot'
          ? 'snapshot damaged'
          : `corrupt record, kept ${d.records.length} of ${before}`;
    ctx.note(`r${rep.id} DISK: ${effect}`);
  }
}

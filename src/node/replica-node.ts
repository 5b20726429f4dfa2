// A replica of the replicated log, whole but for its I/O: the pure core
// (LogNode), the key-value store it applies to, and everything a replica
// does with the core's Ready batches, on the node loop (loop.ts):
//   - clients' commands wait here by session (sessions.ts) until applied, or
//     are answered "no leader" when they cannot be placed and were never
//     passed on;
//   - a get from a client session the store knows is a read by index
//     (LogNode.read, reads.ts): nothing is written, and it is answered from
//     this store once the core has confirmed it and its index is applied. A
//     client's first get goes through the log, so the store knows its
//     session before its next seq: a put from a session the store has never
//     seen is refused as expired unless it is seq 1;
//   - snapshots: installed from the leader; taken every so often (the log
//     is compacted behind them) and streamed to followers that are behind,
//     by replica-snapshots.ts;
//   - recovery: a replica that may have lost durable state votes only once
//     it has recovered from the others (the store marks it a member again);
//   - leases: the leader proposes the expiry of a lease not kept alive
//     (lease-clock.ts).
// Its effects are interfaces: a LogStore (a data directory, or memory), a
// network, a snapshot sender and a clock. The daemon (src/daemon/replica.ts)
// gives it sockets, timers and the disk; the simulator (src/sim/) gives it
// simulated ones, so both run this same code.

import { isChangeCommand } from '../sm/members.js';
import { effectiveSlot, type Membership } from '../paxos/membership.js';
import type { PeerId } from '../core/types.js';
import { isLogged, logChoseLine, logMessageLine } from '../log/logline.js';
import { LogNode } from '../log/node.js';
import { type Batch, type Committed, type LogMessage, type LogRecord, type Ready } from '../log/types.js';
import { checkCommand, type CheckedClientCommand, type CheckedCommand } from '../sm/command.js';
import type { LeaseChange } from '../sm/lease.js';
import { LeaseClock } from './lease-clock.js';
import { getResult, KvStore } from '../sm/kv.js';
import { oneWritePerKey } from '../sm/slot-rule.js';
import type { RangeQuery } from '../sm/range.js';
import { type Opened } from '../storage/log-store.js';
import { andThen, type MaybePromise } from '../util/maybe.js';
import { NodeLoop, type Lines, type Outbound } from './loop.js';
import { IndexReads } from './reads.js';
import { WatchHub, type KvChange, type WatchFilter } from './watch-hub.js';
import { Waiters } from './sessions.js';
import type { Answer, ReplicaClient, ReplicaConfig, ReplicaEffects, ReplicaStatus } from './replica-types.js';
import { DEFAULT_LEASE_EXTENSION_MS, DEFAULT_LOG_TIMING, RECOVERY_NAG_MS } from '../paxos/defaults.js';
import { ReplicaSnapshots } from './replica-snapshots.js';

export type {
  Answer,
  ProposalOutcome,
  ReplicaClient,
  ReplicaConfig,
  ReplicaEffects,
  ReplicaMetrics,
  ReplicaStatus,
  ReplicaWatch,
} from './replica-types.js';

/**
 * Whether `cmd` is answered by read index, off the log: a get from a
 * session `kv` knows (a client's first get goes through the log), not yet
 * applied (a retry of one that was is answered from its session, by the log).
 */
export function readsByIndex(
  kv: KvStore,
  cmd: CheckedClientCommand,
): cmd is Extract<CheckedClientCommand, { readonly o: 'get' | 'del' }> {
  return cmd.o === 'get' && kv.session(cmd.c) !== undefined && !kv.hasApplied(cmd.c, cmd.s);
}

/**
 * What the log holds: commands checked where they arrived (a client's
 * request, a peer's message, the WAL on load: src/sm/command.ts), in their
 * wire form. The log's core keeps them opaque; here they are that again.
 */
const checked = (v: Batch | readonly unknown[]): readonly CheckedCommand[] => v as readonly CheckedCommand[];

export class ReplicaNode {
  readonly core: LogNode;
  private readonly loop: NodeLoop<LogMessage, LogRecord, Ready>;
  private store: KvStore;
  private readonly waiters = new Waiters<Answer>();
  private readonly reads = new IndexReads();
  /** Our snapshots: taken, and sent to followers (replica-snapshots.ts). */
  private readonly snapshots: ReplicaSnapshots;
  private stopped = false;
  private lastLeader: PeerId = 0;
  /** Why this replica recovers before it votes (null once it votes), and since when. */
  private recovering: string | null = null;
  private readonly recoveringSince: number;
  /** Whether the start of recovery was a warning (lost or damaged state, not a first start): its end is one too. */
  private recoveryWarned = false;
  private recoveryNagAt: number;
  private readonly watches: WatchHub;
  private readonly changed = (c: KvChange): void => this.watches.record(c);
  private readonly leaseClock: LeaseClock;
  private readonly leaseChanged = (c: LeaseChange): void => this.leaseClock.changed(c, this.fx.now());
  /** With metrics only: when (fx.now) each slot not yet applied was learned chosen, for the apply lag. */
  /** The configuration last told to the shell (fx.members). */
  private lastMembers: Membership | null = null;
  private lastSettled = false;
  private readonly learnedAt = new Map<number, number>();

  constructor(
    private readonly cfg: ReplicaConfig,
    private readonly fx: ReplicaEffects,
    opened: Opened,
  ) {
    const { recovered, kv, recover, empty } = opened;
    this.store = kv;
    this.watches = new WatchHub(kv.appliedIndex, undefined, cfg.variant?.skipWatchEvent === true ? 50 : 0);
    kv.onChange = this.changed;
    this.leaseClock = new LeaseClock(
      cfg.leaseExtensionMs ?? DEFAULT_LEASE_EXTENSION_MS,
      cfg.variant?.leaseNoExtension !== true,
    );
    this.leaseClock.reset(kv.leaseLines(), fx.now());
    kv.onLease = this.leaseChanged;
    this.core = new LogNode(
      {
        self: cfg.self,
        replicas: cfg.replicas,
        timing: cfg.timing ?? DEFAULT_LOG_TIMING,
        random: cfg.random,
        life: cfg.life,
        recover: recover !== null,
        // The configuration the store holds (its snapshot's, else the hostsfile's); the log replays changes after it.
        ...(kv.membership === null ? {} : { membership: kv.membership }),
        // (Broken on purpose, batchAnyKeys: two writes of one key may share a slot, and so a revision.)
        ...(cfg.variant?.batchAnyKeys === true ? {} : { batchRule: oneWritePerKey }),
        ...(cfg.variant === undefined ? {} : { variant: cfg.variant }),
      },
      recovered,
    );
    this.loop = new NodeLoop(this.core, {
      store: fx.store,
      network: fx.network,
      lines: this.lines(),
      applier: { apply: (r) => this.apply(r) },
      fatal: fx.fatal,
      ...(fx.defer === undefined ? {} : { defer: fx.defer }),
    });
    this.snapshots = new ReplicaSnapshots(cfg, fx, this.core, this.loop, () => this.stopped);
    fx.log.info(
      `recovered: promise ${recovered.promised}, ${recovered.votes.size} votes, snapshot at slot ` +
        `${recovered.snapshotIndex}, applying up to slot ${this.core.commit - 1}`,
    );
    this.recoveringSince = this.recoveryNagAt = fx.now();
    if (recover !== null && this.core.recovering !== null) {
      this.recovering = recover;
      // A first start is routine; lost or damaged state is worth a warning.
      const say =
        `recovering (${recover}): voting for nothing, and answering clients "not ready", until ` +
        `every other replica has said what it holds and this one has caught up`;
      this.recoveryWarned = !empty;
      if (empty) fx.log.info(say);
      else fx.log.warn(say);
    }
  }

  /** What this replica is now: role, leader, ballot, indexes, recovery (`paxos status`, /readyz, /metrics). */
  status(): ReplicaStatus {
    const core = this.core;
    return {
      role: core.role,
      leader: core.leader,
      ballot: core.currentBallot,
      promise: core.promise,
      commit: core.commit - 1,
      leaderCommit: core.leaderCommit - 1,
      applied: this.store.appliedIndex,
      recovering: this.recoveryStatus(),
    };
  }

  /** The store as it is now (dumps, checks). */
  get kv(): KvStore {
    return this.store;
  }

  /** Apply what the store recovered (slots above its snapshot), and anything else pending. */
  kick(): void {
    this.loop.kick();
  }

  step(m: LogMessage): void {
    this.loop.step(m);
  }

  tick(): void {
    if (this.stopped) return;
    this.core.tick();
    const late = this.reads.late(this.fx.now());
    if (late.length > 0) this.core.read(late);
    this.nagWhileRecovering();
    this.expireLeases();
    this.loop.kick();
  }

  /** As leader, propose the expiry of each lease not kept alive for its TTL (lease-clock.ts). */
  private expireLeases(): void {
    const now = this.fx.now();
    this.leaseClock.leads(this.core.role === 'leader', now);
    for (const { id, at } of this.leaseClock.due(now)) {
      const cmd = checkCommand({ o: 'expire', id, at });
      if (!cmd.ok) throw new Error(`an expire the store refuses: ${cmd.why} (a bug)`);
      const ttl = this.store.lease(id)?.ttl;
      this.fx.watch?.expiring?.(id, at, now);
      this.fx.log.info(`lease ${id}: not kept alive for its TTL of ${ttl ?? '?'} s since slot ${at}: expiring it`);
      this.core.propose([cmd.value]);
    }
  }

  /**
   * A client's command, checked where it arrived (and never decoded again):
   * answered through `client` once applied, or read by index.
   */
  submit(cmd: CheckedClientCommand, client: ReplicaClient): void {
    if (this.stopped) return client.reply({ status: 'no_leader' });
    const metrics = this.fx.metrics;
    const why = this.recoveryStatus();
    if (why !== null) {
      metrics?.proposal('not_ready');
      return client.reply({ status: 'not_ready', why });
    }
    if (readsByIndex(this.store, cmd)) return this.readByIndex(cmd.k, client);
    if (this.cfg.variant?.memberOutsideLog === true && isChangeCommand(cmd)) {
      // Broken on purpose: this replica alone counts quorums in the new configuration.
      this.core.changeOutsideLog(cmd);
      return client.reply({
        status: 'done',
        slot: this.store.appliedIndex,
        result: { status: 'members', members: [] },
      });
    }
    // Forgotten if its client goes first; that is cancelled once it is answered.
    const w = {
      reply: (a: Answer): void => {
        cancel();
        metrics?.proposal(a.status === 'done' ? 'chosen' : 'unplaced');
        client.reply(a);
      },
    };
    const cancel = client.onClose(() => {
      metrics?.proposal('abandoned');
      this.waiters.drop(cmd, w);
    });
    // Passed on only where a leader is known (this one, or the one a follower
    // forwards to): a candidate hands a new command back unplaced (LogNode.propose).
    this.waiters.add(cmd, w, this.core.leader !== 0);
    this.core.propose([cmd]);
    this.loop.kick();
  }

  /** Watch a key or prefix from revision `from` (watch-hub.ts); returns what stops it. */
  watch(filter: WatchFilter, from: number | undefined, client: ReplicaClient): () => void {
    const id = this.watches.add(filter, from, this.store.appliedIndex, (a) => client.reply(a));
    if (id === null) return () => undefined;
    const cancel = client.onClose(() => this.watches.drop(id));
    return () => {
      cancel();
      this.watches.drop(id);
    };
  }

  /** A range of keys, read by index as a get is (and, like it, never logged). */
  range(q: RangeQuery, client: ReplicaClient): void {
    if (this.stopped) return client.reply({ status: 'no_leader' });
    const why = this.recoveryStatus();
    if (why !== null) return client.reply({ status: 'not_ready', why });
    this.readByIndex((applied) => ({ status: 'range', applied, ...this.store.range(q) }), client);
  }

  private readByIndex(answer: ((applied: number) => Answer) | string, client: ReplicaClient): void {
    const read =
      typeof answer === 'string'
        ? (applied: number): Answer => ({
            status: 'done',
            slot: applied,
            result: getResult(this.store.entry(answer)),
          })
        : answer;
    const id = this.reads.add(
      (applied) => {
        cancel();
        client.reply(read(applied));
      },
      () => {
        cancel();
        client.reply({ status: 'no_leader' });
      },
    );
    const cancel = client.onClose(() => this.reads.drop(id));
    this.core.read([id]);
    this.loop.kick();
  }

  /** While recovering, what it waits for (for clients, dump and the live page); null once it votes. */
  recoveryStatus(): string | null {
    const node = this.core;
    if (this.recovering === null || node.recovering === null) return null;
    if (node.recovering === 'catching-up') return `recovering (${this.recovering}): catching up before it votes`;
    const names = node.recoveryMissing.map((id) => this.cfg.nameOf(id) ?? String(id));
    return `recovering (${this.recovering}): waiting for ${names.join(', ')} to answer before it votes`;
  }

  private nagWhileRecovering(): void {
    const status = this.recoveryStatus();
    if (status === null) return;
    const now = this.fx.now();
    if (now - this.recoveryNagAt < RECOVERY_NAG_MS) return;
    this.recoveryNagAt = now;
    this.fx.log.warn(
      `still ${status} (${((now - this.recoveringSince) / 1000).toFixed(0)} s); every other replica must ` +
        `answer: a majority is not enough (docs/recovery.md)`,
    );
  }

  /** Stop taking inputs; once the batch under way is done, write the replica file and close the store. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.loop.stop();
    await this.loop.exclusive(async () => {
      // The replica file is current at every snapshot and at a clean shutdown.
      await Promise.resolve(this.fx.store.writeReplicaFile(this.store.view())).catch((err: Error) =>
        this.fx.log.warn(`could not write ${this.fx.store.replicaFile}: ${err.message}`),
      );
      await this.fx.store.close();
    });
  }

  // ---- the rest of a batch, after the loop's part ----------------------------

  private lines(): Lines<LogMessage, Ready> {
    const { self, messageLines } = this.cfg;
    const out = this.fx.out;
    return {
      received: (r) => {
        if (messageLines) for (const m of r.received) if (isLogged(m)) out(logMessageLine('received', self, m));
      },
      sent: (o: Outbound<LogMessage>) => {
        if (o.msg.type === 'forward') this.fx.metrics?.forwarded(o.msg.cmds.length);
        if (messageLines && o.silent !== true && isLogged(o.msg)) out(logMessageLine('sent', self, o.msg));
      },
      decided: (r) => {
        const at = this.fx.metrics === undefined ? undefined : this.fx.now();
        for (const l of r.learned) {
          if (at !== undefined) this.learnedAt.set(l.slot, at);
          this.fx.watch?.learned?.(l.slot, l.v);
          out(logChoseLine(self, l.slot, l.n, l.v));
        }
      },
    };
  }

  private apply(r: Ready): MaybePromise<void> {
    // A snapshot from the leader replaces the store.
    const installed = r.snapshot === null ? undefined : this.install(r.snapshot.index, r.snapshot.data);
    // Recovered: the identity makes this store a voting member's again, once
    // everything it learned is durable (the snapshot above, the chosen values
    // in its log), and before any vote: votes come in later batches.
    const rejoined = andThen(installed, () => (r.rejoined ? this.rejoin() : undefined));
    return andThen(rejoined, () => this.settle(r));
  }

  private install(index: number, data: unknown): MaybePromise<void> {
    // The store the daemon rebuilt from the leader's chunks (or the simulator delivered).
    const kv = data;
    if (!(kv instanceof KvStore) || kv.appliedIndex !== index)
      throw new Error(`a snapshot for slot ${index} that does not hold our store at that slot (a bug)`);
    this.fx.watch?.installing?.(index, kv);
    this.store = kv;
    kv.onChange = this.changed;
    this.leaseClock.reset(kv.leaseLines(), this.fx.now());
    kv.onLease = this.leaseChanged;
    this.watches.reset(index);
    for (const slot of this.learnedAt.keys()) if (slot <= index) this.learnedAt.delete(slot);
    const { store, log } = this.fx;
    return andThen(store.writeSnapshot(kv.view()), () =>
      andThen(
        store.checkpoint(index, () => this.core.liveRecords(index)),
        () => log.info(`installed a snapshot at slot ${index} (${kv.size} keys, ${kv.storeBytes} bytes)`),
      ),
    );
  }

  private rejoin(): MaybePromise<void> {
    const { store, log } = this.fx;
    return andThen(store.syncAll(), () =>
      andThen(store.markRejoined(), () => {
        const node = this.core;
        const say =
          `recovered from the other replicas: voting again (promise ${node.promise}, caught up to ` +
          `slot ${node.commit - 1}, after ${((this.fx.now() - this.recoveringSince) / 1000).toFixed(1)} s)`;
        if (this.recoveryWarned) log.warn(say);
        else log.info(say);
        this.recovering = null;
        this.fx.watch?.rejoined?.(node);
      }),
    );
  }

  /** Apply, in slot order, answer clients and reads, follow the leader, snapshot. */
  private settle(r: Ready): void {
    for (const c of r.committed) this.applySlot(c);
    for (const to of r.sendSnapshotTo) this.snapshots.send(to, this.store);
    for (const cmd of checked(r.unplaced)) {
      if (cmd.o === 'noop' || cmd.o === 'expire') continue;
      // Passed on before: it may yet be chosen. It waits here, and goes to the
      // next leader; the client's timeout says "unknown", which is the truth.
      if (this.waiters.placed(cmd)) continue;
      // Applied here already (a retry): "nothing done" would be false too.
      if (this.store.hasApplied(cmd.c, cmd.s)) continue;
      this.waiters.answer(cmd, { status: 'no_leader' });
    }
    const now = this.fx.now();
    for (const c of r.reads) this.reads.confirmed(c.id, c.index, now);
    for (const id of r.unreadable) this.reads.refused(id);
    if (this.reads.size > 0) this.reads.serve(this.store.appliedIndex);
    this.followLeader();
    this.noticeMembers();
    this.leaseClock.leads(this.core.role === 'leader', now);
    this.fx.watch?.performed?.(this.core);
    this.snapshots.takeIfDue(this.store);
  }

  private applySlot(c: Committed): void {
    this.fx.watch?.applying?.(c.slot, c.v);
    const learned = this.learnedAt.get(c.slot);
    if (learned !== undefined) {
      this.learnedAt.delete(c.slot);
      this.fx.metrics?.applied((this.fx.now() - learned) / 1000);
    }
    // Applied as they are: checked where they arrived, never decoded again.
    const cmds = checked(c.v);
    const results = this.store.applyBatch(cmds, c.slot);
    this.watches.flush();
    cmds.forEach((cmd, i) => {
      if (cmd.o === 'noop' || cmd.o === 'expire') return;
      // A retry is answered from its session, with the slot that applied it
      // then: the revision its changes carry (found by the nemesis's watchers).
      const s = this.store.session(cmd.c);
      const slot = s !== undefined && s.seq === cmd.s ? s.index : c.slot;
      this.waiters.answer(cmd, { status: 'done', slot, result: results[i]! });
    });
  }

  /** The configuration after the last slot applied (null: the store was given none). */
  get membership(): Membership | null {
    return this.store.membership;
  }

  /** Tell the shell of a new configuration (links to open and close; whether we are still a member). */
  private noticeMembers(): void {
    const m = this.store.membership;
    if (m === null) return;
    // In force once every slot before its first is applied: the old voters take part until then.
    const settled = this.store.appliedIndex >= effectiveSlot(m) - 1;
    if (m === this.lastMembers && settled === this.lastSettled) return;
    const first = this.lastMembers === null;
    this.lastSettled = settled;
    if (m !== this.lastMembers && !first) {
      const show = m.members.map((x) => `${x.name}(${x.id}${x.voter ? '' : ', learner'})`).join(' ');
      this.fx.log.info(`members: ${show}; in force from slot ${effectiveSlot(m)}`);
    }
    this.lastMembers = m;
    this.fx.members?.(m, settled);
  }

  private followLeader(): void {
    const node = this.core;
    if (node.leader === this.lastLeader) return;
    this.lastLeader = node.leader;
    if (node.leader !== 0) this.fx.metrics?.leaderChanged();
    const who = this.cfg.nameOf(node.leader);
    this.fx.log.info(
      who === undefined
        ? 'no leader known'
        : `leader: ${who}${node.leader === this.cfg.self ? ` (this replica, ballot ${node.currentBallot})` : ''}`,
    );
    // Commands passed on to a leader that is gone may be lost with it: pass
    // them on again. The store applies each client seq at most once.
    if (node.leader !== 0 && this.waiters.size > 0) node.propose(this.waiters.placeAll());
  }
}

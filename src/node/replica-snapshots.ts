// A replica's snapshots of its own store (replica-node.ts holds one of
// these): taken every so often, so that the log can be compacted behind
// them, and streamed to followers that are behind the log. Installing a
// leader's snapshot stays in replica-node.ts: it replaces the store.

import type { PeerId } from '../core/types.js';
import type { LogNode } from '../log/node.js';
import type { LogMessage, LogRecord, Ready } from '../log/types.js';
import type { KvStore } from '../sm/kv.js';
import { andThen, type MaybePromise } from '../util/maybe.js';
import type { NodeLoop } from './loop.js';
import type { ReplicaConfig, ReplicaEffects } from './replica-types.js';
import { KEEP_LOG_BYTES, SNAPSHOT_RESEND_MS } from '../paxos/defaults.js';

export class ReplicaSnapshots {
  private readonly sentAt = new Map<PeerId, number>();
  /** Followers a snapshot is streaming to now: one transfer each at a time. */
  private readonly sending = new Set<PeerId>();
  /** A snapshot being written in the background. */
  private saving = false;

  constructor(
    private readonly cfg: ReplicaConfig,
    private readonly fx: ReplicaEffects,
    private readonly core: LogNode,
    private readonly loop: NodeLoop<LogMessage, LogRecord, Ready>,
    /** Whether the replica has stopped: a stopped one neither compacts nor goes on sending. */
    private readonly stopped: () => boolean,
  ) {}

  /** Take a snapshot of `kv` if the log store says one is due and none is being written. */
  takeIfDue(kv: KvStore): void {
    if (!this.saving && this.fx.store.shouldSnapshot(kv.appliedIndex)) this.take(kv);
  }

  /**
   * A frozen view now (a copy of the key map: a few ms per 100,000 keys); the
   * store writes it (in the background, on a real disk) while slots go on
   * being applied and answered, and the log is checkpointed once it is durable.
   */
  private take(kv: KvStore): void {
    const { store, now } = this.fx;
    const t0 = now();
    const view = kv.view();
    const index = view.applied;
    const viewMs = now() - t0;
    const t1 = now();
    const written = store.writeSnapshot(view);
    const compact = (): MaybePromise<void> => {
      if (this.stopped()) return;
      return store.checkpoint(index, () => {
        this.core.compact(index, index + 1 - store.keepSlots, KEEP_LOG_BYTES);
        return this.core.liveRecords(index);
      });
    };
    const report = (): void => this.fx.snapshotSaved?.(index, viewMs, now() - t1);
    if (!(written instanceof Promise)) {
      const compacted = andThen(compact(), report);
      if (compacted instanceof Promise) compacted.catch((err: Error) => this.fx.fatal(err));
      return;
    }
    // In the background: the checkpoint waits for the batch under way, and
    // holds the loop only while it takes the live records and is queued in the
    // log (wrapped, so that exclusive does not wait for it): batches go on
    // meanwhile, their syncs queued behind it.
    this.saving = true;
    void written
      .then(() => this.loop.exclusive(() => ({ done: compact() })))
      .then(({ done }) => done)
      .then(report)
      .catch((err: Error) => this.fx.fatal(err))
      .finally(() => (this.saving = false));
  }

  /**
   * Stream `kv`, frozen now, to a follower that is behind our log. One
   * transfer per follower at a time, at most one per SNAPSHOT_RESEND_MS;
   * stopped if we stop leading.
   */
  send(to: PeerId, kv: KvStore): void {
    const { now, log } = this.fx;
    if (this.sending.has(to) || now() - (this.sentAt.get(to) ?? -Infinity) < SNAPSHOT_RESEND_MS) return;
    const who = this.cfg.nameOf(to) ?? String(to);
    const view = kv.view();
    this.sending.add(to);
    const t0 = now();
    log.info(`sending our snapshot (slot ${view.applied}, ${view.keys} keys) to ${who}: it is behind our log`);
    // A leader that is deposed stops (the follower asks the next one); anyone else answering a fetch finishes.
    const leading = this.core.role === 'leader';
    const cancelled = (): boolean => this.stopped() || (leading && this.core.role !== 'leader');
    const done = (why: string | null): void => {
      log.info(
        why === null
          ? `sent our snapshot (slot ${view.applied}) to ${who} in ${(now() - t0).toFixed(0)} ms`
          : `stopped sending our snapshot to ${who}: ${why}`,
      );
      view.close();
      this.sending.delete(to);
      this.sentAt.set(to, now());
    };
    const sent = this.fx.sendSnapshot(to, view, cancelled);
    if (sent instanceof Promise) void sent.then(done, (err: Error) => done(err.message));
    else done(sent);
  }
}

// A few LogNodes (the replicated log's pure core) and a mailbox, for unit
// tests that hand messages over one by one: nothing moves unless a test says so.

import type { PeerId } from '../../src/paxos/ids.js';
import { LogNode } from '../../src/log/node.js';
import { DEFAULT_LOG_TIMING } from '../../src/paxos/defaults.js';
import type { Membership } from '../../src/paxos/membership.js';
import {
  EMPTY_RECOVERED,
  type LogMessage,
  type LogRecord,
  type LogTiming,
  type LogVariant,
  type Ready,
  type Recovered,
  type StateSnapshot,
} from '../../src/log/types.js';

export const TIMING: LogTiming = { ...DEFAULT_LOG_TIMING, heartbeatTicks: 2, electionTicks: 10, resendTicks: 10 };

/** A few LogNodes and a mailbox; nothing moves unless a test says so. */
export class Net {
  readonly nodes = new Map<PeerId, LogNode>();
  readonly records = new Map<PeerId, LogRecord[]>();
  /** Per replica, slot -> value learned (Ready.learned). */
  readonly learned = new Map<PeerId, Map<number, string>>();
  /** Per replica, the slots applied, in order. */
  readonly applied = new Map<PeerId, number[]>();
  readonly snapshots = new Map<PeerId, { index: number; data: StateSnapshot }[]>();
  readonly unplaced = new Map<PeerId, unknown[]>();
  readonly sendSnapshotTo = new Map<PeerId, PeerId[]>();
  /** Per replica, reads confirmed (Ready.reads) and refused (Ready.unreadable). */
  readonly reads = new Map<PeerId, Array<{ id: number; index: number }>>();
  readonly unreadable = new Map<PeerId, number[]>();
  private lives = 0;
  /** Messages sent and not yet delivered or dropped. */
  mail: Array<{ from: PeerId; to: PeerId; msg: LogMessage }> = [];

  constructor(
    readonly n: number,
    readonly timing: LogTiming = TIMING,
    recovered: (id: PeerId) => Recovered = () => EMPTY_RECOVERED,
  ) {
    for (let id = 1; id <= n; id++) this.boot(id, recovered(id));
  }

  /** Readies with `rejoined` set, per replica. */
  readonly rejoined = new Map<PeerId, number>();

  boot(id: PeerId, rec: Recovered, recover = false, variant?: LogVariant, membership?: Membership): LogNode {
    // random 0: the election timeout is exactly electionTicks.
    const node = new LogNode(
      {
        self: id,
        replicas: this.n,
        timing: this.timing,
        random: () => 0,
        life: ++this.lives,
        recover,
        ...(variant === undefined ? {} : { variant }),
        ...(membership === undefined ? {} : { membership }),
      },
      rec,
    );
    this.nodes.set(id, node);
    if (!this.records.has(id)) this.records.set(id, []);
    this.learned.set(id, this.learned.get(id) ?? new Map());
    this.applied.set(id, []);
    this.drain(id);
    return node;
  }

  node(id: PeerId): LogNode {
    return this.nodes.get(id)!;
  }

  drain(id: PeerId): Ready[] {
    const node = this.node(id);
    const out: Ready[] = [];
    while (node.hasReady) {
      const r = node.ready();
      out.push(r);
      this.records.get(id)!.push(...r.records);
      for (const o of [...r.early, ...r.messages])
        for (const to of o.to) this.mail.push({ from: id, to, msg: JSON.parse(JSON.stringify(o.msg)) as LogMessage });
      for (const l of r.learned) this.learned.get(id)!.set(l.slot, JSON.stringify(l.v));
      if (r.snapshot !== null) {
        this.snapshots.set(id, [...(this.snapshots.get(id) ?? []), r.snapshot]);
        this.applied.get(id)!.push(-r.snapshot.index); // a snapshot install, marked negative
      }
      for (const c of r.committed) this.applied.get(id)!.push(c.slot);
      this.unplaced.set(id, [...(this.unplaced.get(id) ?? []), ...r.unplaced]);
      this.sendSnapshotTo.set(id, [...(this.sendSnapshotTo.get(id) ?? []), ...r.sendSnapshotTo]);
      this.reads.set(id, [...(this.reads.get(id) ?? []), ...r.reads]);
      this.unreadable.set(id, [...(this.unreadable.get(id) ?? []), ...r.unreadable]);
      if (r.rejoined) this.rejoined.set(id, (this.rejoined.get(id) ?? 0) + 1);
    }
    return out;
  }

  step(id: PeerId, msg: LogMessage): Ready[] {
    this.node(id).step(msg);
    return this.drain(id);
  }

  tick(id: PeerId, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.node(id).tick();
      this.drain(id);
    }
  }

  propose(id: PeerId, cmds: unknown[]): Ready[] {
    this.node(id).propose(cmds);
    return this.drain(id);
  }

  /** Deliver mail (matching `allow`; the rest is dropped) until none is left. */
  deliver(allow: (from: PeerId, to: PeerId, msg: LogMessage) => boolean = () => true, max = 10_000): void {
    for (let i = 0; i < max && this.mail.length > 0; i++) {
      const { from, to, msg } = this.mail.shift()!;
      if (allow(from, to, msg)) this.step(to, msg);
    }
  }

  /** Take (and remove) the mail matching `match`. */
  take(
    match: (from: PeerId, to: PeerId, msg: LogMessage) => boolean,
  ): Array<{ from: PeerId; to: PeerId; msg: LogMessage }> {
    const got = this.mail.filter((m) => match(m.from, m.to, m.msg));
    this.mail = this.mail.filter((m) => !match(m.from, m.to, m.msg));
    return got;
  }

  /** Replica `id` stands and wins with everyone's help. */
  elect(id: PeerId): number {
    this.tick(id, this.timing.electionTicks);
    this.deliver((f, t) => f === id || t === id);
    const node = this.node(id);
    if (node.role !== 'leader') throw new Error(`replica ${id} did not win: ${node.role}`);
    return node.currentBallot;
  }
}

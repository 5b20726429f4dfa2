// A tiny synchronous network for core tests: real PaxosNode instances on the
// daemon's node loop (LabNode) with in-memory storage, FIFO delivery, and
// the same log lines. Not a simulator (no faults, no reordering); just
// enough to drive whole rounds in a unit test.

import { parseHostsfile } from '../../src/config/hostsfile.js';
import { PaxosNode } from '../../src/core/node.js';
import type { LabReady } from '../../src/core/ready.js';
import { DEFAULT_TICK_TIMING } from '../../src/core/timing.js';
import { EMPTY_STATE, type DurableState, type Message, type PeerId } from '../../src/core/types.js';
import { LabNode } from '../../src/node/lab-node.js';
import { MemoryStorage } from '../../src/storage/memory-state.js';

/** A core that keeps every Ready it hands out, for ordering assertions. */
class RecordingNode extends PaxosNode {
  readonly readies: LabReady[] = [];

  override ready(): LabReady {
    const r = super.ready();
    this.readies.push(r);
    return r;
  }
}

export class MemNet {
  readonly cluster;
  readonly nodes = new Map<PeerId, PaxosNode>();
  readonly logs = new Map<PeerId, string[]>();
  /** Every state each node saved, in order. */
  readonly persisted = new Map<PeerId, readonly DurableState[]>();
  /** Every Ready each node produced, in order, for ordering assertions. */
  readonly readies = new Map<PeerId, LabReady[]>();
  private readonly loops = new Map<PeerId, LabNode>();
  private readonly queue: Array<{ to: PeerId; msg: Message }> = [];
  /** Messages to these peers are dropped. */
  readonly down = new Set<PeerId>();

  /** Nodes start as the daemon starts them; their first Ready (a restarted winner's announcement) waits for flush. */
  constructor(hostsfile: string, states: ReadonlyMap<PeerId, DurableState> = new Map()) {
    this.cluster = parseHostsfile(hostsfile, 'hostsfile');
    for (const h of this.cluster.hosts) {
      const storage = new MemoryStorage(states.get(h.id) ?? EMPTY_STATE);
      const core = new RecordingNode(
        { self: h.id, cluster: this.cluster, timing: DEFAULT_TICK_TIMING, rng: () => 0.5 },
        storage.load(),
      );
      const log: string[] = [];
      this.loops.set(
        h.id,
        new LabNode(core, {
          storage,
          network: { send: (to, msg) => void this.queue.push({ to, msg }) },
          out: (line) => void log.push(line),
          // A refused message fails the test.
          dropped: (msg, why) => {
            throw new Error(`peer ${h.id} refused ${JSON.stringify(msg)}: ${why}`);
          },
          fatal: (err) => {
            throw err;
          },
        }),
      );
      this.nodes.set(h.id, core);
      this.logs.set(h.id, log);
      this.persisted.set(h.id, storage.saves);
      this.readies.set(h.id, core.readies);
    }
    for (const node of this.nodes.values()) for (const h of this.cluster.hosts) node.linkUp(h.id);
  }

  node(id: PeerId): PaxosNode {
    return this.nodes.get(id)!;
  }

  propose(id: PeerId, value: string): void {
    this.loops.get(id)!.input((core) => core.propose(value));
  }

  /** `ticks` ticks of node `id`'s clock. */
  tick(id: PeerId, ticks = 1): void {
    this.loops.get(id)!.tick(ticks);
  }

  /** Deliver queued messages until none are left (or `max` deliveries). */
  run(max = 10_000): void {
    for (let i = 0; i < max && this.queue.length > 0; i++) {
      const { to, msg } = this.queue.shift()!;
      if (this.down.has(to)) continue;
      this.loops.get(to)!.step(msg);
    }
  }

  /** Perform node `id`'s Ready, as the daemon does. */
  flush(id: PeerId): void {
    this.loops.get(id)!.kick();
  }
}

// A tiny synchronous network for core tests: real PaxosNode instances, FIFO
// delivery, and each Ready performed in the daemon's order (performReady),
// with the same log lines. Not a simulator (no faults, no reordering); just
// enough to drive whole rounds in a unit test.

import { parseHostsfile } from '../../src/config/hostsfile.js';
import { PaxosNode } from '../../src/core/node.js';
import { performReady, type LabReady } from '../../src/core/ready.js';
import { DEFAULT_TICK_TIMING } from '../../src/core/timing.js';
import { EMPTY_STATE, type DurableState, type Message, type PeerId } from '../../src/core/types.js';

export class MemNet {
  readonly cluster;
  readonly nodes = new Map<PeerId, PaxosNode>();
  readonly logs = new Map<PeerId, string[]>();
  readonly persisted = new Map<PeerId, DurableState[]>();
  /** Every Ready each node produced, in order, for ordering assertions. */
  readonly readies = new Map<PeerId, LabReady[]>();
  private readonly queue: Array<{ to: PeerId; msg: Message }> = [];
  /** Messages to these peers are dropped. */
  readonly down = new Set<PeerId>();

  /** Nodes start as the daemon starts them; their first Ready (a restarted winner's announcement) waits for flush. */
  constructor(hostsfile: string, states: ReadonlyMap<PeerId, DurableState> = new Map()) {
    this.cluster = parseHostsfile(hostsfile, 'hostsfile');
    for (const h of this.cluster.hosts) {
      this.nodes.set(h.id, new PaxosNode({ self: h.id, cluster: this.cluster, timing: DEFAULT_TICK_TIMING, rng: () => 0.5 }, states.get(h.id) ?? EMPTY_STATE));
      this.logs.set(h.id, []);
      this.persisted.set(h.id, []);
      this.readies.set(h.id, []);
    }
    for (const node of this.nodes.values()) for (const h of this.cluster.hosts) node.linkUp(h.id);
  }

  node(id: PeerId): PaxosNode {
    return this.nodes.get(id)!;
  }

  propose(id: PeerId, value: string): void {
    this.node(id).propose(value);
    this.flush(id);
  }

  /** `ticks` ticks of node `id`'s clock. */
  tick(id: PeerId, ticks = 1): void {
    for (let i = 0; i < ticks; i++) this.node(id).tick();
    this.flush(id);
  }

  /** Deliver queued messages until none are left (or `max` deliveries). */
  run(max = 10_000): void {
    for (let i = 0; i < max && this.queue.length > 0; i++) {
      const { to, msg } = this.queue.shift()!;
      if (this.down.has(to)) continue;
      this.node(to).step(msg);
      this.flush(to);
    }
  }

  /** Perform node `id`'s Ready, as the daemon does; a refused message fails the test. */
  flush(id: PeerId): void {
    const node = this.node(id);
    while (node.hasReady) {
      const r = node.ready();
      this.readies.get(id)!.push(r);
      if (r.persist !== null) this.persisted.get(id)!.push(r.persist);
      performReady(r, {
        print: (line) => void this.logs.get(id)!.push(line),
        send: (o) => o.to.forEach((to) => this.queue.push({ to, msg: o.msg })),
        learned: () => undefined,
        answer: () => undefined,
        suspect: () => undefined,
        note: () => undefined,
        dropped: (msg, why) => {
          throw new Error(`peer ${id} refused ${JSON.stringify(msg)}: ${why}`);
        },
        idle: () => undefined,
      });
      node.advance();
    }
  }
}

// A tiny synchronous network for core tests: real PaxosNode instances, FIFO
// delivery, and the same log lines the daemon prints. Not a simulator (no
// faults, no reordering); just enough to drive whole rounds in a unit test.

import { parseHostsfile } from '../../src/config/hostsfile.js';
import { choseLine, messageLine } from '../../src/core/logline.js';
import { PaxosNode } from '../../src/core/node.js';
import { DEFAULT_TIMING } from '../../src/core/proposer.js';
import type { PeerId } from '../../src/paxos/ids.js';
import { EMPTY_STATE, type DurableState, type Effect, type Message } from '../../src/core/types.js';

export class MemNet {
  readonly cluster;
  readonly nodes = new Map<PeerId, PaxosNode>();
  readonly logs = new Map<PeerId, string[]>();
  readonly persisted = new Map<PeerId, DurableState[]>();
  /** Every effect each node produced, in order, for ordering assertions. */
  readonly effects = new Map<PeerId, Effect[]>();
  private readonly queue: Array<{ to: PeerId; msg: Message }> = [];
  /** Messages to these peers are dropped. */
  readonly down = new Set<PeerId>();

  constructor(hostsfile: string, states: ReadonlyMap<PeerId, DurableState> = new Map()) {
    this.cluster = parseHostsfile(hostsfile, 'hostsfile');
    for (const h of this.cluster.hosts) {
      this.nodes.set(h.id, new PaxosNode({ self: h.id, cluster: this.cluster, timing: DEFAULT_TIMING, rng: () => 0.5 }, states.get(h.id) ?? EMPTY_STATE));
      this.logs.set(h.id, []);
      this.persisted.set(h.id, []);
      this.effects.set(h.id, []);
    }
  }

  node(id: PeerId): PaxosNode {
    return this.nodes.get(id)!;
  }

  propose(id: PeerId, value: string): void {
    this.apply(id, this.node(id).propose(value));
  }

  /** Deliver queued messages until none are left (or `max` deliveries). */
  run(max = 10_000): void {
    for (let i = 0; i < max && this.queue.length > 0; i++) {
      const { to, msg } = this.queue.shift()!;
      if (this.down.has(to)) continue;
      const node = this.node(to);
      const why = node.reject(msg);
      if (why !== null) throw new Error(`peer ${to} rejected ${JSON.stringify(msg)}: ${why}`);
      this.apply(to, node.receive(msg));
    }
  }

  apply(id: PeerId, effects: Effect[]): void {
    this.effects.get(id)!.push(...effects);
    for (const e of effects) {
      if (e.kind === 'persist') this.persisted.get(id)!.push(e.state);
      if (e.kind === 'received') this.logs.get(id)!.push(messageLine('received', id, e.msg));
      if (e.kind === 'chose') this.logs.get(id)!.push(choseLine(id, e.v, e.n));
      if (e.kind === 'send') {
        if (e.silent !== true && e.msg.type !== 'chose_ack') this.logs.get(id)!.push(messageLine('sent', id, e.msg));
        for (const to of e.to) this.queue.push({ to, msg: e.msg });
      }
    }
  }
}

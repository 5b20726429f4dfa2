// Which messages a peer takes, from whom: a prepare, accept or chose must
// come from the proposer that owns its number, and be for a group this peer
// accepts (or, for chose, learns) for; acks must answer one of this peer's
// own proposers, and come from that group's acceptors (or, for chose_ack,
// its learners). PaxosNode.step checks this before it logs or handles
// anything: the wire layer has checked the shape, this checks the roles.
// contactsOf is the other side: whom a peer keeps links to.

import { hasRole, type Cluster } from '../paxos/cluster.js';
import { groupOfProposal } from '../paxos/numbering.js';
import type { Message, PeerId } from './types.js';

/** The parts of the hostsfile the core reads. */
export type ClusterView = Pick<Cluster, 'hosts' | 'stride' | 'byId' | 'proposerOf' | 'acceptorsOf' | 'learnersOf'>;

/** The groups this peer holds each role in. */
export interface RoleGroups {
  readonly acceptorOf: ReadonlySet<number>;
  readonly learnerOf: ReadonlySet<number>;
  readonly proposerOf: ReadonlySet<number>;
}

export function rolesOf(cluster: ClusterView, self: PeerId): RoleGroups {
  const me = cluster.byId(self);
  if (me === undefined) throw new Error(`peer ${self} is not in the hostsfile`);
  const of = (kind: 'acceptor' | 'learner' | 'proposer'): Set<number> =>
    new Set(me.roles.filter((r) => r.kind === kind).map((r) => r.group));
  return { acceptorOf: of('acceptor'), learnerOf: of('learner'), proposerOf: of('proposer') };
}

/** Why peer `self` must not take `msg` from its claimed sender, or null if it may. */
export function refusal(cluster: ClusterView, self: PeerId, mine: RoleGroups, msg: Message): string | null {
  const sender = cluster.byId(msg.from);
  if (sender === undefined) return `peer_id ${msg.from} is not in the hostsfile`;
  const group = groupOfProposal(msg.n, cluster.stride);
  const proposer = cluster.proposerOf(group);
  switch (msg.type) {
    case 'prepare':
    case 'accept':
    case 'chose': {
      if (proposer?.id !== msg.from) {
        return `${msg.type} with proposal ${msg.n} must come from proposer${group}, not peer ${msg.from}`;
      }
      const ok = mine.acceptorOf.has(group) || (msg.type === 'chose' && mine.learnerOf.has(group));
      return ok
        ? null
        : `peer ${self} is not ${msg.type === 'chose' ? 'an acceptor or learner' : 'an acceptor'} of group ${group}`;
    }
    case 'prepare_ack':
    case 'accept_ack':
      if (!mine.proposerOf.has(group))
        return `peer ${self} is not proposer${group}, which proposal ${msg.n} belongs to`;
      return hasRole(sender, 'acceptor', group) ? null : `peer ${msg.from} is not an acceptor of group ${group}`;
    case 'chose_ack':
      if (!mine.proposerOf.has(group))
        return `peer ${self} is not proposer${group}, which proposal ${msg.n} belongs to`;
      return hasRole(sender, 'acceptor', group) || hasRole(sender, 'learner', group)
        ? null
        : `peer ${msg.from} is not an acceptor or learner of group ${group}`;
  }
}

/** Peers `self` may ever send to: its groups' acceptors, learners and proposers. */
export function contactsOf(cluster: ClusterView, self: PeerId): PeerId[] {
  const mine = rolesOf(cluster, self);
  const ids = new Set<PeerId>();
  for (const g of mine.proposerOf) for (const p of [...cluster.acceptorsOf(g), ...cluster.learnersOf(g)]) ids.add(p);
  // Acceptors answer their group's proposer; learners confirm its chose with a chose_ack.
  for (const g of [...mine.acceptorOf, ...mine.learnerOf]) {
    const p = cluster.proposerOf(g);
    if (p !== undefined) ids.add(p.id);
  }
  ids.delete(self);
  return [...ids].sort((a, b) => a - b);
}

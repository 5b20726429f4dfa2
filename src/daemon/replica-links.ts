// A replica's links to the other replicas, kept to the configuration it has
// applied (paxos/membership.ts): one to every replica that takes part, and
// to members added after what it has applied (a joiner learns of them from
// join, and one of them may lead before it applies their adds); none to a
// replica removed once the next change drops it. The old voters keep their
// links until then: a removed leader still needs our acks for its last slots.

import { livenessOf, type ReplicaSettings } from '../config/settings.js';
import { encodeMessage } from '../log/encode.js';
import type { PeerId } from '../paxos/ids.js';
import { memberAddress, memberById, participants, type Member, type Membership } from '../paxos/membership.js';
import { PeerLink } from '../transport/link.js';
import type { Logger } from '../util/logger.js';
import type { ReplicaWire } from '../wire/log.js';

export class MemberLinks {
  private readonly links = new Map<PeerId, PeerLink<ReplicaWire>>();
  /** Every member heard of, by id. */
  private readonly known = new Map<PeerId, Member>();

  constructor(
    private readonly settings: ReplicaSettings,
    private readonly log: Logger,
  ) {}

  get(id: PeerId): PeerLink<ReplicaWire> | undefined {
    return this.links.get(id);
  }

  all(): Array<PeerLink<ReplicaWire>> {
    return [...this.links.values()];
  }

  /** Members named elsewhere (join's member list). */
  learn(members: readonly Member[]): void {
    for (const m of members) this.known.set(m.id, m);
  }

  /** Open and close links for configuration `m`; `self` is our id. */
  sync(m: Membership, self: PeerId): void {
    this.learn(m.members);
    const ids = new Set(participants(m));
    for (const id of this.known.keys()) if (id >= m.nextId) ids.add(id);
    for (const [id, link] of this.links)
      if (!ids.has(id)) {
        this.links.delete(id);
        void link.close();
      }
    for (const id of ids) if (id !== self && !this.links.has(id)) this.open(id, m, self);
  }

  /** A link to member `id`: at its --resolve address, else its member add address, else its hostsfile name. */
  private open(id: PeerId, m: Membership, self: PeerId): void {
    const s = this.settings;
    const known = memberById(m, id) ?? this.known.get(id);
    const entry = s.cluster.byId(id);
    const name = known?.name ?? entry?.host;
    if (name === undefined) return;
    const at =
      s.resolved?.(name) ??
      (known !== undefined && known.addr !== ''
        ? memberAddress(known.addr)
        : s.endpointOf(entry ?? { id, host: name, roles: [] }));
    const link = new PeerLink<ReplicaWire>(name, at, {
      self,
      peer: id,
      secret: s.secret,
      tls: s.tls ?? null,
      liveness: livenessOf(s),
      log: this.log,
      queueWhileDown: false,
      encode: encodeMessage,
    });
    this.links.set(id, link);
    link.start();
  }
}

// The cluster a hostsfile describes, as plain data: no I/O, so the pure core
// can depend on it. Parsing lives in src/config/hostsfile.ts, which builds it.

import type { PeerId } from './ids.js';

/** The lab's roles, per group; and `replica`, a member of the replicated log (group 0). */
export type RoleKind = 'proposer' | 'acceptor' | 'learner' | 'replica';

export interface Role {
  readonly kind: RoleKind;
  readonly group: number;
}

export interface HostEntry {
  readonly id: PeerId;
  readonly host: string;
  readonly roles: readonly Role[];
}

export interface Cluster {
  readonly file: string;
  readonly hosts: readonly HostEntry[];
  /** The highest proposer group: the step between one proposer's numbers. */
  readonly stride: number;
  /**
   * `lab`: single-decree Paxos, roles per group (the CS7610 interface).
   * `log`: every host is a `replica` of one replicated log (Multi-Paxos).
   */
  readonly mode: 'lab' | 'log';
  /** In `log` mode, every peer id; empty in `lab` mode. */
  readonly replicas: readonly PeerId[];
  /** Non-fatal oddities worth a line on stderr. */
  readonly warnings: readonly string[];
  byHost(host: string): HostEntry | undefined;
  byId(id: PeerId): HostEntry | undefined;
  proposerOf(group: number): HostEntry | undefined;
  acceptorsOf(group: number): readonly PeerId[];
  learnersOf(group: number): readonly PeerId[];
}

export function hasRole(h: HostEntry, kind: RoleKind, group?: number): boolean {
  return h.roles.some((r) => r.kind === kind && (group === undefined || r.group === group));
}

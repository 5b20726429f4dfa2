// How fast a link notices that its peer is gone (--peer-timeout): a setting,
// kept with the others in config/, that the transport reads. TCP alone does not: a
// container killed without FIN or RST, a host cut off the network, or a
// process frozen by SIGSTOP (whose kernel still ACKs) all leave a socket
// that looks connected, and keepalive probes take minutes. So each link
// pings its peer every heartbeat, the peer answers with a pong, and a link
// that hears nothing for `deadAfterMs` is declared down, closed and redialed.

import { DEFAULT_PEER_TIMEOUT_MS, MIN_PING_MS, PINGS_PER_PEER_TIMEOUT } from '../paxos/defaults.js';

export interface Liveness {
  /** How often a link pings its peer. */
  readonly heartbeatMs: number;
  /** A link that hears nothing from its peer for this long is down. */
  readonly deadAfterMs: number;
}

/** Five heartbeats fit in the timeout, so one or two lost to a busy event loop do not matter. */
export function livenessFor(deadAfterMs: number): Liveness {
  return { heartbeatMs: Math.max(MIN_PING_MS, Math.round(deadAfterMs / PINGS_PER_PEER_TIMEOUT)), deadAfterMs };
}

export const DEFAULT_LIVENESS: Liveness = livenessFor(DEFAULT_PEER_TIMEOUT_MS);

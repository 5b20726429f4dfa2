// What the transport needs to know of a protocol, and no more: how to turn
// one parsed JSON line into a peer message, a client request, the handshake
// or a ping, and what to tell a client whose request was invalid. Each
// protocol brings its own (src/wire/lab.ts, src/wire/log.ts); the transport
// imports none of them.

import type { PeerId } from '../paxos/ids.js';

/** What every peer message carries, so the listener can check its sender. */
export interface PeerMessage {
  readonly from: PeerId;
  readonly type: string;
}

/** A line off the wire, decoded: a peer message, the handshake, a ping, or a client request. */
export type Decoded<M, Req> =
  | { ok: true; msg: M }
  | { ok: true; hello: { readonly from: PeerId; readonly to: PeerId } }
  | { ok: true; ping: true }
  /** `oneWay`: a client notice that gets no answer (a dump's ack): it is not a request in flight. */
  | { ok: true; client: Req; oneWay?: true }
  | { ok: false; why: string };

/** How a listener reads its protocol: the lab's single-decree one, or the replicated log's. */
export interface Codec<M extends PeerMessage, Req, Res> {
  /** `line`: the text `raw` was parsed from, for a protocol that can reuse part of it. */
  decode(raw: unknown, line: string): Decoded<M, Req>;
  /** What to tell a client whose request was invalid, if `raw` looks like a request at all. */
  invalidReply(raw: unknown, why: string): Res | null;
}

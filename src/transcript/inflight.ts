// What the protocol still owes the transcript, worked out from the lines
// seen so far. A run is over only when every proposer and learner has chosen
// AND nothing is owed, so late acks and chose messages make it in.
//
// The runner reads each peer's stdout on its own pipe, so it may see a
// `received` line before the `sent` line that caused it. A plain count of
// sent minus received can then hit zero too early. Instead, each line names
// the exact lines it makes due (its effects), and a line seen before its
// cause counts as a credit. Once every proposer and learner has printed
// chose, every line still to come is an effect of a line already seen, so
// "nothing owed" then means the transcript is complete. (Before that, a
// proposer's next step depends on quorums and timers, which are not modelled.)
//   sent prepare/accept (P)   -> each acceptor A: received ..., then A's ack
//   sent ack (A)              -> the requester P (A answers in order): received ack
//   chose by a proposer (P)   -> P: sent chose, if the number is P's own: P sent the
//                                accept for it, or resumed knowing it won before a
//                                restart and announces it again (core/node.ts, resume)
//   sent chose (P)            -> each acceptor/learner R: received chose
//   received chose (R)        -> R: chose, unless R already printed one for that number

import type { Cluster } from '../config/hostsfile.js';
import { formatLine, type LogLine } from '../paxos/logline.js';
import { groupOfProposal } from '../paxos/numbering.js';
import type { PeerId } from '../paxos/ids.js';
import type { MessageType } from '../paxos/logline.js';

type Request = 'prepare' | 'accept';
const ACK_OF: Record<Request, MessageType> = { prepare: 'prepare_ack', accept: 'accept_ack' };
const REQUEST_OF: Partial<Record<MessageType, Request>> = { prepare_ack: 'prepare', accept_ack: 'accept' };

export class InFlight {
  /** key -> owed (positive) or credited (negative). */
  private readonly due = new Map<string, number>();
  private outstanding = 0;
  /** Per acceptor and request type: who asked, in arrival order. */
  private readonly askers = new Map<string, PeerId[]>();
  /** Peer and proposal number of every accept phase seen. */
  private readonly accepted = new Set<string>();
  /** Per peer: proposal numbers it already printed a chose line for. */
  private readonly heard = new Map<PeerId, Set<number>>();

  constructor(private readonly cluster: Pick<Cluster, 'stride' | 'acceptorsOf' | 'learnersOf' | 'proposerOf'>) {}

  /** Lines owed and not yet seen. */
  get count(): number {
    return this.outstanding;
  }

  /** Take line `l` printed by peer `at`. */
  add(at: PeerId, l: LogLine): void {
    const type = l.message_type;
    const line = formatLine(l);
    if (l.action === 'sent' && (type === 'prepare' || type === 'accept')) {
      if (type === 'accept') this.accepted.add(this.key(at, `${l.proposal_num}`));
      for (const a of this.cluster.acceptorsOf(this.group(l))) this.owe(a, formatLine({ ...l, action: 'received' }));
    } else if (l.action === 'received' && (type === 'prepare' || type === 'accept')) {
      this.pay(at, line);
      this.owe(at, `sent ${ACK_OF[type]}`);
      const k = `${at} ${type}`;
      this.askers.set(k, [...(this.askers.get(k) ?? []), l.peer_id]);
    } else if (l.action === 'sent' && (type === 'prepare_ack' || type === 'accept_ack')) {
      this.pay(at, `sent ${type}`);
      const asker = this.askers.get(`${at} ${REQUEST_OF[type]!}`)?.shift();
      if (asker !== undefined) this.owe(asker, formatLine({ ...l, action: 'received' }));
    } else if (l.action === 'received' && (type === 'prepare_ack' || type === 'accept_ack')) {
      this.pay(at, line);
    } else if (l.action === 'chose') {
      // Owed if it follows a received chose. Otherwise it is a proposer's:
      // it stands for that number's chose line and, if the number is the
      // proposer's own, owes the broadcast: it ran the accept itself, or it
      // resumed from saved state knowing it won, and announces it again. (A
      // proposer told by an acceptor that another's value is chosen only
      // prints it.)
      if ((this.due.get(this.key(at, line)) ?? 0) > 0) this.pay(at, line);
      else {
        const own =
          this.accepted.has(this.key(at, `${l.proposal_num}`)) || this.cluster.proposerOf(this.group(l))?.id === at;
        if (own) this.owe(at, formatLine({ ...l, action: 'sent' }));
        this.heardBy(at).add(l.proposal_num);
      }
    } else if (l.action === 'sent' && type === 'chose') {
      this.pay(at, line);
      const g = this.group(l);
      const told = new Set([...this.cluster.acceptorsOf(g), ...this.cluster.learnersOf(g)]);
      for (const r of told) this.owe(r, formatLine({ ...l, action: 'received' }));
    } else if (l.action === 'received' && type === 'chose') {
      this.pay(at, line);
      const heard = this.heardBy(at);
      if (!heard.has(l.proposal_num)) {
        heard.add(l.proposal_num);
        this.owe(at, formatLine({ ...l, peer_id: at, action: 'chose' }));
      }
    }
  }

  private heardBy(peer: PeerId): Set<number> {
    let s = this.heard.get(peer);
    if (s === undefined) this.heard.set(peer, (s = new Set()));
    return s;
  }

  private owe(peer: PeerId, what: string): void {
    this.shift(this.key(peer, what), +1);
  }

  private pay(peer: PeerId, what: string): void {
    this.shift(this.key(peer, what), -1);
  }

  private shift(k: string, by: number): void {
    const before = this.due.get(k) ?? 0;
    const after = before + by;
    this.outstanding += Math.max(after, 0) - Math.max(before, 0);
    if (after === 0) this.due.delete(k);
    else this.due.set(k, after);
  }

  private key(peer: PeerId, what: string): string {
    return `${peer}\t${what}`;
  }

  private group(l: LogLine): number {
    return groupOfProposal(Math.max(1, l.proposal_num), this.cluster.stride);
  }
}

// The orderings within one peer's transcript that the protocol guarantees,
// whatever the races between peers:
//   - an acceptor sends its k-th prepare_ack / accept_ack only after its k-th
//     received prepare / accept;
//   - a proposer hears acceptor j's k-th prepare_ack / accept_ack only after
//     sending its k-th prepare / accept;
//   - a proposer sends accept(v, n) only after a quorum of prepare_acks that
//     arrived since it sent prepare(n);
//   - `chose` (v, n) comes after a quorum of accept_acks (v, n) for an accept
//     this peer sent, or after a received `chose` (v, n), or (for a proposer
//     that never sent accept n, told by a rejecting acceptor) after an ack
//     showing v; and a `sent chose` comes after the peer's own `chose`.
//     A peer that resumed from saved state knowing v (`remembered`) may
//     print `chose` v from memory, with nothing before it.

import type { Cluster } from '../config/hostsfile.js';
import type { LogLine } from '../paxos/logline.js';
import { groupOfProposal } from '../paxos/numbering.js';

export interface OrderViolation {
  /** 0-based index into the transcript. */
  readonly index: number;
  readonly why: string;
}

export function orderViolations(
  lines: readonly LogLine[],
  self: number,
  cluster: Pick<Cluster, 'stride' | 'acceptorsOf'>,
  remembered?: string,
): OrderViolation[] {
  const out: OrderViolation[] = [];
  const quorum = (n: number): number =>
    Math.floor(cluster.acceptorsOf(groupOfProposal(Math.max(n, 1), cluster.stride)).length / 2) + 1;
  const count = new Map<string, number>();
  const bump = (k: string): number => {
    const c = (count.get(k) ?? 0) + 1;
    count.set(k, c);
    return c;
  };
  const seen = (k: string): number => count.get(k) ?? 0;
  const key = (l: LogLine): string => `${l.message_value}\u0000${l.proposal_num}`;
  // Prepare_acks received since each `sent prepare n`, by n.
  const acksSincePrepare = new Map<number, number>();
  const acceptAcks = new Map<string, number>();
  const choseReceived = new Set<string>();
  const sentAccept = new Set<number>();
  /** Values acks showed: an acceptor that rejects us may tell us the outcome. */
  const toldValue = new Set<string>();
  const choseOwn = new Set<string>();

  lines.forEach((l, index) => {
    const fail = (why: string): void => void out.push({ index, why });
    const from = l.peer_id;
    if (l.action === 'sent' && from !== self) fail(`a sent line must carry this peer's id ${self}`);
    switch (`${l.action} ${l.message_type}`) {
      case 'sent prepare':
        bump('sent prepare');
        acksSincePrepare.set(l.proposal_num, 0);
        break;
      case 'sent accept': {
        bump('sent accept');
        sentAccept.add(l.proposal_num);
        const acks = acksSincePrepare.get(l.proposal_num);
        if (acks === undefined) fail(`accept ${l.proposal_num} sent without a prepare ${l.proposal_num} before it`);
        else if (acks < quorum(l.proposal_num))
          fail(`accept ${l.proposal_num} sent after only ${acks} prepare_acks (quorum ${quorum(l.proposal_num)})`);
        break;
      }
      case 'received prepare':
        bump('received prepare');
        break;
      case 'received accept':
        bump('received accept');
        break;
      case 'sent prepare_ack':
        if (bump('sent prepare_ack') > seen('received prepare'))
          fail('prepare_ack sent before the prepare it answers was received');
        break;
      case 'sent accept_ack':
        if (bump('sent accept_ack') > seen('received accept'))
          fail('accept_ack sent before the accept it answers was received');
        break;
      case 'received prepare_ack':
        if (bump(`prepare_ack from ${from}`) > seen('sent prepare'))
          fail(`prepare_ack from peer ${from} received before a prepare was sent to it`);
        for (const [n, c] of acksSincePrepare) acksSincePrepare.set(n, c + 1);
        toldValue.add(l.message_value);
        break;
      case 'received accept_ack':
        if (bump(`accept_ack from ${from}`) > seen('sent accept'))
          fail(`accept_ack from peer ${from} received before an accept was sent to it`);
        acceptAcks.set(key(l), (acceptAcks.get(key(l)) ?? 0) + 1);
        toldValue.add(l.message_value);
        break;
      case 'received chose':
        choseReceived.add(key(l));
        break;
      case 'chose chose': {
        if (from !== self) fail(`a chose line must carry this peer's id ${self}`);
        const won = (acceptAcks.get(key(l)) ?? 0) >= quorum(l.proposal_num) && sentAccept.has(l.proposal_num);
        // Or a proposer that was rejected by an acceptor that knew the outcome.
        const told = !sentAccept.has(l.proposal_num) && toldValue.has(l.message_value);
        const recalled = remembered !== undefined && l.message_value === remembered;
        if (!choseReceived.has(key(l)) && !won && !told && !recalled) {
          fail(
            `chose ${JSON.stringify(l.message_value)} ${l.proposal_num} before a quorum of matching accept_acks ` +
              `or a received chose`,
          );
        }
        choseOwn.add(key(l));
        break;
      }
      case 'sent chose':
        if (!choseOwn.has(key(l))) fail(`sent chose ${l.proposal_num} before this peer's own chose line`);
        break;
      default:
        fail(`action ${l.action} does not go with message_type ${l.message_type}`);
    }
  });
  return out;
}

// Messages sent but not yet logged as received, counted from the merged
// transcript alone. A run is over only when every proposer and learner has
// chosen AND nothing is in flight, so late acks make it into the transcript.

import type { Cluster } from '../config/hostsfile.js';
import type { LogLine } from '../core/logline.js';
import { groupOfProposal } from '../core/numbering.js';

export class InFlight {
  private owed = 0;

  constructor(private readonly cluster: Pick<Cluster, 'stride' | 'acceptorsOf' | 'learnersOf'>) {}

  get count(): number {
    return this.owed;
  }

  add(l: LogLine): void {
    if (l.action === 'received') this.owed -= 1;
    else if (l.action === 'sent') this.owed += this.recipients(l);
  }

  private recipients(l: LogLine): number {
    switch (l.message_type) {
      case 'prepare_ack':
      case 'accept_ack':
        return 1;
      case 'prepare':
      case 'accept':
        return this.cluster.acceptorsOf(this.group(l)).length;
      case 'chose':
        return new Set([...this.cluster.acceptorsOf(this.group(l)), ...this.cluster.learnersOf(this.group(l))]).size;
    }
  }

  private group(l: LogLine): number {
    return groupOfProposal(Math.max(1, l.proposal_num), this.cluster.stride);
  }
}

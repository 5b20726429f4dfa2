// `--delay TYPE:HOST=MS`, for scripted scenarios: a matching outbound
// message is logged as sent at once and leaves MS later, as if the network
// were slow. Not part of the protocol.

import type { MessageType, PeerId, Message } from '../core/types.js';

/** `--delay TYPE:HOST=MS`: hold outbound TYPE messages to HOST for MS ms ('*' matches any). */
export interface DelayRule {
  readonly type: MessageType | '*';
  readonly host: string;
  readonly ms: number;
}

export class DelayedSends {
  private readonly held = new Set<NodeJS.Timeout>();

  constructor(
    private readonly rules: readonly DelayRule[],
    private readonly hostOf: (peer: PeerId) => string | undefined,
    private readonly send: (to: PeerId, msg: Message) => void,
  ) {}

  /** Send now, or when the first matching rule says. */
  deliver(to: PeerId, msg: Message): void {
    const host = this.hostOf(to)?.toLowerCase();
    const rule = this.rules.find(
      (r) => (r.type === '*' || r.type === msg.type) && (r.host === '*' || r.host.toLowerCase() === host),
    );
    if (rule === undefined || rule.ms <= 0) return this.send(to, msg);
    const t = setTimeout(() => {
      this.held.delete(t);
      this.send(to, msg);
    }, rule.ms);
    this.held.add(t);
  }

  /** Drop what is still held (the peer is stopping). */
  clear(): void {
    for (const t of this.held) clearTimeout(t);
    this.held.clear();
  }
}

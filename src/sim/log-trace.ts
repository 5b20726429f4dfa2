// The simulator's trace: the last events of a run, kept in a ring, and
// how a message reads in it.

import type { PeerId } from '../core/types.js';
import type { Batch, LogMessage } from '../log/types.js';

interface TraceEntry {
  readonly t: number;
  readonly what: string;
  readonly msg?: LogMessage;
  readonly to?: PeerId;
}

export class Trace {
  private readonly ring: TraceEntry[] = [];
  private at = 0;

  constructor(private readonly lines: number) {}

  note(t: number, what: string, msg?: LogMessage, to?: PeerId): void {
    if (this.lines <= 0) return;
    const e: TraceEntry = msg === undefined ? { t, what } : to === undefined ? { t, what, msg } : { t, what, msg, to };
    if (this.ring.length < this.lines) this.ring.push(e);
    else this.ring[this.at] = e;
    this.at = (this.at + 1) % this.lines;
  }

  format(): string[] {
    const ordered =
      this.ring.length < this.lines ? this.ring : [...this.ring.slice(this.at), ...this.ring.slice(0, this.at)];
    return ordered.map(
      (e) => `t=${e.t} ${e.what}${e.msg === undefined ? '' : ` ${e.msg.from}->${e.to ?? '?'} ${showMsg(e.msg)}`}`,
    );
  }
}

export function batchText(v: Batch): string {
  return JSON.stringify(v);
}

export function showMsg(m: LogMessage): string {
  switch (m.type) {
    case 'prepare':
      return `prepare n=${m.n} slot=${m.slot} life=${m.life}`;
    case 'recover':
      return `recover life=${m.life} slot=${m.slot}`;
    case 'recover_ack':
      return (
        `recover_ack life=${m.life} promised=${m.promised} commit=${m.commit} base=${m.base} votes=` +
        `${m.votes.map((r) => `${r.s}@${r.n}${r.chosen === true ? '*' : ''}`).join(',')}`
      );
    case 'prepare_ack':
      return (
        `prepare_ack n=${m.n} promised=${m.promised} slot=${m.slot} base=${m.base} votes=` +
        `${m.votes.map((r) => `${r.s}@${r.n}${r.chosen === true ? '*' : ''}`).join(',')}`
      );
    case 'accept':
      return `accept n=${m.n} slot=${m.slot} commit=${m.commit} v=${batchText(m.v).slice(0, 80)}`;
    case 'accept_ack':
      return `accept_ack n=${m.n} slot=${m.slot} promised=${m.promised}`;
    case 'chose':
      return `chose n=${m.n} slot=${m.slot}`;
    case 'heartbeat':
      return `heartbeat n=${m.n} commit=${m.commit}${m.r === undefined ? '' : ` r=${m.r}`}`;
    case 'heartbeat_ack':
      return `heartbeat_ack n=${m.n}${m.r === undefined ? '' : ` r=${m.r}`}`;
    case 'read_index':
      return `read_index ids=${m.ids.join(',')}`;
    case 'read_index_ack':
      return `read_index_ack n=${m.n} index=${m.index} ids=${m.ids.join(',')}`;
    case 'fetch':
      return `fetch slot=${m.slot}`;
    case 'entries':
      return `entries start=${m.start} count=${m.values.length}`;
    case 'snapshot':
      return `snapshot index=${m.index}`;
    case 'forward':
      return `forward ${m.cmds.length} cmds`;
  }
}

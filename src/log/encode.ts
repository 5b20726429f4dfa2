// The JSON of the records and messages that carry a batch, built around the
// batch's text from json-once.ts: the same text JSON.stringify gives, but a
// batch the leader sized, or a follower parsed, is stringified once for its
// accepts, its WAL record and its chose line together. Everything else is
// plain JSON.stringify.

import { jsonOfList } from '../util/json-once.js';
import type { LogMessage, LogRecord } from './types.js';

export function encodeRecord(r: LogRecord): string {
  switch (r.t) {
    case 'v':
      return `{"t":"v","s":${r.s},"n":${r.n},"v":${jsonOfList(r.v)}}`;
    case 'e':
      return `{"t":"e","s":${r.s},"v":${jsonOfList(r.v)}}`;
    default:
      return JSON.stringify(r);
  }
}

/** Any message a replica sends a replica (the log's, and the shell's snapshot chunks). */
export function encodeMessage(m: { readonly type: string }): string {
  if (m.type !== 'accept') return JSON.stringify(m);
  const a = m as Extract<LogMessage, { type: 'accept' }>;
  return `{"type":"accept","from":${a.from},"n":${a.n},"slot":${a.slot},"v":${jsonOfList(a.v)},"commit":${a.commit}}`;
}

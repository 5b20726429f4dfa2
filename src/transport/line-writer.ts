// Newline-delimited JSON out of a socket, gathered per turn of the event
// loop: every line written in one turn leaves in one socket.write of one
// string, after the turn's I/O callbacks (setImmediate). Under load a
// replica answers many clients, and sends a peer many messages, in one
// turn; one write of one string costs one stream write and one UTF-8
// conversion, where a corked stream of many writes (or ndjson's stringify
// Transform in front of it) pays each per line. The format is ndjson's:
// JSON.stringify of each value, then "\n". bench:kv measured both ways
// (docs/performance.md).

import type net from 'node:net';

export class LineWriter<T extends object = object> {
  private pending = '';
  private scheduled = false;

  constructor(
    private readonly socket: net.Socket,
    /** A value's JSON, on one line (a protocol may bring its own: see LinkOptions.encode). */
    private readonly encode: (value: T) => string = JSON.stringify,
  ) {}

  /** Queue `value` as one line; it leaves with the rest of this turn's lines. */
  write(value: T): void {
    this.pending += `${this.encode(value)}\n`;
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  /** Hand this turn's lines to the socket now (at the end of the turn, or before the caller measures it). */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    if (this.socket.writable) this.socket.write(text);
  };

  /** Characters queued here and bytes buffered in the socket: what the other end has not taken yet. */
  get backlog(): number {
    return this.pending.length + this.socket.writableLength;
  }

  /** The socket's buffer is past its high-water mark: wait for 'drain' before writing more. */
  get needsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }
}

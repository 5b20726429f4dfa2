// Newline-delimited JSON out of a socket, gathered per turn of the event
// loop: every line written in one turn leaves in one socket.write of one
// string, after the turn's I/O callbacks (setImmediate). Under load a
// replica answers many clients, and sends a peer many messages, in one
// turn; one write of one string costs one stream write and one UTF-8
// conversion, where a corked stream of many writes (or ndjson's stringify
// Transform in front of it) pays each per line. The format is ndjson's:
// JSON.stringify of each value, then "\n". The two were measured against
// each other only together with another change (CHANGELOG.md, the f2908a3
// row of "A fair race").

import type net from 'node:net';

export class LineWriter<T extends object = object> {
  private pending = '';
  private scheduled = false;
  /** Called once what was queued has gone to the socket and its buffer is below the high-water mark. */
  private drainWaiters: Array<() => void> = [];
  private awaitingDrain = false;

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
    this.settle();
  };

  /**
   * Call `done` once everything queued so far has gone to the socket and the
   * socket's buffer is below its high-water mark ('drain'), as a corked
   * socket's 'drain' would have: at the end of this turn if the kernel takes
   * it all, later if the other end must read first. Never, if the socket
   * closes first.
   */
  whenDrained(done: () => void): void {
    this.drainWaiters.push(done);
    if (!this.scheduled) this.settle();
  }

  private settle(): void {
    if (this.drainWaiters.length === 0 || this.awaitingDrain) return;
    if (this.socket.writableNeedDrain) {
      this.awaitingDrain = true;
      this.socket.once('drain', () => {
        this.awaitingDrain = false;
        this.settle();
      });
      return;
    }
    for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Characters queued here and bytes buffered in the socket: what the other end has not taken yet. */
  get backlog(): number {
    return this.pending.length + this.socket.writableLength;
  }

  /** The socket's buffer is past its high-water mark: wait for 'drain' before writing more. */
  get needsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }
}

// Inbound NDJSON line framing, by bytes. Lines off the network are untrusted,
// so every line is held to a byte cap, including one that is completed in
// the same read that pushed it over; a line over the cap is skipped up to its
// newline with one report; a line that is not valid UTF-8 is dropped (never
// patched with U+FFFD into a value nobody sent); an unfinished line at close
// is discarded, never parsed. The unfinished line's memory can be counted
// against a budget shared by many readers (LineBudget). (ndjson.parse, which
// we use the writer of, misses all of these and ends the stream on a line
// reading `null`, so it is not used for reading.)

/**
 * Bytes held in unfinished lines, shared by a listener's connections: each
 * connection's own cap is its line limit, and this caps them all together,
 * so many connections that each hold most of a line cannot take the
 * process's memory.
 */
export class LineBudget {
  private usedBytes = 0;

  constructor(readonly max: number) {}

  get used(): number {
    return this.usedBytes;
  }

  /** Take `n` more bytes, if they fit. */
  take(n: number): boolean {
    if (this.usedBytes + n > this.max) return false;
    this.usedBytes += n;
    return true;
  }

  give(n: number): void {
    this.usedBytes -= n;
  }
}

export class LineReader {
  /**
   * The unfinished line: a buffer of its own that grows by doubling (never
   * slices of the reads, which would keep each read's memory, and a small
   * read's object overhead, alive), and the bytes of it in use.
   */
  private acc: Buffer | null = null;
  private size = 0;
  private skipping = false;
  /** Paused by the reader's owner (its answers are not being read): bytes wait here. */
  private paused = false;
  private held: Buffer | null = null;
  /** Over the budget (the owner closes the connection): nothing more is read. */
  private dead = false;
  /** Fatal: bytes that are not UTF-8 make a bad line, not U+FFFD in a value. */
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private maxBytes: number,
    private readonly onLine: (line: string) => void,
    /** A line was dropped: too long, or not UTF-8. */
    private readonly onDrop: (why: string) => void,
    /** Where the unfinished line's memory is counted, and what to do when it does not fit. */
    private budget: { readonly of: LineBudget; readonly over: (bytes: number) => void } | null = null,
  ) {}

  /** A connection that proved it is a peer may send longer lines (log catch-up, snapshots). */
  setMaxBytes(n: number): void {
    this.maxBytes = n;
  }

  /** Stop counting against the budget (a connection that proved the shared secret). */
  unbudgeted(): void {
    this.budget?.of.give(this.acc?.length ?? 0);
    this.budget = null;
  }

  /** The connection closed: its unfinished line is discarded, and its memory given back. */
  discard(): void {
    this.dead = true;
    this.release();
    this.held = null;
  }

  /** Hand out no more lines until resume(); the rest of the current chunk waits. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.held;
    this.held = null;
    if (held !== null) this.push(held);
  }

  push(chunk: Buffer): void {
    if (this.dead) return;
    if (this.paused) {
      this.held = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
      return;
    }
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!this.skipping && this.size + (end - start) > this.maxBytes) {
        this.skipping = true;
        this.release();
        this.onDrop(`a line over ${this.maxBytes} bytes`);
      }
      if (nl < 0) {
        // The line goes on in a later read: keep its start.
        if (!this.skipping && end > start) this.keep(chunk.subarray(start, end));
        return;
      }
      if (!this.skipping) {
        // A line within one read is decoded where it lies.
        const part = chunk.subarray(start, end);
        const bytes = this.size === 0 ? part : Buffer.concat([this.acc!.subarray(0, this.size), part]);
        this.release();
        if (bytes.length > 0) this.decode(bytes);
      }
      this.skipping = false;
      start = nl + 1;
      if (this.dead) return;
      if (this.paused) {
        if (start < chunk.length) this.held = chunk.subarray(start);
        return;
      }
    }
  }

  private decode(bytes: Buffer): void {
    // 0x0a never occurs inside a multi-byte UTF-8 sequence, so a whole
    // line decodes on its own; one that does not is not UTF-8 at all.
    let line: string | null = null;
    try {
      line = this.utf8.decode(bytes);
    } catch {
      this.onDrop('a line that is not valid UTF-8');
    }
    const text = line?.endsWith('\r') === true ? line.slice(0, -1) : line;
    if (text != null && text.trim() !== '') this.onLine(text);
  }

  /** Append to the unfinished line, growing its buffer (and the budget's count) by doubling. */
  private keep(part: Buffer): void {
    const need = this.size + part.length;
    const have = this.acc?.length ?? 0;
    if (need > have) {
      // A power of two (so what is counted does not depend on how the line
      // was split into reads), at most the line limit.
      const size = Math.min(2 ** Math.ceil(Math.log2(Math.max(need, 1024))), Math.max(need, this.maxBytes));
      if (this.budget !== null && !this.budget.of.take(size - have)) {
        this.dead = true;
        this.release();
        this.budget.over(need);
        return;
      }
      const grown = Buffer.allocUnsafe(size);
      if (this.acc !== null) this.acc.copy(grown, 0, 0, this.size);
      this.acc = grown;
    }
    part.copy(this.acc!, this.size);
    this.size = need;
  }

  /** Forget the unfinished line and give its memory back. */
  private release(): void {
    if (this.acc !== null) this.budget?.of.give(this.acc.length);
    this.acc = null;
    this.size = 0;
  }
}

// Inbound NDJSON line framing, by bytes. Lines off the network are untrusted,
// so every line is held to a byte cap, including one that is completed in
// the same read that pushed it over; a line over the cap is skipped up to its
// newline with one report; a line that is not valid UTF-8 is dropped (never
// patched with U+FFFD into a value nobody sent); an unfinished line at close
// is discarded, never parsed. (ndjson.parse, which we use the writer of, misses all of these and
// ends the stream on a line reading `null`, so it is not used for reading.)

export class LineReader {
  private parts: Buffer[] = [];
  private size = 0;
  private skipping = false;
  /** Paused by the reader's owner (its answers are not being read): bytes wait here. */
  private paused = false;
  private held: Buffer | null = null;
  /** Fatal: bytes that are not UTF-8 make a bad line, not U+FFFD in a value. */
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private maxBytes: number,
    private readonly onLine: (line: string) => void,
    /** A line was dropped: too long, or not UTF-8. */
    private readonly onDrop: (why: string) => void,
  ) {}

  /** A connection that proved it is a peer may send longer lines (log catch-up, snapshots). */
  setMaxBytes(n: number): void {
    this.maxBytes = n;
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
    if (this.paused) {
      this.held = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
      return;
    }
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!this.skipping) {
        if (this.size + (end - start) > this.maxBytes) {
          this.skipping = true;
          this.parts = [];
          this.size = 0;
          this.onDrop(`a line over ${this.maxBytes} bytes`);
        } else if (end > start) {
          this.parts.push(chunk.subarray(start, end));
          this.size += end - start;
        }
      }
      if (nl < 0) return;
      if (!this.skipping && this.size > 0) {
        // 0x0a never occurs inside a multi-byte UTF-8 sequence, so a whole
        // line decodes on its own; one that does not is not UTF-8 at all.
        const bytes = Buffer.concat(this.parts, this.size);
        this.parts = [];
        this.size = 0;
        let line: string | null = null;
        try {
          line = this.utf8.decode(bytes);
        } catch {
          this.onDrop('a line that is not valid UTF-8');
        }
        const text = line?.endsWith('\r') === true ? line.slice(0, -1) : line;
        if (text != null && text.trim() !== '') this.onLine(text);
      }
      this.skipping = false;
      start = nl + 1;
      if (this.paused) {
        if (start < chunk.length) this.held = chunk.subarray(start);
        return;
      }
    }
  }
}

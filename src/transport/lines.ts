// Inbound NDJSON line framing, by bytes. Lines off the network are untrusted,
// so every line is held to a byte cap, including one that is completed in
// the same read that pushed it over; a line over the cap is skipped up to its
// newline with one report; an unfinished line at close is discarded, never
// parsed. (ndjson.parse, which we use the writer of, misses all of these and
// ends the stream on a line reading `null`, so it is not used for reading.)

export class LineReader {
  private parts: Buffer[] = [];
  private size = 0;
  private skipping = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: () => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!this.skipping) {
        if (this.size + (end - start) > this.maxBytes) {
          this.skipping = true;
          this.parts = [];
          this.size = 0;
          this.onTooLong();
        } else if (end > start) {
          this.parts.push(chunk.subarray(start, end));
          this.size += end - start;
        }
      }
      if (nl < 0) return;
      if (!this.skipping && this.size > 0) {
        // 0x0a never occurs inside a multi-byte UTF-8 sequence, so whole lines decode cleanly.
        const line = Buffer.concat(this.parts, this.size).toString('utf8');
        this.parts = [];
        this.size = 0;
        const text = line.endsWith('\r') ? line.slice(0, -1) : line;
        if (text.trim() !== '') this.onLine(text);
      }
      this.skipping = false;
      start = nl + 1;
    }
  }
}

// A man in the middle for tests: a TCP proxy that forwards to `target` and,
// in the connector-to-server direction, rewrites the first occurrence of
// `from` with `to` (same length, so the line's framing holds), once over all
// its connections. What a proxy on a link does to an `accept` in flight.

import net from 'node:net';

export class RewriteProxy {
  /** Times it rewrote something. */
  rewrites = 0;
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly target: { host: string; port: number },
    private readonly from: string,
    private readonly to: string,
  ) {
    if (Buffer.byteLength(from) !== Buffer.byteLength(to)) throw new Error('rewrite must keep the length');
  }

  async start(): Promise<{ host: string; port: number }> {
    this.server = net.createServer((down) => {
      const up = net.connect(this.target);
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.setNoDelay(true);
        s.on('error', () => undefined);
        s.once('close', () => {
          this.sockets.delete(s);
          down.destroy();
          up.destroy();
        });
      }
      // A match split across two reads is missed; the values we look for are short, and retried.
      down.on('data', (chunk: Buffer) => {
        if (this.rewrites === 0) {
          const at = chunk.indexOf(this.from);
          if (at >= 0) {
            chunk = Buffer.concat([chunk.subarray(0, at), Buffer.from(this.to), chunk.subarray(at + this.from.length)]);
            this.rewrites += 1;
          }
        }
        up.write(chunk);
      });
      up.on('data', (chunk: Buffer) => down.write(chunk));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return { host: '127.0.0.1', port: (this.server.address() as net.AddressInfo).port };
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

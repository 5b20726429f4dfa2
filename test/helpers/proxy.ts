// A small TCP proxy for fault tests: it forwards connections to a target
// until told to black-hole them. A black-holed connection stays open at both
// ends, and whatever either side writes into it vanishes, as on a network
// path that died without a FIN or RST. Connections opened afterwards are
// forwarded again (the restarted path).

import net from 'node:net';
import type { Endpoint } from '../../src/transport/link.js';

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  holed: boolean;
}

export class Proxy {
  private server: net.Server | null = null;
  private readonly pairs = new Set<Pair>();
  /** Connections accepted so far. */
  accepted = 0;

  constructor(private readonly target: Endpoint) {}

  async start(host = '127.0.0.1'): Promise<Endpoint> {
    const server = net.createServer((client) => {
      this.accepted += 1;
      const upstream = net.connect({ host: this.target.host, port: this.target.port });
      const pair: Pair = { client, upstream, holed: false };
      this.pairs.add(pair);
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      const forward = (from: net.Socket, to: net.Socket): void => {
        from.on('data', (chunk: Buffer) => {
          if (!pair.holed && !to.destroyed) to.write(chunk);
        });
      };
      forward(client, upstream);
      forward(upstream, client);
      const end = (): void => {
        // A black hole never passes a close on: the far side must notice by itself.
        if (pair.holed) return;
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end);
      upstream.on('close', end);
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: 0 }, () => resolve());
    });
    const addr = server.address() as net.AddressInfo;
    return { host: addr.address, port: addr.port };
  }

  /** Live, forwarding connections. */
  get open(): number {
    return [...this.pairs].filter((p) => !p.holed && !p.client.destroyed && !p.upstream.destroyed).length;
  }

  /** Every connection open now stops forwarding both ways, and is never closed by us. */
  blackhole(): number {
    let n = 0;
    for (const p of this.pairs) {
      if (p.holed || p.client.destroyed) continue;
      p.holed = true;
      n += 1;
    }
    return n;
  }

  async close(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => (this.server === null ? resolve() : this.server.close(() => resolve())));
  }
}

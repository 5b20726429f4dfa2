// A network that a test can break: one small TCP proxy for each ordered
// pair of replicas (i -> j), so replica i reaches replica j only through the
// proxy i->j (`--resolve peerJ=127.0.0.1:PROXY`). Cutting a pair black-holes
// it the way a real partition does: open connections stay open at both ends
// and whatever is written vanishes (no FIN, no RST), and new connections
// are accepted and then hear nothing. Healing forwards new connections again;
// the replicas' links notice the dead ones by their heartbeats and redial.
//
// This is a fault layer of our own, in user space: no root, no network
// namespaces, and it works the same on any machine. Clients connect to the
// replicas directly, as clients on the far side of a partition could not,
// which only makes the test harder for the replicas.

import net from 'node:net';
import type { Endpoint } from '../transport/link.js';

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  holed: boolean;
}

export class FaultProxy {
  private server: net.Server | null = null;
  private readonly pairs = new Set<Pair>();
  private cut = false;
  /** Connections accepted so far. */
  accepted = 0;

  constructor(private readonly target: Endpoint) {}

  async start(): Promise<Endpoint> {
    const server = net.createServer((client) => {
      this.accepted += 1;
      const upstream = net.connect({ host: this.target.host, port: this.target.port });
      const pair: Pair = { client, upstream, holed: this.cut };
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
        this.pairs.delete(pair);
        // A black hole passes no close on: the far side must notice by itself.
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
      server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
    });
    const addr = server.address() as net.AddressInfo;
    return { host: addr.address, port: addr.port };
  }

  setCut(cut: boolean): void {
    this.cut = cut;
    if (cut) for (const p of this.pairs) p.holed = true;
  }

  get isCut(): boolean {
    return this.cut;
  }

  /** Live, forwarding connections. */
  get open(): number {
    return [...this.pairs].filter((p) => !p.holed && !p.client.destroyed && !p.upstream.destroyed).length;
  }

  /**
   * The path dies under the connections open now (they stay open, and
   * silent, forever); connections opened afterwards are forwarded again.
   * Returns how many connections it caught.
   */
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

/** Proxies between every ordered pair of hosts. */
export class FaultNet {
  private readonly proxies = new Map<string, FaultProxy>();
  private readonly via = new Map<string, Endpoint>();

  constructor(private readonly listenAt: ReadonlyMap<string, Endpoint>) {}

  async start(): Promise<void> {
    for (const from of this.listenAt.keys()) {
      for (const [to, target] of this.listenAt) {
        if (from === to) continue;
        const p = new FaultProxy(target);
        this.proxies.set(`${from}>${to}`, p);
        this.via.set(`${from}>${to}`, await p.start());
      }
    }
  }

  /** The --resolve flags for `host`: itself at its real address, the others through proxies. */
  resolveFlags(host: string): string[] {
    const flags: string[] = [];
    for (const [h, e] of this.listenAt) {
      const at = h === host ? e : this.via.get(`${host}>${h}`)!;
      flags.push('--resolve', `${h}=${at.host}:${at.port}`);
    }
    return flags;
  }

  /** Cut every link between the groups (both directions); links within a group stay. */
  partition(groups: ReadonlyArray<readonly string[]>): void {
    const groupOf = new Map<string, number>();
    groups.forEach((g, i) => g.forEach((h) => groupOf.set(h, i)));
    for (const [key, p] of this.proxies) {
      const [a, b] = key.split('>') as [string, string];
      p.setCut(groupOf.get(a) !== groupOf.get(b));
    }
  }

  heal(): void {
    for (const p of this.proxies.values()) p.setCut(false);
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
  }
}

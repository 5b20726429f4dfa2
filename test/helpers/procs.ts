// Real peer processes for fault tests: start any peer at any time, kill -9
// it, restart it from its data directory, signal it, read its CPU time. And a
// FakePeer, which lets a test speak the wire protocol as one of the cluster's
// peers, to drive an acceptor or watch a proposer exactly.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseHostsfile, type Cluster } from '../../src/config/hostsfile.js';
import type { Message } from '../../src/core/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { allocate, type Allocation } from '../../src/runner/addresses.js';
import { PeerLink, type Endpoint } from '../../src/transport/link.js';
import { listen, type Inbound } from '../../src/transport/server.js';
import { LAB_CODEC } from '../../src/wire/lab.js';
import type { Secret } from '../../src/transport/auth.js';
import { openOnLoopback } from '../../src/config/secret-notice.js';

import { cleanEnv, MAIN, until } from './cli.js';

export { until };

export class Proc {
  readonly lines: string[] = [];
  readonly stderr: string[] = [];
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  constructor(
    readonly host: string,
    readonly child: ChildProcess,
  ) {
    const split = (stream: NodeJS.ReadableStream, into: string[]): void => {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop()!;
        into.push(...parts);
      });
    };
    split(child.stdout!, this.lines);
    split(child.stderr!, this.stderr);
    this.closed = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.exit = { code, signal };
        resolve({ code, signal });
      }),
    );
  }

  /** Parsed stdout log lines. */
  get log(): Array<{
    peer_id: number;
    action: string;
    message_type: string;
    message_value: string;
    proposal_num: number;
  }> {
    return this.lines.flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
  }

  async waitLine(pred: (l: Proc['log'][number]) => boolean, what: string, ms = 60_000): Promise<void> {
    await until(() => this.log.some(pred), `${this.host}: ${what}`, ms);
  }

  async waitStderr(re: RegExp, ms = 60_000): Promise<string> {
    await until(() => this.stderr.some((l) => re.test(l)), `${this.host} stderr ${re}`, ms);
    return this.stderr.find((l) => re.test(l))!;
  }

  async kill9(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.closed;
  }

  /** Send `signal`; resolve with the exit status and how long it took. */
  async signal(signal: NodeJS.Signals): Promise<{ code: number | null; ms: number }> {
    const t0 = Date.now();
    this.child.kill(signal);
    const { code } = await this.closed;
    return { code, ms: Date.now() - t0 };
  }

  /** User + system CPU seconds used so far (Linux /proc). */
  cpuSeconds(): number {
    const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
  }
}

/** A hostsfile's peers on private loopback addresses, each with a data dir. */
export class LiveCluster {
  readonly dir: string;
  readonly file: string;
  readonly cluster: Cluster;
  private alloc: Allocation | null = null;
  private readonly procs: Proc[] = [];

  /** `extra`: names not in the hostsfile that get an address too (members added later, started with --join). */
  constructor(
    hostsfile: string,
    private readonly extra: readonly string[] = [],
  ) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'paxos-live-'));
    this.file = path.join(this.dir, 'hostsfile');
    writeFileSync(this.file, hostsfile);
    this.cluster = parseHostsfile(hostsfile, this.file);
  }

  async init(): Promise<this> {
    this.alloc = await allocate([...this.cluster.hosts.map((h) => h.host), ...this.extra]);
    await this.alloc.beforeSpawn();
    return this;
  }

  endpoint(host: string): Endpoint {
    return this.alloc!.endpoints.get(host)!;
  }

  dataDir(host: string): string {
    return path.join(this.dir, 'data', host);
  }

  /** The flags a client (paxos submit / get) needs to reach these peers. */
  clientFlags(): string[] {
    return [
      '-h',
      this.file,
      ...[...this.alloc!.endpoints].flatMap(([h, e]) => ['--resolve', `${h}=${e.host}:${e.port}`]),
    ];
  }

  start(host: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Proc {
    const resolve = [...this.alloc!.endpoints].flatMap(([h, e]) => ['--resolve', `${h}=${e.host}:${e.port}`]);
    const child = spawn(
      process.execPath,
      [
        MAIN,
        '-h',
        this.file,
        '--name',
        host,
        '--data-dir',
        this.dataDir(host),
        ...resolve,
        '--log-level',
        'info',
        '--exit-on-stdin-close',
        ...args,
        // A replica needs a secret or --insecure; a test that gives neither runs it open, on loopback.
        ...(this.cluster.mode === 'log' ? openOnLoopback(args, env) : []),
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], env: cleanEnv(env) },
    );
    const p = new Proc(host, child);
    this.procs.push(p);
    return p;
  }

  async close(): Promise<void> {
    for (const p of this.procs) if (p.exit === null) p.child.kill('SIGKILL');
    await Promise.all(this.procs.map((p) => p.closed));
    await this.alloc?.release();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Stands in for peer `host` of a LiveCluster: listens at its address and
 * sends as it, so a test can play a proposer (or acceptor) message by message.
 */
export class FakePeer {
  readonly got: Message[] = [];
  private inbound: Inbound | null = null;
  private readonly links = new Map<number, PeerLink>();

  constructor(
    private readonly live: LiveCluster,
    readonly host: string,
    private readonly secret: Secret | null = null,
  ) {}

  get id(): number {
    return this.live.cluster.byHost(this.host)!.id;
  }

  async start(): Promise<this> {
    this.inbound = await listen(this.live.endpoint(this.host), (m) => this.got.push(m), {
      codec: LAB_CODEC,
      log: silentLogger,
      secret: this.secret,
      self: this.id,
    });
    return this;
  }

  send(toHost: string, msg: Message): void {
    const to = this.live.cluster.byHost(toHost)!.id;
    let link = this.links.get(to);
    if (link === undefined) {
      link = new PeerLink(toHost, this.live.endpoint(toHost), {
        self: this.id,
        peer: to,
        secret: this.secret,
        log: silentLogger,
      });
      link.start();
      this.links.set(to, link);
    }
    link.send(msg);
  }

  async next<T extends Message['type']>(type: T, from: string, ms = 60_000): Promise<Extract<Message, { type: T }>> {
    const fromId = this.live.cluster.byHost(from)!.id;
    await until(
      () => this.got.some((m) => m.type === type && m.from === fromId),
      `${this.host} to get ${type} from ${from}`,
      ms,
    );
    const i = this.got.findIndex((m) => m.type === type && m.from === fromId);
    return this.got.splice(i, 1)[0] as Extract<Message, { type: T }>;
  }

  async close(): Promise<void> {
    for (const l of this.links.values()) await l.close();
    await this.inbound?.close();
  }
}

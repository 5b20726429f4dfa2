// A testcase's peers as local processes that the live page can break: kill
// (-9) and restart each one with its data directory kept, pause and resume
// it (SIGSTOP/SIGCONT), and cut links. Every peer-to-peer connection goes
// through a FaultProxy (src/tools/fault-net.ts, the nemesis's fault layer):
// one per ordered pair, so peer A reaches B only through proxy A>B, and
// cutting it black-holes that direction the way a real partition does.
// Clients (the page's submit, put, get) reach the peers directly.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NO_SECRET_WARNING_ENV, openOnLoopback } from '../config/secret-notice.js';
import { allocate, type Allocation } from '../runner/addresses.js';
import type { ComposeProject } from '../runner/compose.js';
import { peerNodeArgs } from '../runner/node-args.js';
import { FaultProxy } from '../tools/fault-net.js';
import type { Endpoint } from '../transport/link.js';
import type { LaneState } from '../viz/svg.js';

const PEER_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/** After SIGTERM at the end, how long a peer gets before SIGKILL. */
const KILL_AFTER_MS = 2000;

export interface ClusterEvents {
  line(lane: number, raw: string): void;
  stderr(lane: number, raw: string): void;
  /** A peer's process changed state; `why` says how, for the page's note. */
  state(lane: number, state: LaneState, why: string): void;
}

export interface ClusterOptions {
  readonly addressMode: 'auto' | 'ports';
  /** Keep state in DIR/<hostname> (default: a temporary directory, removed at the end). */
  readonly dataRoot: string | undefined;
  readonly peerArgs: readonly string[];
  /** The runner said "no shared secret" once for all: the peers do not repeat it (PAXOS_NO_SECRET_WARNING=1). */
  readonly quietNoSecret?: boolean;
}

interface Proc {
  readonly child: ChildProcess;
  readonly closed: Promise<void>;
  /** Set when we killed it, so its exit is not reported as a crash. */
  killed: boolean;
}

export class LiveCluster {
  readonly hosts: readonly string[];
  private readonly procs: Array<Proc | null>;
  private readonly states: LaneState[];
  private readonly proxies = new Map<string, FaultProxy>();
  private readonly via = new Map<string, Endpoint>();
  private readonly env: NodeJS.ProcessEnv;
  private stopping = false;

  private constructor(
    private readonly project: ComposeProject,
    private readonly alloc: Allocation,
    private readonly dataRoot: string,
    private readonly ownDataRoot: boolean,
    private readonly opts: ClusterOptions,
    private readonly on: ClusterEvents,
  ) {
    this.hosts = project.services.map((s) => s.hostname);
    this.procs = this.hosts.map(() => null);
    this.states = this.hosts.map(() => 'down');
    this.env = opts.quietNoSecret === true ? { ...process.env, [NO_SECRET_WARNING_ENV]: '1' } : process.env;
  }

  static async start(project: ComposeProject, opts: ClusterOptions, on: ClusterEvents): Promise<LiveCluster> {
    const dataRoot = opts.dataRoot ?? (await mkdtemp(path.join(os.tmpdir(), 'paxos-ui-')));
    const alloc = await allocate(
      project.services.map((s) => s.hostname),
      opts.addressMode,
    );
    const c = new LiveCluster(project, alloc, dataRoot, opts.dataRoot === undefined, opts, on);
    try {
      for (const from of c.hosts) {
        for (const to of c.hosts) {
          if (from === to) continue;
          const p = new FaultProxy(alloc.endpoints.get(to)!);
          c.proxies.set(`${from}>${to}`, p);
          c.via.set(`${from}>${to}`, await p.start());
        }
      }
      await alloc.beforeSpawn();
      c.hosts.forEach((_, lane) => c.spawn(lane));
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  /** Where each peer really listens: what clients use. */
  get endpoints(): ReadonlyMap<string, Endpoint> {
    return this.alloc.endpoints;
  }

  lane(host: string): number {
    const i = this.hosts.indexOf(host);
    if (i < 0) throw new RangeError(`no peer named ${JSON.stringify(host)}; the peers are ${this.hosts.join(', ')}`);
    return i;
  }

  private resolveFlags(host: string): string[] {
    return this.hosts.flatMap((h) => {
      const at = h === host ? this.alloc.endpoints.get(h)! : this.via.get(`${host}>${h}`)!;
      return ['--resolve', `${h}=${at.host}:${at.port}`];
    });
  }

  private spawn(lane: number): void {
    const service = this.project.services[lane]!;
    const host = service.hostname;
    const args = [
      PEER_MAIN,
      ...service.args,
      '--name',
      host,
      '--data-dir',
      path.join(this.dataRoot, host),
      ...this.resolveFlags(host),
      '--exit-on-stdin-close',
      ...this.opts.peerArgs,
      ...openOnLoopback([...service.args, ...this.opts.peerArgs], this.env),
    ];
    const child = spawn(process.execPath, [...peerNodeArgs(service.hostsfile), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: this.env,
    });
    const proc: Proc = { child, closed: new Promise((resolve) => child.once('close', () => resolve())), killed: false };
    this.procs[lane] = proc;
    createInterface({ input: child.stdout! }).on('line', (l) => this.on.line(lane, l));
    createInterface({ input: child.stderr! }).on('line', (l) => this.on.stderr(lane, l));
    child.once('error', (err) => this.on.stderr(lane, `could not start: ${err.message}`));
    // 'close', not 'exit': by then its last lines have been read.
    child.once('close', (code, signal) => {
      if (this.procs[lane] === proc) this.procs[lane] = null;
      if (this.stopping) return;
      this.setState(lane, 'down', proc.killed ? 'killed (-9)' : `exited (${signal ?? `status ${code}`})`);
    });
    this.setState(lane, 'up', 'started');
  }

  private setState(lane: number, s: LaneState, why: string): void {
    this.states[lane] = s;
    this.on.state(lane, s, why);
  }

  /** kill -9; resolves once the process is gone. */
  async kill(host: string): Promise<string> {
    const lane = this.lane(host);
    const p = this.procs[lane];
    if (p === null || p === undefined) return `${host} is already down`;
    p.killed = true;
    p.child.kill('SIGKILL');
    await p.closed;
    return `${host} killed (-9)`;
  }

  /** Start a peer that is down again, on its old data directory. */
  restart(host: string): string {
    const lane = this.lane(host);
    if (this.procs[lane] !== null) return `${host} is running; kill it first`;
    this.spawn(lane);
    return `${host} restarted with its data directory`;
  }

  pause(host: string): string {
    const lane = this.lane(host);
    const p = this.procs[lane];
    if (p === null || p === undefined) return `${host} is down`;
    if (this.states[lane] === 'paused') return `${host} is already paused`;
    p.child.kill('SIGSTOP');
    this.setState(lane, 'paused', 'paused (SIGSTOP)');
    return `${host} paused (SIGSTOP)`;
  }

  resume(host: string): string {
    const lane = this.lane(host);
    const p = this.procs[lane];
    if (p === null || p === undefined) return `${host} is down`;
    if (this.states[lane] !== 'paused') return `${host} is not paused`;
    p.child.kill('SIGCONT');
    this.setState(lane, 'up', 'resumed (SIGCONT)');
    return `${host} resumed (SIGCONT)`;
  }

  /** Cut (or restore) both directions between a and b. */
  setLink(a: string, b: string, cut: boolean): void {
    this.lane(a);
    this.lane(b);
    if (a === b) throw new RangeError(`a link joins two different peers; got ${a} twice`);
    this.proxies.get(`${a}>${b}`)!.setCut(cut);
    this.proxies.get(`${b}>${a}`)!.setCut(cut);
  }

  /** Cut every link of one peer. */
  isolate(host: string): void {
    for (const h of this.hosts) if (h !== host) this.setLink(host, h, true);
  }

  heal(): void {
    for (const p of this.proxies.values()) p.setCut(false);
  }

  /** Cut directions as "i>j" lane indexes. */
  cutLinks(): string[] {
    const out: string[] = [];
    for (const [k, p] of this.proxies) {
      if (!p.isCut) continue;
      const [a, b] = k.split('>') as [string, string];
      out.push(`${this.hosts.indexOf(a)}>${this.hosts.indexOf(b)}`);
    }
    return out;
  }

  /** Stop every peer (SIGCONT first if paused, then SIGTERM, SIGKILL 2 s later) and the proxies. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.procs.map((p) => {
        if (p === null) return Promise.resolve();
        const c = p.child;
        if (c.exitCode === null && c.signalCode === null) {
          const timer = setTimeout(() => c.kill('SIGKILL'), KILL_AFTER_MS);
          c.once('exit', () => clearTimeout(timer));
          c.kill('SIGCONT');
          c.stdin?.end();
          c.kill('SIGTERM');
        }
        return p.closed;
      }),
    );
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    await this.alloc.release();
    if (this.ownDataRoot) await rm(this.dataRoot, { recursive: true, force: true });
  }
}

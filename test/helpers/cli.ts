// The one way tests run commands: the paxos CLI (or npx, bash, a dist/
// tool) as a child process, to its end (`paxos`, `paxosSync`) or kept running
// and waited on (`start`, `Job.waitFor`), and `until` to poll a condition.
// Tests run from dist/test/<kind>/, and reach the clone through ROOT.
//
// Every command gets the parent's environment minus PAXOS_SECRET,
// PAXOS_ENDPOINTS, PAXOS_CA, PAXOS_CERT and PAXOS_KEY (a developer's shell
// must not change what a test sees),
// plus what the test gives in `env`; a key given as undefined is removed.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The clone's root (no trailing slash). */
export const ROOT = path.resolve(fileURLToPath(new URL('../../../', import.meta.url)));
/** The compiled tree: tests never rebuild it, other test files run from it at the same time. */
export const DIST = path.join(ROOT, 'dist');
/** The CLI's entry point, `paxos` itself. */
export const MAIN = path.join(DIST, 'src/cli/main.js');

/** How a command ended, what it printed, and how long it took. */
export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  ms: number;
}

export interface RunOptions {
  /** Default ROOT. */
  cwd?: string;
  /** Added to the parent's environment without PAXOS_SECRET and PAXOS_ENDPOINTS. */
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
  /** SIGKILL the command after this long (it then ends with signal SIGKILL). Default: no limit but the test's. */
  timeoutMs?: number;
  /** Stdout's chunks go here instead of into `out` (for output too big to keep). */
  onOut?: (chunk: Buffer) => void;
}

/** The environment a command gets: see the top of this file. */
export function cleanEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = {
    ...process.env,
    PAXOS_SECRET: undefined,
    PAXOS_ENDPOINTS: undefined,
    PAXOS_CA: undefined,
    PAXOS_CERT: undefined,
    PAXOS_KEY: undefined,
    ...env,
  };
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  return merged;
}

/** Runs `cmd args` to its end (exit, and all its output read). */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<Ran> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, {
      cwd: opts.cwd ?? ROOT,
      env: cleanEnv(opts.env),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    c.stdout!.on('data', opts.onOut ?? ((d: Buffer) => (out += d.toString())));
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    if (opts.input !== undefined) c.stdin!.end(opts.input);
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs);
    c.once('error', reject);
    c.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err, ms: Date.now() - t0 });
    });
  });
}

/** `run`, blocking: for tests that have nothing else to do meanwhile (no peers in this process). */
export function runSync(cmd: string, args: readonly string[], opts: Omit<RunOptions, 'onOut'> = {}): Ran {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: cleanEnv(opts.env),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    ...(opts.input === undefined ? { stdio: ['ignore', 'pipe', 'pipe'] } : { input: opts.input }),
    ...(opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs, killSignal: 'SIGKILL' }),
  });
  if (r.error !== undefined && r.status === null && r.signal === null) throw r.error;
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr, ms: Date.now() - t0 };
}

/** `paxos ARGS`, to its end. */
export function paxos(args: readonly string[], opts: RunOptions = {}): Promise<Ran> {
  return run(process.execPath, [MAIN, ...args], opts);
}

/** `paxos ARGS`, blocking. */
export function paxosSync(args: readonly string[], opts: Omit<RunOptions, 'onOut'> = {}): Ran {
  return runSync(process.execPath, [MAIN, ...args], opts);
}

/**
 * Poll `cond` every 10 ms until it holds; fail after `ms`, naming `what`.
 * The default is long: a wait that succeeds costs only its own time, and two
 * busy cores can stretch a peer's start to several seconds.
 */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(10);
  }
}

/**
 * `p`'s value, or `fallback` if it has not settled within `ms`. The timer is
 * cleared either way: a timer left running keeps the test file's worker
 * alive, and ava waits for it to exit before the next e2e file starts.
 */
export async function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export interface StartOptions extends Omit<RunOptions, 'onOut' | 'timeoutMs'> {
  /** In a process group of its own, as a terminal's foreground job: `interrupt` and `kill` reach all of it. */
  group?: boolean;
}

/** A command left running: the test waits on what it prints, then stops it. */
export class Job {
  out = '';
  err = '';
  /** Resolves when it has ended and all its output is read. */
  readonly ended: Promise<Ran>;
  readonly child: ChildProcess;
  private readonly waiters: Array<() => void> = [];
  private readonly group: boolean;

  constructor(cmd: string, args: readonly string[], opts: StartOptions = {}) {
    const t0 = Date.now();
    this.group = opts.group ?? false;
    this.child = spawn(cmd, args, {
      cwd: opts.cwd ?? ROOT,
      env: cleanEnv(opts.env),
      detached: this.group,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (opts.input !== undefined) this.child.stdin!.end(opts.input);
    this.child.stdout!.on('data', (d: Buffer) => {
      this.out += d.toString();
      this.grew();
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.err += d.toString();
      this.grew();
    });
    this.ended = new Promise((resolve) =>
      this.child.once('close', (code, signal) =>
        resolve({ code, signal, out: this.out, err: this.err, ms: Date.now() - t0 }),
      ),
    );
  }

  /**
   * Resolves with the first match of `re` in stdout, else in stderr, once
   * there is one; rejects if the command ends first, or after `ms`.
   */
  async waitFor(re: RegExp, ms = 120_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.out.match(re) ?? this.err.match(re);
      if (m !== null) return m;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${re}:\n${this.out}\n${this.err}`);
      const grew = new Promise<void>((resolve) => this.waiters.push(resolve));
      const e = await within(Promise.race([grew.then(() => null), this.ended]), left, null);
      if (e !== null && (this.out.match(re) ?? this.err.match(re)) === null)
        throw new Error(`ended (${e.code ?? e.signal}) before printing ${re}:\n${e.out}\n${e.err}`);
    }
  }

  /** Ctrl-C: SIGINT to it, or to every process of its group. */
  interrupt(): void {
    this.signal('SIGINT');
  }

  /** For teardown: SIGKILL it (and its group), and wait for its end. */
  async kill(): Promise<Ran> {
    this.signal('SIGKILL');
    return this.ended;
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      if (this.group) process.kill(-this.child.pid!, sig);
      else this.child.kill(sig);
    } catch {
      // already gone
    }
  }

  private grew(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Starts `cmd args` and leaves it running (see Job). */
export function start(cmd: string, args: readonly string[], opts: StartOptions = {}): Job {
  return new Job(cmd, args, opts);
}

/** Starts `paxos ARGS` and leaves it running. */
export function startPaxos(args: readonly string[], opts: StartOptions = {}): Job {
  return new Job(process.execPath, [MAIN, ...args], opts);
}

// Docker and the CLI from the outside, for the Swarm test (swarm-test.ts):
// running commands, waiting for services and containers, and asking a
// member's container for status, puts and gets.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
export const SWARM_DIR = path.join(root, 'deploy/swarm');
/** Names of our own, so that nothing else on this engine is touched. */
export const STACK = 'paxos-swarm-kv3';
export const JOINER = 'paxos-swarm-kv3-peer4';
export const MEMBERS = ['peer1', 'peer2', 'peer3'] as const;
export const SECRET = '/run/secrets/paxos_secret';
export const STEPS = ['deploy', 'kill', 'membership'] as const;
export type Step = (typeof STEPS)[number];

export interface Out {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a command to its end; never throws for a non-zero exit. */
export function sh(
  cmd: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<Out> {
  return new Promise((resolve) => {
    const child = spawn(cmd[0]!, cmd.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env === undefined ? process.env : { ...process.env, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 180_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: `${stderr}${err.message}` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: stdout.trim(), stderr: `${stderr.trim()}${signal ? ` (${signal})` : ''}` });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' / ');
}

/** Run a command that must succeed: its stdout, or an error naming it and its stderr. */
export async function must(cmd: readonly string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await sh(cmd, opts);
  if (r.code !== 0) throw new Error(`${cmd.join(' ')} exited ${r.code}: ${lastLines(r.stderr || r.stdout)}`);
  return r.stdout;
}

export const secs = (t0: number): string => ((performance.now() - t0) / 1000).toFixed(1);

/** Poll `probe` until it returns a value; throw, with the last thing it said, after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<{ value?: T; last: string }>,
  everyMs = 1000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const r = await probe();
    if (r.value !== undefined) return r.value;
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${r.last})`);
    await delay(everyMs);
  }
}

// --- Swarm and services ------------------------------------------------------

export const service = (member: string): string => `${STACK}_${member}`;

/** The running container of a service's task, if there is one, and its health. */
export async function containerOf(svc: string): Promise<{ id: string; health: string } | undefined> {
  const ids = (await must(['docker', 'ps', '-q', '-f', `label=com.docker.swarm.service.name=${svc}`]))
    .split('\n')
    .filter((l) => l !== '');
  if (ids.length === 0) return undefined;
  const r = await sh(['docker', 'inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}}{{end}}', ids[0]!]);
  return { id: ids[0]!, health: r.code === 0 ? r.stdout : 'gone' };
}

/** The service's task states, newest first: `Running 3 seconds ago|running|` and so on. */
export async function tasks(svc: string): Promise<string[]> {
  const r = await sh([
    'docker',
    'service',
    'ps',
    svc,
    '--no-trunc',
    '--format',
    '{{.CurrentState}}|{{.DesiredState}}|{{.Error}}',
  ]);
  return r.code === 0 ? r.stdout.split('\n').filter((l) => l !== '') : [];
}

/** Wait until the service's task runs in a healthy container (not `not`, an earlier one): its id. */
export function healthy(svc: string, timeoutMs: number, not?: string): Promise<string> {
  return waitFor(
    `${svc}'s task to run, healthy${not === undefined ? '' : ', in a new container'}`,
    timeoutMs,
    async () => {
      const c = await containerOf(svc);
      if (c !== undefined && c.id !== not && c.health === 'healthy') return { value: c.id, last: 'healthy' };
      const t = (await tasks(svc))[0] ?? 'no task';
      return { last: c === undefined ? `task ${t}` : `container ${c.id.slice(0, 12)} ${c.health}; task ${t}` };
    },
  );
}

/** `paxos ARGS` inside a container, with the stack's secret. */
export function paxos(container: string, args: readonly string[], env: Record<string, string> = {}): Promise<Out> {
  const e = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  return sh(['docker', 'exec', ...e, container, 'paxos', ...args, '--secret-file', SECRET]);
}

export async function paxosOk(
  container: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<string> {
  const r = await paxos(container, args, env);
  if (r.code !== 0)
    throw new Error(
      `paxos ${args.join(' ')} (exit ${r.code}) in ${container.slice(0, 12)}: ${lastLines(`${r.stdout}\n${r.stderr}`)}`,
    );
  return r.stdout;
}

export interface StatusRow {
  member: string;
  up: boolean;
  role?: string;
  leader?: string;
  commit?: number;
  applied?: number;
  ready?: boolean;
  health?: string;
}

export async function status(container: string, env: Record<string, string> = {}): Promise<StatusRow[] | string> {
  const r = await paxos(container, ['status', '--json', '--timeout', '5'], env);
  try {
    return JSON.parse(r.stdout) as StatusRow[];
  } catch {
    return `paxos status (exit ${r.code}): ${lastLines(`${r.stdout}\n${r.stderr}`, 2)}`;
  }
}

/** A file in a container, read with node (the image has no shell or cat). */
export function readIn(container: string, file: string): Promise<Out> {
  return sh([
    'docker',
    'exec',
    container,
    'node',
    '-e',
    `process.stdout.write(require('fs').readFileSync(${JSON.stringify(file)}, 'utf8'))`,
  ]);
}

/** `get KEY --to MEMBER` until MEMBER itself answers (not another it passed the client to): the value. */
export async function getFrom(
  container: string,
  member: string,
  key: string,
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<string | null> {
  return waitFor(`a get of ${key} answered by ${member}`, timeoutMs, async () => {
    const r = await paxos(container, ['get', key, '--to', member, '--json'], env);
    try {
      const j = JSON.parse(r.stdout) as { peer?: string; value?: string | null };
      if (j.peer === member) return { value: { v: j.value ?? null }, last: r.stdout };
      return { last: r.stdout };
    } catch {
      return { last: lastLines(`${r.stdout}\n${r.stderr}`, 2) };
    }
  }).then((x) => x.v);
}

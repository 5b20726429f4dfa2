// Peers as local processes, one loopback address (or port) each.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { NO_SECRET_WARNING_ENV, openOnLoopback } from '../config/secret-notice.js';
import { allocate } from './addresses.js';
import type { Launched, Launcher } from './launcher.js';
import { peerNodeArgs } from './node-args.js';

const PEER_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/** After SIGTERM, how long a peer gets before SIGKILL. */
const KILL_AFTER_MS = 2000;

export const launchLocal: Launcher = async (project, opts): Promise<Launched> => {
  // Each run starts from empty state unless the user asked to keep it.
  const dataRoot = opts.dataRoot ?? (await mkdtemp(path.join(os.tmpdir(), 'paxos-run-')));
  const alloc = await allocate(
    project.services.map((s) => s.hostname),
    opts.addressMode,
  );
  const resolveArgs = [...alloc.endpoints].flatMap(([h, e]) => ['--resolve', `${h}=${e.host}:${e.port}`]);
  await alloc.beforeSpawn();
  const env = opts.quietNoSecret === true ? { ...process.env, [NO_SECRET_WARNING_ENV]: '1' } : process.env;
  const children: Array<{ child: ChildProcess; closed: Promise<void> }> = [];
  const outputs = project.services.map((service) => {
    const dataDir = path.join(dataRoot, service.hostname);
    const args = [
      PEER_MAIN,
      ...service.args,
      '--name',
      service.hostname,
      '--data-dir',
      dataDir,
      ...resolveArgs,
      '--exit-on-stdin-close',
      ...opts.peerArgs,
      ...openOnLoopback([...service.args, ...opts.peerArgs], env),
    ];
    // In a process group of its own: a Ctrl-C in the terminal reaches this
    // process only, and stop() ends the peers. Sharing the terminal's group,
    // a peer killed by the Ctrl-C could be seen to end before this process
    // saw the Ctrl-C itself (on a busy machine the thread that takes a signal
    // can be descheduled before passing it on, while another thread reports
    // the child's exit), and the run failed with "exited early (SIGINT)".
    // Peers still end with this process: --exit-on-stdin-close.
    const child = spawn(process.execPath, [...peerNodeArgs(service.hostsfile), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env,
      // (On Windows, detached would give each peer a console window of its own.)
      detached: process.platform !== 'win32',
    });
    // 'close' comes after the process exited and its stdio streams ended.
    children.push({ child, closed: new Promise((resolve) => child.once('close', () => resolve())) });
    const ended = new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(`could not start: ${err.message}`));
      // 'close', not 'exit': by then its last stderr line has been read.
      child.once('close', (code, signal) => resolve(`exited early (${signal ?? `status ${code}`})`));
    });
    return { stdout: child.stdout!, stderr: child.stderr!, spawnedAt: performance.now(), ended };
  });
  return {
    outputs,
    mode: alloc.mode,
    where: [...alloc.endpoints].map(([h, e]) => `${h}=${e.host}:${e.port}`).join(' '),
    clientFlags: resolveArgs,
    stop: async () => {
      await Promise.all(children.map(({ child, closed }) => stopChild(child, closed)));
      await alloc.release();
      if (opts.dataRoot === undefined) await rm(dataRoot, { recursive: true, force: true });
    },
  };
};

/**
 * Close stdin and SIGTERM the peer; SIGKILL it if still up 2 s later.
 * Resolves once its output pipes are closed too, so no line printed before
 * the end can miss the comparison.
 */
function stopChild(c: ChildProcess, closed: Promise<void>): Promise<void> {
  if (c.exitCode === null && c.signalCode === null) {
    const kill = setTimeout(() => c.kill('SIGKILL'), KILL_AFTER_MS);
    c.once('exit', () => clearTimeout(kill));
    c.stdin?.end();
    c.kill('SIGTERM');
  }
  return closed;
}

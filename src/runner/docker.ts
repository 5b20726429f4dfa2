// Peers as Docker containers: `docker compose up -d` on the testcase's own
// compose file (image prj4, which must be built), then `docker logs -f` on
// each container, which replays its output from the start.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { Launched, Launcher } from './launcher.js';

const exec = promisify(execFile);

/** `docker compose` (v2) if this machine has it, else `docker-compose` (v1, Debian's). */
export async function composeCommand(): Promise<string[]> {
  try {
    await exec('docker', ['compose', 'version']);
    return ['docker', 'compose'];
  } catch {
    try {
      await exec('docker-compose', ['version']);
      return ['docker-compose'];
    } catch {
      throw new Error(
        'neither `docker compose` nor `docker-compose` works here; install Docker Compose (Debian: apt-get ' +
          'install docker-compose)',
      );
    }
  }
}

/** Run a command; its stdout, or an error naming the command and its stderr. */
export async function run(cmd: readonly string[]): Promise<string> {
  try {
    return (await exec(cmd[0]!, cmd.slice(1), { maxBuffer: 16 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    // The message already carries the command's stderr; callers print only the message.
    // eslint-disable-next-line preserve-caught-error -- as said above
    throw new Error(`${cmd.join(' ')} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-3).join(' / ')}`);
  }
}

export const launchDocker: Launcher = async (project): Promise<Launched> => {
  const compose = await composeCommand();
  const name = `prj4-${path.basename(project.dir)}`.toLowerCase().replace(/[^a-z0-9_-]/g, '-');
  const base = [...compose, '-p', name, '-f', project.file];
  const down = (): Promise<string> => run([...base, 'down', '--remove-orphans', '--volumes', '--timeout', '1']);
  await down(); // leftovers of an earlier, interrupted run
  try {
    await run([...base, 'up', '-d']);
  } catch (err) {
    await down().catch(() => '');
    throw err;
  }
  const startedAt = performance.now();
  const logs: Array<{ proc: ChildProcess; closed: Promise<void> }> = [];
  const outputs = [];
  for (const service of project.services) {
    const id = (await run([...base, 'ps', '-q', service.name])).trim();
    const proc = spawn('docker', ['logs', '--follow', id], { stdio: ['ignore', 'pipe', 'pipe'] });
    logs.push({ proc, closed: new Promise((resolve) => proc.once('close', () => resolve())) });
    // `docker logs -f` ends when the container stops; ask how it ended.
    const ended = new Promise<string>((resolve) => {
      proc.once('close', () => {
        run(['docker', 'inspect', '--format', '{{.State.ExitCode}}', id]).then(
          (code) => resolve(`exited early (status ${code.trim()})`),
          () => resolve('exited early'),
        );
      });
    });
    outputs.push({ stdout: proc.stdout!, stderr: proc.stderr!, spawnedAt: startedAt, ended });
  }
  return {
    outputs,
    mode: 'docker',
    where: `docker compose project ${name}`,
    clientFlags: [],
    stop: async () => {
      await down();
      await Promise.all(logs.map((l) => l.closed));
    },
  };
};

// One live process per data directory: two peers sharing one would
// silently merge two acceptors into one.

import { createHash } from 'node:crypto';
import { link, readFile, realpath, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

/** A data directory that cannot be used, or a state file that cannot be trusted. */
export class StateError extends Error {
  override readonly name = 'StateError';
}

export class DirLock {
  private readonly lock: string;
  private lockServer: net.Server | null = null;

  constructor(readonly dir: string) {
    this.lock = path.join(dir, 'LOCK');
  }

  /** Give up the directory (on a clean shutdown). */
  async release(): Promise<void> {
    if (this.lockServer !== null) {
      this.lockServer.close();
      this.lockServer = null;
      return;
    }
    // The pid lock, only if it is still ours.
    if ((await readFile(this.lock, 'utf8').catch(() => '')).trim() === String(process.pid))
      await unlink(this.lock).catch(() => undefined);
  }

  async take(): Promise<void> {
    if (process.platform === 'linux') await this.takeKernelLock();
    else await this.takePidLock();
  }

  /**
   * Linux: bind an abstract Unix socket named after the directory's real
   * path. Only one process can hold it, and the kernel lets go the moment
   * that process dies: no stale file to clean up, no pid that can be reused.
   */
  private async takeKernelLock(): Promise<void> {
    const name = `\0paxos-data-dir-${sha256(await realpath(this.dir)).slice(0, 48)}`;
    const server = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ path: name }, () => resolve());
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new StateError(
          `data directory ${this.dir} is in use by another running peer; give each peer its own --data-dir`,
        );
      }
      throw err;
    }
    server.unref();
    this.lockServer = server;
  }

  /**
   * Elsewhere: a LOCK file holding the owner's pid, created with its
   * contents in one step (link of a finished temp file). A crash leaves it
   * behind; it is taken over when its pid is dead, or is our own (a
   * container's peer is always pid 1). Two peers taking over the same stale
   * lock at the same instant can both succeed: a gap Linux does not have.
   */
  private async takePidLock(): Promise<void> {
    const mine = path.join(this.dir, `LOCK.${process.pid}`);
    await writeFile(mine, `${process.pid}\n`);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          await link(mine, this.lock);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        const owner = Number((await readFile(this.lock, 'utf8').catch(() => '')).trim());
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
          throw new StateError(
            `data directory ${this.dir} is in use by process ${owner}; give each peer its own --data-dir`,
          );
        }
        await unlink(this.lock).catch(() => undefined);
      }
      throw new StateError(`data directory ${this.dir}: could not take its LOCK; is another peer starting there?`);
    } finally {
      await unlink(mine).catch(() => undefined);
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

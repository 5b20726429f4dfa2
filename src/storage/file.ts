// Durable state on disk: one small JSON file per peer, replaced atomically.
//
// save() replaces state.json atomically (atomic.ts: temp file, fsync,
// rename, directory fsync), so a crash leaves the old file or the new one,
// never a torn one; a checksum guards against everything else (bit rot, a
// truncated copy, a hand edit). load() refuses to start from a file that
// is unreadable or fails its checksum: starting empty would let this
// acceptor break promises it made before the crash.
//
// A lock keeps two live peers from sharing a data directory, which would
// silently merge two acceptors into one (see takeLock).

import { createHash } from 'node:crypto';
import { link, mkdir, readFile, realpath, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { EMPTY_STATE, type Accepted, type DurableState } from '../core/types.js';
import { writeAtomically } from './atomic.js';
import type { Storage } from './storage.js';

const FORMAT = 'paxos-state/1';

export class StateError extends Error {
  override readonly name = 'StateError';
}

export class FileStorage implements Storage {
  readonly file: string;
  private readonly lock: string;
  private lockServer: net.Server | null = null;

  constructor(readonly dir: string) {
    this.file = path.join(dir, 'state.json');
    this.lock = path.join(dir, 'LOCK');
  }

  async load(): Promise<DurableState> {
    await mkdir(this.dir, { recursive: true });
    await this.takeLock();
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_STATE;
      throw this.refuse(`cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    return this.decode(text);
  }

  async save(state: DurableState): Promise<void> {
    const body = JSON.stringify(state);
    await writeAtomically(this.file, `${JSON.stringify({ format: FORMAT, sha256: sha256(body), state })}\n`);
  }

  /** Give up the data directory (on a clean shutdown). */
  async release(): Promise<void> {
    if (this.lockServer !== null) {
      this.lockServer.close();
      this.lockServer = null;
      return;
    }
    // The pid lock, only if it is still ours.
    if ((await readFile(this.lock, 'utf8').catch(() => '')).trim() === String(process.pid)) await unlink(this.lock).catch(() => undefined);
  }

  private decode(text: string): DurableState {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw this.refuse('is not valid JSON (a torn or hand-edited file?)');
    }
    const d = doc as { format?: unknown; sha256?: unknown; state?: unknown } | null;
    if (d === null || typeof d !== 'object' || d.format !== FORMAT) throw this.refuse(`is not a ${FORMAT} file`);
    if (typeof d.sha256 !== 'string' || d.sha256 !== sha256(JSON.stringify(d.state))) throw this.refuse('fails its checksum');
    const s = validState(d.state);
    if (s === null) throw this.refuse('holds a malformed state');
    return s;
  }

  private refuse(why: string): StateError {
    return new StateError(
      `state file ${this.file} ${why}; refusing to start empty, which could break promises this peer made. ` +
        `Restore the file, or if this peer's state is truly lost, move it aside knowingly and restart.`,
    );
  }

  private async takeLock(): Promise<void> {
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
        throw new StateError(`data directory ${this.dir} is in use by another running peer; give each peer its own --data-dir`);
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
          throw new StateError(`data directory ${this.dir} is in use by process ${owner}; give each peer its own --data-dir`);
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

function validState(v: unknown): DurableState | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const nat = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  const pair = (x: unknown): x is Accepted | null =>
    x === null || (typeof x === 'object' && nat((x as Accepted).n) && (x as Accepted).n > 0 && typeof (x as Accepted).v === 'string');
  if (!nat(o['promised']) || !pair(o['accepted']) || !pair(o['chosen'])) return null;
  const lp = o['lastProposal'];
  if (typeof lp !== 'object' || lp === null || Array.isArray(lp)) return null;
  const lastProposal: Record<number, number> = {};
  for (const [k, n] of Object.entries(lp)) {
    if (!/^[1-9][0-9]*$/.test(k) || !nat(n)) return null;
    lastProposal[Number(k)] = n;
  }
  return { promised: o['promised'], accepted: o['accepted'], lastProposal, chosen: o['chosen'] };
}

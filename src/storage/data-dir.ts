// A data directory the peer cannot use is found at start-up, before it
// listens or promises anything, and reported as one line naming the path
// and the fix. Otherwise a read-only directory would pass start-up (there
// is nothing to read yet) and fail at the first promise, mid-protocol.

import { mkdir, open, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { StateError } from './lock.js';

/** Create `dir` if need be, and prove a file can be written there; StateError if not. */
export async function prepareDataDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (err) {
    throw dataDirProblem(dir, err);
  }
  // A real write, not just a create: a full disk may still create an empty
  // file, but refuses the block (no fsync: that would make every start wait
  // on a busy disk, and the first save fsyncs anyway).
  const probe = path.join(dir, `.write-test.${process.pid}`);
  try {
    const fh = await open(probe, 'w');
    try {
      await fh.writeFile(Buffer.alloc(4096));
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw dataDirProblem(dir, err);
  } finally {
    await unlink(probe).catch(() => undefined);
  }
}

/** One line: what is wrong with data directory `dir`, and what to do about it. */
export function dataDirProblem(dir: string, err: unknown): StateError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const user = process.getuid === undefined ? 'this user' : `this user (uid ${process.getuid()})`;
  const why: Record<string, string> = {
    EROFS: 'is on a read-only file system; remount it read-write, or give --data-dir a writable directory',
    EACCES:
      `cannot be written: no permission for ${user}; chown or chmod it, or give --data-dir a directory ` +
      `that user can write`,
    EPERM:
      `cannot be written: no permission for ${user}; chown or chmod it, or give --data-dir a directory ` +
      `that user can write`,
    ENOTDIR:
      'is not a directory (it, or a part of its path, is a file); give --data-dir a directory, or move the file aside',
    EEXIST: 'is not a directory (a file is there); give --data-dir a directory, or move the file aside',
    ENOSPC: 'is on a full disk; free some space, or give --data-dir a directory on another disk',
    EDQUOT: 'is over its disk quota; free some space, or give --data-dir a directory on another disk',
    ENAMETOOLONG: 'is too long a path; give --data-dir a shorter one',
    ELOOP: 'goes round in a loop of symbolic links; give --data-dir a real directory',
  };
  const what =
    why[code] ??
    `cannot be used (${code || (err instanceof Error ? err.message : String(err))}); give --data-dir a ` +
      `writable directory`;
  return new StateError(`data directory ${dir} ${what}${code !== '' && why[code] !== undefined ? ` (${code})` : ''}`);
}

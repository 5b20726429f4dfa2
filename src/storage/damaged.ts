// Damaged files are evidence: they are never deleted or overwritten, but
// copied or moved into a new directory beside theirs,
// `<dir>.damaged-<UTC time, e.g. 20261207T031500Z>`, kept for inspection.

import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { syncPath } from './fsync.js';

/** Create `<dir>.damaged-<UTC time>` beside `dir` (with a suffix if that is taken); returns its path. */
export async function newDamagedDir(dir: string): Promise<string> {
  const full = path.resolve(dir);
  const stamp = `${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;
  const base = path.join(path.dirname(full), `${path.basename(full)}.damaged-${stamp}`);
  for (let k = 1; ; k++) {
    const name = k === 1 ? base : `${base}-${k}`;
    try {
      await mkdir(name);
      return name;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** Move `file` into directory `aside` (beside its own: one rename), durably; returns its new path. */
export async function moveAside(file: string, aside: string): Promise<string> {
  const to = path.join(aside, path.basename(file));
  await rename(file, to);
  await syncPath(aside);
  await syncPath(path.dirname(file));
  await syncPath(path.dirname(aside));
  return to;
}

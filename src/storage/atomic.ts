// Replacing a file so that a crash leaves the old bytes or the new, never a
// mix: write a temporary file beside it, fsync it, rename it over the target,
// then fsync the directory so the rename itself is durable.

import { open, rename } from 'node:fs/promises';
import path from 'node:path';
import { syncPath, timedSync, type FsyncObserver } from './fsync.js';

/** Bytes gathered before each write of writeAtomically's pieces. */
const WRITE_BYTES = 1024 * 1024;
/** Longest a writer makes pieces before it lets the event loop run. */
export const BUSY_MS = 10;

/**
 * A pause for a loop: resolves at once, or on the next turn of the event loop once the loop has been busy BUSY_MS since
 * the last.
 */
export function busyYield(): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last < BUSY_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    last = performance.now();
  };
}

/**
 * Replace `file` with `data`, or with the concatenation of its pieces: those
 * are taken one at a time between writes of about 1 MiB, so the event loop
 * runs while a big file is written, and no piece need be big. `onFsync` is
 * told how long each of its two fsyncs took (the file's, the directory's).
 */
export async function writeAtomically(
  file: string,
  data: string | Uint8Array | Iterable<string>,
  opts: { readonly onFsync?: FsyncObserver } = {},
): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) await fh.writeFile(data);
    else {
      let parts: string[] = [];
      let size = 0;
      const pause = busyYield();
      for (const piece of data) {
        await pause();
        parts.push(piece);
        size += piece.length;
        if (size < WRITE_BYTES) continue;
        await fh.write(parts.join(''));
        parts = [];
        size = 0;
      }
      await fh.write(parts.join(''));
    }
    await timedSync(() => fh.sync(), opts.onFsync);
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await syncPath(path.dirname(file), opts.onFsync);
}

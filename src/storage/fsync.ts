// The one home of "make it durable by path": fsync a file, or a directory so
// that a create, rename or unlink in it survives a crash.

import { open } from 'node:fs/promises';

/** fsync a file or a directory, by its path. */
export async function syncPath(p: string): Promise<void> {
  const fh = await open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

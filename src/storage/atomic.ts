// Replacing a small file so that a crash leaves the old bytes or the new,
// never a mix: write a temporary file beside it, fsync it, rename it over
// the target, then fsync the directory so the rename itself is durable.

import { open, rename } from 'node:fs/promises';
import path from 'node:path';

export async function writeAtomically(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

// Temporary directories for tests, removed when the test file ends, whether
// its tests passed or failed: `npm test` leaves nothing in the temp dir.

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';

const made: string[] = [];

test.after.always('remove temporary directories', () => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory `$TMPDIR/paxos-PREFIX-XXXXXX`, removed after this file's tests. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `paxos-${prefix}-`));
  made.push(dir);
  return dir;
}

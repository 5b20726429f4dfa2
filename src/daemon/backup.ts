// Backups of the key-value store, for `paxos snapshot` (src/cli/snapshot-command.ts):
// the command line never opens storage itself (.dependency-cruiser.cjs), so
// it reads, writes and restores backups through here.

import type { KvStore } from '../sm/kv.js';
import { FileLogStore } from '../storage/file-log-store.js';

export { BackupError, readBackup, writeBackup, type BackupHead } from '../storage/backup.js';
export { StateError } from '../storage/lock.js';

/** Make `dir` (new or empty) a data directory whose store is `store`'s; StateError if it is not empty. */
export async function restoreInto(dir: string, store: KvStore): Promise<void> {
  const view = store.view();
  try {
    await FileLogStore.seed(dir, view);
  } finally {
    view.close();
  }
}

// The one home of "make it durable by path": fsync a file, or a directory so
// that a create, rename or unlink in it survives a crash. And the hook that
// times fsyncs for a replica's /metrics.

import { open } from 'node:fs/promises';

/** Called with an fsync's duration, in seconds (a replica's /metrics). */
export type FsyncObserver = (seconds: number) => void;

/** What a replica's store fsyncs: its write-ahead log, or a snapshot (the snapshot file and the replica file). */
export type FsyncKind = 'wal' | 'snapshot';

/** Run `sync`, one fsync, and tell `observe` (if any) how long it took. */
export async function timedSync(sync: () => Promise<void>, observe: FsyncObserver | undefined): Promise<void> {
  if (observe === undefined) return sync();
  const t0 = performance.now();
  await sync();
  observe((performance.now() - t0) / 1000);
}

/** fsync a file or a directory, by its path; `observe` is told how long the fsync took (not the open and close). */
export async function syncPath(p: string, observe?: FsyncObserver): Promise<void> {
  const fh = await open(p, 'r');
  try {
    await timedSync(() => fh.sync(), observe);
  } finally {
    await fh.close();
  }
}

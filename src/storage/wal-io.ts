// The write-ahead log's writes (wal.ts): whole buffers, in as many pieces as
// the OS takes them, and the zeros it writes ahead of its records.

import { writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** All of `data`, even if the OS takes it in pieces. */
export async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done);
    if (bytesWritten <= 0) throw new Error(`wrote ${done} of ${data.length} bytes, then nothing`);
    done += bytesWritten;
  }
}

/** All of `data`, at byte `at` of the file, on this thread. */
export function writeAllSync(fd: number, data: Buffer, at: number): void {
  let done = 0;
  while (done < data.length) {
    const n = writeSync(fd, data, done, data.length - done, at + done);
    if (n <= 0) throw new Error(`wrote ${done} of ${data.length} bytes, then nothing`);
    done += n;
  }
}

let zeroBuf = Buffer.alloc(0);
/** `n` zero bytes (a view of one shared buffer, grown as needed: nothing ever writes into it). */
export function zeros(n: number): Buffer {
  if (zeroBuf.length < n) zeroBuf = Buffer.alloc(n);
  return zeroBuf.subarray(0, n);
}

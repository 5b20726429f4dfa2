// The write-ahead log: records survive a reopen, one fsync covers many
// records (group commit), a crash at any byte of the last write loses only
// that torn record, damage elsewhere is refused, and a checkpoint replaces
// the log atomically.

import { mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { crc32, crc32Table } from '../src/storage/crc32.js';
import { loadLatestSnapshot, pruneSnapshots, saveSnapshot } from '../src/storage/snapshot.js';
import { Wal } from '../src/storage/wal.js';
import { tempDir } from './helpers/tmp.js';

type R = { i: number; pad?: string };

const segments = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.wal')).sort();

test('crc32 matches the standard check value, native and table alike', (t) => {
  const data = Buffer.from('123456789');
  t.is(crc32(data), 0xcbf43926);
  t.is(crc32Table(data), 0xcbf43926);
});

test('records come back in order after a reopen, across segment rotations', async (t) => {
  const dir = tempDir('wal');
  const { wal } = await Wal.open<R>(dir, { segmentBytes: 300 });
  for (let i = 0; i < 100; i++) {
    wal.append({ i, pad: 'x'.repeat(i % 7) });
    if (i % 10 === 9) await wal.sync();
  }
  await wal.close();
  t.true(segments(dir).length > 5, `rotated into ${segments(dir).length} segments`);
  const again = await Wal.open<R>(dir, { segmentBytes: 300 });
  t.deepEqual(again.records.map((r) => r.i), Array.from({ length: 100 }, (_, i) => i));
  t.is(again.truncatedBytes, 0);
  await again.wal.close();
});

test('group commit: many concurrent syncs share a few fsyncs, and each resolves only once its record is durable', async (t) => {
  const dir = tempDir('wal');
  let syncs = 0;
  const { wal } = await Wal.open<R>(dir, { onSync: () => (syncs += 1) });
  await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      wal.append({ i });
      await wal.sync();
      // Durable means: on disk now, before anything else happens.
      t.true(readFileSync(path.join(dir, segments(dir).at(-1)!)).includes(Buffer.from(`{"i":${i}}`)));
    }),
  );
  t.true(syncs <= 3, `100 records, ${syncs} fsyncs`);
  await wal.close();
});

test('a crash at any byte of the last write: earlier records survive, the torn one is cut off, and the log goes on', async (t) => {
  const base = tempDir('wal');
  const dir0 = path.join(base, 'src');
  const { wal } = await Wal.open<R>(dir0);
  for (let i = 0; i < 5; i++) wal.append({ i });
  await wal.sync();
  wal.append({ i: 5, pad: 'torn' });
  await wal.sync();
  await wal.close();
  const file = segments(dir0)[0]!;
  const full = readFileSync(path.join(dir0, file));
  const lastFrame = Buffer.byteLength(JSON.stringify({ i: 5, pad: 'torn' })) + 8;
  const goodEnd = full.length - lastFrame;
  for (let cut = goodEnd + 1; cut < full.length; cut++) {
    const dir = path.join(base, `cut-${cut}`);
    writeFileSync(path.join(tempSub(dir), file), full.subarray(0, cut));
    const r = await Wal.open<R>(dir);
    t.deepEqual(r.records.map((x) => x.i), [0, 1, 2, 3, 4], `cut at ${cut}`);
    t.is(r.truncatedBytes, cut - goodEnd);
    r.wal.append({ i: 99 });
    await r.wal.close();
    const again = await Wal.open<R>(dir);
    t.deepEqual(again.records.map((x) => x.i), [0, 1, 2, 3, 4, 99]);
    await again.wal.close();
  }
  // Garbage after the last good frame (a write that never finished) goes the same way.
  const dir = path.join(base, 'garbage');
  writeFileSync(path.join(tempSub(dir), file), Buffer.concat([full, Buffer.from([0xff, 0x00, 0x10, 0x00, 0x00, 0x01, 0x02])]));
  const r = await Wal.open<R>(dir);
  t.is(r.records.length, 6);
  t.is(r.truncatedBytes, 7);
  await r.wal.close();
});

function tempSub(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

test('a bad checksum in an earlier segment is damage, not a torn write: open refuses and names the file', async (t) => {
  const dir = tempDir('wal');
  const { wal } = await Wal.open<R>(dir, { segmentBytes: 100 });
  for (let i = 0; i < 30; i++) {
    wal.append({ i });
    await wal.sync();
  }
  await wal.close();
  const first = path.join(dir, segments(dir)[0]!);
  const bytes = readFileSync(first);
  bytes[10] = bytes[10]! ^ 0xff; // inside the first record's payload
  writeFileSync(first, bytes);
  await t.throwsAsync(Wal.open<R>(dir, { segmentBytes: 100 }), { message: new RegExp(`${segments(dir)[0]}: a bad checksum in the frame at byte 0, and it is not the last segment`) });
});

test('checkpoint: the log becomes exactly the live records (plus later appends), older segments are deleted', async (t) => {
  const dir = tempDir('wal');
  const { wal } = await Wal.open<R>(dir, { segmentBytes: 200 });
  for (let i = 0; i < 50; i++) wal.append({ i });
  await wal.sync();
  const before = segments(dir);
  await wal.checkpoint([{ i: 1000 }, { i: 1001 }]);
  wal.append({ i: 1002 });
  await wal.close();
  const after = segments(dir);
  t.is(after.length, 1);
  t.false(before.includes(after[0]!));
  const r = await Wal.open<R>(dir);
  t.deepEqual(r.records.map((x) => x.i), [1000, 1001, 1002]);
  await r.wal.close();
});

test('a crash in the middle of a checkpoint (its end marker never written) recovers the state before it', async (t) => {
  const dir = tempDir('wal');
  const { wal } = await Wal.open<R>(dir);
  for (let i = 0; i < 5; i++) wal.append({ i });
  await wal.close();
  // What a checkpoint writes first, cut short before its end marker.
  const frame = (s: string): Buffer => {
    const body = Buffer.from(s);
    const h = Buffer.alloc(8);
    h.writeUInt32LE(body.length, 0);
    h.writeUInt32LE(crc32(body), 4);
    return Buffer.concat([h, body]);
  };
  writeFileSync(path.join(dir, '0000000000000002.wal'), Buffer.concat([frame('{"$checkpoint":true}'), frame('{"i":1000}')]));
  const r = await Wal.open<R>(dir);
  t.deepEqual(r.records.map((x) => x.i), [0, 1, 2, 3, 4]);
  t.deepEqual(segments(dir), ['0000000000000001.wal'], 'the half-written checkpoint is removed');
  await r.wal.close();
});

test('snapshots: the newest intact one loads; a damaged newest falls back to the previous; prune keeps two', async (t) => {
  const dir = tempDir('snap');
  t.deepEqual(await loadLatestSnapshot(dir), { snapshot: null, skipped: [] });
  await saveSnapshot(dir, { index: 10, data: 'ten' });
  await saveSnapshot(dir, { index: 20, data: 'twenty' });
  const newest = await saveSnapshot(dir, { index: 30, data: 'thirty ✓' });
  t.deepEqual((await loadLatestSnapshot(dir)).snapshot, { index: 30, data: 'thirty ✓' });
  truncateSync(newest, readFileSync(newest).length - 2);
  const r = await loadLatestSnapshot(dir);
  t.deepEqual(r.snapshot, { index: 20, data: 'twenty' });
  t.is(r.skipped.length, 1);
  t.regex(r.skipped[0]!, /snapshot-0000000000000030\.snap: .*cut short/);
  await pruneSnapshots(dir, 2);
  t.deepEqual(readdirSync(dir).sort(), ['snapshot-0000000000000020.snap', 'snapshot-0000000000000030.snap']);
});

// The write-ahead log: records survive a reopen, one fsync covers many
// records (group commit), a crash at any byte of the last write loses only
// that torn record, damage anywhere (even in the last segment) is refused or
// salvaged, never cut off, and a checkpoint replaces the log atomically.

import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { crc32, crc32Table } from '../../src/storage/crc32.js';
import { StateError } from '../../src/storage/lock.js';
import { Wal, WalDamageError } from '../../src/storage/wal.js';
import { tempDir } from '../helpers/tmp.js';

type R = { i: number; pad?: string };

const segments = (dir: string): string[] =>
  readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
const ids = (records: R[]): number[] => records.map((r) => r.i);
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);
const sub = (base: string, name: string): string => {
  const d = path.join(base, name);
  mkdirSync(d, { recursive: true });
  return d;
};

/** A frame as the log writes it, for building damaged logs by hand. */
function frame(s: string): Buffer {
  const body = Buffer.from(s);
  const h = Buffer.alloc(8);
  h.writeUInt32LE(body.length, 0);
  h.writeUInt32LE(crc32(body), 4);
  return Buffer.concat([h, body]);
}

/** Reopen `dir` and return what it holds, closing it again. */
async function reread(dir: string, segmentBytes?: number): Promise<number[]> {
  const r = await Wal.open<R>(dir, segmentBytes === undefined ? {} : { segmentBytes });
  await r.wal.close();
  return ids(r.records);
}

/** A log of `n` records, each synced on its own, in segments of `segmentBytes`. */
async function writeLog(dir: string, n: number, segmentBytes?: number): Promise<void> {
  const { wal } = await Wal.open<R>(dir, { fsync: false, ...(segmentBytes === undefined ? {} : { segmentBytes }) });
  for (let i = 0; i < n; i++) {
    wal.append({ i });
    await wal.sync();
  }
  await wal.close();
}

test('crc32 matches the standard check values, native and table alike, and chains through its seed', (t) => {
  for (const [s, want] of [
    ['123456789', 0xcbf43926],
    ['', 0],
    ['a', 0xe8b7be43],
    ['The quick brown fox jumps over the lazy dog', 0x414fa339],
  ] as const) {
    t.is(crc32(Buffer.from(s)), want, s);
    t.is(crc32Table(Buffer.from(s)), want, s);
  }
  const data = randomBytes(4099);
  t.is(crc32Table(data), crc32(data));
  const [a, b] = [data.subarray(0, 1000), data.subarray(1000)];
  t.is(crc32(b, crc32(a)), crc32(data));
  t.is(crc32Table(b, crc32Table(a)), crc32(data));
});

test(
  'records come back in order after a reopen, across segment rotations, and bytes counts what ' + 'is on disk',
  async (t) => {
    const dir = tempDir('wal');
    const { wal, records, truncatedBytes } = await Wal.open<R>(dir, { segmentBytes: 300 });
    t.deepEqual(records, []);
    t.is(truncatedBytes, 0);
    for (let i = 0; i < 100; i++) {
      wal.append({ i, pad: 'x'.repeat(i % 7) });
      if (i % 10 === 9) await wal.sync();
    }
    await wal.close();
    const segs = segments(dir);
    t.true(segs.length > 5, `rotated into ${segs.length} segments`);
    t.deepEqual(
      segs,
      segs.map((_, k) => `${String(k + 1).padStart(16, '0')}.wal`),
      'numbered from 1, no gaps',
    );
    const again = await Wal.open<R>(dir, { segmentBytes: 300 });
    t.deepEqual(
      again.records,
      range(0, 100).map((i) => ({ i, pad: 'x'.repeat(i % 7) })),
    );
    t.is(again.truncatedBytes, 0);
    t.is(
      again.wal.bytes,
      segs.reduce((sum, n) => sum + statSync(path.join(dir, n)).size, 0),
    );
    // The log goes on where it left off.
    again.wal.append({ i: 100 });
    await again.wal.close();
    t.deepEqual(await reread(dir, 300), range(0, 101));
  },
);

test(
  'group commit: 100 concurrent syncs share a few fsyncs, and each resolves only once its record ' + 'is on disk',
  async (t) => {
    const dir = tempDir('wal');
    let syncs = 0;
    const { wal } = await Wal.open<R>(dir, { onSync: () => (syncs += 1) });
    await wal.sync();
    t.is(syncs, 0, 'nothing buffered: no write, no fsync');
    await Promise.all(
      range(0, 100).map(async (i) => {
        wal.append({ i });
        await wal.sync();
        t.true(
          readFileSync(path.join(dir, segments(dir).at(-1)!)).includes(Buffer.from(`{"i":${i}}`)),
          `record ${i} written when its sync resolved`,
        );
      }),
    );
    t.true(syncs >= 1 && syncs <= 3, `100 records, ${syncs} fsyncs`);
    // Syncs called once the first has started share exactly one more,
    // whether the first is still in flight by then or done.
    syncs = 0;
    wal.append({ i: 100 });
    const first = wal.sync();
    await new Promise<void>((resolve) => setImmediate(resolve));
    const later = range(101, 150).map((i) => {
      wal.append({ i });
      return wal.sync();
    });
    await Promise.all([first, ...later]);
    t.is(syncs, 2);
    await wal.close();
    t.deepEqual(await reread(dir), range(0, 150));
  },
);

test(
  'a crash at any byte of the last write: earlier records survive, the torn one is cut off, and the ' + 'log goes on',
  async (t) => {
    const base = tempDir('wal');
    const orig = sub(base, 'orig');
    // Two segments, so the torn one is the second; records 0..9 are in the first.
    await writeLog(orig, 10, 100);
    const { wal } = await Wal.open<R>(orig, { segmentBytes: 100 });
    wal.append({ i: 10 });
    await wal.sync();
    wal.append({ i: 11, pad: 'torn' });
    await wal.close();
    const segs = segments(orig);
    t.true(segs.length >= 2);
    const last = segs.at(-1)!;
    const full = readFileSync(path.join(orig, last));
    const lastFrame = frame(JSON.stringify({ i: 11, pad: 'torn' })).length;
    const goodEnd = full.length - lastFrame;
    const before = range(0, 11);
    const tails: Array<[string, Buffer]> = [];
    for (let cut = goodEnd + 1; cut < full.length; cut++) tails.push([`cut at ${cut}`, full.subarray(0, cut)]);
    // A write that never finished; a file that grew but whose data blocks are zeros.
    tails.push([
      'garbage after the last frame',
      Buffer.concat([full, Buffer.from([0xff, 0x00, 0x10, 0x00, 0x00, 0x01, 0x02])]),
    ]);
    tails.push(['zeros after the last frame', Buffer.concat([full, Buffer.alloc(4096)])]);
    const zeroed = Buffer.from(full);
    zeroed.fill(0, full.length - 5);
    tails.push(['a last frame whose payload ends in zeros', zeroed]);
    tails.push(['a last frame all zeros', Buffer.concat([full.subarray(0, goodEnd), Buffer.alloc(lastFrame)])]);
    for (const [k, [what, bytes]] of tails.entries()) {
      const dir = sub(base, `case-${k}`);
      for (const n of segs.slice(0, -1)) writeFileSync(path.join(dir, n), readFileSync(path.join(orig, n)));
      writeFileSync(path.join(dir, last), bytes);
      const r = await Wal.open<R>(dir, { segmentBytes: 100 });
      t.is(r.damage, null, what);
      const intact = what.startsWith('garbage') || what.startsWith('zeros');
      t.deepEqual(ids(r.records), intact ? range(0, 12) : before, what);
      t.is(r.truncatedBytes, intact ? bytes.length - full.length : bytes.length - goodEnd, what);
      t.is(
        statSync(path.join(dir, last)).size,
        intact ? full.length : goodEnd,
        `${what}: the file is cut back to its last good frame`,
      );
      r.wal.append({ i: 99 });
      await r.wal.close();
      t.deepEqual(
        await reread(dir, 100),
        [...(intact ? range(0, 12) : before), 99],
        `${what}: appends after recovery read back`,
      );
    }
  },
);

/** How many frames `buf` holds, good or bad, reading only their lengths. */
function countFrames(buf: Buffer): number {
  let n = 0;
  for (let off = 0; off < buf.length; off += 8 + buf.readUInt32LE(off)) n++;
  return n;
}

/** Every file under `dir` (recursively) with its bytes, to show nothing changed. */
function snapshotOf(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const n of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const f = path.join(dir, n);
    if (statSync(f).isFile()) out.set(n, readFileSync(f));
  }
  return out;
}

test(
  'a flipped byte in the middle of the only segment is damage, not a torn tail: refuse changes nothing; ' +
    'salvage keeps the file aside and the records before it',
  async (t) => {
    const base = tempDir('wal');
    const dir = sub(base, 'log');
    await writeLog(dir, 10);
    const name = segments(dir)[0]!;
    const bytes = readFileSync(path.join(dir, name));
    const at = frame('{"i":0}').length * 4; // records 0..9 have frames of equal size
    bytes[at + 9] = bytes[at + 9]! ^ 0xff;
    writeFileSync(path.join(dir, name), bytes);
    const before = snapshotOf(base);

    const err = await t.throwsAsync(Wal.open<R>(dir), { instanceOf: WalDamageError });
    t.true(
      err.message.startsWith(
        `${path.join(dir, name)}, byte ${at}: bad checksum on a complete frame; the log in ${dir} is damaged`,
      ),
      err.message,
    );
    t.regex(err.message, /keep it for inspection/);
    t.notRegex(err.message, /delete|rejoin/);
    t.deepEqual(err.site, { file: path.join(dir, name), offset: at, reason: 'bad checksum on a complete frame' });
    t.deepEqual(snapshotOf(base), before, 'refuse: every file byte-identical, nothing added');

    const r = await Wal.open<R>(dir, { onCorruption: 'salvage', fsync: false });
    t.deepEqual(ids(r.records), [0, 1, 2, 3]);
    t.is(r.truncatedBytes, 0);
    const keptAs = r.damage?.keptAs ?? '';
    t.deepEqual(r.damage, {
      file: path.join(dir, name),
      offset: at,
      reason: 'bad checksum on a complete frame',
      keptAs,
      recordsKept: 4,
    });
    t.regex(path.basename(keptAs), /^log\.damaged-\d{8}T\d{6}Z$/);
    t.is(path.dirname(keptAs), base);
    t.deepEqual(readFileSync(path.join(keptAs, name)), bytes, 'the damaged segment is kept as it was');
    r.wal.append({ i: 4 });
    await r.wal.close();
    t.deepEqual(await reread(dir), [0, 1, 2, 3, 4], 'the log now holds the records kept, and goes on');
    t.false(segments(dir).includes(name), 'the damaged segment is gone from the log');
  },
);

test(
  'a bad frame followed by a valid one is damage, whatever it looks like: a bad checksum, a length that runs ' +
    'past the end, zeros',
  async (t) => {
    const base = tempDir('wal');
    const good = [frame('{"i":0}'), frame('{"i":1}')];
    const after = frame('{"i":2}');
    const longLen = Buffer.from(frame('{"i":9}'));
    longLen.writeUInt32LE(100_000, 0); // a flipped length bit: it runs past the end of the file
    const badSum = Buffer.from(frame('{"i":9}'));
    badSum[9] = badSum[9]! ^ 0x01;
    for (const [what, bad, offset] of [
      ['a bad checksum', badSum, /bad checksum on a complete frame/],
      [
        'a length that runs past the end of the file',
        longLen,
        /frame declares 100000 bytes, but only \d+ follow, yet a valid frame follows at byte \d+/,
      ],
      ['zero bytes', Buffer.alloc(16), /a frame of length 0/],
    ] as const) {
      const dir = sub(base, what.replace(/ /g, '-'));
      const file = path.join(dir, '0000000000000001.wal');
      const bytes = Buffer.concat([...good, bad, after]);
      writeFileSync(file, bytes);
      const err = await t.throwsAsync(Wal.open<R>(dir), { instanceOf: WalDamageError }, what);
      t.is(err.site.offset, good[0]!.length * 2, what);
      t.regex(err.site.reason, offset, what);
      t.deepEqual(readFileSync(file), bytes, `${what}: untouched`);
      const r = await Wal.open<R>(dir, { onCorruption: 'salvage', fsync: false });
      t.deepEqual(ids(r.records), [0, 1], what);
      t.is(r.damage?.recordsKept, 2);
      await r.wal.close();
    }
  },
);

test(
  'salvage after damage in an earlier segment: every segment is kept aside, and the records before the ' +
    'damage kept',
  async (t) => {
    const base = tempDir('wal');
    const dir = sub(base, 'log');
    await writeLog(dir, 30, 100);
    const segs = segments(dir);
    t.true(segs.length >= 4);
    const second = path.join(dir, segs[1]!);
    const bytes = readFileSync(second);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x10; // inside its last frame
    writeFileSync(second, bytes);
    // Kept: every record of the first segment and all but the last of the second.
    const kept = countFrames(readFileSync(path.join(dir, segs[0]!))) + countFrames(bytes) - 1;
    const r = await Wal.open<R>(dir, { segmentBytes: 100, onCorruption: 'salvage', fsync: false });
    t.regex(r.damage?.reason ?? '', /in a segment that is not the last$/);
    t.is(r.damage?.file, second);
    t.deepEqual(
      readdirSync(r.damage?.keptAs ?? '').sort(),
      segs,
      'every segment, the sound ones before the damage too',
    );
    t.deepEqual(ids(r.records), range(0, kept));
    t.is(r.damage?.recordsKept, kept);
    await r.wal.close();
    t.deepEqual(await reread(dir, 100), ids(r.records));
  },
);

test(
  'a checkpoint without its end marker whose older segments are gone is damage, not a crash mid-checkpoint to ' +
    'throw away',
  async (t) => {
    const dir = sub(tempDir('wal'), 'log');
    const file = path.join(dir, '0000000000000002.wal');
    // A completed checkpoint (the older segment already deleted) whose end marker went bad.
    const cp = Buffer.concat([frame('{"$checkpoint":true}'), frame('{"i":7}'), frame('{"$checkpointEnd":true}')]);
    cp[cp.length - 2] = cp[cp.length - 2]! ^ 0x01;
    writeFileSync(file, cp);
    const err = await t.throwsAsync(Wal.open<R>(dir), { instanceOf: WalDamageError });
    t.regex(
      err.message,
      /checkpoint without its end marker \(bad checksum on a complete frame\), and the segments it replaces are gone/,
    );
    t.deepEqual(readFileSync(file), cp, 'not deleted');
    const r = await Wal.open<R>(dir, { onCorruption: 'salvage', fsync: false });
    t.deepEqual(ids(r.records), [7]);
    await r.wal.close();
  },
);

test(
  'a bad checksum in an earlier segment is damage, not a torn write: open refuses, names the file, and ' +
    'changes nothing',
  async (t) => {
    const dir = tempDir('wal');
    await writeLog(dir, 30, 100);
    const first = path.join(dir, segments(dir)[0]!);
    const good = readFileSync(first);
    const bytes = Buffer.from(good);
    bytes[10] = bytes[10]! ^ 0xff; // inside the first record's payload
    writeFileSync(first, bytes);
    const sizes = segments(dir).map((n) => statSync(path.join(dir, n)).size);
    const err = await t.throwsAsync(Wal.open<R>(dir, { segmentBytes: 100 }), { instanceOf: StateError });
    t.true(
      err?.message.startsWith(
        `${first}, byte 0: bad checksum on a complete frame, in a segment that is not the last; the log in ${dir}` +
          ` is damaged`,
      ),
      err?.message,
    );
    t.notRegex(err?.message ?? '', /delete|rejoin/);
    t.deepEqual(
      segments(dir).map((n) => statSync(path.join(dir, n)).size),
      sizes,
      'no segment truncated or removed',
    );
    // A torn frame (not a checksum) in an earlier segment is refused the same way.
    writeFileSync(first, good.subarray(0, good.length - 1));
    await t.throwsAsync(Wal.open<R>(dir, { segmentBytes: 100 }), {
      message: new RegExp(
        `^${first}, byte \\d+: frame declares \\d+ bytes, but only \\d+ follow, in a segment that is not the last`,
      ),
    });
  },
);

test('a missing segment is damage: a hole in the middle or a lost first segment', async (t) => {
  const base = tempDir('wal');
  const dir = sub(base, 'log');
  await writeLog(dir, 30, 100);
  const segs = segments(dir);
  t.true(segs.length >= 4);
  rmSync(path.join(dir, segs[2]!));
  await t.throwsAsync(Wal.open<R>(dir), {
    instanceOf: StateError,
    message: new RegExp(`${segs[2]}, byte 0: segment missing between ${segs[1]} and ${segs[3]}`),
  });
  // Salvage: the records of the segments before the hole; every segment kept aside.
  const salvaged = sub(base, 'salvaged');
  for (const n of segments(dir)) writeFileSync(path.join(salvaged, n), readFileSync(path.join(dir, n)));
  const before =
    countFrames(readFileSync(path.join(dir, segs[0]!))) + countFrames(readFileSync(path.join(dir, segs[1]!)));
  const r = await Wal.open<R>(salvaged, { onCorruption: 'salvage', fsync: false });
  t.deepEqual(ids(r.records), range(0, before));
  t.deepEqual(
    readdirSync(r.damage?.keptAs ?? '').sort(),
    segs.filter((n) => n !== segs[2]),
    'every segment there was',
  );
  await r.wal.close();
  rmSync(path.join(dir, segs[0]!));
  rmSync(path.join(dir, segs[1]!));
  await t.throwsAsync(Wal.open<R>(dir), {
    instanceOf: StateError,
    message: new RegExp(`the log starts at ${segs[3]}, which is not a checkpoint`),
  });
});

test('a frame with a good checksum that is not JSON is refused', async (t) => {
  const dir = tempDir('wal');
  writeFileSync(path.join(dir, '0000000000000001.wal'), Buffer.concat([frame('{"i":0}'), frame('not json')]));
  await t.throwsAsync(Wal.open<R>(dir), {
    instanceOf: StateError,
    message: /0000000000000001\.wal, byte 15: a frame with a good checksum holds no JSON/,
  });
});

test(
  'checkpoint: the log becomes exactly the live records (plus later appends), older segments ' + 'are deleted',
  async (t) => {
    const dir = tempDir('wal');
    const { wal } = await Wal.open<R>(dir, { segmentBytes: 200 });
    for (let i = 0; i < 50; i++) {
      wal.append({ i });
      if (i % 5 === 4) await wal.sync(); // one sync is one write, never split across segments
    }
    const before = segments(dir);
    t.true(before.length > 1);
    await wal.checkpoint([{ i: 1000 }, { i: 1001 }]);
    const after = segments(dir);
    t.is(after.length, 1);
    t.false(before.includes(after[0]!));
    t.is(wal.bytes, statSync(path.join(dir, after[0]!)).size);
    // Appends after it go on, across rotations.
    for (let i = 1002; i < 1040; i++) wal.append({ i });
    await wal.close();
    t.true(segments(dir).length > 1);
    t.deepEqual(await reread(dir, 200), [1000, 1001, ...range(1002, 1040)]);
    // A second checkpoint replaces the first.
    const r = await Wal.open<R>(dir, { segmentBytes: 200 });
    await r.wal.checkpoint([{ i: 7 }]);
    await r.wal.close();
    t.deepEqual(await reread(dir), [7]);
    t.is(segments(dir).length, 1);
  },
);

test('records appended but not synced before a checkpoint are kept after it', async (t) => {
  const dir = tempDir('wal');
  const { wal } = await Wal.open<R>(dir);
  wal.append({ i: 0 });
  await wal.sync();
  wal.append({ i: 1 });
  await wal.checkpoint([{ i: 100 }]);
  wal.append({ i: 2 });
  await wal.close();
  t.deepEqual(await reread(dir), [100, 1, 2]);
  t.is(segments(dir).length, 1);
});

test(
  'checkpoints and syncs run in call order: what is appended after a checkpoint is called ' + 'survives it',
  async (t) => {
    const dir = tempDir('wal');
    const { wal } = await Wal.open<R>(dir);
    const done: string[] = [];
    wal.append({ i: 0 });
    const s1 = wal.sync().then(() => done.push('sync before'));
    wal.append({ i: 1 }); // joins the flush above, which has not started
    const cp = wal.checkpoint([{ i: 100 }]).then(() => done.push('checkpoint'));
    wal.append({ i: 2 }); // after the checkpoint was called: not in the flush queued before it
    const s2 = wal.sync().then(() => done.push('sync after'));
    await Promise.all([s1, cp, s2]);
    // The checkpoint resolves once the segments it replaced are deleted too,
    // which may come after the later sync: that it was written before the
    // later sync is what the log reads back (record 2 after it, not lost).
    t.is(done[0], 'sync before');
    t.deepEqual([...done].sort(), ['checkpoint', 'sync after', 'sync before']);
    await wal.close();
    t.deepEqual(await reread(dir), [100, 2]);
  },
);

test('a crash in the middle of a checkpoint (its end marker never written) recovers the state before it', async (t) => {
  const base = tempDir('wal');
  const orig = sub(base, 'orig');
  await writeLog(orig, 5);
  const cp = Buffer.concat([frame('{"$checkpoint":true}'), frame('{"i":1000}'), frame('{"i":1001}')]);
  // Cut anywhere after the begin marker: before, inside and after a record frame.
  for (const cut of [frame('{"$checkpoint":true}').length, cp.length - 3, cp.length]) {
    const dir = sub(base, `cut-${cut}`);
    writeFileSync(path.join(dir, '0000000000000001.wal'), readFileSync(path.join(orig, '0000000000000001.wal')));
    writeFileSync(path.join(dir, '0000000000000002.wal'), cp.subarray(0, cut));
    const r = await Wal.open<R>(dir);
    t.deepEqual(ids(r.records), range(0, 5), `cut at ${cut}`);
    t.is(r.truncatedBytes, 0);
    t.deepEqual(segments(dir), ['0000000000000001.wal'], 'the half-written checkpoint is removed');
    r.wal.append({ i: 5 });
    await r.wal.sync();
    await r.wal.checkpoint([{ i: 2000 }]); // and a later checkpoint can reuse its number
    await r.wal.close();
    t.deepEqual(await reread(dir), [2000]);
  }
});

test(
  'a crash while deleting the segments a checkpoint replaced: the checkpoint wins and the ' + 'leftovers go',
  async (t) => {
    const dir = tempDir('wal');
    await writeLog(dir, 20, 100);
    const old = segments(dir);
    const next = Number(old.at(-1)!.slice(0, 16)) + 1;
    const cpName = `${String(next).padStart(16, '0')}.wal`;
    writeFileSync(
      path.join(dir, cpName),
      Buffer.concat([
        frame('{"$checkpoint":true}'),
        frame('{"i":500}'),
        frame('{"$checkpointEnd":true}'),
        frame('{"i":501}'),
      ]),
    );
    rmSync(path.join(dir, old[1]!)); // deletion got this far; a hole before a checkpoint does not matter
    // Damage in an obsolete segment does not matter either: it is never read.
    appendFileSync(path.join(dir, old[0]!), Buffer.from('garbage'));
    const r = await Wal.open<R>(dir);
    t.deepEqual(ids(r.records), [500, 501]);
    t.deepEqual(segments(dir), [cpName]);
    await r.wal.close();
  },
);

test(
  'a failed write stops the log: the sync rejects, later appends and syncs are refused, and a reopen keeps ' +
    'what was synced',
  async (t) => {
    const dir = tempDir('wal');
    const { wal } = await Wal.open<R>(dir, { fsync: false });
    wal.append({ i: 0 });
    await wal.sync();
    // Pull the file out from under it: the next write fails as a full disk would.
    await (wal as unknown as { handle: FileHandle }).handle.close();
    wal.append({ i: 1 });
    await t.throwsAsync(wal.sync(), {
      instanceOf: StateError,
      message: /0000000000000001\.wal: write failed .*restart it to recover/,
    });
    t.throws(() => wal.append({ i: 2 }), { instanceOf: StateError });
    await t.throwsAsync(wal.sync(), { instanceOf: StateError });
    await t.throwsAsync(wal.checkpoint([]), { instanceOf: StateError });
    await t.throwsAsync(wal.close());
    t.deepEqual(await reread(dir), [0]);
  },
);

test('records that would read back as checkpoint markers, or as nothing, are refused', async (t) => {
  const dir = tempDir('wal');
  const { wal } = await Wal.open<unknown>(dir, { fsync: false });
  t.throws(() => wal.append({ $checkpoint: true }), { instanceOf: TypeError });
  t.throws(() => wal.append({ $checkpointEnd: true }), { instanceOf: TypeError });
  t.throws(() => wal.append(undefined), { instanceOf: TypeError });
  await t.throwsAsync(wal.checkpoint([{ $checkpointEnd: true }]), { instanceOf: TypeError });
  wal.append({ $checkpoint: false });
  await wal.close();
  const r = await Wal.open<unknown>(dir);
  t.deepEqual(r.records, [{ $checkpoint: false }]);
  await r.wal.close();
});

test(
  'syncNow writes and fsyncs on this thread; it declines while a write is queued, or when a new segment is ' +
    'due, and the async path takes over',
  async (t) => {
    const dir = tempDir('wal');
    let syncs = 0;
    const { wal } = await Wal.open<R>(dir, { segmentBytes: 200, onSync: () => (syncs += 1) });
    wal.append({ i: 0 });
    t.true(wal.syncNow());
    t.is(syncs, 1);
    t.true(wal.syncNow(), 'nothing buffered: nothing to do');
    t.is(syncs, 1);
    // A sync() under way: syncNow would write ahead of it, so it declines.
    wal.append({ i: 1 });
    const pending = wal.sync();
    wal.append({ i: 2 });
    t.false(wal.syncNow());
    await pending;
    await wal.sync();
    // Past segmentBytes: the roll is the async path's job.
    wal.append({ i: 3, pad: 'x'.repeat(200) });
    t.false(wal.syncNow());
    await wal.sync();
    t.true(wal.syncNow(), 'nothing buffered');
    await wal.close();
    t.deepEqual(await reread(dir, 200), [0, 1, 2, 3]);
    t.is(segments(dir).length, 2);
  },
);

test('a failed syncNow stops the log as a failed sync does', async (t) => {
  const dir = tempDir('wal');
  const { wal } = await Wal.open<R>(dir, { fsync: false });
  wal.append({ i: 0 });
  t.true(wal.syncNow());
  await (wal as unknown as { handle: FileHandle }).handle.close();
  wal.append({ i: 1 });
  t.throws(() => wal.syncNow(), {
    instanceOf: StateError,
    message: /0000000000000001\.wal: write failed .*restart it to recover/,
  });
  t.throws(() => wal.append({ i: 2 }), { instanceOf: StateError });
  await t.throwsAsync(wal.sync(), { instanceOf: StateError });
  await t.throwsAsync(wal.close());
  t.deepEqual(await reread(dir), [0]);
});

/** The bytes of `file` after its last nonzero byte. */
const zeroTail = (file: string): number => {
  const b = readFileSync(file);
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.length - end;
};

test(
  'zeroAhead: zeros are kept written ahead of the records, through syncNow and sync, reopen and checkpoint; ' +
    'a segment is cut back to its records before the next one starts',
  async (t) => {
    const dir = tempDir('wal-zero');
    const opts = { zeroAhead: 4096, segmentBytes: 64 * 1024 };
    let { wal } = await Wal.open<R>(dir, opts);
    const pad = 'p'.repeat(101); // records of 129 to 131 bytes: a segment never ends exactly at its limit
    for (let i = 0; i < 10; i++) {
      wal.append({ i, pad });
      t.true(i % 2 === 0 ? wal.syncNow() : (await wal.sync(), true));
    }
    const first = path.join(dir, segments(dir)[0]!);
    t.true(zeroTail(first) >= 2048, `zeros ahead of the records: ${zeroTail(first)}`);
    t.true(statSync(first).size <= 64 * 1024);
    await wal.close();
    // Reopened: the zeros are kept, not reported as a torn write, and the next records go before them.
    const r = await Wal.open<R>(dir, opts);
    t.deepEqual(ids(r.records), range(0, 10));
    t.is(r.truncatedBytes, 0, 'zeros ahead are not a torn write');
    t.true(zeroTail(first) >= 2048, 'and are still there');
    wal = r.wal;
    for (let i = 10; i < 800; i++) {
      wal.append({ i, pad });
      if (!wal.syncNow()) await wal.sync();
    }
    const segs = segments(dir);
    t.true(segs.length >= 2, `several segments: ${segs.join(', ')}`);
    for (const s of segs.slice(0, -1)) t.is(zeroTail(path.join(dir, s)), 0, `${s}, not the last, ends at its records`);
    t.true(zeroTail(path.join(dir, segs.at(-1)!)) > 0, 'the last one has zeros ahead');
    await wal.checkpoint([{ i: -1 }]);
    wal.append({ i: 800, pad });
    t.true(wal.syncNow());
    await wal.close();
    // Without zeroAhead, the same log reads the same, and its zeros are cut off as a torn tail.
    const plain = await Wal.open<R>(dir);
    t.deepEqual(ids(plain.records), [-1, 800], 'the checkpoint and what followed it');
    t.true(plain.truncatedBytes > 0);
    await plain.wal.close();
    t.is(zeroTail(path.join(dir, segments(dir).at(-1)!)), 0);
  },
);

test(
  'zeroAhead: a torn write into the zeros is cut off, and so are its zeros; a stray byte in the zeros, or a ' +
    'record after them, is damage',
  async (t) => {
    const base = tempDir('wal-zero-torn');
    const orig = sub(base, 'orig');
    const opts = { zeroAhead: 4096 };
    const { wal } = await Wal.open<R>(orig, opts);
    for (let i = 0; i < 3; i++) {
      wal.append({ i });
      t.true(wal.syncNow());
    }
    await wal.close();
    const name = segments(orig)[0]!;
    const bytes = readFileSync(path.join(orig, name));
    const end = bytes.length - zeroTail(path.join(orig, name));
    const cases: Array<[string, Buffer, 'torn' | 'damage']> = [];
    // Part of a frame written into the zeros: its header, or its header and some of its payload.
    const next = frame('{"i":3}');
    for (const cut of [4, 8, 12]) {
      const b = Buffer.from(bytes);
      next.copy(b, end, 0, cut);
      cases.push([`a frame cut at ${cut} bytes`, b, 'torn']);
    }
    const stray = Buffer.from(bytes);
    stray[end + 1000] = 0x41;
    cases.push(['a stray byte among the zeros', stray, 'damage']);
    const after = Buffer.from(bytes);
    frame('{"i":9}').copy(after, end + 64);
    cases.push(['a whole frame after a run of zeros', after, 'damage']);
    for (const [what, b, want] of cases) {
      const dir = sub(base, what.replace(/ /g, '-'));
      writeFileSync(path.join(dir, name), b);
      if (want === 'damage') {
        await t.throwsAsync(Wal.open<R>(dir, opts), { instanceOf: WalDamageError }, what);
        continue;
      }
      const r = await Wal.open<R>(dir, opts);
      t.deepEqual(ids(r.records), [0, 1, 2], what);
      t.true(r.truncatedBytes > 0, `${what}: cut off`);
      t.is(statSync(path.join(dir, name)).size, end, `${what}: back to the last good frame`);
      r.wal.append({ i: 3 });
      t.true(r.wal.syncNow());
      await r.wal.close();
      t.deepEqual(await reread(dir), [0, 1, 2, 3], `${what}: appends after recovery read back`);
    }
  },
);

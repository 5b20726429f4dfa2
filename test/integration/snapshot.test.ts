// Snapshots: what is saved loads back exactly; a damaged newest one is
// skipped (and reported) in favour of the one before, and moved aside, never
// deleted; prune keeps the newest few intact ones and sweeps up temp files
// left by a crash mid-save.

import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { crc32 } from '../../src/storage/crc32.js';
import { loadLatestSnapshot, pruneSnapshots, saveSnapshot, snapshotLines } from '../../src/storage/snapshot.js';
import { tempDir } from '../helpers/tmp.js';

const FAST = { fsync: false } as const;

/** A snapshot directory inside a temp dir, so that `<dir>.damaged-*` is removed with it. */
const snapDir = (): string => path.join(tempDir('snap'), 'snapshots');
const aside = (dir: string): string[] =>
  readdirSync(path.dirname(dir)).filter((n) => n.startsWith(`${path.basename(dir)}.damaged-`));
/** Save `data` as one piece (the daemon streams many). */
const save = (dir: string, snap: { index: number; data: string }, opts: { fsync?: boolean } = {}): Promise<string> =>
  saveSnapshot(dir, snap.index, [snap.data], opts);

/** The newest intact snapshot with its body as text. */
async function load(dir: string): Promise<{ snapshot: { index: number; data: string } | null; skipped: string[] }> {
  const { snapshot, skipped } = await loadLatestSnapshot(dir);
  if (snapshot === null) return { snapshot, skipped };
  const data = readFileSync(snapshot.file)
    .subarray(snapshot.offset, snapshot.offset + snapshot.bytes)
    .toString('utf8');
  return { snapshot: { index: snapshot.index, data }, skipped };
}

test('no directory, or no snapshots in it, is no snapshot', async (t) => {
  const dir = tempDir('snap');
  t.deepEqual(await load(path.join(dir, 'missing')), { snapshot: null, skipped: [] });
  t.deepEqual(await load(dir), { snapshot: null, skipped: [] });
  await t.notThrowsAsync(pruneSnapshots(path.join(dir, 'missing')));
});

test('a saved snapshot loads back exactly, in the documented format, and the newest wins', async (t) => {
  const dir = path.join(tempDir('snap'), 'created');
  const data = 'line one\nline "two" ✓ 🙂\n';
  const file = await save(dir, { index: 9, data });
  t.is(file, path.join(dir, 'snapshot-0000000000000009.snap'));
  const bytes = readFileSync(file);
  const nl = bytes.indexOf(0x0a);
  const body = Buffer.from(data, 'utf8');
  t.deepEqual(JSON.parse(bytes.subarray(0, nl).toString()), { index: 9, crc: crc32(body), bytes: body.length });
  t.deepEqual(bytes.subarray(nl + 1), body);
  t.deepEqual(await load(dir), { snapshot: { index: 9, data }, skipped: [] });
  // 10 sorts after 9 (the names are zero-padded), and fsync: false writes the same file.
  await save(dir, { index: 10, data: 'ten' }, FAST);
  t.deepEqual((await load(dir)).snapshot, { index: 10, data: 'ten' });
  t.deepEqual(
    readdirSync(dir).sort(),
    ['snapshot-0000000000000009.snap', 'snapshot-0000000000000010.snap'],
    'no temp file left',
  );
});

test('an index that cannot name a file is refused', async (t) => {
  const dir = tempDir('snap');
  for (const index of [-1, 1.5, Number.NaN])
    await t.throwsAsync(save(dir, { index, data: '' }, FAST), { instanceOf: RangeError });
  t.deepEqual(readdirSync(dir), []);
});

for (const [what, mangle, reason] of [
  [
    'cut short',
    (b: Buffer) => b.subarray(0, b.length - 2),
    /: 4 bytes of data where the header says 6 \(cut short\?\)$/,
  ],
  [
    'a flipped bit in its data',
    (b: Buffer) => Buffer.concat([b.subarray(0, -1), Buffer.from([b.at(-1)! ^ 1])]),
    /: bad checksum$/,
  ],
  ['empty', () => Buffer.alloc(0), /: empty file$/],
  ['cut inside its header', (b: Buffer) => b.subarray(0, 10), /: no header line/],
  [
    'a header that is not JSON',
    (b: Buffer) => Buffer.concat([Buffer.from('{"index":30,\n'), b]),
    /: header is not JSON$/,
  ],
  ['a null header', () => Buffer.from('null\nthirty'), /: header is not a JSON object$/],
  [
    'a header without a crc',
    () => Buffer.from('{"index":30,"bytes":6}\nthirty'),
    /: header lacks a numeric index, crc or bytes$/,
  ],
  [
    'the index of another snapshot',
    () => Buffer.from(`${JSON.stringify({ index: 20, crc: crc32(Buffer.from('thirty')), bytes: 6 })}\nthirty`),
    /: header says index 20, which does not match the file name$/,
  ],
] as const) {
  test(`a newest snapshot that is ${what} is skipped, named with the reason, for the one before`, async (t) => {
    const dir = snapDir();
    await save(dir, { index: 20, data: 'twenty' }, FAST);
    const newest = await save(dir, { index: 30, data: 'thirty' }, FAST);
    const bad = mangle(readFileSync(newest));
    writeFileSync(newest, bad);
    const r = await load(dir);
    t.deepEqual(r.snapshot, { index: 20, data: 'twenty' });
    t.is(r.skipped.length, 1);
    t.true(r.skipped[0]!.startsWith(`${newest}: `), r.skipped[0]);
    const [why, movedTo] = r.skipped[0]!.split('; moved to ');
    t.regex(why!, reason);
    t.regex(movedTo!, /\/snapshots\.damaged-\d{8}T\d{6}Z\/snapshot-0000000000000030\.snap$/);
    t.deepEqual(readFileSync(movedTo!), bad, 'kept as it was');
    t.false(existsSync(newest));
  });
}

test('when every snapshot is damaged there is none, and each is listed', async (t) => {
  const dir = snapDir();
  const a = await save(dir, { index: 1, data: 'one' }, FAST);
  const b = await save(dir, { index: 2, data: 'two' }, FAST);
  truncateSync(a, 5);
  truncateSync(b, 5);
  const r = await load(dir);
  t.is(r.snapshot, null);
  t.deepEqual(
    r.skipped.map((s) => s.split(': ')[0]),
    [b, a],
  );
  t.is(aside(dir).length, 1, 'both moved into one directory');
  t.deepEqual(readdirSync(path.join(path.dirname(dir), aside(dir)[0]!)).sort(), [path.basename(a), path.basename(b)]);
});

test(
  'prune counts only intact snapshots and moves damaged ones aside: it never deletes one, nor the good ones ' +
    'for them',
  async (t) => {
    const dir = snapDir();
    for (const index of [5, 10, 20, 30]) await save(dir, { index, data: `s${index}` }, FAST);
    // The two newest go bad after load (a bad disk): prune must not keep them in place of the good ones.
    for (const index of [20, 30]) truncateSync(path.join(dir, `snapshot-00000000000000${index}.snap`), 5);
    await pruneSnapshots(dir, 2);
    t.deepEqual(readdirSync(dir).sort(), ['snapshot-0000000000000005.snap', 'snapshot-0000000000000010.snap']);
    t.deepEqual(readdirSync(path.join(path.dirname(dir), aside(dir)[0] ?? 'none')).sort(), [
      'snapshot-0000000000000020.snap',
      'snapshot-0000000000000030.snap',
    ]);
    t.deepEqual((await load(dir)).snapshot, { index: 10, data: 's10' });
  },
);

test(
  'a crash mid-save leaves a temp file that load ignores and prune removes; prune keeps the ' + 'newest two',
  async (t) => {
    const dir = tempDir('snap');
    for (const index of [5, 10, 20, 30]) await save(dir, { index, data: `s${index}` }, FAST);
    writeFileSync(path.join(dir, 'snapshot-0000000000000040.snap.tmp'), '{"index":40,"cr');
    writeFileSync(path.join(dir, 'README'), 'not ours');
    t.deepEqual((await load(dir)).snapshot, { index: 30, data: 's30' });
    await pruneSnapshots(dir);
    t.deepEqual(readdirSync(dir).sort(), [
      'README',
      'snapshot-0000000000000020.snap',
      'snapshot-0000000000000030.snap',
    ]);
    await pruneSnapshots(dir, 1);
    t.deepEqual(readdirSync(dir).sort(), ['README', 'snapshot-0000000000000030.snap']);
    await t.throwsAsync(pruneSnapshots(dir, -1), { instanceOf: RangeError });
    t.deepEqual((await load(dir)).snapshot, { index: 30, data: 's30' });
  },
);

test('a body is read back line by line, lines longer than a read and split across reads included', async (t) => {
  const dir = tempDir('snap');
  // Lines of 700 KB and 1.5 MB against reads of 1 MiB, and many small ones.
  const lines = [
    'a'.repeat(700_000),
    'b'.repeat(1_500_000),
    'ü'.repeat(300_000),
    ...Array.from({ length: 1000 }, (_, i) => `line ${i}`),
  ];
  await saveSnapshot(
    dir,
    3,
    (function* () {
      for (const l of lines) yield `${l}\n`;
    })(),
    FAST,
  );
  const { snapshot } = await loadLatestSnapshot(dir);
  t.deepEqual([...snapshotLines(snapshot!)], lines);
});

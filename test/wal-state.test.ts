// A lab peer's state as an append-only log (storage/wal-state.ts).

import { appendFileSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { tempDir } from './helpers/tmp.js';
import { EMPTY_STATE, type DurableState } from '../src/core/types.js';
import { FileStorage } from '../src/storage/file.js';
import { CHECKPOINT_EVERY, WalStorage } from '../src/storage/wal-state.js';

const dir = (): string => path.join(tempDir('walstate'), 'peer');
const state = (n: number): DurableState => ({ promised: n, accepted: { n, v: `v${n} "q"\n🙂` }, lastProposal: { 1: n }, chosen: null });

async function life(d: string, saves: DurableState[] = []): Promise<DurableState> {
  const s = new WalStorage(d);
  try {
    const loaded = await s.load();
    for (const x of saves) await s.save(x);
    return loaded;
  } finally {
    await s.release();
  }
}

test('a first start is empty; the last state saved is what a restart loads', async (t) => {
  const d = dir();
  t.deepEqual(await life(d, [state(1), state(2), state(3)]), EMPTY_STATE);
  t.deepEqual(await life(d), state(3));
});

test('a state.json from before is carried over, made durable in the log, and moved aside', async (t) => {
  const d = dir();
  const f = new FileStorage(d);
  await f.load();
  await f.save(state(7));
  await f.release();
  t.deepEqual(await life(d), state(7));
  t.false(existsSync(path.join(d, 'state.json')));
  t.true(existsSync(path.join(d, 'state.json.migrated')));
  t.deepEqual(await life(d, [state(8)]), state(7));
  t.deepEqual(await life(d), state(8), 'the log wins from then on');
});

test('a torn last record (a crash mid-write) is cut off: the state before it loads', async (t) => {
  const d = dir();
  await life(d, [state(1), state(2)]);
  const log = path.join(d, 'state-log');
  const seg = readdirSync(log).filter((n) => n.endsWith('.wal')).sort().at(-1)!;
  appendFileSync(path.join(log, seg), Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 123, 34]));
  t.deepEqual(await life(d), state(2));
});

test(`every ${CHECKPOINT_EVERY} saves the log is rewritten to one record`, async (t) => {
  const d = dir();
  const saves = Array.from({ length: CHECKPOINT_EVERY + 5 }, (_, i) => state(i + 1));
  await life(d, saves);
  t.deepEqual(await life(d), state(CHECKPOINT_EVERY + 5));
  const log = path.join(d, 'state-log');
  t.is(readdirSync(log).filter((n) => n.endsWith('.wal')).length, 1, 'the old segment is gone');
});

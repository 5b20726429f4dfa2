// A lab peer's state as an append-only log (storage/wal-state.ts).

import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { tempDir } from '../helpers/tmp.js';
import { EMPTY_STATE, type DurableState } from '../../src/core/types.js';
import { FileStorage, StateError } from '../../src/storage/file.js';
import { CHECKPOINT_EVERY } from '../../src/paxos/defaults.js';
import { WalStorage, type WalStorageOptions } from '../../src/storage/wal-state.js';

const dir = (): string => path.join(tempDir('walstate'), 'peer');
const state = (n: number): DurableState => ({
  promised: n,
  accepted: { n, v: `v${n} "q"\n🙂` },
  lastProposal: { 1: n },
  chosen: null,
});

async function life(d: string, saves: DurableState[] = [], opts?: WalStorageOptions): Promise<DurableState> {
  const s = new WalStorage(d, opts);
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
  const seg = readdirSync(log)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .at(-1)!;
  appendFileSync(path.join(log, seg), Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 123, 34]));
  const s = new WalStorage(d);
  t.deepEqual(await s.load(), state(2));
  t.is(s.truncatedBytes, 10, 'reported, for the caller to warn');
  await s.release();
});

const segmentOf = (d: string): string => {
  const log = path.join(d, 'state-log');
  return path.join(
    log,
    readdirSync(log)
      .filter((n) => n.endsWith('.wal'))
      .sort()
      .at(-1)!,
  );
};

test(
  'a flipped byte in the middle of the state log is damage: load refuses, names the file and byte, and ' +
    'changes nothing',
  async (t) => {
    const d = dir();
    await life(d, [state(1), state(2), state(3)]);
    const seg = segmentOf(d);
    const bytes = readFileSync(seg);
    bytes[100] = bytes[100]! ^ 0x20;
    writeFileSync(seg, bytes);
    const err = await t.throwsAsync(life(d), { instanceOf: StateError });
    t.regex(
      err.message,
      new RegExp(
        `^${seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, byte \\d+: bad checksum on a complete frame, so this ` +
          `peer's state log is damaged; refusing to start`,
      ),
    );
    t.regex(err.message, /restore it from a backup/);
    t.notRegex(err.message, /rejoin/);
    t.deepEqual(readFileSync(seg), bytes, 'the log is byte-identical');
  },
);

test(
  'a first start writes identity.json; a lost state log is refused when identity.json, the replica file or ' +
    'state.json.migrated shows the peer lived before',
  async (t) => {
    const d = dir();
    const opts = { identity: { host: 'peer2', id: 2 } };
    t.deepEqual(await life(d, [], opts), EMPTY_STATE);
    const identity = JSON.parse(readFileSync(path.join(d, 'identity.json'), 'utf8')) as Record<string, unknown>;
    t.like(identity, { host: 'peer2', id: 2 });
    t.regex(String(identity['created']), /^\d{4}-\d\d-\d\dT/);
    t.deepEqual(
      await life(d, [], opts),
      EMPTY_STATE,
      'a peer that never saved anything restarts: its first start left a record',
    );

    const log = path.join(d, 'state-log');
    rmSync(log, { recursive: true });
    const byIdentity = await t.throwsAsync(life(d, [], opts), { instanceOf: StateError });
    t.regex(
      byIdentity.message,
      new RegExp(
        /state-log is missing, but .*identity\.json shows this peer started here /.source +
          /before: refusing to start with an empty memory/.source,
      ),
    );
    t.false(existsSync(log), 'nothing created');

    // An emptied log is refused too, and the replica file is named with what it says.
    writeFileSync(path.join(d, 'value'), 'X');
    mkdirSync(log);
    writeFileSync(path.join(log, '0000000000000001.wal'), '');
    const byValue = await t.throwsAsync(life(d, [], opts), { instanceOf: StateError });
    t.regex(
      byValue.message,
      /state-log holds no records, but .*value shows this peer already took part \(it learned "X"\)/,
    );

    // state.json.migrated alone is enough.
    const m = dir();
    const f = new FileStorage(m);
    await f.load();
    await f.save(state(7));
    await f.release();
    await life(m);
    rmSync(path.join(m, 'state-log'), { recursive: true });
    rmSync(path.join(m, 'identity.json'));
    await t.throwsAsync(life(m), {
      instanceOf: StateError,
      message: /state\.json\.migrated shows this peer's state was carried over/,
    });
  },
);

test(
  'a replica file elsewhere (--replica-file) is looked at too; with no sign of a past life a missing log is a ' +
    'first start',
  async (t) => {
    const d = dir();
    const elsewhere = path.join(tempDir('walstate'), 'v');
    writeFileSync(elsewhere, 'Y');
    await t.throwsAsync(life(d, [], { replicaFile: elsewhere }), {
      instanceOf: StateError,
      message: /shows this peer already took part \(it learned "Y"\)/,
    });
    renameSync(elsewhere, `${elsewhere}.old`);
    t.deepEqual(await life(d, [], { replicaFile: elsewhere }), EMPTY_STATE);
  },
);

test(`every ${CHECKPOINT_EVERY} saves the log is rewritten to one record`, async (t) => {
  const d = dir();
  const saves = Array.from({ length: CHECKPOINT_EVERY + 5 }, (_, i) => state(i + 1));
  await life(d, saves);
  t.deepEqual(await life(d), state(CHECKPOINT_EVERY + 5));
  const log = path.join(d, 'state-log');
  t.is(readdirSync(log).filter((n) => n.endsWith('.wal')).length, 1, 'the old segment is gone');
});

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { KvStore } from '../../src/sm/kv.js';
import { BackupError, readBackup, writeBackup } from '../../src/storage/backup.js';
import { tempDir } from '../helpers/tmp.js';

function storeWith(keys: number): KvStore {
  const kv = new KvStore();
  for (let i = 1; i <= keys; i++) kv.apply({ op: 'put', client: 'c', seq: i, key: `k${i % 7}`, value: `v${i}` }, i);
  return kv;
}

async function backupOf(kv: KvStore): Promise<string> {
  const file = path.join(tempDir('backup'), 'b.backup');
  const view = kv.view();
  await writeBackup(file, view, 'peer2', new Date('2026-12-07T12:00:00Z'));
  view.close();
  return file;
}

test('a backup reads back as the store it was written from: keys, values, revisions, slot; no sessions', async (t) => {
  const kv = storeWith(30);
  const file = await backupOf(kv);
  const lines = readFileSync(file, 'utf8').split('\n');
  const headLine =
    '{"format":"paxos-backup/1","applied":30,"keys":7,"leases":0,"nextLease":1,"taken":"2026-12-07T12:00:00.000Z",' +
    '"from":"peer2"}';
  t.regex(lines[0]!, /^[0-9a-f]{8} /);
  t.is(lines[0]!.slice(9), headLine);
  t.regex(lines.at(-2)!, /^[0-9a-f]{8} \{"end":true,"keys":7\}$/);
  const { head, store } = await readBackup(file);
  t.deepEqual(head, {
    applied: 30,
    keys: 7,
    leases: 0,
    nextLease: 1,
    taken: '2026-12-07T12:00:00.000Z',
    from: 'peer2',
  });
  t.is(store.appliedIndex, 30);
  t.is(store.sessionCount, 0, 'sessions are not kept');
  for (let k = 0; k < 7; k++) t.deepEqual(store.entry(`k${k}`), kv.entry(`k${k}`));
  t.deepEqual(store.entry('k2'), { value: 'v30', create: 2, mod: 30, version: 5 });
  // An empty store too.
  const empty = await readBackup(await backupOf(new KvStore()));
  t.is(empty.head.keys, 0);
});

test('a damaged backup is refused, naming the line and the byte', async (t) => {
  const file = await backupOf(storeWith(30));
  const good = readFileSync(file);
  const text = good.toString('utf8');
  const line3 = text.split('\n').slice(0, 2).join('\n').length + 1;
  const bad = async (bytes: Buffer | string, message: RegExp): Promise<void> => {
    writeFileSync(file, bytes);
    await t.throwsAsync(readBackup(file), { instanceOf: BackupError, message });
  };
  // One bit flipped in the third line's value.
  const flipped = Buffer.from(good);
  flipped[line3 + 15] = flipped[line3 + 15]! ^ 0x01;
  await bad(flipped, new RegExp(`line 3 \\(byte ${line3}\\): the checksum does not match`));
  await bad(
    good.subarray(0, good.length - 10),
    new RegExp(`cut short at byte ${good.length - 10} \\(line 9\\): 7 of 7 keys, and no end line`),
  );
  await bad(good.subarray(0, line3), new RegExp(`cut short at byte ${line3} \\(line 3\\): 1 of 7 keys`));
  await bad('', /empty: not a paxos backup/);
  await bad('hello\n', /line 1 \(byte 0\): not a backup line/);
  await bad(text + text.split('\n')[1]! + '\n', /line 10 .*a line after the end line/);
  // A line dropped: the count at the end does not match.
  const lines = text.split('\n');
  await bad([...lines.slice(0, 3), ...lines.slice(4)].join('\n'), /the end line must be .* after 7 keys; 6 came/);
  await t.throwsAsync(readBackup(path.join(path.dirname(file), 'missing')), {
    instanceOf: BackupError,
    message: /cannot read it \(ENOENT\)/,
  });
});

test("a backup keeps the leases, their keys and the next lease's id; a missing lease line is refused", async (t) => {
  const kv = new KvStore();
  kv.apply({ op: 'grant', client: 'c', seq: 1, ttl: 10 }, 1);
  kv.apply({ op: 'grant', client: 'c', seq: 2, ttl: 20 }, 2);
  kv.apply({ op: 'revoke', client: 'c', seq: 3, id: 1 }, 3);
  kv.apply({ op: 'put', client: 'c', seq: 4, key: 'svc', value: 'up', lease: 2 }, 4);
  kv.apply({ op: 'put', client: 'c', seq: 5, key: 'plain', value: 'x' }, 5);
  const file = await backupOf(kv);
  const { head, store } = await readBackup(file);
  t.like(head, { keys: 2, leases: 1, nextLease: 3 });
  t.deepEqual(store.leaseLines(), [[2, 20, 2]]);
  t.deepEqual(store.entry('svc'), kv.entry('svc'));
  t.deepEqual(store.apply({ op: 'grant', client: 'd', seq: 1, ttl: 5 }, 6), { status: 'lease', id: 3, ttl: 5 });
  store.apply({ op: 'revoke', client: 'd', seq: 2, id: 2 }, 7);
  t.is(store.read('svc'), null, 'revoking the restored lease deletes its key');
  // The lease's line cut out (the checksums of the other lines still hold): the key names a lease it lacks.
  const lines = readFileSync(file, 'utf8').split('\n');
  writeFileSync(file, lines.filter((l) => !/ \[2,20,2\]$/.test(l)).join('\n'));
  await t.throwsAsync(readBackup(file), {
    instanceOf: BackupError,
    message: /leases came, where the head line says 1/,
  });
});

// Backups end to end: `paxos snapshot save` from a kv3 under load, `status`,
// `restore` into the data directories of a new kv3, which serves the same
// keys and revisions and goes on from the backup's slot; a damaged backup is
// refused, naming the line, and writes nothing.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { LiveCluster } from '../helpers/procs.js';
import { kvAsk } from '../helpers/kv.js';
import { MAIN, run } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { connect, type KeyValue } from 'paxos-prj4/client';

const KV3 = 'peer1:replica\npeer2:replica\npeer3:replica\n';
const HOSTS = ['peer1', 'peer2', 'peer3'];

const endpointsOf = (live: LiveCluster): string =>
  HOSTS.map((h) => `${h}=${live.endpoint(h).host}:${live.endpoint(h).port}`).join(',');

async function everything(endpoints: string): Promise<{ entries: readonly KeyValue[]; slot: number }> {
  const kv = await connect({ endpoints, timeoutMs: 60_000 });
  try {
    const r = await kv.range({ from: '' });
    return { entries: r.entries, slot: r.slot };
  } finally {
    await kv.close();
  }
}

test('snapshot save under load, status, and restore into a new kv3 serving the same keys and revisions', async (t) => {
  const dir = tempDir('backup-e2e');
  const file = path.join(dir, 'kv.backup');
  const src = await new LiveCluster(KV3).init();
  t.teardown(() => src.close());
  for (const h of HOSTS) src.start(h, ['--snapshot-every', '50']);
  const env = { PAXOS_ENDPOINTS: endpointsOf(src) };
  const kv = await connect({ endpoints: endpointsOf(src), timeoutMs: 60_000, concurrency: 4 });
  t.teardown(() => kv.close());
  for (let i = 0; i < 60; i++) await kv.put(`k${i % 20}`, `before-${i}`);
  await kv.del('k0');

  // Writers keep going while the backup is taken.
  let stop = false;
  let n = 0;
  const writers = Array.from({ length: 4 }, async (_, w) => {
    while (!stop) await kv.put(`load${w}-${n++ % 10}`, `v${n}`);
  });
  const acked = await kv.put('acked-before-save', 'yes');
  const saved = await run(process.execPath, [MAIN, 'snapshot', 'save', file, '--json'], { env });
  stop = true;
  await Promise.all(writers);
  t.is(saved.code, 0, saved.err);
  const s = JSON.parse(saved.out) as { applied: number; keys: number; from: string };
  t.true(s.applied >= acked.slot, 'every write acknowledged before save began is in it');
  t.true(n > 0, 'the load ran');

  const status = await run(process.execPath, [MAIN, 'snapshot', 'status', file]);
  t.is(status.code, 0, status.err);
  t.regex(status.out, new RegExp(`${s.keys} keys as of slot ${s.applied}, taken .* from ${s.from}`));

  // What the backup should hold: the source at its slot. Its keys never change after, but for the load's.
  const after = await everything(endpointsOf(src));
  const fixed = after.entries.filter((e) => !e.key.startsWith('load'));
  t.true(fixed.some((e) => e.key === 'acked-before-save'));
  t.false(
    fixed.some((e) => e.key === 'k0'),
    'a delete is kept too',
  );

  // A damaged copy is refused, naming the line, and writes nothing.
  const bad = path.join(dir, 'bad.backup');
  const bytes = readFileSync(file);
  const at = bytes.indexOf('before-') + 3;
  bytes[at] = bytes[at]! ^ 0x20;
  writeFileSync(bad, bytes);
  const refused = await run(process.execPath, [MAIN, 'snapshot', 'restore', bad, '--data-dir', path.join(dir, 'x')]);
  t.is(refused.code, 1);
  t.regex(
    refused.err,
    /bad\.backup line \d+ \(byte \d+\): the checksum does not match: the line is damaged; nothing was written/,
  );
  t.false(existsSync(path.join(dir, 'x')));

  // Restore into a new cluster's three data directories, then start it.
  const dst = await new LiveCluster(KV3).init();
  t.teardown(() => dst.close());
  for (const h of HOSTS) {
    const r = await run(process.execPath, [MAIN, 'snapshot', 'restore', file, '--data-dir', dst.dataDir(h)]);
    t.is(r.code, 0, r.err);
    t.regex(r.out, new RegExp(`restored ${s.keys} keys as of slot ${s.applied} into`));
  }
  const again = await run(process.execPath, [MAIN, 'snapshot', 'restore', file, '--data-dir', dst.dataDir('peer1')]);
  t.is(again.code, 1);
  t.regex(again.err, /not empty/);
  for (const h of HOSTS) dst.start(h);
  const restored = await everything(endpointsOf(dst));
  t.true(restored.slot >= s.applied);
  t.is(restored.entries.length, s.keys);
  // The same keys, values and revisions as the source held at the backup's slot (the load's keys aside).
  t.deepEqual(
    restored.entries.filter((e) => !e.key.startsWith('load')),
    fixed,
  );
  // And it goes on: a write lands after the backup's slot, and every replica agrees.
  const kv2 = await connect({ endpoints: endpointsOf(dst), timeoutMs: 60_000 });
  t.teardown(() => kv2.close());
  const w = await kv2.put('k1', 'after restore');
  t.true(w.slot > s.applied);
  t.like(await kv2.getEntry('k1'), { value: 'after restore', modRevision: w.slot });
  for (const h of HOSTS) {
    for (let i = 0; ; i++) {
      const d = await kvAsk(dst.endpoint(h), { type: 'dump' }, 2000);
      if (d?.status === 'dump' && d.applied >= w.slot) break;
      if (i > 600) t.fail(`${h} never applied slot ${w.slot}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

test('paxos snapshot: usage errors exit 2 with one line naming what to do', async (t) => {
  const none = await run(process.execPath, [MAIN, 'snapshot']);
  t.is(none.code, 2);
  t.regex(none.out, /^Usage: paxos snapshot save FILE/);
  const verb = await run(process.execPath, [MAIN, 'snapshot', 'take', 'f']);
  t.is(verb.code, 2);
  t.is(verb.err, 'paxos: snapshot take: not a snapshot command; use save, restore or status (paxos snapshot --help)\n');
  const noDir = await run(process.execPath, [MAIN, 'snapshot', 'restore', 'kv.backup']);
  t.is(noDir.code, 2);
  t.is(noDir.err, 'paxos: snapshot restore needs --data-dir DIR: the directory to make\n');
  const dir = tempDir('b');
  const missing = await run(process.execPath, [
    MAIN,
    'snapshot',
    'restore',
    path.join(dir, 'missing'),
    '--data-dir',
    path.join(dir, 'd'),
  ]);
  t.is(missing.code, 1);
  t.regex(missing.err, /missing: cannot read it \(ENOENT\); nothing was written/);
  const dirFlag = await run(process.execPath, [MAIN, 'snapshot', 'status', 'f', '--data-dir', 'd']);
  t.is(dirFlag.code, 2);
  t.regex(dirFlag.err, /--data-dir is for snapshot restore only/);
  const help = await run(process.execPath, [MAIN, 'snapshot', '--help']);
  t.is(help.code, 0);
});

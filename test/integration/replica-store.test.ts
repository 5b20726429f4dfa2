// A replica's data directory and its identity (src/storage/file-log-store.ts):
// when it may vote at once, and when it must recover from the others first
// (docs/recovery.md). The identity file is removed before anything repairs
// damage, so a crash during the repair cannot leave a directory that looks
// sound. And its fsyncs, as a replica's /metrics sees them.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { PromMetrics } from '../../src/daemon/metrics.js';
import { KvStore } from '../../src/sm/kv.js';
import { FileLogStore } from '../../src/storage/file-log-store.js';
import { identityOf } from '../../src/storage/log-store.js';
import { StateError } from '../../src/storage/lock.js';
import { Wal } from '../../src/storage/wal.js';
import { silentLogger } from '../../src/util/logger.js';
import { tempDir } from '../helpers/tmp.js';

const HOSTS = ['peer1', 'peer2', 'peer3'];
const ME = identityOf(HOSTS, 2);

/** A directory whose replica recovered once and voted: identity.json and a log with a promise and a vote. */
async function voted(): Promise<string> {
  const dir = path.join(tempDir('store'), 'peer2');
  const s = new FileLogStore(dir, silentLogger);
  const o = await s.open(ME);
  if (o.recover === null) throw new Error('a new directory must recover first');
  await s.persist([
    { t: 'p', n: 4 },
    { t: 'v', s: 1, n: 4, v: [{ o: 'put', c: 'c1', s: 1, k: 'x', v: 'marker-value' }] },
  ]);
  await s.markRejoined();
  await s.close();
  return dir;
}

async function reopen(dir: string): Promise<{ recover: string | null; empty: boolean; promised: number }> {
  const s = new FileLogStore(dir, silentLogger);
  try {
    const o = await s.open(ME);
    return { recover: o.recover, empty: o.empty, promised: o.recovered.promised };
  } finally {
    await s.close();
  }
}

test('a new directory recovers first (routine: empty); once it has voted, a restart votes at once', async (t) => {
  const fresh = path.join(tempDir('store'), 'peer2');
  const first = await reopen(fresh);
  t.regex(first.recover ?? '', /a new or wiped data directory/);
  t.true(first.empty);
  const dir = await voted();
  t.like(JSON.parse(readFileSync(path.join(dir, 'identity.json'), 'utf8')), {
    cluster: ME.cluster,
    member: 2,
    host: 'peer2',
  });
  t.deepEqual(await reopen(dir), { recover: null, empty: false, promised: 4 });
});

test('a directory of another member, or of another cluster, is refused', async (t) => {
  const dir = await voted();
  for (const other of [identityOf(HOSTS, 3), identityOf(['peer1', 'peer2', 'peer4'], 2)]) {
    const s = new FileLogStore(dir, silentLogger);
    const err = await t.throwsAsync(s.open(other), { instanceOf: StateError });
    t.regex(
      err.message,
      new RegExp(
        /belongs to member 2 \(peer2\) of cluster [0-9a-f]{16}, not to member \d /.source +
          /\(peer\d\).*give --data-dir this replica's own directory/.source,
      ),
    );
    await s.close();
  }
});

test(
  'a corrupt record: identity.json goes, the damaged log is kept aside, the records before it kept, and the ' +
    'replica recovers',
  async (t) => {
    const dir = await voted();
    const logDir = path.join(dir, 'log');
    // Nothing is repaired by a look: inspect finds the damage and changes nothing.
    const seg = path.join(
      logDir,
      readdirSync(logDir).find((n) => n.endsWith('.wal'))!,
    );
    const bytes = readFileSync(seg);
    const at = bytes.indexOf('marker-value');
    bytes[at] = bytes[at]! ^ 0x01;
    writeFileSync(seg, bytes);
    t.regex((await Wal.inspect(logDir))?.reason ?? '', /bad checksum/);
    t.deepEqual(readFileSync(seg), bytes, 'inspect changed nothing');
    const r = await reopen(dir);
    t.regex(r.recover ?? '', /a corrupt record in .*\.wal/);
    t.false(r.empty);
    t.is(r.promised, 4, 'the promise before the damage is kept');
    t.false(existsSync(path.join(dir, 'identity.json')));
    t.true(readdirSync(dir).some((n) => n.startsWith('log.damaged-')));
    // And it stays so until recovery writes identity.json again.
    t.regex((await reopen(dir)).recover ?? '', /no identity\.json/);
  },
);

test(
  'commands are checked as the log is read back (an edge): an invalid one is refused, one in another key order ' +
    'comes back canonical',
  async (t) => {
    const dir = await voted();
    const s = new FileLogStore(dir, silentLogger);
    await s.open(ME);
    await s.persist([{ t: 'e', s: 2, v: [{ v: 'y', k: 'x', s: 2, c: 'c1', o: 'put' }] }]);
    await s.close();
    const back = new FileLogStore(dir, silentLogger);
    const o = await back.open(ME);
    t.is(JSON.stringify(o.recovered.chosen.get(2)), '[{"o":"put","c":"c1","s":2,"k":"x","v":"y"}]');
    await back.persist([{ t: 'e', s: 3, v: [{ o: 'put', c: 'c1', s: 3, k: '', v: 'y' }] }]);
    await back.close();
    const bad = new FileLogStore(dir, silentLogger);
    const err = await t.throwsAsync(bad.open(ME), { instanceOf: StateError });
    t.regex(
      err.message,
      /record \d+ \(slot 3\) holds an invalid command: put: "k" \(key\) must be a non-empty string.*move the log aside/,
    );
    t.false(existsSync(path.join(dir, 'identity.json')));
    await bad.close();
  },
);

test('a damaged snapshot: identity.json goes, the snapshot is moved aside, and the replica recovers', async (t) => {
  const dir = await voted();
  const snapDir = path.join(dir, 'snapshots');
  mkdirSync(snapDir, { recursive: true });
  writeFileSync(path.join(snapDir, 'snapshot-0000000000000009.snap'), 'not a snapshot\n');
  const r = await reopen(dir);
  t.regex(r.recover ?? '', /a damaged snapshot/);
  t.false(existsSync(path.join(dir, 'identity.json')));
  t.true(readdirSync(dir).some((n) => n.startsWith('snapshots.damaged-')));
});

test('a lost log beside identity.json (a wiped mount) is lost state: the replica recovers', async (t) => {
  const dir = await voted();
  rmSync(path.join(dir, 'log'), { recursive: true });
  const r = await reopen(dir);
  t.regex(r.recover ?? '', /an empty log beside identity\.json/);
  t.false(r.empty, 'not routine: it is warned about');
  t.false(existsSync(path.join(dir, 'identity.json')));
});

test("fsyncs are timed for /metrics: the log's as wal, a snapshot's and the replica file's as snapshot", async (t) => {
  const dir = path.join(tempDir('store'), 'peer2');
  const s = new FileLogStore(dir, silentLogger);
  // As a replica wires it (src/daemon/replica.ts), and a list of what was timed.
  const metrics = new PromMetrics({ status: () => null, peers: () => [] });
  const seen: Array<[number, string]> = [];
  s.onFsync = (seconds, kind) => {
    seen.push([seconds, kind]);
    metrics.fsync(seconds, kind);
  };
  await s.open(ME);
  await s.persist([{ t: 'p', n: 4 }]);
  const kinds = (): string[] => seen.map(([, k]) => k);
  t.true(kinds().includes('wal'), `a wal fsync timed: ${kinds().join(', ')}`);
  t.false(kinds().includes('snapshot'));
  const kv = new KvStore();
  kv.apply({ op: 'put', client: 'c1', seq: 1, key: 'x', value: 'y' }, 1);
  await s.writeSnapshot(kv.view());
  // The snapshot's file and directory; then (close waits for it) the replica file's and its directory's.
  await s.close();
  t.is(kinds().filter((k) => k === 'snapshot').length, 4, kinds().join(', '));
  t.true(seen.every(([seconds]) => seconds >= 0 && seconds < 60));
  const text = (await metrics.text()).body;
  t.regex(text, /^paxos_snapshot_fsync_duration_seconds_count 4$/m);
  const wal = Number(/^paxos_wal_fsync_duration_seconds_count (\d+)$/m.exec(text)?.[1]);
  t.is(wal, kinds().filter((k) => k === 'wal').length, 'wal fsyncs in their own histogram');
});

// Snapshots streamed between replicas (src/daemon/snapshot-transfer.ts): the
// sender's chunks rebuild the store; a transfer that is interrupted, out of
// order, or replaced by a newer one is discarded, never half installed.

import test from 'ava';
import { streamSnapshot, SnapshotReceiver, type ChunkLink } from '../../src/daemon/snapshot-transfer.js';
import { KvStore } from '../../src/sm/kv.js';
import type { ReplicaWire, SnapshotChunk } from '../../src/wire/log.js';
import { silentLogger } from '../../src/util/logger.js';

/** A store at slot `slots` with `keys` keys of ~100 bytes, and a few sessions. */
function storeWith(keys: number, slots = keys): KvStore {
  const kv = new KvStore();
  for (let i = 1; i <= slots; i++) {
    const k = i <= keys ? `key-${i}` : 'last';
    kv.apply({ op: 'put', client: `c${i % 7}-${Math.floor(i / 7)}`, seq: 1, key: k, value: 'v'.repeat(100) + i }, i);
  }
  return kv;
}

/** A link that keeps what is sent; up until `downAfter` chunks. */
class FakeLink implements ChunkLink {
  readonly sent: SnapshotChunk[] = [];
  constructor(private readonly downAfter = Infinity) {}
  get isUp(): boolean {
    return this.sent.length < this.downAfter;
  }
  send(msg: ReplicaWire): void {
    if (msg.type === 'snapshot_chunk') this.sent.push(JSON.parse(JSON.stringify(msg)) as SnapshotChunk);
  }
  drained(): Promise<boolean> {
    return Promise.resolve(this.isUp);
  }
}

async function chunksOf(kv: KvStore, chunkChars = 2000): Promise<SnapshotChunk[]> {
  const link = new FakeLink();
  const why = await streamSnapshot(link, 2, kv.view(), () => false, chunkChars);
  if (why !== null) throw new Error(why);
  return link.sent;
}

test('the chunks of a store, taken in order, rebuild it exactly; only the last is marked', async (t) => {
  const kv = storeWith(300);
  const chunks = await chunksOf(kv);
  t.true(chunks.length > 10);
  t.deepEqual(
    chunks.map((c) => [c.seq, c.last]),
    chunks.map((_, i) => [i, i === chunks.length - 1]),
  );
  for (const c of chunks) t.true(JSON.stringify(c).length < 4000, 'every line is bounded');
  const r = new SnapshotReceiver({}, silentLogger);
  let built: KvStore | null = null;
  for (const c of chunks) {
    t.is(built, null, 'nothing before the last chunk');
    built = r.take(c);
  }
  t.deepEqual(built?.snapshot(), kv.snapshot());
  t.is(r.inProgress, null);
  // An empty store is one chunk.
  const empty = await chunksOf(new KvStore());
  t.is(empty.length, 1);
  t.deepEqual(new SnapshotReceiver({}, silentLogger).take(empty[0]!)?.snapshot(), new KvStore().snapshot());
});

test('the view is frozen: writes while the chunks go out do not show in them', async (t) => {
  const kv = storeWith(200);
  const before = kv.snapshot();
  const link = new FakeLink();
  const sending = streamSnapshot(link, 2, kv.view(), () => false, 2000);
  kv.apply({ op: 'put', client: 'late', seq: 1, key: 'key-1', value: 'changed' }, kv.appliedIndex + 1);
  t.is(await sending, null);
  const r = new SnapshotReceiver({}, silentLogger);
  const built = link.sent.map((c) => r.take(c)).at(-1);
  t.deepEqual(built?.snapshot(), before);
});

test('a gap in a transfer (chunks lost) discards it; the rest of it is ignored', async (t) => {
  const chunks = await chunksOf(storeWith(200));
  const r = new SnapshotReceiver({}, silentLogger);
  t.is(r.take(chunks[0]!), null);
  t.is(r.take(chunks[2]!), null, 'chunk 2 after chunk 0: a gap');
  t.is(r.inProgress, null);
  for (const c of chunks.slice(3)) t.is(r.take(c), null, 'the rest of a discarded transfer builds nothing');
  // Started again from chunk 0, the whole transfer goes through.
  let built: KvStore | null = null;
  for (const c of chunks) built = r.take(c);
  t.not(built, null);
});

test(
  'an interrupted transfer is discarded when a new one starts (a new leader, or a newer index); stray chunks ' +
    'of the old one do not disturb the new one',
  async (t) => {
    const old = await chunksOf(storeWith(200));
    const newer = storeWith(150, 260);
    const fresh = (await chunksOf(newer)).map((c) => ({ ...c, from: 3 }));
    const r = new SnapshotReceiver({}, silentLogger);
    for (const c of old.slice(0, 5)) r.take(c);
    t.deepEqual(r.inProgress, { from: 2, index: 200, chunks: 5 });
    let built: KvStore | null = null;
    for (const [i, c] of fresh.entries()) {
      built = r.take(c);
      // The old sender, still going, in the middle of the new transfer: ignored.
      if (i === 2) for (const o of old.slice(5, 8)) t.is(r.take(o), null);
    }
    t.deepEqual(built?.snapshot(), newer.snapshot());
    t.is(built?.appliedIndex, 260);
  },
);

test(
  'a chunk with a bad entry discards the transfer; the sender stops when the link goes down or it is ' + 'cancelled',
  async (t) => {
    const chunks = await chunksOf(storeWith(100));
    const r = new SnapshotReceiver({}, silentLogger);
    r.take(chunks[0]!);
    t.is(r.take({ ...chunks[1]!, entries: [['key-1', 'dup', 1, 1, 1]] }), null);
    t.is(r.inProgress, null);
    const down = new FakeLink(3);
    t.regex((await streamSnapshot(down, 2, storeWith(100).view(), () => false, 2000)) ?? '', /link/);
    t.is(down.sent.length, 3);
    let n = 0;
    t.is(await streamSnapshot(new FakeLink(), 2, storeWith(100).view(), () => ++n > 2, 2000), 'cancelled');
  },
);

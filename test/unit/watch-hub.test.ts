// The watch hub (src/node/watch-hub.ts): events per slot, filters, a
// watch from a past revision, history trimmed whole revisions at a time,
// and "compacted" rather than a gap.

import test from 'ava';
import { checkWatch, WatchHub, type KvChange, type WatchAnswer } from '../../src/node/watch-hub.js';
import { decodeKvRequest } from '../../src/wire/kv.js';

const put = (rev: number, key: string, value = `v${rev}`): KvChange => ({ rev, key, value });

function slot(hub: WatchHub, ...changes: KvChange[]): void {
  for (const c of changes) hub.record(c);
  hub.flush();
}

test('a watcher gets the events of its key or prefix, a slot at a time, from where it starts', (t) => {
  const hub = new WatchHub(0);
  const got: WatchAnswer[] = [];
  slot(hub, put(1, 'a/x'));
  t.is(
    hub.add({ prefix: 'a/' }, undefined, 1, (a) => got.push(a)),
    1,
  );
  slot(hub, put(2, 'a/y'), put(2, 'b'), { rev: 2, key: 'a/x', value: null });
  slot(hub, put(3, 'b'));
  t.deepEqual(got, [
    { status: 'watching', rev: 2 },
    { status: 'events', events: [put(2, 'a/y'), { rev: 2, key: 'a/x', value: null }] },
  ]);
  // From a past revision: the history first, then what comes.
  const again: WatchAnswer[] = [];
  hub.add({ key: 'a/x' }, 1, 3, (a) => again.push(a));
  t.deepEqual(again, [
    { status: 'watching', rev: 1 },
    { status: 'events', events: [put(1, 'a/x'), { rev: 2, key: 'a/x', value: null }] },
  ]);
});

test('history is trimmed a whole revision at a time; a watch from before it is compacted, never a gap', (t) => {
  const hub = new WatchHub(0, 300); // room for about 3 events of this size
  for (let rev = 1; rev <= 10; rev++) slot(hub, put(rev, 'k', 'x'.repeat(40)), put(rev, 'j', 'x'.repeat(40)));
  const got: WatchAnswer[] = [];
  t.is(
    hub.add({ key: 'k' }, 1, 10, (a) => got.push(a)),
    null,
  );
  t.deepEqual(got, [{ status: 'compacted', oldest: 10 }]);
  const ok: WatchAnswer[] = [];
  hub.add({ key: 'k' }, 10, 10, (a) => ok.push(a));
  t.deepEqual(ok[1], { status: 'events', events: [put(10, 'k', 'x'.repeat(40))] });
  // A snapshot installed: no history before it, and a watch from before it is compacted.
  hub.reset(50);
  const late: WatchAnswer[] = [];
  hub.add({ key: 'k' }, 12, 50, (a) => late.push(a));
  t.deepEqual(late, [{ status: 'compacted', oldest: 51 }]);
});

test('a dropped watcher gets nothing more', (t) => {
  const hub = new WatchHub(0);
  const got: WatchAnswer[] = [];
  const id = hub.add({ key: 'k' }, undefined, 0, (a) => got.push(a))!;
  hub.drop(id);
  slot(hub, put(1, 'k'));
  t.deepEqual(got, [{ status: 'watching', rev: 1 }]);
  t.is(hub.size, 0);
});

test('a snapshot installed under a watcher that still wants what it covers: compacted, never a silent gap', (t) => {
  const hub = new WatchHub(0);
  const behind: WatchAnswer[] = [];
  const ahead: WatchAnswer[] = [];
  hub.add({ key: 'k' }, undefined, 0, (a) => behind.push(a)); // wants revision 1 on
  hub.add({ key: 'k' }, 60, 0, (a) => ahead.push(a)); // wants 60 on
  hub.reset(50); // the store jumps to slot 50: revisions 1 to 50 never come here
  t.deepEqual(behind.at(-1), { status: 'compacted', oldest: 51 });
  t.is(hub.size, 1);
  slot(hub, put(60, 'k'));
  t.deepEqual(ahead.at(-1), { status: 'events', events: [put(60, 'k')] });
});

test('a watch request: a key or a prefix, valid, and a revision from 1 up; one check for wire and library', (t) => {
  t.deepEqual(checkWatch('k', undefined, 5), { filter: { key: 'k' }, rev: 5 });
  t.deepEqual(checkWatch(undefined, 'p/', undefined), { filter: { prefix: 'p/' }, rev: undefined });
  t.is(checkWatch('k', 'p/', undefined), 'give a key or a prefix, one of the two');
  t.is(checkWatch(undefined, undefined, undefined), 'give a key or a prefix, one of the two');
  t.regex(checkWatch(undefined, '', undefined) as string, /^the prefix must be a non-empty string/);
  t.regex(checkWatch('\ud800', undefined, undefined) as string, /^the key has a lone UTF-16 surrogate/);
  t.regex(checkWatch('k', undefined, 0) as string, /^the revision must be a whole number from 1 up; got 0/);
  t.regex(checkWatch('k', undefined, -3) as string, /got -3/);
  // The wire refuses the same, naming the request.
  t.like(decodeKvRequest({ type: 'watch', id: 'w', key: 'k', rev: 0 }), {
    ok: false,
    why: 'watch: the revision must be a whole number from 1 up; got 0',
  });
});

import test from 'ava';
import { checkCommand } from '../../src/sm/command.js';
import { oneWritePerKey } from '../../src/sm/slot-rule.js';

const cmd = (raw: Record<string, unknown>): unknown => {
  const c = checkCommand(raw);
  if (!c.ok) throw new Error(c.why);
  return c.value;
};

test('one write per key per slot: a second write of a key starts the next batch; reads and other keys join', (t) => {
  const joins = oneWritePerKey();
  t.true(joins(cmd({ o: 'put', c: 'a', s: 1, k: 'x', v: '1' })));
  t.true(joins(cmd({ o: 'get', c: 'b', s: 1, k: 'x' })), 'a read writes nothing');
  t.true(joins(cmd({ o: 'put', c: 'c', s: 1, k: 'y', v: '1' })));
  t.false(joins(cmd({ o: 'cas', c: 'd', s: 1, k: 'x', e: '1', v: '2' })), 'x is written already');
  t.false(joins(cmd({ o: 'del', c: 'e', s: 1, k: 'y' })));
  // A transaction may write every key of both its lists; one that only reads x joins.
  t.false(
    joins(cmd({ o: 'txn', c: 'f', s: 1, if: [], then: [['get', 'x']], else: [['put', 'y', '2']] })),
    'its else list may write y',
  );
  t.true(joins(cmd({ o: 'txn', c: 'g', s: 1, if: [['x', 'mod', '=', 3]], then: [['get', 'x']], else: [] })));
  t.true(joins(cmd({ o: 'noop' })));
  // A fresh rule for the next batch.
  t.true(oneWritePerKey()(cmd({ o: 'put', c: 'a', s: 2, k: 'x', v: '3' })));
});

test('a transaction that writes one key twice is one command: it joins alone', (t) => {
  const joins = oneWritePerKey();
  t.true(
    joins(
      cmd({
        o: 'txn',
        c: 'a',
        s: 1,
        if: [],
        then: [
          ['put', 'k', '1'],
          ['put', 'k', '2'],
        ],
        else: [],
      }),
    ),
  );
  t.false(joins(cmd({ o: 'put', c: 'b', s: 1, k: 'k', v: '3' })));
});

test("a lease's revoke or expiry takes a slot alone: it deletes keys no one names before it runs", (t) => {
  const joins = oneWritePerKey();
  t.true(joins(cmd({ o: 'put', c: 'a', s: 1, k: 'x', v: '1' })));
  t.false(joins(cmd({ o: 'revoke', c: 'b', s: 1, id: 3 })), 'not after a put');
  const alone = oneWritePerKey();
  t.true(alone(cmd({ o: 'expire', id: 3, at: 9 })), 'first in a batch');
  t.false(alone(cmd({ o: 'get', c: 'c', s: 1, k: 'y' })), 'nothing after it');
  t.true(joins(cmd({ o: 'grant', c: 'd', s: 1, t: 5 })), 'a grant or keepalive writes no key');
  t.true(joins(cmd({ o: 'keep', c: 'e', s: 1, id: 3 })));
});

// Membership changes in the log's pure core (paxos/membership.ts, the
// α-window): a change governs slots from ALPHA after its own; the leader
// fills those with no-ops on a quiet log; a removed leader steps down and
// never stands again; quorums are counted among each slot's voters.

import test from 'ava';
import { ALPHA } from '../../src/paxos/membership.js';
import { Net } from '../helpers/log-net.js';

const remove = (name: string): Record<string, unknown> => ({ o: 'mremove', c: 'op', s: 1, n: name });

test('removing the leader: it fills the window with no-ops, steps down, and never stands again', (t) => {
  const net = new Net(3);
  net.elect(3);
  net.propose(3, [remove('3')]);
  net.deliver();
  for (let i = 0; i < 5; i++) {
    net.tick(3, 2);
    net.tick(1, 2);
    net.tick(2, 2);
    net.deliver();
  }
  const three = net.node(3);
  t.true(three.commit >= 1 + ALPHA, `commit ${three.commit}`);
  t.is(three.role, 'follower');
  net.tick(3, 100);
  net.deliver((f) => f !== 3);
  t.is(three.role, 'follower', 'a removed replica does not stand');
  // The other two elect one of themselves, with a quorum of 2 of their 2.
  net.tick(2, 30); // 2 no longer hears 3, so it grants 1's prepare
  net.tick(1, 30);
  net.deliver((f, to) => f !== 3 && to !== 3);
  t.true([net.node(1).role, net.node(2).role].includes('leader'));
});

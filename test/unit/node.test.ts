import test from 'ava';
import type { PaxosNode } from '../../src/core/node.js';
import { groupOfProposal, nextProposal } from '../../src/paxos/numbering.js';
import type { LabReady } from '../../src/core/ready.js';
import type { Message } from '../../src/core/types.js';
import { contactsOf } from '../../src/core/admission.js';
import { parseHostsfile } from '../../src/config/hostsfile.js';
import { MemNet } from '../helpers/memnet.js';

/** Step `msg` into `node` and take the Ready it makes. */
function stepped(node: PaxosNode, msg: Message): LabReady {
  node.step(msg);
  const r = node.ready();
  node.advance();
  return r;
}

/** Why `node` refuses `msg`, or null. */
const refused = (node: PaxosNode, msg: Message): string | null => stepped(node, msg).dropped[0]?.why ?? null;

const TC1 = 'peer1:proposer1\npeer2:acceptor1\npeer3:acceptor1\npeer4:acceptor1\npeer5:learner1\n';
const TC2 =
  'peer1:proposer1\npeer2:acceptor1,acceptor2\npeer3:acceptor1,acceptor2\npeer4:acceptor1,acceptor2\npeer5:proposer2\n';

const L = (peer: number, action: string, type: string, value: string, n: number): string =>
  JSON.stringify({ peer_id: peer, action, message_type: type, message_value: value, proposal_num: n });

test('numbers: proposer K starts at K, steps by the stride, and is found again from n', (t) => {
  t.is(nextProposal(1, 2, 0), 1);
  t.is(nextProposal(2, 2, 0), 2);
  t.is(nextProposal(1, 2, 1), 3);
  t.is(nextProposal(2, 2, 7), 8);
  t.is(nextProposal(3, 3, 3), 6);
  for (let n = 1; n < 50; n++) t.is(groupOfProposal(n, 3), ((n - 1) % 3) + 1);
  const seen = new Set<number>();
  for (const g of [1, 2, 3]) {
    let n = 0;
    for (let i = 0; i < 20; i++) {
      n = nextProposal(g, 3, n);
      t.false(seen.has(n), `number ${n} used by two groups`);
      seen.add(n);
      t.is(groupOfProposal(n, 3), g);
    }
  }
  t.throws(() => nextProposal(3, 2, 0), { instanceOf: RangeError });
});

test('testcase 1 in memory: every peer logs exactly seed 004 lines plus chose lines', (t) => {
  const net = new MemNet(TC1);
  net.propose(1, 'X');
  net.run();
  t.deepEqual(net.logs.get(1), [
    L(1, 'sent', 'prepare', '', 1),
    L(2, 'received', 'prepare_ack', '', 1),
    L(3, 'received', 'prepare_ack', '', 1),
    L(1, 'sent', 'accept', 'X', 1),
    L(4, 'received', 'prepare_ack', '', 1),
    L(2, 'received', 'accept_ack', 'X', 1),
    L(3, 'received', 'accept_ack', 'X', 1),
    L(1, 'chose', 'chose', 'X', 1),
    L(1, 'sent', 'chose', 'X', 1),
    L(4, 'received', 'accept_ack', 'X', 1),
  ]);
  for (const p of [2, 3, 4]) {
    t.deepEqual(net.logs.get(p), [
      L(1, 'received', 'prepare', '', 1),
      L(p, 'sent', 'prepare_ack', '', 1),
      L(1, 'received', 'accept', 'X', 1),
      L(p, 'sent', 'accept_ack', 'X', 1),
      L(1, 'received', 'chose', 'X', 1),
      L(p, 'chose', 'chose', 'X', 1),
    ]);
  }
  t.deepEqual(net.logs.get(5), [L(1, 'received', 'chose', 'X', 1), L(5, 'chose', 'chose', 'X', 1)]);
});

test('testcase 2 in memory: proposer 2 finds X in the shared acceptors and chooses X', (t) => {
  const net = new MemNet(TC2);
  net.propose(1, 'X');
  net.run();
  net.propose(5, 'Y');
  net.run();
  const log5 = net.logs.get(5)!;
  t.is(log5[0], L(5, 'sent', 'prepare', '', 2));
  t.true(log5.includes(L(5, 'sent', 'accept', 'X', 2)), 'adopted X, the highest accepted value');
  t.false(
    log5.some((l) => l.includes('"Y"')),
    'its own Y never goes out',
  );
  t.true(log5.includes(L(5, 'chose', 'chose', 'X', 2)));
  for (const p of [2, 3, 4]) {
    const log = net.logs.get(p)!;
    t.true(log.includes(L(p, 'sent', 'prepare_ack', 'X', 1)), 'prepare_ack shows the accepted pair (X, 1)');
    t.true(log.includes(L(p, 'chose', 'chose', 'X', 1)));
    t.true(log.includes(L(p, 'chose', 'chose', 'X', 2)));
  }
});

test('durable state is persisted before any message that depends on it', (t) => {
  const net = new MemNet(TC1);
  net.propose(1, 'X');
  net.run();
  // A Ready is performed in order: its persist, then its lines and messages.
  const shape = (r: LabReady): string =>
    [
      r.records.length === 0 ? '' : 'persist',
      ...r.lines.map((l) => JSON.parse(l).action),
      ...r.messages.map((m) => `send ${m.msg.type}`),
    ]
      .filter((x) => x !== '')
      .join(' ');
  // Proposer: the number it uses is durable before the prepare leaves.
  t.is(shape(net.readies.get(1)![0]!), 'persist sent send prepare');
  t.deepEqual(net.persisted.get(1)![0]!.lastProposal, { 1: 1 });
  // Acceptor: the promise is durable before the prepare_ack, the accepted pair before the accept_ack.
  t.deepEqual(net.readies.get(2)!.map(shape), [
    'persist received sent send prepare_ack',
    'persist received sent send accept_ack',
    // The learned value is durable before the chose_ack that stops the proposer's retransmissions.
    'persist received chose send chose_ack',
  ]);
  const states = net.persisted.get(2)!;
  t.is(states[0]!.promised, 1);
  t.deepEqual(states[1]!.accepted, { n: 1, v: 'X' });
  t.deepEqual(states.at(-1)!.chosen, { n: 1, v: 'X' }, 'a learned value is durable too');
});

test(
  'a lost chose is retransmitted, silently, until every acceptor and learner confirms; copies print ' + 'nothing new',
  (t) => {
    const net = new MemNet(TC1);
    net.down.add(5); // the learner's chose is lost, on a connection that stays up
    net.propose(1, 'X');
    net.run();
    t.false(
      net.logs.get(5)!.some((l) => l.includes('"chose"')),
      'the learner missed it',
    );
    const p1 = net.node(1).proposer(1)!;
    t.deepEqual(p1.awaitingConfirmation, [5], 'the acceptors confirmed; the learner did not');
    net.down.delete(5);
    const linesBefore = net.logs.get(1)!.length;
    const wait = p1.waits.resend;
    t.is(wait, 38, 'the first retransmission is due in [250, 500] ms: 38 ticks of 10 ms at rng 0.5');
    for (let i = 1; i < wait; i++) net.node(1).tick();
    t.false(net.node(1).hasReady, 'nothing before it is due');
    net.node(1).tick();
    const retry = net.node(1).ready();
    net.node(1).advance();
    t.deepEqual(retry.messages, [{ to: [5], msg: { type: 'chose', from: 1, n: 1, v: 'X' }, silent: true }]);
    t.deepEqual(retry.lines, [], 'the retransmission prints no sent line');
    t.is(p1.waits.resend, 75, 'and the next one is due later');
    net.flush(1);
    for (const m of retry.messages) net.node(5).step(m.msg);
    net.flush(5);
    net.run();
    t.deepEqual(
      net.logs.get(5),
      [L(1, 'received', 'chose', 'X', 1), L(5, 'chose', 'chose', 'X', 1)],
      'one received chose and one chose line',
    );
    t.is(net.logs.get(1)!.length, linesBefore, 'the retransmission printed no sent line');
    t.deepEqual(p1.awaitingConfirmation, [], 'everyone confirmed');
    t.is(p1.waits.resend, 0, 'so nothing more is sent');
    // A duplicate that still arrives (say the ack was lost) is confirmed again but prints nothing.
    const dup = stepped(net.node(5), { type: 'chose', from: 1, n: 1, v: 'X' });
    t.deepEqual(dup.messages, [{ to: [1], msg: { type: 'chose_ack', from: 5, n: 1 }, silent: true }]);
    t.deepEqual(dup.lines, []);
  },
);

test('a proposer restarted from its durable state never reuses a number', (t) => {
  const net = new MemNet(TC1);
  net.propose(1, 'X');
  net.run();
  const saved = net.persisted.get(1)!.at(-1)!;
  const again = new MemNet(TC1, new Map([[1, { ...saved, chosen: null }]]));
  again.propose(1, 'X');
  // One proposer, so the stride is 1: after 1 comes 2, never 1 again.
  t.is(again.logs.get(1)![0], L(1, 'sent', 'prepare', '', 2));
});

test('an acceptor restarted from its durable state keeps its promise', (t) => {
  const net = new MemNet(TC2);
  net.propose(5, 'Y'); // promises 2 everywhere
  net.run(3); // deliver just the three prepares
  const saved = net.persisted.get(2)!.at(-1)!;
  t.is(saved.promised, 2);
  const restarted = new MemNet(TC2, new Map([[2, saved]]));
  const r = stepped(restarted.node(2), { type: 'accept', from: 1, n: 1, v: 'X' });
  t.deepEqual(r.messages[0]?.msg, { type: 'accept_ack', from: 2, n: 1, promised: 2, accepted: null, chosen: null });
});

test('a chose message is printed once per proposal number', (t) => {
  const net = new MemNet(TC1);
  const msg = { type: 'chose', from: 1, n: 1, v: 'X' } as const;
  t.deepEqual(stepped(net.node(5), msg).learned, [{ v: 'X', n: 1 }]);
  t.deepEqual(stepped(net.node(5), msg).learned, []);
  t.deepEqual(net.node(5).chosen, { n: 1, v: 'X' });
});

test('a peer that is both proposer and acceptor talks to itself through the same rules', (t) => {
  const net = new MemNet('a:proposer1,acceptor1\nb:acceptor1\nc:acceptor1\n');
  net.propose(1, 'V');
  net.run();
  const log = net.logs.get(1)!;
  t.true(log.includes(L(1, 'received', 'prepare', '', 1)));
  t.true(log.includes(L(1, 'sent', 'prepare_ack', '', 1)));
  t.true(log.includes(L(1, 'received', 'prepare_ack', '', 1)));
  t.is(
    log.filter((l) => l === L(1, 'chose', 'chose', 'V', 1)).length,
    1,
    'its own chose message coming back prints no second line',
  );
  t.true(log.includes(L(1, 'received', 'chose', 'V', 1)));
  t.deepEqual(net.node(1).state.accepted, { n: 1, v: 'V' });
});

test("another group's chose does not stop this peer's proposer", (t) => {
  const net = new MemNet(
    'peer1:proposer1,acceptor2\npeer2:acceptor1,acceptor2\npeer3:acceptor1,acceptor2\n' +
      'peer4:learner1\npeer5:proposer2\n',
  );
  const r = stepped(net.node(1), { type: 'chose', from: 5, n: 2, v: 'Y' });
  t.deepEqual(r.learned, [{ v: 'Y', n: 2 }], 'as acceptor of group 2 it prints it');
  t.is(net.node(1).proposer(1)?.phase, 'idle');
  net.propose(1, 'X');
  net.run();
  t.deepEqual(
    net.logs.get(4),
    [L(1, 'received', 'chose', 'X', 1), L(4, 'chose', 'chose', 'X', 1)],
    "learner 1 learns group 1's value",
  );
  t.is(net.node(1).proposer(1)?.phase, 'done');
});

test('messages a sender role cannot send, or this peer cannot take, are refused by step, before any line', (t) => {
  const net = new MemNet(TC1);
  const p2 = net.node(2);
  const p1 = net.node(1);
  const p5 = net.node(5);
  t.is(refused(p2, { type: 'prepare', from: 1, n: 1 }), null);
  t.regex(refused(p2, { type: 'prepare', from: 9, n: 1 }) ?? '', /peer_id 9 is not in the hostsfile/);
  t.regex(refused(p2, { type: 'prepare', from: 3, n: 1 }) ?? '', /must come from proposer1/);
  t.regex(refused(p5, { type: 'accept', from: 1, n: 1, v: 'X' }) ?? '', /not an acceptor/);
  t.is(refused(p5, { type: 'chose', from: 1, n: 1, v: 'X' }), null);
  t.regex(refused(p2, { type: 'chose', from: 4, n: 1, v: 'X' }) ?? '', /must come from proposer1/);
  t.is(refused(p1, { type: 'prepare_ack', from: 2, n: 1, promised: 1, accepted: null, chosen: null }), null);
  t.regex(
    refused(p1, { type: 'prepare_ack', from: 5, n: 1, promised: 1, accepted: null, chosen: null }) ?? '',
    /not an acceptor/,
  );
  t.regex(
    refused(p2, { type: 'accept_ack', from: 3, n: 1, promised: 1, accepted: null, chosen: null }) ?? '',
    /not proposer1/,
  );
});

test('refused and stale messages leave durable state untouched', (t) => {
  const net = new MemNet(TC1);
  const p1 = net.node(1);
  const before = JSON.stringify(p1.state);
  const ack = { type: 'prepare_ack', from: 2, n: 1, promised: 1, accepted: null, chosen: null } as const;
  const r = stepped(p1, ack);
  t.deepEqual(r.lines, [L(2, 'received', 'prepare_ack', '', 1)], 'an ack with no round running is logged');
  t.deepEqual([r.records, r.messages], [[], []], 'and changes nothing');
  const forged = stepped(p1, { type: 'prepare_ack', from: 5, n: 1, promised: 9, accepted: null, chosen: null });
  t.deepEqual([forged.lines, forged.records], [[], []], 'a refused one is not even logged');
  t.is(JSON.stringify(p1.state), before);
});

test('a proposer that won and restarts announces chose again; one that was only told does not', (t) => {
  const net = new MemNet(TC2);
  net.propose(1, 'X');
  net.run();
  // p1 won at 1: after a restart from its saved state it says so again.
  const saved1 = net.persisted.get(1)!.at(-1)!;
  t.deepEqual(saved1.chosen, { n: 1, v: 'X' });
  const again = new MemNet(TC2, new Map([[1, saved1]]));
  const r = again.node(1).ready();
  again.node(1).advance();
  t.deepEqual(r.lines, [L(1, 'chose', 'chose', 'X', 1), L(1, 'sent', 'chose', 'X', 1)]);
  t.deepEqual(r.messages, [{ to: [2, 3, 4], msg: { type: 'chose', from: 1, n: 1, v: 'X' } }]);
  t.deepEqual(r.records, [], 'nothing new to save');
  t.is(again.node(1).proposer(1)!.waits.resend, 38, 'and it retransmits until confirmed');
  const reconnect = (): LabReady => {
    again.node(1).linkDown(3);
    again.node(1).linkUp(3);
    const out = again.node(1).ready();
    again.node(1).advance();
    return out;
  };
  const resend = { to: [3], msg: { type: 'chose', from: 1, n: 1, v: 'X' }, silent: true };
  t.deepEqual(reconnect().messages, [resend], 'and resends, silently, to an unconfirmed peer that reconnects');
  t.deepEqual(stepped(again.node(1), { type: 'chose_ack', from: 3, n: 1 }).lines, [], 'a chose_ack is not logged');
  t.deepEqual(reconnect().messages, [], 'but not once it confirmed');
  // An acceptor that learned X, and p5 (proposer 2) told of X at 1: nothing to announce.
  t.false(new MemNet(TC2, new Map([[2, net.persisted.get(2)!.at(-1)!]])).node(2).hasReady);
  t.false(new MemNet(TC2, new Map([[5, { ...saved1, lastProposal: {} }]])).node(5).hasReady);
});

test("links: a learner keeps one to its group's proposer, for the chose_ack it owes it", (t) => {
  // Testcase 1's learner peer5 once had no link to peer1, and said so on stderr at each chose.
  const c = parseHostsfile(TC1, 'hostsfile');
  t.deepEqual(contactsOf(c, 5), [1]);
  t.deepEqual(contactsOf(c, 2), [1]);
  t.deepEqual(contactsOf(c, 1), [2, 3, 4, 5]);
});

import { readFileSync } from 'node:fs';
import test from 'ava';
import { parseHostsfile } from '../../src/config/hostsfile.js';
import type { LogLine } from '../../src/paxos/logline.js';
import { compareWithGoldens, readGoldens } from '../../src/transcript/compare.js';
import { InFlight } from '../../src/transcript/inflight.js';
import { orderViolations } from '../../src/transcript/order.js';
import { parseLogLine } from '../../src/transcript/parse.js';

const root = new URL('../../../', import.meta.url); // dist/test/unit/ -> the clone
const tc = (n: number, f: string): string => new URL(`testcases/${n}/${f}`, root).pathname;
const cluster1 = parseHostsfile(readFileSync(tc(1, 'hostsfile'), 'utf8'), 'hostsfile');
const cluster2 = parseHostsfile(readFileSync(tc(2, 'hostsfile'), 'utf8'), 'hostsfile');
const goldens1 = readGoldens(tc(1, 'expected'))!;
const goldens2 = readGoldens(tc(2, 'expected'))!;

const L = (peer: number, action: string, type: string, value: string, n: number): string =>
  JSON.stringify({ peer_id: peer, action, message_type: type, message_value: value, proposal_num: n });
const parsed = (lines: readonly string[]): LogLine[] =>
  lines.map((l) => {
    const p = parseLogLine(l);
    if (!p.ok) throw new Error(p.why);
    return p.line;
  });

test('parseLogLine accepts exactly the compact format with keys in order', (t) => {
  t.true(parseLogLine(L(1, 'sent', 'prepare', '', 1)).ok);
  const spaced = '{"peer_id":1, "action": "sent", "message_type": "prepare", "message_value": "", "proposal_num": 1}';
  t.false(parseLogLine(spaced).ok, "seed 004's hand-typed spacing is not the format");
  const reordered = '{"action":"sent","peer_id":1,"message_type":"prepare","message_value":"","proposal_num":1}';
  t.regex((parseLogLine(reordered) as { why: string }).why, /in that order/);
  t.regex((parseLogLine(L(1, 'shouted', 'prepare', '', 1)) as { why: string }).why, /action/);
  t.regex((parseLogLine(L(1, 'sent', 'promise', '', 1)) as { why: string }).why, /message_type/);
  t.false(parseLogLine('not json').ok);
  const tricky = L(1, 'sent', 'accept', 'quote " newline \n emoji 🙂 é', 3);
  const p = parseLogLine(tricky);
  t.true(p.ok);
  t.is(p.ok ? p.line.message_value : '', 'quote " newline \n emoji 🙂 é');
});

test('every golden satisfies the ordering rules it will be held to', (t) => {
  for (const [goldens, cluster] of [
    [goldens1, cluster1],
    [goldens2, cluster2],
  ] as const) {
    t.is(goldens.size, 5);
    for (const [label, lines] of goldens) {
      const id = Number(label.replace('peer', ''));
      t.deepEqual(orderViolations(parsed(lines), id, cluster), [], label);
    }
  }
});

test('the goldens match themselves in any order that keeps the protocol orderings', (t) => {
  const actual = [...goldens1].map(([label, lines]) => ({ label, id: Number(label.slice(4)), lines }));
  // peer1: the late ack from peer4 arriving before the accept went out is a legal race.
  const peer1 = actual[0]!;
  const lines = [...peer1.lines];
  const late = lines.splice(8, 1)[0]!; // peer4's prepare_ack
  lines.splice(3, 0, late);
  actual[0] = { ...peer1, lines };
  t.deepEqual(compareWithGoldens(goldens1, actual, cluster1), []);
});

test('a missing line and an extra line are each named with peer, file and line', (t) => {
  const actual = [...goldens2].map(([label, lines]) => ({ label, id: Number(label.slice(4)), lines: [...lines] }));
  const peer3 = actual[2]!;
  peer3.lines.splice(8, 1); // drop `received accept X 2`
  peer3.lines.push(L(3, 'sent', 'accept_ack', 'Y', 2));
  const m = compareWithGoldens(goldens2, actual, cluster2, 'testcases/2/expected');
  t.true(m.every((x) => x.peer === 'peer3'));
  t.true(
    m.some((x) => x.message === `missing testcases/2/expected/peer3.log line 9: ${L(5, 'received', 'accept', 'X', 2)}`),
  );
  t.true(m.some((x) => x.message.startsWith('line 12 is not in testcases/2/expected/peer3.log')));
});

test('a reordering the protocol forbids is caught even when the multiset matches', (t) => {
  const actual = [...goldens1].map(([label, lines]) => ({ label, id: Number(label.slice(4)), lines: [...lines] }));
  const peer2 = actual[1]!;
  [peer2.lines[0], peer2.lines[1]] = [peer2.lines[1]!, peer2.lines[0]!]; // ack before its prepare
  const m = compareWithGoldens(goldens1, actual, cluster1);
  t.is(m.length, 1);
  t.regex(m[0]!.message, /^line 1 out of order: prepare_ack sent before the prepare it answers/);
});

test('ordering rules: chose needs a quorum, accept needs promises, sent chose needs chose', (t) => {
  const early = parsed([
    L(1, 'sent', 'prepare', '', 1),
    L(2, 'received', 'prepare_ack', '', 1),
    L(1, 'sent', 'accept', 'X', 1),
  ]);
  t.regex(orderViolations(early, 1, cluster1)[0]?.why ?? '', /after only 1 prepare_acks \(quorum 2\)/);
  const choseEarly = parsed([
    L(1, 'sent', 'prepare', '', 1),
    L(2, 'received', 'prepare_ack', '', 1),
    L(3, 'received', 'prepare_ack', '', 1),
    L(1, 'sent', 'accept', 'X', 1),
    L(2, 'received', 'accept_ack', 'X', 1),
    L(1, 'chose', 'chose', 'X', 1),
  ]);
  t.regex(orderViolations(choseEarly, 1, cluster1)[0]?.why ?? '', /before a quorum of matching accept_acks/);
  const wrongValue = parsed([
    L(1, 'sent', 'prepare', '', 1),
    L(2, 'received', 'prepare_ack', '', 1),
    L(3, 'received', 'prepare_ack', '', 1),
    L(1, 'sent', 'accept', 'X', 1),
    L(2, 'received', 'accept_ack', 'X', 1),
    L(3, 'received', 'accept_ack', 'X', 3), // rejected: promised 3
    L(1, 'chose', 'chose', 'X', 1),
  ]);
  t.is(orderViolations(wrongValue, 1, cluster1).length, 1, 'a rejected ack does not count toward the quorum');
  t.regex(
    orderViolations(parsed([L(1, 'sent', 'chose', 'X', 1)]), 1, cluster1)[0]?.why ?? '',
    /before this peer's own chose/,
  );
  t.regex(orderViolations(parsed([L(5, 'chose', 'chose', 'X', 1)]), 5, cluster1)[0]?.why ?? '', /received chose/);
  t.regex(
    orderViolations(parsed([L(2, 'received', 'prepare_ack', '', 1)]), 1, cluster1)[0]?.why ?? '',
    /before a prepare was sent/,
  );
  t.regex(orderViolations(parsed([L(3, 'sent', 'prepare', '', 1)]), 1, cluster1)[0]?.why ?? '', /this peer's id 1/);
});

test(
  'in flight: once every proposer and learner chose, nothing owed means every line was read, in any ' + 'pipe order',
  (t) => {
    // Each peer's golden lines, as its own pipe delivers them (in order).
    for (const [goldens, cluster, required] of [
      [goldens1, cluster1, [1, 5]],
      [goldens2, cluster2, [1, 5]],
    ] as const) {
      const pipes = [...goldens].map(([label, lines]) => ({ id: Number(label.slice(4)), lines: parsed(lines) }));
      const total = pipes.reduce((n, p) => n + p.lines.length, 0);
      let seed = 7;
      const rand = (k: number): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % k;
      };
      for (let trial = 0; trial < 300; trial++) {
        const f = new InFlight(cluster);
        const next = pipes.map(() => 0);
        const chose = new Set<number>();
        for (let read = 1; read <= total; read++) {
          const open = pipes.map((p, i) => i).filter((i) => next[i]! < pipes[i]!.lines.length);
          const i = open[rand(open.length)]!;
          const line = pipes[i]!.lines[next[i]!++]!;
          f.add(pipes[i]!.id, line);
          if (line.action === 'chose') chose.add(pipes[i]!.id);
          const decided = required.every((r) => chose.has(r));
          if (decided && f.count === 0 && read < total) {
            t.fail(`trial ${trial}: nothing owed after ${read} of ${total} lines`);
            return;
          }
        }
        t.is(f.count, 0);
      }
    }
  },
);

test('in flight: a chose seen at the proposer owes its broadcast before the broadcast line is read', (t) => {
  const f = new InFlight(cluster2);
  const lines: Array<[number, string]> = [
    [5, L(5, 'sent', 'prepare', '', 2)],
    ...[2, 3, 4].flatMap((a): Array<[number, string]> => [
      [a, L(5, 'received', 'prepare', '', 2)],
      [a, L(a, 'sent', 'prepare_ack', 'X', 1)],
      [5, L(a, 'received', 'prepare_ack', 'X', 1)],
    ]),
    [5, L(5, 'sent', 'accept', 'X', 2)],
    ...[2, 3, 4].flatMap((a): Array<[number, string]> => [
      [a, L(5, 'received', 'accept', 'X', 2)],
      [a, L(a, 'sent', 'accept_ack', 'X', 2)],
      [5, L(a, 'received', 'accept_ack', 'X', 2)],
    ]),
    [5, L(5, 'chose', 'chose', 'X', 2)],
  ];
  for (const [p, l] of lines) f.add(p, parsed([l])[0]!);
  t.is(f.count, 1, 'the `sent chose` that must follow');
  f.add(5, parsed([L(5, 'sent', 'chose', 'X', 2)])[0]!);
  t.is(f.count, 3, "group 2's three acceptors each owe a received chose (their chose lines follow from that)");
});

test('in flight: a proposer that resumed knowing it won owes the chose it announces again', (t) => {
  // testcase 2 run a second time on its saved state: peer1 (proposer1) prints chose X at its own number 1 from
  // memory, with no accept in this run, then announces it; peer5 learns X from an acceptor and only prints it.
  const f = new InFlight(cluster2);
  const add = (at: number, line: string): void => f.add(at, parsed([line])[0]!);
  add(1, L(1, 'chose', 'chose', 'X', 1));
  add(5, L(5, 'chose', 'chose', 'X', 1));
  t.true(f.count > 0, 'both proposers chose, but peer1 still owes its announcement');
  add(1, L(1, 'sent', 'chose', 'X', 1));
  for (const a of [2, 3, 4]) {
    t.true(f.count > 0, `acceptor ${a}'s lines are still owed`);
    add(a, L(1, 'received', 'chose', 'X', 1));
    add(a, L(a, 'chose', 'chose', 'X', 1));
  }
  t.is(f.count, 0);
});

// `paxos status` on a real kv3: a line per member with its role, ballot,
// indexes and health, as text and --json; a killed member shows down and
// the command exits 5.

import test from 'ava';
import { LiveCluster } from '../helpers/procs.js';
import { paxos, type Ran } from '../helpers/cli.js';
import { eventually } from '../helpers/metrics.js';

const KV3 = 'peer1:replica\npeer2:replica\npeer3:replica\n';
const HOSTS = ['peer1', 'peer2', 'peer3'];

interface Member {
  member: string;
  up: boolean;
  role: string;
  leader?: string;
  applied?: number;
  commit?: number;
  ready: boolean;
  health: string;
}

test('paxos status: every member, as text and --json; a killed one is down, exit 5', async (t) => {
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  const procs = HOSTS.map((h) => live.start(h));
  const endpoints = HOSTS.map((h) => `${h}=${live.endpoint(h).host}:${live.endpoint(h).port}`).join(',');
  const status = (...args: string[]): Promise<Ran> => paxos(['status', '--endpoints', endpoints, ...args]);

  // Once a leader is elected, every member is ready.
  let members: Member[] = [];
  await eventually(async () => {
    const r = await status('--json');
    if (r.code !== 0) return false;
    members = JSON.parse(r.out) as Member[];
    return members.length === 3 && members.every((m) => m.ready);
  }, 'every member ready in paxos status --json');
  t.deepEqual(
    members.map((m) => m.member),
    HOSTS,
  );
  const leaders = members.filter((m) => m.role === 'leader');
  t.is(leaders.length, 1);
  const leader = leaders[0]!.member;
  for (const m of members) {
    t.true(m.up);
    t.is(m.leader, leader);
    t.is(m.health, 'ready');
    t.true(typeof m.applied === 'number' && typeof m.commit === 'number');
  }

  const text = await status();
  t.is(text.code, 0, text.err);
  const lines = text.out.trimEnd().split('\n');
  t.regex(lines[0]!, /^MEMBER\s+ADDRESS\s+ROLE\s+LEADER\s+BALLOT\s+COMMIT\s+APPLIED\s+SNAPSHOT\s+HEALTH$/);
  t.is(lines.length, 4);
  for (const [i, h] of HOSTS.entries()) {
    t.regex(
      lines[i + 1]!,
      new RegExp(`^${h}\\s+127\\.\\S+\\s+(leader|follower)\\s+${leader}\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+\\s+ready$`),
    );
  }

  // A member killed: down, the others still printed, exit 5.
  const victim = HOSTS.find((h) => h !== leader)!;
  await procs[HOSTS.indexOf(victim)]!.kill9();
  const down = await status('--timeout', '2');
  t.is(down.code, 5, down.out + down.err);
  t.regex(down.out, new RegExp(`^${victim}\\s+\\S+\\s+down\\s+-.*unreachable`, 'm'));
  t.regex(down.out, new RegExp(`^${leader}\\s+\\S+\\s+leader\\s`, 'm'));
  const json = await status('--json', '--timeout', '2');
  t.is(json.code, 5);
  const v = (JSON.parse(json.out) as Member[]).find((m) => m.member === victim)!;
  t.like(v, { up: false, role: 'down', ready: false });

  const usage = await paxos(['status', 'extra', '--endpoints', endpoints]);
  t.is(usage.code, 2);
  t.regex(usage.err, /status takes no arguments/);
});

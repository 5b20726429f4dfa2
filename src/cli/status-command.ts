// `paxos status`: each replica's own view (role, leader, ballot, indexes,
// health), one line per member, as `etcdctl endpoint status` prints. Every
// replica is asked directly, at once (a status request, src/wire/kv.ts),
// not through the log: a member that does not answer is shown down.

import { ConfigError } from '../config/errors.js';
import { parseFlags } from '../config/flags.js';
import { kvRequest, newRequestId, type KvTarget } from '../client/kv.js';
import { readiness, READY_MAX_LAG_SLOTS } from '../node/readiness.js';
import type { StatusFields } from '../wire/kv.js';
import { DEFAULT_PORT } from '../paxos/defaults.js';
import { EXIT } from './client-command.js';
import { callSettings, CLIENT_FLAGS, SECURITY_HELP, unresolvable } from './client-flags.js';
import type { ClientTls } from '../config/tls-files.js';
import { replicaTargets } from './kv-command.js';

export const STATUS_HELP = `Usage: paxos status [options]

Asks every replica of a replicated-log cluster, directly and at once, what
it is now, and prints one line per member:

  MEMBER  ADDRESS  ROLE  LEADER  BALLOT  COMMIT  APPLIED  SNAPSHOT  HEALTH

ROLE is leader, follower, candidate, recovering (it lost state and votes
for nothing until it has recovered: docs/recovery.md) or down (it did not
answer). BALLOT is the highest ballot it promised. COMMIT is the last slot
it knows chosen, APPLIED the last it applied to its store, SNAPSHOT the
slot of its last snapshot. HEALTH is "ready", or why not, by the rule of
the replicas' /readyz (see --metrics in paxos --help): it knows a leader,
is not recovering, and has applied to within ${READY_MAX_LAG_SLOTS} slots of the leader's
commit.

      --endpoints HOST=ADDR[:PORT],...
                         the replicas and where to reach them (or
                         PAXOS_ENDPOINTS, same syntax); else -h and --resolve
  -h, --hostsfile FILE   the cluster's hostsfile (default ./hostsfile)
      --port N           the replicas' port (default ${DEFAULT_PORT})
      --resolve HOST=ADDR[:PORT]
                         reach HOST at ADDR (repeatable)
      --timeout SECS     how long to wait for each replica (default 5)
${SECURITY_HELP}
      --json             print a JSON array, one object per member: member,
                         address, up, role, leader, ballot, commit,
                         leader_commit, applied, snapshot, recovering, ready,
                         health (and error, for a member that did not answer)
      --help             show this help

Exit status:
  0  every member answered
  2  usage error
  5  some member did not answer (shown down); the others are still printed`;

/** One member's line. */
export interface MemberStatus {
  readonly member: string;
  readonly address: string;
  readonly status: StatusFields | null;
  /** Why it did not answer (status null). */
  readonly error?: string;
}

export async function statusCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, CLIENT_FLAGS, true);
  if (values.help === true) {
    process.stdout.write(`${STATUS_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 0)
    throw new ConfigError(`status takes no arguments (got ${JSON.stringify(positionals[0])}); it asks every replica`);
  for (const f of ['to', 'from', 'value-file'] as const)
    if (values[f] !== undefined) throw new ConfigError(`--${f} is not for status: it asks every replica`);
  const { targets } = replicaTargets('status', values);
  const { timeoutMs, secret, tls } = callSettings('status', { ...values, timeout: values.timeout ?? '5' });
  const members = await Promise.all(
    targets.map(async (t): Promise<MemberStatus> => {
      const address = `${t.at.host.includes(':') ? `[${t.at.host}]` : t.at.host}:${t.at.port}`;
      const unresolved = await unresolvable([t], undefined);
      if (unresolved !== undefined) return { member: t.name, address, status: null, error: unresolved };
      return { member: t.name, address, ...(await askStatus(t, secret, timeoutMs, tls)) };
    }),
  );
  if (values.json === true) process.stdout.write(`${JSON.stringify(members.map(memberJson))}\n`);
  else process.stdout.write(statusTable(members));
  return members.every((m) => m.status !== null) ? EXIT.ok : EXIT.refused;
}

export async function askStatus(
  t: KvTarget,
  secret: Parameters<typeof kvRequest>[2],
  timeoutMs: number,
  tls: ClientTls | null,
): Promise<{ status: StatusFields | null; error?: string }> {
  const o = await kvRequest(
    t.at,
    { type: 'status', id: newRequestId() },
    secret,
    timeoutMs,
    tls && { tls, name: t.name },
  );
  if (o.kind === 'unreachable') return { status: null, error: `unreachable: ${o.why}` };
  if (o.kind === 'unknown') return { status: null, error: o.why };
  const r = o.result;
  if (r.status === 'status') {
    const { type: _t, id: _i, peer: _p, status: _s, ...fields } = r;
    return { status: fields };
  }
  if (r.status === 'not_replica') return { status: null, error: 'not a replica (a lab peer?)' };
  return { status: null, error: `it answered ${r.status}${'why' in r ? `: ${r.why}` : ''}` };
}

/** The role a member shows: its own, recovering while it recovers, down when it did not answer. */
export function roleOf(m: MemberStatus): string {
  if (m.status === null) return 'down';
  return m.status.recovering === undefined ? m.status.role : 'recovering';
}

/** "ready", or why not (the /readyz rule), or why it did not answer. */
export function healthOf(m: MemberStatus): { ready: boolean; health: string } {
  const s = m.status;
  if (s === null) return { ready: false, health: m.error ?? 'down' };
  const r = readiness({
    leaderKnown: s.leader !== '',
    recovering: s.recovering ?? null,
    applied: s.applied,
    commit: s.leaderCommit,
  });
  return r.ready ? { ready: true, health: 'ready' } : { ready: false, health: r.why };
}

function memberJson(m: MemberStatus): Record<string, unknown> {
  const s = m.status;
  const { ready, health } = healthOf(m);
  return {
    member: m.member,
    address: m.address,
    up: s !== null,
    role: roleOf(m),
    ...(s === null
      ? { error: m.error ?? 'down' }
      : {
          leader: s.leader,
          ballot: s.promise,
          commit: s.commit,
          leader_commit: s.leaderCommit,
          applied: s.applied,
          snapshot: s.snapshot,
          ...(s.recovering === undefined ? {} : { recovering: s.recovering }),
        }),
    ready,
    health,
  };
}

/** The members as an aligned table, with a header line. */
export function statusTable(members: readonly MemberStatus[]): string {
  const head = ['MEMBER', 'ADDRESS', 'ROLE', 'LEADER', 'BALLOT', 'COMMIT', 'APPLIED', 'SNAPSHOT', 'HEALTH'];
  const rows = members.map((m) => {
    const s = m.status;
    const n = (x: number | undefined): string => (x === undefined ? '-' : String(x));
    return [
      m.member,
      m.address,
      roleOf(m),
      s === null ? '-' : s.leader || '(none)',
      n(s?.promise),
      n(s?.commit),
      n(s?.applied),
      n(s?.snapshot),
      healthOf(m).health,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[head, ...rows].map(line).join('\n')}\n`;
}

// What `paxos lease grant/keepalive/revoke/list` print for an outcome: the
// human lines (stdout when done, stderr when not), the exit status, and the
// --json object. lease-command.ts runs the command; this file only words
// its answer.

import type { SentLeaseOperation } from '../client/api.js';
import type { CallOutcome } from '../client/kv.js';
import { EXIT } from './client-command.js';
import type { Report } from './kv-report.js';

const VERB = { grant: 'grant', keep: 'keepalive', revoke: 'revoke', leases: 'list' } as const;

export function describeLease(cmd: SentLeaseOperation, o: CallOutcome): Report {
  const verb = VERB[cmd.op];
  const base = {
    op: verb,
    ...('id' in cmd ? { id: cmd.id } : {}),
    ...('ttl' in cmd ? { ttl: cmd.ttl } : {}),
    client: cmd.client,
    seq: cmd.seq,
    attempts: o.attempts.map((a) => ({
      peer: a.peer,
      outcome: a.outcome,
      ...(a.why === undefined ? {} : { why: a.why }),
      ms: a.ms,
    })),
  };
  const fail = (code: number, text: string, json: Record<string, unknown>): Report => ({
    code,
    err: `paxos lease ${verb}: ${text}\n`,
    json: { ...json, ...base },
  });
  if (o.kind === 'unknown') {
    const check = cmd.op === 'leases' ? 'ask again' : 'check with paxos lease list';
    return fail(EXIT.unknown, `outcome unknown: ${o.why}. It may or may not take effect; ${check}`, {
      outcome: 'unknown',
      status: 'unknown',
      why: o.why,
    });
  }
  if (o.kind === 'failed')
    return fail(EXIT.refused, `refused: ${o.why}; nothing was done`, {
      outcome: 'fail',
      status: o.reason === 'refused' ? (o.attempts.at(-1)?.outcome ?? 'unreachable') : o.reason,
      why: o.why,
      ...(o.peer === undefined ? {} : { peer: o.peer }),
    });
  if (o.kind !== 'done') throw new Error(`a ${o.kind} outcome for a lease command`); // kvCall never does this
  const at = { peer: o.peer, slot: o.slot };
  const where = `slot ${o.slot}, via ${o.peer}`;
  const r = o.result;
  const ok = (out: string, json: Record<string, unknown>): Report => ({
    code: EXIT.ok,
    out,
    json: { outcome: 'ok', ...json, ...base, ...at },
  });
  switch (r.status) {
    case 'nolease':
      return fail(
        EXIT.lost,
        `lease ${r.id} does not exist (it was revoked or expired, or never granted); nothing was done (${where})`,
        { outcome: 'fail', status: 'nolease', id: r.id, ...at },
      );
    case 'lease':
      return cmd.op === 'grant'
        ? ok(`${r.id}\n`, { status: 'lease', id: r.id, ttl: r.ttl })
        : ok(`lease ${r.id} kept alive, TTL ${r.ttl} s (${where})\n`, { status: 'lease', id: r.id, ttl: r.ttl });
    case 'ok':
      return ok(`ok: revoked lease ${'id' in cmd ? cmd.id : '?'}; its keys are deleted (${where})\n`, {
        status: 'ok',
      });
    case 'leases':
      return ok(r.leases.map(([id, ttl, keys]) => `${id}\t${ttl}\t${keys}\n`).join(''), {
        status: 'leases',
        leases: r.leases.map(([id, ttl, keys]) => ({ id, ttl, keys })),
      });
    case 'toomany':
      return fail(
        EXIT.lost,
        `refused: the store holds ${r.max} leases, the most it may; nothing was done (${where}). Revoke some ` +
          '(paxos lease list shows them)',
        { outcome: 'fail', status: 'toomany', max: r.max, ...at },
      );
    case 'stale':
    case 'expired':
      return fail(EXIT.lost, `the store did not apply it (${r.status}); nothing was done; try again`, {
        outcome: 'fail',
        status: r.status,
        ...at,
      });
    default:
      return fail(EXIT.unknown, `the store answered with a ${r.status} result`, {
        outcome: 'unknown',
        status: r.status,
        ...at,
      });
  }
}

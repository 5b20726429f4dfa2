// What `paxos put/get/del/cas/dump` print for an outcome: the human line
// (stdout, or stderr for a failed get), the exit status, and the --json
// object. kv-command.ts runs the command; this file only words its answer.

import type { Result } from '../sm/command.js';
import type { SentOperation } from '../client/api.js';
import type { RangeQuery } from '../sm/range.js';
import type { Attempt, CallOutcome } from '../client/kv.js';
import { EXIT } from './client-command.js';

export interface Report {
  readonly code: number;
  /** Human output for stdout and stderr (ending in newlines). */
  readonly out?: string;
  readonly err?: string;
  readonly json: Record<string, unknown>;
  /** A dump's lines: stdout, after `out`; with --json, the "data" object's members. */
  readonly lines?: { readonly text: Iterable<string>; readonly json: Iterable<string> };
}

const show = (v: string | null): string => (v === null ? 'absent' : JSON.stringify(v));

function attemptsJson(attempts: readonly Attempt[]): Array<Record<string, unknown>> {
  return attempts.map((a) => ({
    peer: a.peer,
    outcome: a.outcome,
    ...(a.why === undefined ? {} : { why: a.why }),
    ms: a.ms,
  }));
}

/** What a cas expected, in words: a value, absent, or a revision. */
function expectedText(e: Extract<SentOperation, { op: 'cas' }>['expected']): string {
  if (e === null || typeof e === 'string') return show(e);
  return 'modRevision' in e ? `mod revision ${e.modRevision}` : `version ${e.version}`;
}

export function describe(cmd: SentOperation, o: CallOutcome): Report {
  const verb = cmd.op;
  // get keeps stdout for the value itself.
  const say = (code: number, text: string, json: Record<string, unknown>): Report => ({
    code,
    ...(verb === 'get' && code !== EXIT.ok ? { err: `${text}\n` } : { out: `${text}\n` }),
    json: {
      ...json,
      op: verb,
      key: cmd.key,
      ...(cmd.op === 'cas' ? { expected: cmd.expected } : {}),
      ...(cmd.op === 'put' && cmd.lease !== undefined ? { lease: cmd.lease } : {}),
      client: cmd.client,
      seq: cmd.seq,
      attempts: attemptsJson(o.attempts),
    },
  });
  const k = JSON.stringify(cmd.key);
  if (o.kind === 'unknown') {
    return say(
      EXIT.unknown,
      `outcome unknown: ${o.why}. The ${verb} may or may not ` +
        (verb === 'get' ? 'have happened; ask again' : `take effect; check with npx paxos get ${shellWord(cmd.key)}`),
      {
        outcome: 'unknown',
        status: 'unknown',
        why: o.why,
        ...(cmd.op === 'put' || cmd.op === 'cas' ? { value: cmd.value } : {}),
      },
    );
  }
  if (o.kind === 'failed') {
    return say(EXIT.refused, `refused: ${o.why}; nothing was done`, {
      outcome: 'fail',
      status: o.reason === 'refused' ? lastStatus(o.attempts) : o.reason,
      why: o.why,
      ...(o.peer === undefined ? {} : { peer: o.peer }),
    });
  }
  if (o.kind === 'dump' || o.kind === 'range') throw new Error(`a ${o.kind} outcome for a command`); // never
  const r: Result = o.result;
  const at = { peer: o.peer, slot: o.slot };
  const where = `slot ${o.slot}, via ${o.peer}`;
  switch (r.status) {
    case 'stale':
      return say(
        EXIT.lost,
        `failed: the store ignored this request: it has already applied request ${r.last} of client ${cmd.client}` +
          `, and this one (seq ${cmd.seq}) is older; nothing was done`,
        { outcome: 'fail', status: 'stale', last: r.last, ...at },
      );
    case 'expired':
      return say(
        EXIT.lost,
        `failed: the store no longer holds a session for client ${cmd.client}, so it did not apply this request; ` +
          `nothing was done`,
        {
          outcome: 'fail',
          status: 'expired',
          ...at,
        },
      );
    case 'mismatch': {
      const cur = r.current;
      const e = cmd.op === 'cas' ? cmd.expected : null;
      const text =
        e === null
          ? `failed: ${k} is not absent: its value is ${show(cur)}; nothing was changed (${where})`
          : typeof e === 'object'
            ? `failed: ${k} is not at ${expectedText(e)} (its value is ${show(cur)}; see paxos get ` +
              `${shellWord(cmd.key)} --json); nothing was changed (${where})`
            : `failed: ${k} is ${cur === null ? 'absent' : show(cur)}, not ${show(e)}; nothing was changed (${where})`;
      return say(EXIT.lost, text, {
        outcome: 'fail',
        status: 'mismatch',
        current: cur,
        ...(cmd.op === 'cas' ? { value: cmd.value } : {}),
        ...at,
      });
    }
    case 'quota':
      return say(
        EXIT.lost,
        `failed: the store is full: this ${cmd.op} would take it past its quota of ${r.quota} bytes (it holds ` +
          `${r.used}); nothing was changed (${where}). Delete keys, or restart every replica with a larger ` +
          `--quota-bytes`,
        { outcome: 'fail', status: 'quota', used: r.used, quota: r.quota, ...at },
      );
    case 'nolease':
      return say(
        EXIT.lost,
        `failed: lease ${r.id} does not exist (it was revoked or expired, or never granted); nothing was ` +
          `changed (${where}). Grant a new one: paxos lease grant TTL`,
        { outcome: 'fail', status: 'nolease', lease: r.id, ...at },
      );
    case 'lease':
    case 'leases':
    case 'members':
    case 'nochange':
    case 'toomany':
      throw new Error(`a ${r.status} result for a command on one key`); // never
    case 'ok':
      break;
  }
  if ('value' in r) {
    // get
    if (r.value === null)
      return say(EXIT.notChosen, `${k} is absent (${where})`, { outcome: 'ok', status: 'absent', value: null, ...at });
    const rev = 'rev' in r ? { createRevision: r.rev[0], modRevision: r.rev[1], version: r.rev[2] } : ({} as const);
    return {
      code: EXIT.ok,
      out: `${r.value}\n`,
      json: say(EXIT.ok, '', { outcome: 'ok', status: 'ok', value: r.value, ...rev, ...at }).json,
    };
  }
  if (r.status === 'txn') throw new Error('a transaction result for a command on one key'); // never
  const prev = r.prev ?? null;
  const was = prev === null ? 'it was absent' : `it was ${show(prev)}`;
  const ok = { outcome: 'ok', status: 'ok', prev, ...at };
  switch (cmd.op) {
    case 'put':
      return say(
        EXIT.ok,
        `ok: ${k} = ${show(cmd.value)}${cmd.lease === undefined ? '' : ` with lease ${cmd.lease}`} (${was}; ${where})`,
        { ...ok, value: cmd.value },
      );
    case 'del':
      return say(
        EXIT.ok,
        prev === null ? `ok: ${k} was already absent (${where})` : `ok: deleted ${k} (${was}; ${where})`,
        ok,
      );
    case 'cas':
      return say(
        EXIT.ok,
        `ok: ${k} = ${show(cmd.value)} (` +
          `${cmd.expected === null ? 'it was absent' : `it was ${expectedText(cmd.expected)}`}; ${where})`,
        {
          ...ok,
          ...(typeof cmd.expected === 'object' && cmd.expected !== null ? {} : { prev: cmd.expected }),
          value: cmd.value,
        },
      );
    case 'get':
      throw new Error('a get without a value'); // decodeResult gives get results a value
  }
}

/** `paxos get --prefix P` or `get FROM [END]`: the keys, one escaped KEY<TAB>VALUE (or KEY) a line, or the count. */
export function describeRange(q: RangeQuery, o: CallOutcome): Report {
  const base = { op: 'range', ...rangeJson(q), attempts: attemptsJson(o.attempts) };
  if (o.kind === 'unknown')
    return {
      code: EXIT.unknown,
      err: `outcome unknown: ${o.why}; ask again\n`,
      json: { outcome: 'unknown', status: 'unknown', why: o.why, ...base },
    };
  if (o.kind === 'failed')
    return {
      code: EXIT.refused,
      err: `refused: ${o.why}; nothing was read\n`,
      json: {
        outcome: 'fail',
        status: o.reason === 'refused' ? lastStatus(o.attempts) : o.reason,
        why: o.why,
        ...base,
      },
    };
  if (o.kind !== 'range') throw new Error(`a ${o.kind} outcome for a range`); // kvCall never does this
  const { count, more, data } = o.answer;
  const json = { outcome: 'ok', status: 'range', ...base, peer: o.peer, slot: o.applied, count, more };
  if (q.countOnly === true) return { code: EXIT.ok, out: `${count}\n`, json };
  const shown = more
    ? `${data.length} of ${count} keys shown (--limit, or 4 MiB an answer); ask again from after the last\n`
    : undefined;
  return {
    code: EXIT.ok,
    out: data.map(([k, v]) => (q.keysOnly === true ? `${escape(k)}\n` : `${escape(k)}\t${escape(v)}\n`)).join(''),
    ...(shown === undefined ? {} : { err: shown }),
    json: {
      ...json,
      ...(q.keysOnly === true
        ? { keys: data.map(([k]) => k) }
        : {
            data: data.map(([key, value, createRevision, modRevision, version]) => ({
              key,
              value,
              createRevision,
              modRevision,
              version,
            })),
          }),
    },
  };
}

function rangeJson(q: RangeQuery): Record<string, unknown> {
  return {
    ...(q.prefix === undefined ? {} : { prefix: q.prefix }),
    ...(q.from === undefined ? {} : { from: q.from }),
    ...(q.to === undefined ? {} : { end: q.to }),
    ...(q.limit === undefined ? {} : { limit: q.limit }),
  };
}

export function describeDump(peer: string, o: CallOutcome): Report {
  const base = { op: 'dump', peer, attempts: attemptsJson(o.attempts) };
  if (o.kind === 'unknown') {
    return {
      code: EXIT.unknown,
      out: `outcome unknown: ${o.why}\n`,
      json: { outcome: 'unknown', status: 'unknown', why: o.why, ...base },
    };
  }
  if (o.kind === 'failed') {
    const last = o.attempts.at(-1);
    const why =
      o.reason === 'refused' && last !== undefined ? `cannot dump ${peer}: ${last.why ?? last.outcome}` : o.why;
    return {
      code: EXIT.refused,
      out: `refused: ${why}\n`,
      json: { outcome: 'fail', status: o.reason === 'refused' ? lastStatus(o.attempts) : o.reason, why, ...base },
    };
  }
  if (o.kind !== 'dump') throw new Error('a command outcome for a dump'); // kvCall never does this
  const data = [...o.data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const leader = o.leader === undefined || o.leader === '' ? null : o.leader;
  return {
    code: EXIT.ok,
    err:
      `${peer}: applied up to slot ${o.applied}; ${data.length} key${data.length === 1 ? '' : 's'}; ` +
      `leader ${leader ?? 'unknown'}` +
      (o.recovering === undefined ? '' : `; RECOVERING (${o.recovering}): it votes for nothing yet`) +
      '\n',
    json: {
      outcome: 'ok',
      status: 'dump',
      ...base,
      peer: o.peer,
      applied: o.applied,
      leader,
      recovering: o.recovering ?? null,
      keys: data.length,
    },
    // Generated as written: one line at a time, never the whole store as one string.
    lines: {
      text: (function* () {
        for (const [k, v] of data) yield `${escape(k)}\t${escape(v)}\n`;
      })(),
      json: (function* () {
        for (const [i, [k, v]] of data.entries())
          yield `${i === 0 ? '' : ','}${JSON.stringify(k)}:${JSON.stringify(v)}`;
      })(),
    },
  };
}

/** The last attempt's status: unreachable or no_leader, for --json. */
function lastStatus(attempts: readonly Attempt[]): string {
  return attempts.at(-1)?.outcome ?? 'unreachable';
}

/** A dump line's field: tab, newline, CR and backslash escaped, so one key is one line. */
export function escape(s: string): string {
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** `s` as one shell word, for a command we suggest. */
function shellWord(s: string): string {
  const word = /^[A-Za-z0-9_./:=@%+,]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
  return s.startsWith('-') ? `-- ${word}` : word;
}

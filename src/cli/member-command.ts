// `paxos member list | add NAME=HOST:PORT | promote NAME | remove NAME`: the
// cluster's membership (paxos/membership.ts; docs/membership.md), through
// the client library. A change the store refuses because the last one has
// not taken effect yet ("busy") is tried again, with backoff, until
// --timeout; promote first waits until the learner has caught up.

import { ConfigError } from '../config/errors.js';
import { parseFlags } from '../config/flags.js';
import { MembershipChangeError, PaxosError, type KvClient, type Member } from '../client/api.js';
import { ALPHA, checkMemberAddr, checkMemberName, memberAddress } from '../paxos/membership.js';
import type { KvTarget } from '../client/kv.js';
import { backoffDelay } from '../util/backoff.js';
import { EXIT } from './client-command.js';
import { CLIENT_FLAGS, TARGET_HELP, callSettings } from './client-flags.js';
import { cliClient, replicaTargets } from './kv-command.js';
import { askStatus, healthOf } from './status-command.js';

export const MEMBER_HELP = `Usage: paxos member list [options]
       paxos member add NAME=HOST:PORT [options]
       paxos member promote NAME [options]
       paxos member remove NAME [options]

The members of a replicated-log cluster. The hostsfile names the first
members (their ids are its line numbers); after that the membership lives
in the log, and changes one at a time (docs/membership.md).

list                 every member: ID<TAB>NAME<TAB>ADDRESS<TAB>voter|learner
add NAME=HOST:PORT   add NAME, reached at HOST:PORT, as a learner: it gets a
                     new id (ids are never reused) and copies the log, but
                     does not vote. Start it with the same hostsfile and
                     --name NAME --join. Then promote it.
promote NAME         wait until learner NAME has caught up with the leader,
                     then make it a voter
remove NAME          remove a member, voter or learner. A removed replica
                     stops itself (exit 0); a removed leader steps down.

A change takes effect ${ALPHA} slots after its own (the leader fills them at
once); until then another change is refused as busy, and this command tries
again until --timeout.

${TARGET_HELP}
      --timeout SECS     how long to keep trying, in all (default 60)
      --json             one JSON object: "outcome" ("ok" or "fail"),
                         "members" (list, add, promote), "why", "error"
      --help             show this help

Exit status:
  0  done
  1  refused, nothing changed: NAME exists (add), member ids ran out
     (add, past 4095), NAME is no member, is already a voter (promote), is
     the last voter (remove), or still busy at --timeout; promote: the
     learner did not catch up in time
  2  usage error
  4  outcome unknown: sent, but no answer came in time
  5  no replica could take the command; nothing was done`;

const VERBS = ['list', 'add', 'promote', 'remove'] as const;
type Verb = (typeof VERBS)[number];

export async function memberCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, CLIENT_FLAGS, true);
  if (values.help === true) {
    process.stdout.write(`${MEMBER_HELP}\n`);
    return EXIT.ok;
  }
  const [verb, arg, ...rest] = positionals;
  if (verb === undefined || !(VERBS as readonly string[]).includes(verb))
    throw new ConfigError(
      `member needs one of ${VERBS.join(', ')}${verb === undefined ? '' : `; got ${JSON.stringify(verb)}`}; ` +
        'see paxos member --help',
    );
  const v = verb as Verb;
  const want = v === 'list' ? 0 : 1;
  if ((arg === undefined ? 0 : 1 + rest.length) !== want)
    throw new ConfigError(
      `member ${v} takes ${want === 0 ? 'no arguments' : 'one argument'}: paxos member ` +
        `${{ list: 'list', add: 'add NAME=HOST:PORT', promote: 'promote NAME', remove: 'remove NAME' }[v]}`,
    );
  for (const f of ['from', 'value-file'] as const)
    if (values[f] !== undefined) throw new ConfigError(`member takes no --${f}; see paxos member --help`);
  const [name, addr] = v === 'add' ? splitAdd(arg!) : [arg ?? '', ''];
  if (v !== 'list') {
    const why = checkMemberName(name);
    if (why !== undefined) throw new ConfigError(`member ${v}: ${why.replace(/^"n" \(member name\)/, 'NAME')}`);
  }

  const { targets } = replicaTargets('member', values);
  const { timeoutMs, secret, tls } = callSettings('member', { ...values, timeout: values.timeout ?? '60' });
  const client = cliClient(targets, { timeoutMs: Math.min(timeoutMs, 10_000), secret, tls });
  const call = values.to === undefined ? {} : { first: values.to };
  const deadline = Date.now() + timeoutMs;
  const json = values.json === true;
  const done = (members: readonly Member[], line: string): number => {
    process.stdout.write(json ? `${JSON.stringify({ outcome: 'ok', members })}\n` : line);
    return EXIT.ok;
  };
  try {
    switch (v) {
      case 'list': {
        const ms = await client.members(call);
        return done(ms, ms.map(memberLine).join(''));
      }
      case 'add': {
        const m = await busy(() => client.memberAdd(name, addr, call), deadline);
        return done(
          [m],
          `added ${name} as member ${m.id}, a learner. Start it with the cluster's hostsfile:\n` +
            `  paxos -h HOSTSFILE --name ${name} --join   (and the cluster's --secret-file or TLS flags)\n` +
            `then, once it has caught up: paxos member promote ${name}\n`,
        );
      }
      case 'promote': {
        await caughtUp(client, name, targets, { secret, tls }, deadline);
        const m = await busy(() => client.memberPromote(name, call), deadline);
        return done([m], `promoted ${name} (member ${m.id}): it votes from ${ALPHA} slots on\n`);
      }
      case 'remove':
        await busy(() => client.memberRemove(name, call), deadline);
        return done([], `removed ${name}; its id is never used again\n`);
    }
  } catch (err) {
    return failed(err, json);
  } finally {
    await client.close();
  }
}

function splitAdd(arg: string): [string, string] {
  const i = arg.indexOf('=');
  if (i < 0)
    throw new ConfigError(`member add takes NAME=HOST:PORT, e.g. peer4=peer4:8080; got ${JSON.stringify(arg)}`);
  const [name, addr] = [arg.slice(0, i), arg.slice(i + 1)];
  const why = checkMemberAddr(addr);
  if (why !== undefined) throw new ConfigError(`member add: ${why.replace(/^"a" \(address\)/, 'the address')}`);
  return [name, addr];
}

export function memberLine(m: Member): string {
  return `${m.id}\t${m.name}\t${m.addr === '' ? `${m.name} (hostsfile)` : m.addr}\t${m.voter ? 'voter' : 'learner'}\n`;
}

/** Run a change, and again after a randomized backoff while the store says "busy", until the deadline. */
async function busy<T>(change: () => Promise<T>, deadline: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await change();
    } catch (err) {
      if (!(err instanceof MembershipChangeError) || err.why !== 'busy' || Date.now() >= deadline) throw err;
      await sleep(Math.min(backoffDelay(attempt, 100, 2000, Math.random), Math.max(0, deadline - Date.now())));
    }
  }
}

/** Wait until learner `name` is ready (the /readyz rule: it knows the leader and applied up to its commit). */
async function caughtUp(
  client: KvClient,
  name: string,
  targets: readonly KvTarget[],
  auth: { secret: Parameters<typeof askStatus>[1]; tls: Parameters<typeof askStatus>[3] },
  deadline: number,
): Promise<void> {
  const m = (await client.members()).find((x) => x.name === name);
  if (m === undefined) throw new MembershipChangeError('unknown', `promote ${name}: no member ${name}`);
  if (m.voter) throw new MembershipChangeError('voter', `promote ${name}: ${name} is already a voter`);
  const listed = targets.find((t) => t.name === name);
  const at = listed?.at ?? memberAddress(m.addr);
  for (let attempt = 1; ; attempt++) {
    const s = await askStatus({ name, at }, auth.secret, 3000, auth.tls);
    const h = healthOf({ member: name, address: '', ...s });
    if (h.ready) return;
    if (Date.now() >= deadline)
      throw new MembershipChangeError('busy', `promote ${name}: it has not caught up (${h.health}); try again`);
    await sleep(backoffDelay(attempt, 200, 2000, Math.random));
  }
}

function failed(err: unknown, json: boolean): number {
  if (!(err instanceof PaxosError)) throw err;
  const why = err instanceof MembershipChangeError ? err.why : undefined;
  const code =
    err instanceof MembershipChangeError ? EXIT.lost : err.name === 'UnknownOutcomeError' ? EXIT.unknown : EXIT.refused;
  if (json)
    process.stdout.write(`${JSON.stringify({ outcome: 'fail', ...(why ? { why } : {}), error: err.message })}\n`);
  else process.stderr.write(`paxos member: ${err.message}\n`);
  return code;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

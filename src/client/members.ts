// The cluster's membership from a client (paxos/membership.ts has the rule):
// list, add a learner, promote it, remove a member. Each is a command through
// the replicated log, like a put. A change the store refuses throws
// MembershipChangeError, whose `why` says which rule refused it: 'busy' (the
// last change has not taken effect yet: try again shortly), 'exists',
// 'unknown', 'voter', 'last' or 'full'.

import { checkMemberAddr, checkMemberName, type ChangeRefusal, type Member } from '../paxos/membership.js';
import type { Result } from '../sm/command.js';
import type { CallOptions } from './call-options.js';
import { DefiniteError, UnknownOutcomeError } from './errors.js';
import type { CallOutcome } from './kv.js';
import { outcomeError } from './outcome-error.js';

export type { Member } from '../paxos/membership.js';

/** A membership command, as a call describes it (executeMember). */
export type MemberOperation =
  | { readonly op: 'madd'; readonly name: string; readonly addr: string }
  | { readonly op: 'mpromote' | 'mremove'; readonly name: string }
  | { readonly op: 'members' };

/** What the member calls need of a client (KvClient). */
export interface MemberCaller {
  executeMember(op: MemberOperation, o?: CallOptions): Promise<{ outcome: CallOutcome }>;
}

/** A change the store refused: nothing changed. */
export class MembershipChangeError extends DefiniteError {
  override readonly name = 'MembershipChangeError';
  constructor(
    readonly why: ChangeRefusal,
    message: string,
  ) {
    super('invalid', message);
  }
}

/** The result after a change, or the members listed; MembershipChangeError if refused. */
export function memberResult(outcome: CallOutcome, what: string): Extract<Result, { status: 'members' }> {
  if (outcome.kind !== 'done') throw outcomeError(outcome, what, false);
  const r = outcome.result;
  if (r.status === 'nochange') throw new MembershipChangeError(r.why, `${what}: refused (${r.why}): ${r.detail}`);
  if (r.status !== 'members') throw new UnknownOutcomeError(`${what}: the store answered with a ${r.status} result`);
  return r;
}

/** Bad names and addresses fail here, before anything is sent. */
export function checkMemberOperation(op: MemberOperation): void {
  if (op.op === 'members') return;
  const why = checkMemberName(op.name) ?? (op.op === 'madd' ? checkMemberAddr(op.addr) : undefined);
  if (why !== undefined) throw new DefiniteError('invalid', `member: ${why.replace(/^"[na]" /, '')}`);
}

export async function listMembers(c: MemberCaller, o: CallOptions = {}): Promise<Member[]> {
  return [...memberResult((await c.executeMember({ op: 'members' }, o)).outcome, 'list the members').members];
}

/**
 * Add `name`, reached at `addr` (HOST:PORT), as a learner; its id. A retry of
 * an add that was applied (its answer lost) finds it there, and is taken as done.
 */
export async function addMember(c: MemberCaller, name: string, addr: string, o: CallOptions = {}): Promise<Member> {
  const what = `add member ${name}`;
  try {
    const r = memberResult((await c.executeMember({ op: 'madd', name, addr }, o)).outcome, what);
    return r.members.find((m) => m.id === r.id)!;
  } catch (err) {
    if (!(err instanceof MembershipChangeError) || err.why !== 'exists') throw err;
    const same = (await listMembers(c, o)).find((m) => m.name === name && m.addr === addr && !m.voter);
    if (same === undefined) throw err;
    return same;
  }
}

/** Make learner `name` a voter. Check first that it has caught up (paxos member promote does). */
export async function promoteMember(c: MemberCaller, name: string, o: CallOptions = {}): Promise<Member> {
  const r = memberResult((await c.executeMember({ op: 'mpromote', name }, o)).outcome, `promote member ${name}`);
  return r.members.find((m) => m.id === r.id)!;
}

/** Remove member `name` (voter or learner); its id is never used again. */
export async function removeMember(c: MemberCaller, name: string, o: CallOptions = {}): Promise<void> {
  memberResult((await c.executeMember({ op: 'mremove', name }, o)).outcome, `remove member ${name}`);
}

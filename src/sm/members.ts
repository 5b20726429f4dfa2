// The store's side of a membership change: the rule is paxos/membership.ts's
// (the log core applies the same one, for its quorums); here it becomes a
// client's answer. A change is applied whatever the client's session says
// (a retried add is refused as "exists"), so the store and the log core,
// which knows nothing of sessions, never disagree on the configuration.

import { change, type MemberChange, type Membership } from '../paxos/membership.js';
import type { CheckedCommand, Result } from './command.js';

export type ChangeCommand = Extract<CheckedCommand, { o: 'madd' | 'mpromote' | 'mremove' }>;

export function isChangeCommand(cmd: CheckedCommand): cmd is ChangeCommand {
  return cmd.o === 'madd' || cmd.o === 'mpromote' || cmd.o === 'mremove';
}

/** The configuration after `cmd` in `slot` (null: unchanged), and the answer. */
export function memberChange(
  m: Membership | null,
  cmd: ChangeCommand,
  slot: number,
  concurrent = false,
): { members: Membership | null; result: Result } {
  if (m === null)
    return { members: null, result: { status: 'nochange', why: 'unknown', detail: 'this store has no membership' } };
  const c: MemberChange =
    cmd.o === 'madd'
      ? { kind: 'add', name: cmd.n, addr: cmd.a }
      : { kind: cmd.o === 'mpromote' ? 'promote' : 'remove', name: cmd.n };
  const o = change(m, c, slot, concurrent);
  if (!o.ok) return { members: null, result: { status: 'nochange', why: o.why, detail: o.detail } };
  return { members: o.m, result: { status: 'members', members: o.m.members, id: o.id } };
}

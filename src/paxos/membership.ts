// Who the replicas of a log are, and the one rule for changing that. The
// hostsfile seeds the first configuration (ids 1..N, its line numbers); from
// then on changes are commands in the log, applied in slot order by the log
// core (src/log, for its quorums) and by the store (src/sm, to answer the
// client and keep the configuration in snapshots). Both call change() below
// on the same commands in the same order, so they agree.
//
// The α-window (Lamport, "Paxos Made Simple", section 3; docs/membership.md):
// a change chosen in slot c governs slots from c + ALPHA on. A leader never
// proposes slot s before every slot up to s - ALPHA is chosen and known to
// it, so it always knows the voters of every slot it proposes in. One change
// at a time: a change in a slot below the previous change's c + ALPHA is
// refused ("busy"), so at most two configurations ever govern the slots a
// leader may propose in. Each change adds or removes one voter (a new member
// joins as a learner, which does not vote, and is promoted later).

import type { PeerId } from './ids.js';

/** Slots between a change being chosen and its taking effect. The same on every replica of a cluster, forever. */
export const ALPHA = 32;

/** Ids are never reused; past this many members ever, adds are refused (ballots stay exact integers). */
export const MAX_MEMBER_ID = 4095;

export interface Member {
  readonly id: PeerId;
  readonly name: string;
  /** HOST:PORT to reach it; '' for the hostsfile's members (reached by name, on the peers' port). */
  readonly addr: string;
  readonly voter: boolean;
}

export interface Membership {
  /** Current members, by id. */
  readonly members: readonly Member[];
  /** The id the next member gets. */
  readonly nextId: PeerId;
  /** The slot of the change that made this configuration (0: the hostsfile's). */
  readonly changed: number;
  /** The voters before that change: they govern slots below changed + ALPHA. */
  readonly before: readonly PeerId[];
}

/** A change, as the log carries it (src/sm/command.ts: madd, mpromote, mremove). */
export type MemberChange =
  | { readonly kind: 'add'; readonly name: string; readonly addr: string }
  | { readonly kind: 'promote'; readonly name: string }
  | { readonly kind: 'remove'; readonly name: string };

export type ChangeRefusal = 'busy' | 'exists' | 'unknown' | 'voter' | 'last' | 'full';

export type ChangeOutcome =
  | { readonly ok: true; readonly m: Membership; readonly id: PeerId }
  | { readonly ok: false; readonly why: ChangeRefusal; readonly detail: string };

/** The hostsfile's configuration: every replica a voter, with its line number as its id. */
export function initialMembership(hosts: ReadonlyArray<{ readonly id: PeerId; readonly name: string }>): Membership {
  const members = hosts.map(({ id, name }) => ({ id, name, addr: '', voter: true }));
  const nextId = Math.max(0, ...members.map((m) => m.id)) + 1;
  return { members, nextId, changed: 0, before: members.map((m) => m.id) };
}

/** The voters of slot `slot`: a change governs slots from its slot + ALPHA on. */
export function votersAt(m: Membership, slot: number): readonly PeerId[] {
  return slot >= effectiveSlot(m) ? currentVoters(m) : m.before;
}

/** The first slot the current configuration governs (the hostsfile's: every slot). */
export function effectiveSlot(m: Membership): number {
  return m.changed === 0 ? 0 : m.changed + ALPHA;
}

export function currentVoters(m: Membership): PeerId[] {
  return m.members.filter((x) => x.voter).map((x) => x.id);
}

/** Every id that may still take part: current members, and voters of slots not yet past the last change. */
export function participants(m: Membership): PeerId[] {
  const ids = new Set([...m.members.map((x) => x.id), ...m.before]);
  return [...ids].sort((a, b) => a - b);
}

export function memberByName(m: Membership, name: string): Member | undefined {
  return m.members.find((x) => x.name === name);
}

export function memberById(m: Membership, id: PeerId): Member | undefined {
  return m.members.find((x) => x.id === id);
}

/** The change a command makes, if it is one (a command of the log's, in wire form). */
export function memberChangeOf(cmd: unknown): MemberChange | null {
  if (typeof cmd !== 'object' || cmd === null) return null;
  const o = cmd as { o?: unknown; n?: unknown; a?: unknown };
  if (typeof o.n !== 'string') return null;
  if (o.o === 'madd' && typeof o.a === 'string') return { kind: 'add', name: o.n, addr: o.a };
  if (o.o === 'mpromote') return { kind: 'promote', name: o.n };
  if (o.o === 'mremove') return { kind: 'remove', name: o.n };
  return null;
}

/** The one rule: apply change `c`, chosen in `slot`, to `m`; or why it is refused (and nothing changes). */
export function change(m: Membership, c: MemberChange, slot: number, concurrent = false): ChangeOutcome {
  // (Broken on purpose, concurrent: the simulator's twoChangesInFlight.)
  if (slot < effectiveSlot(m) && !concurrent)
    return no('busy', `the change of slot ${m.changed} takes effect at slot ${effectiveSlot(m)}; try again then`);
  const cur = memberByName(m, c.name);
  const next = (members: Member[], nextId = m.nextId): Membership => ({
    members,
    nextId,
    changed: slot,
    before: currentVoters(m),
  });
  switch (c.kind) {
    case 'add': {
      if (cur !== undefined) return no('exists', `${c.name} is already member ${cur.id}`);
      if (m.nextId > MAX_MEMBER_ID) return no('full', `member ids run out at ${MAX_MEMBER_ID}`);
      const id = m.nextId;
      return { ok: true, id, m: next([...m.members, { id, name: c.name, addr: c.addr, voter: false }], id + 1) };
    }
    case 'promote':
      if (cur === undefined) return no('unknown', `no member ${c.name}`);
      if (cur.voter) return no('voter', `${c.name} is already a voter`);
      return { ok: true, id: cur.id, m: next(m.members.map((x) => (x.id === cur.id ? { ...x, voter: true } : x))) };
    case 'remove':
      if (cur === undefined) return no('unknown', `no member ${c.name}`);
      if (cur.voter && currentVoters(m).length === 1) return no('last', `${c.name} is the last voter`);
      return { ok: true, id: cur.id, m: next(m.members.filter((x) => x.id !== cur.id)) };
  }
}

function no(why: ChangeRefusal, detail: string): ChangeOutcome {
  return { ok: false, why, detail };
}

/** Whether `m` is a well-formed configuration (from a snapshot or the wire): untrusted input is checked. */
export function checkMembership(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null) return 'membership is not an object';
  const m = raw as Partial<Membership>;
  const id = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 1 && (x as number) <= MAX_MEMBER_ID;
  if (!Array.isArray(m.members) || m.members.length === 0) return 'membership: "members" must be a non-empty list';
  for (const x of m.members as unknown[]) {
    const e = x as Partial<Member>;
    if (typeof x !== 'object' || x === null || !id(e.id) || typeof e.name !== 'string' || e.name === '')
      return 'membership: each member needs an id and a name';
    if (typeof e.addr !== 'string' || typeof e.voter !== 'boolean')
      return 'membership: each member needs an addr (string) and voter (boolean)';
  }
  if (!Number.isSafeInteger(m.nextId) || !Number.isSafeInteger(m.changed) || (m.changed as number) < 0)
    return 'membership: "nextId" and "changed" must be integers';
  if (!Array.isArray(m.before) || !(m.before as unknown[]).every(id)) return 'membership: "before" must list ids';
  return null;
}

/** Why `x` is not a member name (a hostname: letters, digits, '.', '_', '-'; 1 to 253), or undefined. */
export function checkMemberName(x: unknown): string | undefined {
  if (typeof x !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,252}$/.test(x))
    return (
      `"n" (member name) must be a hostname: letters, digits, '.', '_', '-' (1 to 253); ` +
      `got ${JSON.stringify(x)?.slice(0, 40)}`
    );
  return undefined;
}

/** A member's HOST:PORT as host and port (checked where it was added: checkMemberAddr). */
export function memberAddress(addr: string): { readonly host: string; readonly port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

/** Why `x` is not HOST:PORT, or undefined. */
export function checkMemberAddr(x: unknown): string | undefined {
  const m = typeof x === 'string' ? /^([A-Za-z0-9._-]{1,253}):(\d{1,5})$/.exec(x) : null;
  if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535)
    return `"a" (address) must be HOST:PORT, e.g. peer4:8080; got ${JSON.stringify(x)?.slice(0, 40)}`;
  return undefined;
}

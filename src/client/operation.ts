// One of the store's commands as a program describes it (KvClient.execute),
// and the checks it passes before anything is sent.

import { checkKey, checkValue } from '../sm/command.js';
import { checkTtl, isLeaseId } from '../sm/lease.js';
import { DefiniteError } from './errors.js';

/** What a cas expects of its key: a value (null: absent), or a revision (0: absent). */
export type CasExpect = string | null | RevisionExpect;

/** A cas that expects a revision of its key (0: absent) rather than a value: a transaction in the store. */
export type RevisionExpect = { readonly modRevision: number } | { readonly version: number };

/** One of the store's commands, as a call describes it (execute). */
export type Operation =
  /** `lease`: attach the key to that lease (its revoke or expiry deletes the key). */
  | { readonly op: 'put'; readonly key: string; readonly value: string; readonly lease?: number }
  | { readonly op: 'get' | 'del'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: CasExpect; readonly value: string };

/** An operation as it was sent: with the session's client id and seq. */
export type SentOperation = Operation & { readonly client: string; readonly seq: number };

/** A command on the store's leases (src/sm/lease.ts), as a call describes it (executeLease). */
export type LeaseOperation =
  /** A new lease of `ttl` whole seconds. */
  | { readonly op: 'grant'; readonly ttl: number }
  /** Renew lease `id` (a keepalive), or revoke it and delete its keys. */
  | { readonly op: 'keep' | 'revoke'; readonly id: number }
  /** List the leases. */
  | { readonly op: 'leases' };

/** A lease operation as it was sent: with the session's client id and seq. */
export type SentLeaseOperation = LeaseOperation & { readonly client: string; readonly seq: number };

/** Bad keys and values fail here, before anything is sent. */
export function checkOperation(op: Operation): void {
  const why =
    checkKey(op.key, 'the key') ??
    (op.op === 'put' || op.op === 'cas' ? checkValue(op.value, 'the value') : undefined) ??
    (op.op === 'put' ? checkLease(op.lease) : undefined) ??
    (op.op === 'cas' ? checkExpect(op.expected) : undefined);
  if (why !== undefined) throw new DefiniteError('invalid', `${op.op}: ${why}`);
}

/** A bad TTL or lease id fails here, before anything is sent. */
export function checkLeaseOperation(op: LeaseOperation): void {
  const why = op.op === 'grant' ? checkTtl(op.ttl) : op.op === 'leases' ? undefined : checkLease(op.id);
  if (why !== undefined) throw new DefiniteError('invalid', `${op.op}: ${why}`);
}

/** Why `id` is not a lease id (absent is fine), or undefined. */
function checkLease(id: number | undefined): string | undefined {
  return id === undefined || isLeaseId(id)
    ? undefined
    : `a lease id must be a whole number from 1 up; got ${JSON.stringify(id)?.slice(0, 40) ?? String(id)}`;
}

function checkExpect(e: CasExpect): string | undefined {
  if (e === null) return undefined;
  if (typeof e === 'string') return checkValue(e, 'the expected value');
  const n = 'modRevision' in e ? e.modRevision : 'version' in e ? e.version : undefined;
  return Number.isSafeInteger(n) && n! >= 0
    ? undefined
    : 'the expected revision must be { modRevision } or { version }, a whole number from 0 up; got ' +
        JSON.stringify(e);
}

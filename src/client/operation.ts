// One of the store's commands as a program describes it (KvClient.execute),
// and the checks it passes before anything is sent.

import { checkKey, checkValue } from '../sm/command.js';
import { DefiniteError } from './errors.js';

/** What a cas expects of its key: a value (null: absent), or a revision (0: absent). */
export type CasExpect = string | null | RevisionExpect;

/** A cas that expects a revision of its key (0: absent) rather than a value: a transaction in the store. */
export type RevisionExpect = { readonly modRevision: number } | { readonly version: number };

/** One of the store's commands, as a call describes it (execute). */
export type Operation =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'get' | 'del'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: CasExpect; readonly value: string };

/** An operation as it was sent: with the session's client id and seq. */
export type SentOperation = Operation & { readonly client: string; readonly seq: number };

/** Bad keys and values fail here, before anything is sent. */
export function checkOperation(op: Operation): void {
  const why =
    checkKey(op.key, 'the key') ??
    (op.op === 'put' || op.op === 'cas' ? checkValue(op.value, 'the value') : undefined) ??
    (op.op === 'cas' ? checkExpect(op.expected) : undefined);
  if (why !== undefined) throw new DefiniteError('invalid', `${op.op}: ${why}`);
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

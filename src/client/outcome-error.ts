// The error a call throws when it did not end as asked: nothing done
// (DefiniteError), or sent with no answer (UnknownOutcomeError).

import { DefiniteError, UnknownOutcomeError, type PaxosError } from './errors.js';
import type { CallOutcome } from './kv.js';

/** The error for a call that did not end as asked. */
export function outcomeError(outcome: CallOutcome, what: string, read: boolean): PaxosError {
  switch (outcome.kind) {
    case 'failed': {
      const reason = outcome.reason === 'refused' ? 'unavailable' : outcome.reason;
      return new DefiniteError(reason, `${what}: nothing was done: ${outcome.why}`);
    }
    case 'unknown':
      return new UnknownOutcomeError(
        `${what}: the outcome is unknown: ${outcome.why}` + (read ? '' : '; read the key to find out'),
      );
    default:
      return new UnknownOutcomeError(`${what}: a replica answered with a ${outcome.kind}`);
  }
}

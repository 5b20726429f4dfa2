// The client library's errors. A write that fails ends one of two ways,
// and a program must be able to tell them apart without reading a string:
//   DefiniteError:       nothing was done, and nothing will be; safe to
//                        retry, or to report as failed;
//   UnknownOutcomeError: the command was sent and no answer came: it may or
//                        may not take effect (read the key to find out).

/** Why nothing was done. */
export type DefiniteReason =
  /** The request is not valid (a bad key, value or option); no replica was asked, or one refused it as such. */
  | 'invalid'
  /** No replica could take it in time: down, unreachable, no leader, or the secret was refused. */
  | 'unavailable'
  /** The address is a lab peer, not a replica of a replicated log. */
  | 'not_replica'
  /** The put or cas would take the store past its quota (--quota-bytes on the replicas). */
  | 'quota'
  /** A watch asked for a revision older than any replica it reached still holds. */
  | 'compacted'
  /** The signal aborted the call before anything was sent. */
  | 'aborted'
  /** close() was called. */
  | 'closed';

/** Every error the library throws for an outcome. */
export class PaxosError extends Error {
  override readonly name: string = 'PaxosError';
}

/** Nothing was done: the store is as it was before the call. */
export class DefiniteError extends PaxosError {
  override readonly name = 'DefiniteError';
  constructor(
    readonly reason: DefiniteReason,
    message: string,
  ) {
    super(message);
  }
}

/** The command was sent, and no answer came: it may or may not take effect. */
export class UnknownOutcomeError extends PaxosError {
  override readonly name = 'UnknownOutcomeError';
}

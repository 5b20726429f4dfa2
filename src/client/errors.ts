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
  /** The put or cas would take the store past its quota (--quota-bytes on the replicas); a grant, its most leases. */
  | 'quota'
  /** A watch asked for a revision older than any replica it reached still holds. */
  | 'compacted'
  /** The signal aborted the call before anything was sent. */
  | 'aborted'
  /** close() was called. */
  | 'closed'
  /** The lease named (a put's, a keepalive's, a revoke's) does not exist: revoked, expired or never granted. */
  | 'nolease';

/** Every error the library throws for an outcome. */
export class PaxosError extends Error {
  override readonly name: string = 'PaxosError';
}

/** Nothing was done: the store is as it was before the call. */
export class DefiniteError extends PaxosError {
  override readonly name: string = 'DefiniteError';
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

/** The lease a call named does not exist (revoked, expired, or never granted): nothing was done. */
export class LeaseNotFoundError extends DefiniteError {
  override readonly name = 'LeaseNotFoundError';
  constructor(
    readonly id: number,
    message: string,
  ) {
    super('nolease', message);
  }
}

/** Why a held lease (Lease), and so a lock or a leadership on it, is over. */
export type LostReason =
  /** The store says the lease is gone: it expired, or someone revoked it. */
  | 'nolease'
  /** No keepalive succeeded within its TTL: the store may have expired it (its keys may be gone). */
  | 'expired'
  /** This program revoked it, released the lock or resigned. */
  | 'revoked'
  /** The lock's or the leader's key was deleted or changed by someone else. */
  | 'key'
  /** The client was closed: nobody keeps the lease alive any more. */
  | 'closed';

/** A lease, lock or leadership that was held and no longer is: the reason of its `signal`. */
export class LeaseLostError extends PaxosError {
  override readonly name = 'LeaseLostError';
  constructor(
    readonly id: number,
    readonly reason: LostReason,
    message: string,
  ) {
    super(message);
  }
}

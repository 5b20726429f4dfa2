// What every call of the client library (api.ts) takes last.

export interface CallOptions {
  /** Give up: before anything was sent, a DefiniteError ('aborted'); after, an UnknownOutcomeError. */
  readonly signal?: AbortSignal;
  /** This call's limit in ms, instead of the client's. */
  readonly timeoutMs?: number;
  /** The replica to try first, by name (else the one that answered last). */
  readonly first?: string;
}

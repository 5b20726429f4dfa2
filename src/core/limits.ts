/** Largest value a peer proposes or accepts, in UTF-8 bytes. */
export const MAX_VALUE_BYTES = 64 * 1024;

/** Longest NDJSON line a peer reads; longer lines are dropped with a warning. */
export const MAX_LINE_BYTES = 4 * MAX_VALUE_BYTES;

/**
 * Highest proposal number a peer takes off the wire. Far above any real run,
 * and low enough that stepping past it by any stride stays an exact integer.
 */
export const MAX_PROPOSAL = 2 ** 48;

/**
 * Per-connection output limits, after Redis's client-output-buffer-limit.
 * Answers a connection has not read yet are held in memory; past the soft
 * limit the peer stops reading that connection's requests until they drain,
 * and a connection that stays over it for OUTPUT_SOFT_MS, or passes the hard
 * limit, is closed. One answer always fits, however big (a replica's dump):
 * only an answer written on top of more than the soft limit can break the hard one.
 */
export const OUTPUT_SOFT_BYTES = 1024 * 1024;
export const OUTPUT_HARD_BYTES = 16 * 1024 * 1024;
export const OUTPUT_SOFT_MS = 10_000;

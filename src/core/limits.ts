/** Largest value a peer proposes or accepts, in UTF-8 bytes. */
export const MAX_VALUE_BYTES = 64 * 1024;

/** Longest NDJSON line a peer reads; longer lines are dropped with a warning. */
export const MAX_LINE_BYTES = 4 * MAX_VALUE_BYTES;

/**
 * Highest proposal number a peer takes off the wire. Far above any real run,
 * and low enough that stepping past it by any stride stays an exact integer.
 */
export const MAX_PROPOSAL = 2 ** 48;

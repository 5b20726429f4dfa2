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

/**
 * Client requests one connection may have in flight (read, not yet
 * answered). Past it, the peer reads no more from that connection until
 * answers bring it down to half: a client pipelining without end costs a
 * bounded amount of memory and of work per turn of the event loop, and
 * cannot starve the peer's other connections and timers. Its commands
 * queue ahead of other clients' at the leader, so this also bounds their
 * wait. Another client's p99 while one connection pipelined 100,000 puts at
 * a kv3 leader, on 2 busy cores: 83 to 93 ms with 1024, 52 to 90 ms with
 * 256, 56 to 72 ms with 128, 28 to 54 ms with 64 (the flood itself taking
 * 3, 5, 8 and 11 s). The benchmarks keep at most 16 in flight per
 * connection; a loader that wants more uses more connections.
 */
export const MAX_CLIENT_IN_FLIGHT = 64;

/**
 * Bad lines (not JSON, not a valid message, too long, not UTF-8) from one
 * connection: the first BAD_LINES_WARNED get a warning each, then one line
 * says the rest are not reported; at MAX_BAD_LINES the connection is closed.
 * A client that keeps sending garbage cannot fill stderr, nor keep the peer
 * parsing it.
 */
export const BAD_LINES_WARNED = 3;
export const MAX_BAD_LINES = 100;

/**
 * Bytes a listener holds in unfinished lines, over all its connections
 * (each is held to its own line limit too). A connection whose line would
 * pass it is closed. Connections that proved the shared secret as peers are
 * not counted; every other one is, running open too. The listener adds its
 * longest peer line to this, so one catch-up line always fits.
 */
export const UNFINISHED_LINES_BYTES = 64 * 1024 * 1024;

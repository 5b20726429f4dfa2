// Every protocol, timing and size default of the peers, in one place: the
// lowest layer, so the pure cores (src/core, src/log, src/sm) import them as
// the shells and the command line do. A value changes here or nowhere. What a
// flag can set is read from here by src/config/settings.ts (DEFAULTS), whose
// settings types are what a daemon runs with; the cores are handed timing
// derived from those settings (labTiming, logTiming there), and fall back to
// these only where a test or the simulator builds a core by hand.
//
// Not here: the simulators' compressed timing (src/sim: a variant, like their
// broken rules), the UI's, runner's and charts' own numbers, on-disk format
// constants, and the storage's I/O chunk sizes.

// --- Values and lines (both protocols) ---

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

// --- Peers and links (both protocols) ---

/** --port: where peers listen, and are reached; the lab's traditional port. */
export const DEFAULT_PORT = 8080;
/** --peer-timeout: a silent link is declared down after this long; well above a busy event loop's pauses. */
export const DEFAULT_PEER_TIMEOUT_MS = 1500;
/** --peer-timeout's floor: below it, pings (every fifth, at least 10 ms apart) no longer fit. */
export const MIN_PEER_TIMEOUT_MS = 50;
/** Pings per peer timeout: one or two lost to a busy event loop do not declare a link dead. */
export const PINGS_PER_PEER_TIMEOUT = 5;
/** Pings never come closer than this, whatever the timeout: a ping costs a write and a wake-up. */
export const MIN_PING_MS = 10;
/** First redial wait (drawn from its half to it, util/backoff.ts): a peer that is starting is up within tens of ms. */
export const RECONNECT_BASE_MS = 20;
/** Longest redial wait (0.5 to 1 s): a peer back from a restart is found within a second. */
export const RECONNECT_CAP_MS = 1000;
/**
 * Consecutive failures before a still-unreachable peer earns a warning: a
 * refused connection is normal while peers start, and so is one that is
 * accepted and closed during the handshake (a fault proxy in front of a peer
 * not up yet). Any other failed handshake, or a close once the link has been
 * up, is warned about at once.
 */
export const WARN_AFTER_FAILURES = 20;
/** Messages held for a peer that is down; past this the newest are dropped (Paxos retries what matters). */
export const MAX_QUEUED = 10_000;
/** A connection that has not authenticated this long after it was accepted is closed: a handshake is one round trip. */
export const AUTH_TIMEOUT_MS = 2000;
/**
 * Half-open connections (accepted, not yet authenticated, or running open
 * not yet heard from) a listener holds at once; a newcomer past this closes
 * the oldest of the busiest source address (src/transport/half-open.ts).
 */
export const MAX_HALF_OPEN = 1024;
/** A flood must not flood stderr too: notices about it come at most this often. */
export const NOTICE_EVERY_MS = 10_000;
/** Shortest shared secret, in bytes: 128 bits, beyond guessing. */
export const MIN_SECRET_BYTES = 16;
/** More ticks than this at once (a stop of hours) are skipped; waits then end late, never early. */
export const MAX_CATCH_UP_TICKS = 100_000;

// --- The lab's single-decree peer ---

/** The lab daemon's tick: fine enough for the shortest backoff (25 ms), coarse enough to cost nothing idle. */
export const LAB_TICK_MS = 10;
/** -t: a proposer proposes at once unless told to wait. */
export const DEFAULT_START_DELAY_MS = 0;
/** --exit-after-idle: 0, a peer never exits for being idle. */
export const DEFAULT_IDLE_MS = 0;
/** The lab proposer's waits, in ms (the core counts them in ticks of LAB_TICK_MS). */
export const DEFAULT_LAB_TIMING = Object.freeze({
  /** --round-timeout: a round with no majority by then is retried; many round trips even on a loaded host. */
  roundTimeoutMs: 2000,
  /** First backoff between rounds (randomized): a duelling proposer gets a round trip's head start. */
  backoffBaseMs: 50,
  /** Longest backoff between rounds: duelling proposers still try every few seconds. */
  backoffCapMs: 2000,
  /** An unconfirmed `chose` is sent again after this long: a few round trips. */
  choseRetryMs: 500,
  /** The chose resend doubles up to this: a peer that is down costs little. */
  choseRetryCapMs: 4000,
});
/** Clients one lab peer lets wait for an outcome at once; more are told to come back. */
export const MAX_WAITING_CLIENTS = 1000;

// --- The replicated log and its key-value store ---

/** The replica's tick: its core counts heartbeats and elections in ticks of this many ms. */
export const REPLICA_TICK_MS = 50;
/** The replica core's timing, in ticks of REPLICA_TICK_MS, and its sizes. */
export const DEFAULT_LOG_TIMING = Object.freeze({
  /** Leader heartbeat every 100 ms: five fit in the shortest election timeout. */
  heartbeatTicks: 2,
  /** A follower that hears no leader for a random 0.5 to 1 s stands: a few lost heartbeats, not one. */
  electionTicks: 10,
  /** An accept not answered in 0.5 s is resent to those that did not answer. */
  resendTicks: 10,
  /** Slots a leader has in flight (proposed, not yet chosen): fsyncs and round trips overlap, bounded. */
  window: 32,
  /** Commands in one slot: a batch shares one slot's fsync and messages. */
  maxBatch: 512,
  /** Encoded bytes of commands in one slot (256 KiB): a slot's accept stays a modest line. */
  maxBatchBytes: 256 * 1024,
  /** Chosen values in one `entries` reply: catch-up comes in steps well under MAX_REPLICA_LINE_BYTES. */
  maxEntries: 256,
});
/** Largest line a replica takes from another replica: catch-up batches (snapshots stream in chunks well under it). */
export const MAX_REPLICA_LINE_BYTES = 64 * 1024 * 1024;
/** Characters of keys, values and results per snapshot chunk: each line stays well under 1 MiB. */
export const CHUNK_CHARS = 128 * 1024;
/** Dump parts a replica sends ahead of the client's acks. */
export const DUMP_WINDOW = 4;
/** Slowest rate at which one follower is sent our snapshot (counted from the end of the last transfer to it). */
export const SNAPSHOT_RESEND_MS = 1000;
/**
 * A new leader's extension of every lease before it may expire one (src/node/lease-clock.ts): the longest
 * election timeout at the default timing (2 x electionTicks x REPLICA_TICK_MS), twice, so that a lease's holder
 * has time to find the new leader.
 */
export const DEFAULT_LEASE_EXTENSION_MS = 2 * 2 * DEFAULT_LOG_TIMING.electionTicks * REPLICA_TICK_MS;
/** While recovering, say every this often who has not answered yet. */
export const RECOVERY_NAG_MS = 5000;
/**
 * A confirmed read whose index is not applied this long after is asked
 * again: a leader that died may have given an index for a slot it proposed
 * but no one voted for, which nothing fills until some later write comes.
 */
export const READ_REASK_MS = 1000;
/** Passed-on commands remembered after their clients left (as many as the store keeps sessions by default). */
export const MAX_PASSED_ON = 10_000;
/** Longest key, in UTF-8 bytes: keys are held in memory and on every line. */
export const MAX_KEY_BYTES = 1024;
/** Longest client id: unique per client process, short enough for every command to carry. */
export const MAX_CLIENT_CHARS = 64;
/** Client sessions a store keeps (oldest dropped first); must be the same on every replica. */
export const DEFAULT_MAX_SESSIONS = 10_000;
/** --quota-bytes: 2 GiB of keys and values, as etcd's default backend quota. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 ** 3;
/**
 * Snapshot after this many slots applied since the last one (--snapshot-every),
 * or when the log passes SNAPSHOT_LOG_BYTES, whichever comes first. Then the
 * replica keeps in memory (not on disk: a restart never reads them) a tenth
 * as many chosen slots behind the snapshot, and at most KEEP_LOG_BYTES of
 * them, so a follower that fell a little behind catches up from the log; one
 * further behind gets the snapshot. These bound a replica's memory under load: at 64
 * MiB a loaded replica's RSS swung between 125 and 230 MiB, at 16 MiB (with
 * 4 MiB kept) it peaked at 176 MiB, at 4 MiB (1 MiB kept) at 137 MiB, in 60 s
 * at 64 clients. A snapshot of the bench's 1,000 keys takes a few ms.
 */
export const SNAPSHOT_EVERY_SLOTS = 10_000;
export const SNAPSHOT_LOG_BYTES = 4 * 1024 * 1024;
export const KEEP_LOG_BYTES = 1024 * 1024;
/**
 * Each replica keeps its most recent store changes, about this many bytes of
 * them, for watches that start from a past revision (node/watch-hub.ts);
 * one that starts before them is told "compacted".
 */
export const WATCH_HISTORY_BYTES = 4 * 1024 * 1024;
/** Most records a replica appends without a sync (see LogStore.persist): bounds one group commit. */
export const MAX_UNSYNCED_RECORDS = 1024;
/** Every this many saves, a lab peer's state log is rewritten to its last record: the log stays small. */
export const CHECKPOINT_EVERY = 1000;

// --- The key-value client library ---

/** First retry pause (randomized exponential backoff): a leader election takes a few hundred ms. */
export const RETRY_BASE_MS = 50;
/** Longest retry pause: a client keeps trying about once a second. */
export const RETRY_CAP_MS = 1000;
/** The default per-attempt wait (capped by the total timeout): above an election timeout. */
export const ATTEMPT_MS = 2000;

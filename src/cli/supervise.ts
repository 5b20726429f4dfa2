// Running a daemon as this process: start it, stop it cleanly on SIGTERM,
// SIGINT or (for `paxos run`) stdin closing, exit 1 if it cannot go on, and
// turn a port that cannot be listened on into a usage error.

import { ConfigError } from '../config/errors.js';
import type { Endpoint } from '../transport/link.js';
import type { Logger } from '../util/logger.js';

export interface Supervised {
  start(): Promise<void>;
  /** Resolves once everything is closed and flushed. */
  stop(): Promise<void>;
  on(event: 'fatal', listener: (err: Error) => void): unknown;
}

export interface SuperviseOptions {
  readonly log: Logger;
  readonly listen: Endpoint;
  readonly exitOnStdinClose: boolean;
  /** Exit anyway this long after a shutdown began: never hang on the way out. */
  readonly graceMs: number;
}

/** Starts `daemon`; returns `shutdown`, for other reasons to stop (e.g. idle). */
export async function supervise(daemon: Supervised, o: SuperviseOptions): Promise<(why: string) => void> {
  let stopping = false;
  const shutdown = (why: string): void => {
    if (stopping) return;
    stopping = true;
    o.log.info(`${why}; shutting down`);
    setTimeout(() => process.exit(0), o.graceMs).unref();
    void daemon.stop().then(() => process.exit(0));
  };
  daemon.on('fatal', (err) => {
    // A peer that cannot save its state must not go on answering.
    o.log.error(`stopping: ${err.message}`);
    process.exit(1);
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  if (o.exitOnStdinClose) {
    process.stdin.on('end', () => shutdown('stdin closed'));
    process.stdin.on('error', () => shutdown('stdin closed'));
    process.stdin.resume();
  }
  try {
    await daemon.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // Only the listen call's own failures: an EACCES on the data directory is not one.
    if (
      (e.syscall === 'listen' || e.syscall === 'bind') &&
      (e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES')
    ) {
      throw new ConfigError(
        `cannot listen on ${o.listen.host}:${o.listen.port} (${e.code}); is another peer running there? use ` +
          `--port or --resolve`,
      );
    }
    throw err;
  }
  return shutdown;
}

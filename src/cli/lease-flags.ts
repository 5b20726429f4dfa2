// What `paxos lease`, `put --lease`, `lock` and `elect` share of their
// command lines: a TTL, a lease id, a name; and the exit status and line
// for an error the client library threw.

import { ConfigError } from '../config/errors.js';
import { checkKey } from '../sm/check.js';
import { MAX_LEASE_TTL } from '../sm/lease.js';
import { DefiniteError, LeaseLostError, UnknownOutcomeError } from '../client/errors.js';
import { EXIT } from './client-command.js';

/** A TTL in whole seconds, 1 to MAX_LEASE_TTL; `what` names it ("TTL", "--ttl"). */
export function ttlArg(what: string, text: string, see: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_LEASE_TTL)
    throw new ConfigError(
      `${what} must be a whole number of seconds from 1 to ${MAX_LEASE_TTL}; got ${JSON.stringify(text)}; ` +
        `see ${see} --help`,
    );
  return n;
}

/** A lease id: a whole number from 1 up, as `paxos lease grant` prints it; `what` names it ("ID", "--lease"). */
export function leaseIdArg(what: string, text: string, see: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new ConfigError(
      `${what} must be a lease id, a whole number from 1 up (as paxos lease grant prints it); got ` +
        `${JSON.stringify(text)}; see ${see} --help`,
    );
  return n;
}

/**
 * A number with a minus sign where a TTL or an id goes (`lease grant -5`)
 * would read as an unknown flag: say what is wrong with it instead.
 */
export function refuseNegative(argv: readonly string[], what: string, see: string): void {
  const end = argv.indexOf('--');
  const bad = (end < 0 ? argv : argv.slice(0, end)).find((a) => /^-\d/.test(a));
  if (bad !== undefined)
    throw new ConfigError(`${what} must be a whole number from 1 up; got ${JSON.stringify(bad)}; see ${see} --help`);
}

/** A lock's or an election's NAME: its keys are NAME/<lease id in hex>, so NAME/ must be a valid key. */
export function nameArg(verb: string, name: string | undefined): string {
  if (name === undefined || name === '')
    throw new ConfigError(
      `${verb} needs a NAME (the ${verb === 'lock' ? 'lock' : 'election'}); see paxos ${verb} --help`,
    );
  const why = checkKey(`${name}/`, 'NAME/');
  if (why !== undefined) throw new ConfigError(`${verb}: bad NAME: ${why}`);
  return name;
}

/**
 * The exit status and stderr line for an error of the client library: a
 * bad argument is a usage error (ConfigError, exit 2); a lease that is gone
 * or lost, 1; an unknown outcome, 4; no replica could take it, 5.
 */
export function failure(verb: string, err: unknown): { code: number; line: string } {
  if (err instanceof DefiniteError && err.reason === 'invalid') throw new ConfigError(`${verb}: ${err.message}`);
  if (err instanceof DefiniteError) {
    const code = err.reason === 'nolease' || err.reason === 'quota' ? EXIT.lost : EXIT.refused;
    return { code, line: `paxos ${verb}: ${err.message}\n` };
  }
  if (err instanceof LeaseLostError) return { code: EXIT.lost, line: `paxos ${verb}: ${err.message}\n` };
  if (err instanceof UnknownOutcomeError)
    return { code: EXIT.unknown, line: `paxos ${verb}: outcome unknown: ${err.message}\n` };
  throw err;
}

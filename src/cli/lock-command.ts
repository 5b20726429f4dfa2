// `paxos lock NAME -- CMD [ARGS...]`: wait for lock NAME, run CMD while
// holding it, release it when CMD exits, and exit with CMD's status. The
// lock is the client library's (KvClient.lock): a key NAME/<lease id> on a
// lease kept alive meanwhile. If the lock is lost while CMD runs (its lease
// expired or was revoked, or its key deleted), CMD gets SIGTERM (SIGKILL
// 10 s later if it is still there), and the exit status is 1.

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { ConfigError } from '../config/errors.js';
import { parseFlags } from '../config/flags.js';
import { DEFAULT_HOLD_TTL, LeaseLostError, MAX_LEASE_TTL, type Lock } from '../client/api.js';
import { EXIT } from './client-command.js';
import { CLIENT_FLAGS, TARGET_HELP_NO_TO, callSettings } from './client-flags.js';
import { cliClient, replicaTargets } from './kv-command.js';
import { failure, nameArg, refuseNegative, ttlArg } from './lease-flags.js';

/** The variable CMD finds the held key in. */
export const LOCK_KEY_ENV = 'PAXOS_LOCK_KEY';
/** How long CMD has to exit after SIGTERM, once the lock is lost, before SIGKILL. */
const KILL_AFTER_MS = 10_000;

export const LOCK_HELP = `Usage: paxos lock NAME [options] -- CMD [ARGS...]

Waits until it holds lock NAME of the replicated key-value store, runs CMD
with it held, and releases it when CMD exits; the exit status is CMD's.
Processes that lock the same NAME, on any machine, run CMD one at a time,
in the order they asked.

The lock is a key, NAME/<lease id in hex>, put with a lease of its own
(--ttl seconds) that is kept alive while CMD runs; CMD finds the key in
${LOCK_KEY_ENV}. The holder is the key with the lowest create revision (of
keys created in one slot, the lowest key); the others wait, each for the
key just before it to be deleted. If this process dies, its lease expires
after --ttl seconds and the next in line gets the lock. If the lock is lost while CMD runs (no keepalive got through for
--ttl seconds, or the lease was revoked, or the key deleted), CMD gets
SIGTERM (and SIGKILL ${KILL_AFTER_MS / 1000} s later), and the exit status is 1.

      --ttl SECS         the lock's lease TTL, whole seconds (default
                         ${DEFAULT_HOLD_TTL}, at most ${MAX_LEASE_TTL})
${TARGET_HELP_NO_TO}
      --timeout SECS     how long one call keeps trying, in all (default 10)
      --verbose          say on stderr when the lock is held and released
      --help             show this help

Ctrl-C while waiting gives up (exit 130); while CMD runs, SIGINT and
SIGTERM are passed on to it.

Exit status: CMD's (128+N if signal N ended it); 1 the lock was lost while
CMD ran; 2 usage error; 4 or 5 as for paxos put (the lock could not be
taken); 127 CMD could not be started.`;

export async function lockCommand(argv: readonly string[]): Promise<number> {
  const end = argv.indexOf('--');
  const ours = end < 0 ? argv : argv.slice(0, end);
  const cmd = end < 0 ? [] : argv.slice(end + 1);
  refuseNegative(ours, '--ttl', 'paxos lock');
  const { values, positionals } = parseFlags(
    ours,
    { ...CLIENT_FLAGS, ttl: { type: 'string' }, verbose: { type: 'boolean' } },
    true,
  );
  if (values.help === true) {
    process.stdout.write(`${LOCK_HELP}\n`);
    return EXIT.ok;
  }
  const name = nameArg('lock', positionals[0]);
  if (positionals.length > 1)
    throw new ConfigError(
      `lock takes one NAME, then -- and the command (got ${JSON.stringify(positionals[1])} before --); ` +
        'e.g. paxos lock NAME -- CMD ARGS',
    );
  if (cmd.length === 0 || cmd[0] === '')
    throw new ConfigError('lock needs a command to run with the lock held: paxos lock NAME -- CMD [ARGS...]');
  for (const f of ['from', 'to', 'value-file', 'json'] as const)
    if (values[f] !== undefined) throw new ConfigError(`lock takes no --${f}; see paxos lock --help`);
  const ttl = values.ttl === undefined ? DEFAULT_HOLD_TTL : ttlArg('--ttl', values.ttl, 'paxos lock');

  const { targets } = replicaTargets('lock', values);
  const { timeoutMs, secret, tls } = callSettings('lock', values);
  const client = cliClient(targets, { timeoutMs, secret, tls, concurrency: 2 });
  const say = (line: string): void => {
    if (values.verbose === true) process.stderr.write(`paxos lock: ${line}\n`);
  };
  const waiting = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const giveUp = (sig: NodeJS.Signals): void => {
    interrupted = sig;
    waiting.abort();
  };
  process.once('SIGINT', giveUp);
  process.once('SIGTERM', giveUp);
  try {
    let lock: Lock;
    try {
      say(`waiting for ${name}`);
      lock = await client.lock(name, { ttl, signal: waiting.signal });
    } catch (err) {
      if (interrupted !== undefined) {
        process.stderr.write(`paxos lock: gave up waiting for ${name} (${interrupted})\n`);
        return 128 + constants.signals[interrupted];
      }
      const { code, line } = failure('lock', err);
      process.stderr.write(line);
      return code;
    } finally {
      process.off('SIGINT', giveUp);
      process.off('SIGTERM', giveUp);
    }
    say(`holding ${name} (key ${lock.key}, lease ${lock.lease.id}); running ${cmd.join(' ')}`);
    const code = await runHolding(lock, name, cmd);
    const lost = lock.signal.aborted;
    try {
      await lock.release();
      if (!lost) say(`released ${name}`);
    } catch (err) {
      if (!lost)
        process.stderr.write(
          `paxos lock: could not release ${name} (${(err as Error).message}); its lease expires in ${ttl} s\n`,
        );
    }
    return code;
  } finally {
    await client.close();
  }
}

/** Run CMD with the lock held: its exit status, or 1 if the lock was lost meanwhile, 127 if it never started. */
function runHolding(lock: Lock, name: string, cmd: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd[0]!, cmd.slice(1), {
      stdio: 'inherit',
      env: { ...process.env, [LOCK_KEY_ENV]: lock.key },
    });
    let lost: LeaseLostError | undefined;
    let killer: NodeJS.Timeout | undefined;
    const pass = (sig: NodeJS.Signals): void => void child.kill(sig);
    const onLost = (): void => {
      lost = lock.signal.reason as LeaseLostError;
      process.stderr.write(`paxos lock: lost the lock ${name} while ${cmd[0]} ran: ${lost.message}; sent it SIGTERM\n`);
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    };
    lock.signal.addEventListener('abort', onLost, { once: true });
    process.on('SIGINT', pass);
    process.on('SIGTERM', pass);
    const done = (code: number): void => {
      clearTimeout(killer);
      lock.signal.removeEventListener('abort', onLost);
      process.off('SIGINT', pass);
      process.off('SIGTERM', pass);
      resolve(code);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      process.stderr.write(`paxos lock: cannot run ${cmd[0]}: ${err.code ?? err.message}\n`);
      done(127);
    });
    child.once('exit', (code, signal) => {
      if (lost !== undefined) return done(EXIT.lost);
      done(code ?? 128 + (signal === null ? 0 : constants.signals[signal]));
    });
  });
}

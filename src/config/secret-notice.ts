// The "no shared secret" warning, said once per run: a peer started alone
// says it itself; `paxos run` says it once for all its peers and sets
// PAXOS_NO_SECRET_WARNING=1 in theirs, so five peers do not repeat it.

export const NO_SECRET_WARNING = 'no shared secret (--secret-file or PAXOS_SECRET): connections are not authenticated';

/** Set to 1 in a peer's environment by a runner that gave the warning for it. */
export const NO_SECRET_WARNING_ENV = 'PAXOS_NO_SECRET_WARNING';

/** Whether a peer started with these arguments and environment has a secret (or will refuse a bad one). */
export function namesSecret(args: readonly string[], env: NodeJS.ProcessEnv): boolean {
  return env['PAXOS_SECRET'] !== undefined || args.some((a) => a === '--secret-file' || a.startsWith('--secret-file='));
}

/**
 * What a local runner (`paxos run`, on loopback addresses) adds to a peer's
 * arguments: --insecure when it names no secret, so a replica runs open there
 * as lab peers do, with the one warning above. Anywhere else a replica with
 * no secret refuses to start.
 */
export function openOnLoopback(args: readonly string[], env: NodeJS.ProcessEnv): string[] {
  // TLS (--cert, with --ca and --key) is not open either.
  const tls = args.some((a) => a === '--cert' || a.startsWith('--cert='));
  return namesSecret(args, env) || tls || args.includes('--insecure') ? [] : ['--insecure'];
}

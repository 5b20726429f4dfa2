#!/usr/bin/env node
// `paxos`: the peer (flags only, as compose's `command:` passes them) or a
// subcommand such as `paxos run DIR`.

import { ConfigError } from '../config/errors.js';

// libuv's thread pool runs both name lookups and disk writes (fsync). Four
// threads, the default, can all be taken by lookups of names Docker's DNS
// cannot answer, leaving a save waiting; links keep one lookup each in
// flight, and a bigger pool keeps room for the disk. Read when the pool
// starts, which is after this line.
process.env['UV_THREADPOOL_SIZE'] ??= '16';

// Subcommands load lazily: a peer starts faster without the runner's YAML parser.
async function main(argv: string[]): Promise<number | undefined> {
  if (argv[0] === 'run') return (await import('./run-command.js')).runCommand(argv.slice(1));
  if (argv[0] === 'check') return (await import('./check-command.js')).checkCommand(argv.slice(1));
  if (argv[0] === 'lincheck') return (await import('./lincheck-command.js')).lincheckCommand(argv.slice(1));
  if (argv[0] === 'viz') return (await import('./viz-command.js')).vizCommand(argv.slice(1));
  if (argv[0] === 'txn') return (await import('./txn-command.js')).txnCommand(argv.slice(1));
  if (argv[0] === 'snapshot') return (await import('./snapshot-command.js')).snapshotCommand(argv.slice(1));
  if (argv[0] === 'watch') return (await import('./watch-command.js')).watchCommand(argv.slice(1));
  if (argv[0] === 'lease') return (await import('./lease-command.js')).leaseCommand(argv.slice(1));
  if (argv[0] === 'lock') return (await import('./lock-command.js')).lockCommand(argv.slice(1));
  if (argv[0] === 'member') return (await import('./member-command.js')).memberCommand(argv.slice(1));
  if (argv[0] === 'status') return (await import('./status-command.js')).statusCommand(argv.slice(1));
  if (argv[0] === 'elect') return (await import('./elect-command.js')).electCommand(argv.slice(1));
  if (argv[0] === 'put' || argv[0] === 'del' || argv[0] === 'cas' || argv[0] === 'dump')
    return (await import('./kv-command.js')).kvCommand(argv[0], argv.slice(1));
  // `get KEY` is the key-value store's; `get --from HOST` (no KEY) the lab's.
  if (argv[0] === 'get') {
    const kv = await import('./kv-command.js');
    if (kv.isKvGet(argv.slice(1))) return kv.kvCommand('get', argv.slice(1));
  }
  if (argv[0] === 'submit' || argv[0] === 'get')
    return (await import('./client-command.js')).clientCommand(argv[0], argv.slice(1));
  await (await import('./peer-command.js')).runPeer(argv);
  return undefined;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`paxos: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof Error && err.name === 'StateError') {
      process.stderr.write(`paxos: ${err.message}\n`);
      process.exit(1);
    }
    // A system call that failed on a file or socket is the machine's doing,
    // not a bug: its message names the call and the path; a stack trace adds nothing.
    const sys = err as NodeJS.ErrnoException;
    if (err instanceof Error && typeof sys.code === 'string' && typeof sys.syscall === 'string') {
      // Only a call on a path is about the data directory (a failed name lookup is not).
      const hint = typeof sys.path === 'string' ? "; check that path's permissions, free space and --data-dir" : '';
      process.stderr.write(`paxos: ${err.message.split('\n')[0]}${hint}\n`);
      process.exit(1);
    }
    process.stderr.write(`paxos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

// `paxos run DIR`: a testcase without Docker.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config/errors.js';
import { colorWanted } from '../runner/pretty.js';
import { DEFAULT_RUN, runTestcase } from '../runner/run.js';
import { DEFAULT_UI_PORT, runLive } from '../ui/live.js';
import { parseFlags, takeOptionalPort } from '../config/flags.js';

export const RUN_HELP = `Usage: paxos run DIR|COMPOSE_FILE [options]

Runs the testcase in DIR without Docker. Reads DIR/docker-compose.yml (or
compose.yml, or the compose file given) as is
(services, hostnames, command: flags, and the hostsfile mounted in volumes:),
starts each service as a local peer process on its own loopback address with
port 8080 (127.A.B.1, .2, ...; distinct ports on 127.0.0.1 where that is not
possible), and prints what the peers print as they print it. It also
prints (on stderr) the flags a client needs to reach the peers.

On a terminal each peer's log line is shown as one readable event, names
aligned, coloured by message type (no colour with NO_COLOR set):
  peer1 sent     prepare      n=1          (what peer1 printed)
  peer1 → peer2  prepare      n=1          (peer2 received it from peer1)
  peer3 chose    n=1 "X"
When stdout is not a terminal, or with --json, the lines are the peers' own
JSON, prefixed with the peer's name as \`docker compose up\` does
(peer1 | {"peer_id":1,...}): the form goldens and \`paxos check\` read.

The run ends when every proposer and learner has printed chose and every
message sent has been received, then prints one line saying what each peer
chose. If DIR/expected/ exists, each peer's lines are compared with
expected/<peer>.log (as a multiset, plus the orderings the protocol
guarantees), and every mismatch is named.

  --timeout SECS     fail if nothing is decided in this long (default ${DEFAULT_RUN.timeoutMs / 1000})
  --drain SECS       after deciding, wait at most this long for messages
                     still in flight (default ${DEFAULT_RUN.drainMs / 1000})
  --ports            put every peer on 127.0.0.1 with its own port
  --data-root DIR    keep each peer's durable state in DIR/<hostname> and
                     leave it there, so a second run resumes from it
                     (default: fresh state in a temporary directory,
                     removed when the run ends)
  --keep-running     do not stop at the decision; run until Ctrl-C, so
                     clients (paxos submit, paxos get) can use the peers
  --no-compare       do not compare with DIR/expected/
  --quiet            print only the summary and any mismatches
  --json             print the peers' JSON log lines, even on a terminal
  --pretty           print readable events, even when stdout is not a
                     terminal (colour only on a terminal, or with FORCE_COLOR)
  --log-level LEVEL  passed to every peer (error, warn, info, debug)
  --ui [PORT]        also serve a live web page (default port ${DEFAULT_UI_PORT}, on
                     127.0.0.1; 0 picks a free port): the message sequence
                     chart as it grows, each peer's state, and controls to
                     kill -9 / restart, pause / resume a peer, cut links or
                     isolate a peer, and submit (lab) or put/get/del/cas
                     (replicated log). Every peer-to-peer link goes through
                     a fault proxy. Runs until Ctrl-C (exit status 0), with
                     no comparison with expected/ and no summary line;
                     --timeout, --drain, --no-compare and --keep-running
                     do not apply. A port in use is a usage error (2).
  --bind ADDR        with --ui: serve the page on ADDR instead of 127.0.0.1.
                     Its controls can kill processes: anyone who can reach
                     ADDR can use them (a shared secret guards them)
  --secret-file FILE the cluster's shared secret, passed to every peer; with
                     --ui the controls require it (or PAXOS_SECRET)
  --help             show this help

Exit status: 0 decided on one value (and matched the goldens, if any), or
a --keep-running or --ui run ended by Ctrl-C; 1 timed out, a peer failed,
peers chose different values, or a mismatch; 2 usage error; 130 interrupted
(a run that stops at its decision).

A second run on the same --data-root resumes: peers that remember the
decision print chose for it at once. The transcript checker knows which
peers resumed and what they remembered; such a run is not compared with
expected/.`;

export async function runCommand(argvIn: readonly string[]): Promise<number> {
  // --ui takes an optional port: `--ui`, `--ui 8000`, `--ui=8000`.
  const argv = [...argvIn];
  const uiPort = takeOptionalPort(argv, '--ui', DEFAULT_UI_PORT);
  const { values, positionals } = parseFlags(
    argv,
    {
      bind: { type: 'string' },
      'secret-file': { type: 'string' },
      timeout: { type: 'string' },
      drain: { type: 'string' },
      ports: { type: 'boolean' },
      'data-root': { type: 'string' },
      'keep-running': { type: 'boolean' },
      'no-compare': { type: 'boolean' },
      quiet: { type: 'boolean' },
      json: { type: 'boolean' },
      pretty: { type: 'boolean' },
      'log-level': { type: 'string' },
      help: { type: 'boolean' },
    },
    true,
  );
  if (values.help === true) {
    process.stdout.write(`${RUN_HELP}\n`);
    return 0;
  }
  if (values.json === true && values.pretty === true)
    throw new ConfigError('--json and --pretty do not go together; pick one (see --help)');
  if (positionals.length !== 1) throw new ConfigError('run expects one testcase directory, e.g. paxos run testcases/1');
  const dir = positionals[0]!;
  const quiet = values.quiet === true;
  // Readable events on a terminal (or when asked); the peers' JSON otherwise.
  const isTTY = process.stdout.isTTY === true;
  const pretty =
    values.pretty === true || (values.json !== true && isTTY) ? { color: colorWanted(process.env, isTTY) } : undefined;

  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  if (values.bind !== undefined && uiPort === undefined)
    throw new ConfigError('--bind applies to the live page only; add --ui');
  const peerArgs = values['log-level'] === undefined ? [] : ['--log-level', values['log-level']];
  if (uiPort !== undefined) {
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    let code: number;
    try {
      code = await runLive(dir, {
        bind: values.bind ?? '127.0.0.1',
        port: uiPort,
        addressMode: values.ports === true ? 'ports' : 'auto',
        dataRoot: values['data-root'],
        peerArgs,
        secretFile: values['secret-file'],
        quietPeers: quiet,
        pretty,
        echo: {
          out: quiet ? () => undefined : (l) => process.stdout.write(`${l}\n`),
          err: (l) => process.stderr.write(`${l}\n`),
        },
        signal: abort.signal,
      });
    } finally {
      if (!abort.signal.aborted) {
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigint);
      }
    }
    return abort.signal.aborted ? exitKeepingListeners(code) : code;
  }
  // (runLive above passes --secret-file on to the peers itself.)
  if (values['secret-file'] !== undefined) peerArgs.push('--secret-file', values['secret-file']);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const result = await runTestcase(dir, {
    timeoutMs: seconds('--timeout', values.timeout, DEFAULT_RUN.timeoutMs),
    drainMs: seconds('--drain', values.drain, DEFAULT_RUN.drainMs),
    addressMode: values.ports === true ? 'ports' : 'auto',
    dataRoot: values['data-root'],
    keepRunning: values['keep-running'] === true,
    compare: values['no-compare'] !== true,
    peerArgs,
    pretty,
    echo: quiet
      ? undefined
      : { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) },
    signal: abort.signal,
  });
  // After a Ctrl-C, keep ignoring the copies of it still on their way (npm
  // forwards the terminal's signal, which reached us too), so none of them
  // can kill this process with 130 as it reports, or as it exits: see
  // exitKeepingListeners.
  if (!abort.signal.aborted) {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }

  if (result.outcome === 'decided' && result.inFlightAtEnd > 0) {
    process.stderr.write(
      `paxos run: note: ${result.inFlightAtEnd} messages were still in flight when the run ended (is a peer down?)\n`,
    );
  }
  if (result.outcome === 'stopped') {
    const waiting = result.peers.filter((p) => p.mustChoose && p.chose.length === 0).map((p) => p.service.label);
    process.stderr.write(`paxos run: stopped by Ctrl-C; ${waiting.join(', ')} had not chosen yet\n`);
  }
  if (result.resumed.length > 0) {
    const goldens =
      result.outcome === 'decided' && values['no-compare'] !== true && existsSync(path.join(dir, 'expected'))
        ? `; not compared with ${dir}/expected, which shows a run from empty state`
        : '';
    process.stderr.write(
      `paxos run: note: ${result.resumed.join(', ')} resumed from the state an earlier run ` +
        `left in ${values['data-root']}: a chose they print may be a recollection${goldens}\n`,
    );
  }
  process.stdout.write(`${result.summary}\n`);
  for (const v of result.violations)
    process.stdout.write(`check: ${v.peer}${v.line === undefined ? '' : ` line ${v.line}`}: ${v.message}\n`);
  if (result.mismatches !== null) {
    for (const m of result.mismatches) process.stdout.write(`mismatch: ${m.peer}: ${m.message}\n`);
    if (result.mismatches.length === 0) process.stdout.write(`expected: every peer matches ${dir}/expected\n`);
  }
  if (result.failure !== '') process.stderr.write(`paxos run: FAILED: ${result.failure}\n`);
  const code = result.outcome === 'interrupted' ? 130 : result.ok ? 0 : 1;
  return abort.signal.aborted ? exitKeepingListeners(code) : code;
}

/**
 * Ends the process with `code` once stdout and stderr are flushed, for a run
 * that a signal ended. Left to end on its own (the event loop empty), Node
 * closes its signal handles on the way out, which puts back the default
 * action while the process is still alive, for longer on a busy machine; a
 * late copy of the Ctrl-C then kills it by SIGINT after it has reported and
 * returned 0. npm exec forwards the terminal's SIGINT to its child, late
 * when npm is slow to run, and when its child dies of a signal npm sends
 * that signal to itself: `npx paxos run ... --keep-running` ended by SIGINT.
 * process.exit leaves the listeners in place to the end.
 */
async function exitKeepingListeners(code: number): Promise<never> {
  await Promise.all(
    [process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => s.write('', () => resolve()))),
  );
  process.exit(code);
}

function seconds(flag: string, text: string | undefined, fallbackMs: number): number {
  if (text === undefined) return fallbackMs;
  const x = Number(text);
  if (text.trim() === '' || !Number.isFinite(x) || x <= 0)
    throw new ConfigError(`${flag} expects seconds > 0, got ${JSON.stringify(text)}`);
  return x * 1000;
}

// `paxos check FILE... [--hostsfile F]`: check a run from its transcript.

import { ConfigError } from '../config/errors.js';
import { checkTranscripts, type Transcript, type Violation } from '../transcript/check.js';
import { checkLogTranscripts, hasSlot } from '../transcript/log-check.js';
import type { PeerLines } from '../transcript/read.js';
import { parseFlags } from '../config/flags.js';
import { readTranscriptInput } from './transcript-input.js';

export const CHECK_HELP = `Usage: paxos check FILE... [--hostsfile F]

Checks a run from its transcript, with no goldens: what must hold in every
run of Paxos, whatever the races, retries or crashes.

FILE is the merged output of \`docker compose up\` or \`paxos run\` (lines like
\`peer3  | {...}\`; ANSI colours and other lines are fine), or one file per
peer (peer3.log ...), or a directory of such files (e.g. a testcase's
expected/).

It checks that:
  - every log line is in the exact format (keys, order, compact JSON);
  - each peer's lines keep the orderings the protocol guarantees (an ack
    after its request, accept after a quorum of promises, chose after its
    quorum or a received chose, sent chose after the peer's own chose);
  - one value is chosen, by every chose line, and some proposer sent it in
    an accept;
  - every chose had a quorum of matching accept_acks at its proposer;
  - each acceptor's accept_acks (its promise) never go down;
  - each proposer adopted the highest accepted value its promises reported.

  --hostsfile F   the run's hostsfile (default: a file named hostsfile next
                  to FILE, or in its parent directory, else ./hostsfile);
                  which one was used, and why, is printed on stderr. Lines
                  labelled with a container name (kv3-peer1) are matched to
                  hosts through the docker-compose.yml beside the hostsfile,
                  else by the name's -HOST or _HOST ending
  --help          show this help

For a replicated-log run (a hostsfile of \`peerN:replica\` lines, or log
lines with a \`slot\` key) it checks instead that every line is in the exact
format (with \`slot\` last), that no slot is chosen with two values (across
replicas or within one), and that every accept for one (slot, ballot) carries
one value; a received message with no matching send in its sender's
transcript is printed as a warning and does not fail the check.

Every problem is printed as FILE:LINE: peer: what is wrong.
Exit status: 0 all checks pass, 1 a check failed, 2 usage error (including
an input with no peer lines).`;

export function checkCommand(argv: readonly string[]): number {
  const { values, positionals } = parseFlags(argv, { hostsfile: { type: 'string' }, help: { type: 'boolean' } }, true);
  if (values.help === true) {
    process.stdout.write(`${CHECK_HELP}\n`);
    return 0;
  }
  if (positionals.length === 0)
    throw new ConfigError(
      'check expects a transcript FILE (or per-peer files, or a directory); see paxos check --help',
    );
  const { hostsfile, cluster, peers, hosts } = readTranscriptInput('check', positionals, values.hostsfile);

  const problems: string[] = [];
  const transcripts = peers.map((p, i) => {
    const host = hosts[i];
    if (host === undefined) problems.push(`${p.at[0] ?? p.label}: ${p.label}: not a host in ${hostsfile.file}`);
    return { label: p.label, id: host === undefined ? undefined : cluster.byHost(host)?.id, lines: p.lines };
  });
  if (cluster.mode === 'log' || peers.some((p) => p.lines.some(hasSlot))) return checkLog(peers, transcripts, problems);
  for (const v of checkTranscripts(transcripts, cluster)) {
    const where = v.line === undefined ? v.peer : (peers.find((p) => p.label === v.peer)?.at[v.line - 1] ?? v.peer);
    problems.push(`${where}: ${v.peer}: ${v.message}`);
  }
  for (const p of problems) process.stdout.write(`${p}\n`);
  const lines = peers.reduce((n, p) => n + p.lines.length, 0);
  const chosen = new Set(
    peers.flatMap((p) =>
      p.lines
        .filter((l) => l.includes('"action":"chose"'))
        .map((l) => (JSON.parse(l) as { message_value: string }).message_value),
    ),
  );
  process.stdout.write(
    problems.length === 0
      ? `check: ok: ${peers.length} peers, ${lines} lines; ` +
          (chosen.size === 0
            ? 'nothing chosen yet'
            : `chosen: ${[...chosen].map((v) => JSON.stringify(v)).join(', ')}`) +
          '\n'
      : `check: ${problems.length} problems in ${peers.length} peers, ${lines} lines\n`,
  );
  return problems.length === 0 ? 0 : 1;
}

function checkLog(peers: readonly PeerLines[], transcripts: readonly Transcript[], problems: string[]): number {
  const where = (v: Violation): string =>
    v.line === undefined ? v.peer : (peers.find((p) => p.label === v.peer)?.at[v.line - 1] ?? v.peer);
  const result = checkLogTranscripts(transcripts);
  for (const v of result.violations) problems.push(`${where(v)}: ${v.peer}: ${v.message}`);
  for (const p of problems) process.stdout.write(`${p}\n`);
  for (const w of result.warnings) process.stdout.write(`${where(w)}: ${w.peer}: warning: ${w.message}\n`);
  const lines = peers.reduce((n, p) => n + p.lines.length, 0);
  const warned = result.warnings.length === 0 ? '' : `, ${result.warnings.length} warnings`;
  process.stdout.write(
    problems.length === 0
      ? `check: ok: log mode: ${peers.length} replicas, ${lines} lines; ${result.chosen.size} slots chosen${warned}\n`
      : `check: log mode: ${problems.length} problems in ${peers.length} replicas, ${lines} lines; ` +
          `${result.chosen.size} slots chosen${warned}\n`,
  );
  return problems.length === 0 ? 0 : 1;
}

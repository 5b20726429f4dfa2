// What `paxos check` and `paxos viz` read: the transcript, the hostsfile it
// is checked against (and why that one), and which host each of its labels
// stands for. Both commands say on stderr which hostsfile they used.

import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config/errors.js';
import { loadHostsfile, type Cluster } from '../config/hostsfile.js';
import { loadCompose, proposalOf, type Service } from '../runner/compose.js';
import { hostOfLabel, readTranscripts, type PeerLines } from '../transcript/read.js';

export interface HostsfileChoice {
  readonly file: string;
  /** Why this one: "given with --hostsfile", "found beside X", "the default ./hostsfile". */
  readonly why: string;
}

export interface TranscriptInput {
  readonly hostsfile: HostsfileChoice;
  readonly cluster: Cluster;
  readonly peers: readonly PeerLines[];
  /** The hostsfile host each peer's label stands for (by its index in peers), or undefined. */
  readonly hosts: ReadonlyArray<string | undefined>;
  /** Each proposer's own value (-v) and wait (-t), by host, from the compose file beside the hostsfile. */
  readonly proposes: ReadonlyMap<string, { readonly value: string; readonly after?: string }>;
}

/** A file named hostsfile next to `target` or in its parent directory. */
export function findHostsfile(target: string): string | undefined {
  const dir = statSync(target).isDirectory() ? path.resolve(target) : path.dirname(path.resolve(target));
  return [path.join(dir, 'hostsfile'), path.join(path.dirname(dir), 'hostsfile')].find((f) => existsSync(f));
}

/** The hostsfile given, else one beside the first input, else ./hostsfile. */
export function chooseHostsfile(
  given: string | undefined,
  inputs: readonly string[],
  cwd = process.cwd(),
): HostsfileChoice {
  if (given !== undefined) return { file: given, why: 'given with --hostsfile' };
  const first = inputs[0]!;
  const beside = findHostsfile(first);
  const fallback = path.join(cwd, 'hostsfile');
  if (beside !== undefined) {
    // The top level's hostsfile is a copy of one testcase's: say so, as a
    // transcript of another testcase saved there would be checked against it.
    const why = beside === fallback ? `found beside ${first}; it is the default ./hostsfile` : `found beside ${first}`;
    return { file: shown(beside, cwd), why };
  }
  if (existsSync(fallback)) return { file: shown(fallback, cwd), why: `the default ./hostsfile: none beside ${first}` };
  throw new ConfigError(`no hostsfile next to ${first}, nor in ./; pass --hostsfile F`);
}

/**
 * Reads the transcript and its hostsfile, and maps labels to hosts: through
 * the compose file beside the hostsfile (a container_name or service name ->
 * its hostname) when one names that hostsfile, else by hostOfLabel's rule.
 * An input with no peer lines is a usage error.
 */
export function readTranscriptInput(
  command: string,
  inputs: readonly string[],
  given: string | undefined,
): TranscriptInput {
  for (const p of inputs) if (!existsSync(p)) throw new ConfigError(`${p}: no such file or directory`);
  const hostsfile = chooseHostsfile(given, inputs);
  process.stderr.write(`${command}: hostsfile ${hostsfile.file} (${hostsfile.why})\n`);
  const cluster = loadHostsfile(hostsfile.file);
  const peers = readTranscripts(inputs);
  // A file of merged output with no `peer | {...}` lines reads back as one
  // per-peer file of other text: that is no transcript either.
  if (!peers.some((p) => p.lines.some((l) => l.startsWith('{')))) throw new ConfigError(noPeerLines(inputs));
  const names = cluster.hosts.map((h) => h.host);
  const services = composeServices(hostsfile.file, names);
  const viaCompose = new Map<string, string>();
  for (const s of services) {
    viaCompose.set(s.label, s.hostname);
    viaCompose.set(s.name, s.hostname);
  }
  const hosts = peers.map((p) => viaCompose.get(p.label) ?? hostOfLabel(p.label, names));
  return { hostsfile, cluster, peers, hosts, proposes: proposerValues(services) };
}

function noPeerLines(inputs: readonly string[]): string {
  const [only] = inputs;
  if (inputs.length === 1 && only !== undefined && statSync(only).isDirectory()) {
    return (
      `${only}: no peer log lines: no non-empty *.log, *.txt or *.jsonl files in this directory (save a run ` +
      `with paxos run DIR > run.txt, or point at a testcase's expected/)`
    );
  }
  return `${inputs.join(' ')}: no peer log lines (lines like "peer3 | {...}", or per-peer files such as peer3.log)`;
}

/**
 * The services of the compose file beside the hostsfile that run a peer of
 * it: its container_name, service name and compose v2 container names
 * (PROJECT-SERVICE-N) stand for its hostname, and its arguments give a
 * proposer's value. Only services whose -h names this hostsfile count; a
 * compose file that cannot be read adds nothing.
 */
function composeServices(hostsfile: string, hosts: readonly string[]): Service[] {
  let services: readonly Service[];
  try {
    services = loadCompose(path.dirname(path.resolve(hostsfile))).services;
  } catch (err) {
    if (err instanceof ConfigError) return [];
    throw err;
  }
  const known = new Set(hosts);
  return services.filter((s) => path.resolve(s.hostsfile) === path.resolve(hostsfile) && known.has(s.hostname));
}

/** host -> the value its peer proposes (-v) and how long it waits first (-t), for each service started with -v. */
function proposerValues(services: readonly Service[]): Map<string, { value: string; after?: string }> {
  const out = new Map<string, { value: string; after?: string }>();
  for (const s of services) {
    const p = proposalOf(s);
    if (p === undefined) continue;
    out.set(
      s.hostname,
      p.after !== undefined && Number(p.after) > 0 ? { value: p.value, after: p.after } : { value: p.value },
    );
  }
  return out;
}

/** What a chart is titled: "testcase 2" for testcases/2/expected, else the input's name. */
export function titleOf(inputs: readonly string[]): string {
  const dirs = new Set(inputs.map((p) => path.dirname(path.resolve(p))));
  if (inputs.length > 1 && dirs.size === 1) {
    return `${titleOf([[...dirs][0]!])}: ${inputs.map((p) => path.basename(p)).join(', ')}`;
  }
  return inputs.map(titleOfOne).join(' ');
}

function titleOfOne(input: string): string {
  const parts = path.resolve(input).split(path.sep);
  const at = parts.lastIndexOf('testcases');
  const name = at >= 0 ? parts[at + 1] : undefined;
  if (name === undefined || name === '') return path.basename(path.resolve(input));
  const rest = parts.slice(at + 2);
  return rest.length === 0 || (rest.length === 1 && rest[0] === 'expected')
    ? `testcase ${name}`
    : `testcase ${name}: ${rest.join('/')}`;
}

function shown(file: string, cwd: string): string {
  const rel = path.relative(cwd, file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel === 'hostsfile' ? './hostsfile' : rel;
}

// Reads a testcase's docker-compose.yml, unchanged, into what a local run
// needs: each service's name, hostname and peer arguments, with container
// file paths (the -h hostsfile) mapped back to host files through the
// service's `volumes:` mounts.

import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseShell } from 'shell-quote';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../config/errors.js';

/** Our image's WORKDIR: where a relative path in `command:` starts. */
export const IMAGE_WORKDIR = '/app';

/** Peer flags whose argument is a file path inside the container. */
const FILE_FLAGS = new Set(['-h', '--hostsfile']);

export interface Mount {
  readonly source: string; // absolute host path
  readonly target: string; // absolute container path
}

export interface Service {
  readonly name: string;
  /** What the transcript prefixes lines with: container_name, else the service name. */
  readonly label: string;
  readonly hostname: string;
  /** Peer arguments with file paths already mapped to the host. */
  readonly args: readonly string[];
  /** The host path of the hostsfile the command names. */
  readonly hostsfile: string;
}

export interface ComposeProject {
  readonly file: string;
  readonly dir: string;
  readonly services: readonly Service[];
}

const COMPOSE_NAMES = ['docker-compose.yml', 'docker-compose.yaml', 'compose.yml', 'compose.yaml'];

/** `target` is a testcase directory or a compose file. */
export function loadCompose(target: string): ComposeProject {
  let file = target;
  let isDir: boolean;
  try {
    isDir = statSync(target).isDirectory();
  } catch {
    throw new ConfigError(`${target}: no such testcase directory or compose file`);
  }
  if (isDir) {
    const found = COMPOSE_NAMES.map((n) => path.join(target, n)).find((f) => exists(f));
    if (found === undefined) throw new ConfigError(`${target}: no docker-compose.yml in this directory`);
    file = found;
  }
  const dir = path.dirname(path.resolve(file));
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  const services = record(record(doc, file)['services'], `${file}: services`);
  const names = Object.keys(services);
  if (names.length === 0) throw new ConfigError(`${file}: no services`);
  return {
    file,
    dir,
    services: names.map((name) => readService(name, record(services[name], `${file}: service ${name}`), file, dir)),
  };
}

function readService(name: string, s: Record<string, unknown>, file: string, dir: string): Service {
  const at = `${file}: service ${name}`;
  const hostname = optionalString(s['hostname'], `${at}: hostname`) ?? name;
  const label = optionalString(s['container_name'], `${at}: container_name`) ?? name;
  const workdir = optionalString(s['working_dir'], `${at}: working_dir`) ?? IMAGE_WORKDIR;
  const mounts = readMounts(s['volumes'], at, dir);
  const command = readCommand(s['command'], at);

  let hostsfile: string | undefined;
  const args: string[] = [];
  for (let i = 0; i < command.length; i++) {
    const arg = command[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (!FILE_FLAGS.has(flag)) {
      args.push(arg);
      continue;
    }
    const inline = flag !== arg;
    const containerPath = inline ? arg.slice(eq + 1) : command[++i];
    if (containerPath === undefined) throw new ConfigError(`${at}: ${flag} in command: has no file after it`);
    const hostPath = toHostPath(containerPath, workdir, mounts, dir, `${at}: ${flag} ${containerPath}`);
    if (flag === '-h' || flag === '--hostsfile') hostsfile = hostPath;
    args.push(flag, hostPath);
  }
  if (hostsfile === undefined) throw new ConfigError(`${at}: command: has no -h HOSTSFILE`);
  return { name, label, hostname, args, hostsfile };
}

function readCommand(c: unknown, at: string): string[] {
  if (c === undefined || c === null) throw new ConfigError(`${at}: no command: (the peer needs at least -h HOSTSFILE)`);
  if (Array.isArray(c)) return c.map((x) => String(x));
  if (typeof c !== 'string') throw new ConfigError(`${at}: command: must be a string or a list`);
  return parseShell(c).map((tok) => {
    if (typeof tok === 'string') return tok;
    // Compose splits like a shell but expands nothing: `*` stays a `*`.
    if ('op' in tok && tok.op === 'glob') return tok.pattern;
    throw new ConfigError(`${at}: command: has shell syntax ${JSON.stringify(tok)}; only plain arguments work`);
  });
}

function readMounts(v: unknown, at: string, dir: string): Mount[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(`${at}: volumes: must be a list`);
  const mounts: Mount[] = [];
  for (const m of v) {
    let source: string | undefined;
    let target: string | undefined;
    if (typeof m === 'string') {
      const parts = m.split(':');
      if (parts.length >= 2) [source, target] = parts;
    } else if (typeof m === 'object' && m !== null) {
      const o = m as Record<string, unknown>;
      if (o['type'] === undefined || o['type'] === 'bind') {
        source = typeof o['source'] === 'string' ? o['source'] : undefined;
        target = typeof o['target'] === 'string' ? o['target'] : undefined;
      }
    }
    // Named volumes and anonymous mounts have no host file behind them.
    if (source === undefined || target === undefined || !(source.startsWith('.') || source.startsWith('/'))) continue;
    mounts.push({ source: path.resolve(dir, source), target: path.posix.normalize(target) });
  }
  return mounts;
}

/** Map a container path to the host through the longest matching mount. */
export function toHostPath(
  containerPath: string,
  workdir: string,
  mounts: readonly Mount[],
  dir: string,
  at: string,
): string {
  const abs = path.posix.resolve(workdir, containerPath);
  let best: Mount | undefined;
  for (const m of mounts) {
    const inside = abs === m.target || abs.startsWith(m.target.endsWith('/') ? m.target : `${m.target}/`);
    if (inside && (best === undefined || m.target.length > best.target.length)) best = m;
  }
  if (best !== undefined) return path.join(best.source, path.posix.relative(best.target, abs));
  // A relative path with no mount: the file may be baked into the image;
  // locally, look next to the compose file.
  if (!path.posix.isAbsolute(containerPath)) return path.resolve(dir, containerPath);
  throw new ConfigError(`${at} is under no volumes: mount; mount the file, e.g. ./hostsfile:${abs}:ro`);
}

function record(v: unknown, at: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${at}: expected a mapping`);
  return v as Record<string, unknown>;
}

function optionalString(v: unknown, at: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ConfigError(`${at}: expected a string`);
  return v;
}

function exists(f: string): boolean {
  try {
    return statSync(f).isFile();
  } catch {
    return false;
  }
}

/** The value a service's peer proposes (-v), and the -t it waits first (as written), if it is given a value. */
export function proposalOf(s: Service): { readonly value: string; readonly after: string | undefined } | undefined {
  const { values } = parseArgs({
    args: [...s.args],
    options: {
      'start-after': { type: 'string', short: 't' },
      value: { type: 'string', short: 'v' },
      hostsfile: { type: 'string', short: 'h' },
    },
    strict: false,
    allowPositionals: true,
  });
  const after = values['start-after'];
  return typeof values.value === 'string'
    ? { value: values.value, after: typeof after === 'string' ? after : undefined }
    : undefined;
}

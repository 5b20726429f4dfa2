// node:util parseArgs, with its errors turned into one-line usage errors, and
// the values every command shares (seconds, ports, --resolve); used by the
// CLI and by the tools' own entry points (e.g. nemesis-main). Here, not in
// the peer's command, so a client does not load the daemon to parse them.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;
/** What parseArgs returns for these options, named (the library's type declarations need a name for it). */
type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true }>
>;

export function parseFlags<O extends Options>(
  argv: readonly string[],
  options: O,
  allowPositionals = false,
): Parsed<O> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals, strict: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    if (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) {
      // Node splits some messages over lines; keep the first and the "To
      // specify..." hint (e.g. for `-t -1`), dropping the rhetorical question.
      const lines = e.message.split('\n').filter((l) => !l.endsWith('?'));
      throw new ConfigError(`${lines.join(' ')} (see --help)`);
    }
    throw err;
  }
}

/**
 * A flag with an optional port (`--ui`, `--ui 8000`, `--ui=8000`), which
 * parseArgs cannot express: removes it from `argv` and returns the port
 * (`fallback` when none is given), or undefined when the flag is absent.
 */
export function takeOptionalPort(argv: string[], flag: string, fallback: number): number | undefined {
  const at = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (at < 0) return undefined;
  const inline = argv[at]!.startsWith(`${flag}=`) ? argv[at]!.slice(flag.length + 1) : undefined;
  const next = argv[at + 1];
  const text = inline ?? (next !== undefined && /^\d+$/.test(next) ? next : undefined);
  argv.splice(at, inline === undefined && text !== undefined ? 2 : 1);
  const port = text === undefined ? fallback : Number(text);
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`${flag} expects a port from 0 to 65535, got ${JSON.stringify(text)}`);
  return port;
}

/** Node timers cannot wait longer than 2^31-1 ms (about 24.8 days). */
const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export function seconds(flag: string, text: string): number {
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) > MAX_SECONDS) {
    throw new ConfigError(
      `${flag} expects seconds from 0 to ${MAX_SECONDS}, e.g. 10 or 0.5; got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

/** A size in bytes: a whole number, or with a binary suffix K, M or G (KiB, MiB, GiB), e.g. 2G. */
export function byteSize(flag: string, text: string): number {
  const m = /^(\d+)([KMG]?)(i?B)?$/i.exec(text);
  const scale = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[(m?.[2] ?? '').toUpperCase()] ?? 1;
  const x = m === null ? NaN : Number(m[1]) * scale;
  if (!Number.isSafeInteger(x) || x < 1)
    throw new ConfigError(
      `${flag} expects a size in bytes of at least 1, e.g. 1048576, 512M or 2G; got ${JSON.stringify(text)}`,
    );
  return x;
}

export function portNumber(flag: string, text: string): number {
  const x = Number(text);
  if (!/^\d+$/.test(text) || x < 1 || x > 65535)
    throw new ConfigError(`${flag} expects a port 1..65535, got ${JSON.stringify(text)}`);
  return x;
}

/** --resolve HOST=ADDR[:PORT]: the host, and where to reach it. `flag` names where the item came from, for errors. */
export function parseResolve(
  spec: string,
  defaultPort: number,
  flag = '--resolve',
): [string, { host: string; port: number }] {
  // HOST=ADDR, HOST=ADDR:PORT, or HOST=[IPv6]:PORT.
  const m = /^([^=]+)=(?:\[([0-9A-Fa-f:.]+)\]|([^:=[\]]+))(?::(\d+))?$/.exec(spec);
  if (m === null)
    throw new ConfigError(`${flag} expects HOST=ADDR[:PORT] (IPv6 as [ADDR]:PORT), got ${JSON.stringify(spec)}`);
  const port = m[4] === undefined ? defaultPort : portNumber(`${flag} ${spec}`, m[4]);
  return [m[1]!, { host: (m[2] ?? m[3])!, port }];
}

/** ADDR:PORT (IPv6 as [ADDR]:PORT; port 0: any free one) for a listener such as --metrics, or a ConfigError. */
export function listenAddress(flag: string, text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (m === null || port > 65535)
    throw new ConfigError(
      `${flag} expects ADDR:PORT, e.g. 127.0.0.1:9100 or 0.0.0.0:9100 (port 0: any free one; IPv6 as ` +
        `[::1]:9100), got ${JSON.stringify(text)}`,
    );
  return { host: (m[1] ?? m[2])!, port };
}

/**
 * --endpoints (or PAXOS_ENDPOINTS) HOST=ADDR[:PORT],...: each item as for
 * --resolve, in order; empty items are skipped, a name given twice is an error.
 */
export function parseEndpoints(
  text: string,
  defaultPort: number,
  flag: string,
): Array<[string, { host: string; port: number }]> {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0)
    throw new ConfigError(
      `${flag} expects HOST=ADDR[:PORT],... (e.g. peer1=127.0.0.1:8080,peer2=127.0.0.2:8080), got ` +
        `${JSON.stringify(text)}`,
    );
  const seen = new Set<string>();
  return items.map((item) => {
    const entry = parseResolve(item, defaultPort, flag);
    const name = entry[0].toLowerCase();
    if (seen.has(name)) throw new ConfigError(`${flag} names ${entry[0]} twice`);
    seen.add(name);
    return entry;
  });
}

// ---- the developer tools' numbers, and their entry points -------------------

/** A whole number from `min` to `max` (inclusive), or a ConfigError naming the flag. */
export function integer(flag: string, text: string, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
  const x = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(x) || x < min || x > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(`${flag} expects an integer ${range}, got ${JSON.stringify(text)}`);
  }
  return x;
}

/** A decimal number from `min` to `max` (inclusive), e.g. 4 or 0.5, or a ConfigError naming the flag. */
export function decimal(flag: string, text: string, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
  const x = Number(text);
  if (!/^-?\d+(\.\d+)?$/.test(text) || x < min || x > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(`${flag} expects a number ${range}, got ${JSON.stringify(text)}`);
  }
  return x;
}

/** One of `choices`, or a ConfigError naming the flag and listing them. */
export function choice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  const found = choices.find((c) => c === text);
  if (found === undefined)
    throw new ConfigError(`${flag} must be one of ${choices.join(', ')}, got ${JSON.stringify(text)}`);
  return found;
}

/** A comma-separated list of integers, each from `min` to `max`, e.g. 1,16,64. */
export function integerList(flag: string, text: string, min: number, max: number = Number.MAX_SAFE_INTEGER): number[] {
  const parts = text.split(',');
  if (parts.some((p) => !/^\d+$/.test(p)))
    throw new ConfigError(`${flag} expects comma-separated integers, e.g. 1,16,64; got ${JSON.stringify(text)}`);
  return parts.map((p) => integer(flag, p, min, max));
}

/** What a tool does with a failure: a usage error is one line and status 2; anything else keeps its stack, status 1. */
function failTool(tool: string, err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${tool}: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`${tool}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

/**
 * A developer tool's entry point: runs `main` on the command line's
 * arguments and exits with its status (0 if it returns nothing); a
 * ConfigError (a bad flag) prints `tool: message` and exits 2.
 * With `exit: true` the process ends at once (the tool may leave handles open).
 */
export function runTool(
  tool: string,
  main: (argv: string[]) => number | void | Promise<number | void>,
  opts: { exit?: boolean } = {},
): void {
  const done = (code: number | void): void => {
    if (opts.exit === true) process.exit(code ?? 0);
    process.exitCode = code ?? 0;
  };
  try {
    const r = main(process.argv.slice(2));
    if (r instanceof Promise) r.then(done, (err: unknown) => failTool(tool, err));
    else done(r);
  } catch (err) {
    failTool(tool, err);
  }
}

/**
 * For a tool written as a script (its work at the top level, after its
 * flags): `--help` prints `help` and exits 0; otherwise `parse` reads the
 * arguments into the tool's settings, and a bad flag prints `tool: message`
 * and exits 2, before anything starts.
 */
export function toolSettings<T>(tool: string, help: string, parse: (argv: string[]) => T): T {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    process.stdout.write(help.endsWith('\n') ? help : `${help}\n`);
    process.exit(0);
  }
  try {
    return parse(argv);
  } catch (err) {
    return failTool(tool, err);
  }
}

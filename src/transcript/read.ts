// Reading transcripts for `paxos check`: the merged output of `docker
// compose up` or `paxos run` (`peer3  | {...}`, ANSI colours allowed, other
// lines ignored), or one file per peer (peer3.log).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface PeerLines {
  readonly label: string;
  readonly lines: string[];
  /** For each line, where it came from: "FILE:LINE". */
  readonly at: string[];
}

// eslint-disable-next-line no-control-regex -- ESC is the point: it strips the ANSI colour codes docker compose adds
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const PREFIXED = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*\|\s?(.*)$/;

/** Split merged compose-style output by peer; lines that are not a peer's JSON are skipped. */
export function readMerged(text: string, file: string): PeerLines[] {
  const peers = new Map<string, PeerLines>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const m = PREFIXED.exec(raw.replace(ANSI, ''));
    if (m === null) return;
    const body = m[2]!.trim();
    if (!body.startsWith('{')) return; // stderr, "exited with code 0", ...
    const label = m[1]!;
    let p = peers.get(label);
    if (p === undefined) peers.set(label, (p = { label, lines: [], at: [] }));
    p.lines.push(body);
    p.at.push(`${file}:${i + 1}`);
  });
  return [...peers.values()];
}

/** One transcript per file, named after the file (peer3.log -> peer3). */
export function readPeerFiles(files: readonly string[]): PeerLines[] {
  return files.map((file) => {
    const lines: string[] = [];
    const at: string[] = [];
    readFileSync(file, 'utf8')
      .split(/\r?\n/)
      .forEach((l, i) => {
        if (l.trim() === '') return;
        lines.push(l.trim());
        at.push(`${file}:${i + 1}`);
      });
    return { label: path.basename(file).replace(/\.(log|txt|jsonl)$/, ''), lines, at };
  });
}

/**
 * What the user pointed at: a directory of per-peer files, several per-peer
 * files, or one file of merged output.
 */
export function readTranscripts(paths: readonly string[]): PeerLines[] {
  if (paths.length === 1 && statSync(paths[0]!).isDirectory()) {
    const dir = paths[0]!;
    const files = readdirSync(dir)
      .filter((f) => /\.(log|txt|jsonl)$/.test(f))
      .sort()
      .map((f) => path.join(dir, f));
    return readPeerFiles(files);
  }
  if (paths.length === 1) {
    const text = readFileSync(paths[0]!, 'utf8');
    const merged = readMerged(text, paths[0]!);
    return merged.length > 0 ? merged : readPeerFiles(paths);
  }
  return readPeerFiles(paths);
}

/**
 * The hostsfile host a transcript label stands for, by name alone (the
 * commands try the testcase's compose file first):
 *   - the label itself (any case);
 *   - a label ending in `-HOST` or `_HOST` for exactly one host, as compose
 *     names containers: `kv3-peer1` (a container_name), `myproject-peer3-1`
 *     (compose v2's PROJECT-SERVICE-N; the `-N` is dropped first).
 * Undefined if no host, or more than one, fits.
 */
export function hostOfLabel(label: string, hosts: readonly string[]): string | undefined {
  const lower = new Map(hosts.map((h) => [h.toLowerCase(), h]));
  const name = label.toLowerCase();
  const direct = lower.get(name);
  if (direct !== undefined) return direct;
  for (const candidate of [name, name.replace(/[-_]\d+$/, '')]) {
    const exact = lower.get(candidate);
    if (exact !== undefined) return exact;
    const fits = [...lower].filter(([h]) => candidate.endsWith(`-${h}`) || candidate.endsWith(`_${h}`));
    if (fits.length === 1) return fits[0]![1];
    if (fits.length > 1) return undefined;
  }
  return undefined;
}

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
 * The hostsfile host a transcript label stands for: the label itself, or a
 * compose v2 container name such as `myproject-peer3-1` for service peer3.
 */
export function hostOfLabel(label: string, hosts: readonly string[]): string | undefined {
  const lower = new Map(hosts.map((h) => [h.toLowerCase(), h]));
  const direct = lower.get(label.toLowerCase());
  if (direct !== undefined) return direct;
  const m = /^(?:.+[-_])?([^-_]+)[-_]\d+$/.exec(label);
  return m === null ? undefined : lower.get(m[1]!.toLowerCase());
}

// The readable form of `paxos run`'s live output (on a terminal, or with
// --pretty): one line per event instead of each peer's JSON log line.
//
//   peer1 sent     prepare      n=1
//   peer1 → peer2  prepare      n=1
//   peer2 → peer1  prepare_ack  n=1
//   peer3 chose    n=1 "X"
//   kv3-peer2 → kv3-peer1  accept       slot=1 n=2 put greeting "hello"
//
// A received line's peer_id is its sender, so it reads "sender → receiver";
// a sent line does not say where it went, so it reads "sender sent". Lines
// are decoded with the transcript parsers (the lab's exact format, or a
// replica's with `slot`); anything else (a line that is not a log line) is
// printed as it is, after the peer's name, as in the JSON mode. Only the
// echo changes: the transcript, the checker and the goldens see the JSON.

import type { LogLine } from '../paxos/logline.js';
import type { MessageType } from '../paxos/logline.js';
import { decodeCommand, type Command } from '../sm/command.js';
import { hasSlot, parseSlotLine } from '../transcript/log-check.js';
import { parseLogLine } from '../transcript/parse.js';

export interface PrettyPeer {
  /** The name printed for it (the compose service's label). */
  readonly label: string;
  /** Its peer id in the hostsfile, if it has one. */
  readonly id: number | undefined;
}

/**
 * Colour on or off, from the environment and whether stdout is a terminal:
 * NO_COLOR (set and not empty, https://no-color.org) turns it off; else
 * FORCE_COLOR decides (on, unless it is 0 or false), as in Node; else a
 * terminal that is not TERM=dumb gets colour.
 */
export function colorWanted(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if ((env['NO_COLOR'] ?? '') !== '') return false;
  const force = env['FORCE_COLOR'];
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  return isTTY && env['TERM'] !== 'dumb';
}

/** The width of the widest message type (prepare_ack), so the details line up. */
const TYPE_WIDTH = 11;
/** Longest value shown in full; longer ones are cut with "…". */
const MAX_VALUE = 48;
/** Commands of a batch shown before "+N more". */
const MAX_COMMANDS = 3;

// ANSI SGR codes: a colour per message type; sent lines dim (each message
// shows again when it is received); a peer's decision bold green.
const TYPE_COLOR: Readonly<Record<MessageType, string>> = {
  prepare: '34', // blue
  prepare_ack: '36', // cyan
  accept: '33', // yellow
  accept_ack: '35', // magenta
  chose: '32', // green
};
const DIM = '2';
const DECIDED = '1;32';

/**
 * A function from (the printing peer's index in `peers`, its raw stdout
 * line) to the line to show. Names are padded to the longest, so the
 * arrows and the message types line up.
 */
export function prettyFormatter(
  peers: readonly PrettyPeer[],
  opts: { color: boolean },
): (index: number, raw: string) => string {
  const width = Math.max(1, ...peers.map((p) => p.label.length));
  const byId = new Map<number, string>();
  for (const p of peers) if (p.id !== undefined && !byId.has(p.id)) byId.set(p.id, p.label);
  const name = (id: number): string => byId.get(id) ?? `#${id}`;
  // "peer1 → peer2" or "peer1 chose", whichever is wider.
  const head = Math.max(2 * width + 3, width + 6);
  const paint = (code: string, s: string): string => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);

  return (index, raw) => {
    const self = peers[index]?.label ?? '?';
    const decoded = decode(raw);
    if (decoded === undefined) return `${self.padEnd(width)} | ${raw}`;
    const { line, slot } = decoded;
    const details = [
      slot === undefined ? '' : `slot=${slot}`,
      `n=${line.proposal_num}`,
      shownValue(line.message_value, slot !== undefined),
    ]
      .filter((s) => s !== '')
      .join(' ');
    if (line.action === 'chose') return paint(DECIDED, `${`${self.padEnd(width)} chose`.padEnd(head)}  ${details}`);
    const sent = line.action === 'sent';
    const who = sent ? `${self.padEnd(width)} sent` : `${name(line.peer_id).padEnd(width)} → ${self}`;
    const what = paint(
      sent ? `${DIM};${TYPE_COLOR[line.message_type]}` : TYPE_COLOR[line.message_type],
      `${line.message_type.padEnd(TYPE_WIDTH)}  ${details}`,
    );
    return `${sent ? paint(DIM, who.padEnd(head)) : who.padEnd(head)}  ${what}`;
  };
}

/** A lab line, or a replica's (with its slot); undefined if `raw` is neither. */
function decode(raw: string): { line: LogLine; slot: number | undefined } | undefined {
  if (hasSlot(raw)) {
    const r = parseSlotLine(raw);
    if (!r.ok) return undefined;
    const { slot, ...line } = r.line;
    return { line, slot };
  }
  const r = parseLogLine(raw);
  return r.ok ? { line: r.line, slot: undefined } : undefined;
}

/** A lab value quoted; a replica's batch (JSON) as its commands, e.g. `put greeting "hello"`. */
function shownValue(v: string, batch: boolean): string {
  if (v === '') return '';
  if (!batch) return quote(v);
  let cmds: unknown;
  try {
    cmds = JSON.parse(v);
  } catch {
    return quote(v);
  }
  if (!Array.isArray(cmds)) return quote(v);
  if (cmds.length === 0) return 'no-op';
  const shown = cmds.slice(0, MAX_COMMANDS).map((c) => {
    const d = decodeCommand(c);
    return d.ok ? command(d.value) : cut(JSON.stringify(c));
  });
  if (cmds.length > MAX_COMMANDS) shown.push(`+${cmds.length - MAX_COMMANDS} more`);
  return shown.join(', ');
}

function command(c: Command): string {
  switch (c.op) {
    case 'noop':
      return 'no-op';
    case 'put':
      return `put ${key(c.key)} ${quote(c.value)}`;
    case 'get':
    case 'del':
      return `${c.op} ${key(c.key)}`;
    case 'cas':
      return `cas ${key(c.key)} ${c.expected === null ? '(absent)' : quote(c.expected)} → ${quote(c.value)}`;
    case 'txn':
      return `txn (${c.compares.length} compares; then ${c.success.length} ops, else ${c.failure.length})`;
    case 'grant':
      return `lease grant ${c.ttl} s`;
    case 'keep':
    case 'revoke':
      return `lease ${c.op === 'keep' ? 'keepalive' : 'revoke'} ${c.id}`;
    case 'leases':
      return 'lease list';
    case 'expire':
      return `lease expire ${c.id} (renewed at ${c.at})`;
    case 'madd':
      return `member add ${c.name}=${c.addr}`;
    case 'mpromote':
      return `member promote ${c.name}`;
    case 'mremove':
      return `member remove ${c.name}`;
    case 'members':
      return 'member list';
  }
}

/** A key: bare if it is a plain word, else quoted. */
function key(s: string): string {
  return /^[\w.:/-]+$/.test(s) ? cut(s) : quote(s);
}

/** A value, JSON-quoted; long ones cut. */
function quote(s: string): string {
  return cut(JSON.stringify(s));
}

function cut(s: string): string {
  const chars = [...s];
  return chars.length <= MAX_VALUE ? s : `${chars.slice(0, MAX_VALUE - 1).join('')}…`;
}

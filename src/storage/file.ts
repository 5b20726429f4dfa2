// Durable state on disk: one small JSON file per peer, replaced atomically.
//
// save() replaces state.json atomically (atomic.ts: temp file, fsync,
// rename, directory fsync), so a crash leaves the old file or the new one,
// never a torn one; a checksum guards against everything else (bit rot, a
// truncated copy, a hand edit). load() refuses to start from a file that
// is unreadable or fails its checksum: starting empty would let this
// acceptor break promises it made before the crash.
//
// A lock keeps two live peers from sharing a data directory, which would
// silently merge two acceptors into one (see lock.ts).

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EMPTY_STATE, type Accepted, type DurableState } from '../core/types.js';
import { writeAtomically } from './atomic.js';
import { prepareDataDir } from './data-dir.js';
import { DirLock, StateError } from './lock.js';
import type { Storage } from './storage.js';

export { StateError };

const FORMAT = 'paxos-state/1';

export class FileStorage implements Storage {
  readonly file: string;
  private readonly lock: DirLock;

  constructor(readonly dir: string) {
    this.file = path.join(dir, 'state.json');
    this.lock = new DirLock(dir);
  }

  async load(): Promise<DurableState> {
    await prepareDataDir(this.dir);
    await this.lock.take();
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_STATE;
      throw this.refuse(`cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    return this.decode(text);
  }

  async save(state: DurableState): Promise<void> {
    const body = JSON.stringify(state);
    await writeAtomically(this.file, `${JSON.stringify({ format: FORMAT, sha256: sha256(body), state })}\n`);
  }

  /** Give up the data directory (on a clean shutdown). */
  async release(): Promise<void> {
    await this.lock.release();
  }

  private decode(text: string): DurableState {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw this.refuse('is not valid JSON (a torn or hand-edited file?)');
    }
    const d = doc as { format?: unknown; sha256?: unknown; state?: unknown } | null;
    if (d === null || typeof d !== 'object' || d.format !== FORMAT) throw this.refuse(`is not a ${FORMAT} file`);
    if (typeof d.sha256 !== 'string' || d.sha256 !== sha256(JSON.stringify(d.state)))
      throw this.refuse('fails its checksum');
    const s = validState(d.state);
    if (s === null) throw this.refuse('holds a malformed state');
    return s;
  }

  private refuse(why: string): StateError {
    return new StateError(
      `state file ${this.file} ${why}; refusing to start empty, which could break promises this peer made. ` +
        `Restore the file, or if this peer's state is truly lost, move it aside knowingly and restart.`,
    );
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export function validState(v: unknown): DurableState | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const nat = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  const pair = (x: unknown): x is Accepted | null =>
    x === null ||
    (typeof x === 'object' && nat((x as Accepted).n) && (x as Accepted).n > 0 && typeof (x as Accepted).v === 'string');
  if (!nat(o['promised']) || !pair(o['accepted']) || !pair(o['chosen'])) return null;
  const lp = o['lastProposal'];
  if (typeof lp !== 'object' || lp === null || Array.isArray(lp)) return null;
  const lastProposal: Record<number, number> = {};
  for (const [k, n] of Object.entries(lp)) {
    if (!/^[1-9][0-9]*$/.test(k) || !nat(n)) return null;
    lastProposal[Number(k)] = n;
  }
  return { promised: o['promised'], accepted: o['accepted'], lastProposal, chosen: o['chosen'] };
}

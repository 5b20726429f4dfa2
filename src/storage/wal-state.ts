// A lab peer's durable state as an append-only log: each save appends the
// whole state (a few hundred bytes) as one checksummed record and makes it
// durable with one write and one fdatasync (wal.ts), done on the event-loop
// thread (Wal.syncNow): the peer has nothing else to do with its state until
// the save is done, as the node loop waits for it, and skipping the thread
// pool's two wake-ups takes about 0.3 ms off a round on two cores.
// Replacing state.json took a write, an fsync, a rename and a directory
// fsync: about twice the time, on every promise and every accept. The last record is the state.
// Every CHECKPOINT_EVERY saves the log is rewritten to that one record, so it
// stays small.
//
// A data directory from before holds state.json (file.ts): its state becomes
// the log's first record, durable before anything else happens, and the file
// is renamed state.json.migrated, so a lost log can never bring back its
// older promises.
//
// Never start with an empty memory by mistake. A damaged log is refused, not
// cut short (only a torn last write is cut off, and truncatedBytes says so).
// A first start writes the empty state as the log's first record, then
// DATA_DIR/identity.json; so a log that is missing or empty while
// identity.json, state.json.migrated or the replica file (the value this
// peer learned) exists means the state was lost, and load() refuses.

import { readdir, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { EMPTY_STATE, type DurableState } from '../core/types.js';
import { writeAtomically } from './atomic.js';
import { FileStorage, validState } from './file.js';
import { StateError } from './lock.js';
import type { Storage } from './storage.js';
import { Wal, WalDamageError } from './wal.js';
import { CHECKPOINT_EVERY } from '../paxos/defaults.js';

export interface WalStorageOptions {
  /** The peer's replica file (`--replica-file`, default DATA_DIR/value): if it exists, the peer took part before. */
  readonly replicaFile?: string;
  /** Who the peer is, for identity.json. */
  readonly identity?: { readonly host: string; readonly id: number };
}

/** What to do when the state is lost or damaged: short, and true for a lab peer. */
const RESTORE = (dir: string): string =>
  `Keep ${dir} as it is for inspection, and restore it from a backup; move it aside and start this peer empty ` +
  `only if, not counting it, a majority of its group's acceptors already know the chosen value`;

export class WalStorage implements Storage {
  readonly logDir: string;
  readonly identityFile: string;
  readonly replicaFile: string;
  /** Bytes of a torn last write that load() cut off (a crash mid-write; nothing synced is lost); 0 if none. */
  truncatedBytes = 0;
  /** The lock, and a state.json left from before, are the file storage's. */
  private readonly legacy: FileStorage;
  private wal: Wal<DurableState> | null = null;
  private saves = 0;

  constructor(
    readonly dir: string,
    private readonly opts: WalStorageOptions = {},
  ) {
    this.logDir = path.join(dir, 'state-log');
    this.identityFile = path.join(dir, 'identity.json');
    this.replicaFile = opts.replicaFile ?? path.join(dir, 'value');
    this.legacy = new FileStorage(dir);
  }

  async load(): Promise<DurableState> {
    const old = await this.legacy.load(); // takes the lock; EMPTY_STATE if there is no state.json
    // Checked before the log is opened, which would create it.
    if (old === EMPTY_STATE && !(await hasSegments(this.logDir))) await this.refuseIfLivedBefore();
    const { wal, records, truncatedBytes } = await Wal.open<DurableState>(this.logDir, {
      onCorruption: 'refuse',
    }).catch((err: unknown) => {
      if (!(err instanceof WalDamageError)) throw err;
      throw new StateError(
        `${err.site.file}, byte ${err.site.offset}: ${err.site.reason}, so this peer's state log is damaged; ` +
          `refusing to start, as a lost or shortened memory could break promises it made (nothing was ` +
          `changed). ${RESTORE(this.dir)}`,
      );
    });
    this.wal = wal;
    this.truncatedBytes = truncatedBytes;
    const last = records.at(-1);
    let state: DurableState;
    if (last !== undefined) {
      const s = validState(last);
      if (s === null)
        throw new StateError(
          `the last record of ${this.logDir} holds a malformed state; refusing to start empty, which could ` +
            `break promises this peer made`,
        );
      state = s;
    } else if (old !== EMPTY_STATE) {
      await this.save(old);
      await rename(this.legacy.file, `${this.legacy.file}.migrated`);
      state = old;
    } else {
      // Segments with no record in them (a crash before the first save ever finished).
      await this.refuseIfLivedBefore();
      // A first start: a record first, so that from identity.json on the log is never empty.
      wal.append(EMPTY_STATE);
      if (!wal.syncNow()) await wal.sync();
      state = EMPTY_STATE;
    }
    if (!(await exists(this.identityFile))) await this.writeIdentity();
    return state;
  }

  async save(state: DurableState): Promise<void> {
    const wal = this.wal;
    if (wal === null) throw new Error(`${this.logDir}: save before load`);
    this.saves += 1;
    if (this.saves % CHECKPOINT_EVERY === 0) return wal.checkpoint([state]);
    wal.append(state);
    // On this thread: a save is one small record, and a round waits for it.
    if (!wal.syncNow()) await wal.sync();
  }

  async release(): Promise<void> {
    await this.wal?.close();
    await this.legacy.release();
  }

  /** The log holds nothing: a StateError if the directory shows this peer lived before. */
  private async refuseIfLivedBefore(): Promise<void> {
    const what = (await exists(this.logDir)) ? 'holds no records' : 'is missing';
    let evidence: string | null = null;
    const value = await readFile(this.replicaFile, 'utf8').catch(() => null);
    if (value !== null) {
      const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
      evidence = `${this.replicaFile} shows this peer already took part (it learned ${JSON.stringify(shown)})`;
    } else if (await exists(this.identityFile)) {
      evidence = `${this.identityFile} shows this peer started here before`;
    } else if (await exists(`${this.legacy.file}.migrated`)) {
      evidence = `${this.legacy.file}.migrated shows this peer's state was carried over into that log`;
    }
    if (evidence === null) return;
    throw new StateError(
      `${this.logDir} ${what}, but ${evidence}: refusing to start with an empty memory, which could break ` +
        `promises it made. ${RESTORE(this.dir)}`,
    );
  }

  private async writeIdentity(): Promise<void> {
    const id = this.opts.identity;
    const doc = {
      format: 'paxos-identity/1',
      ...(id === undefined ? {} : { host: id.host, id: id.id }),
      created: new Date().toISOString(),
    };
    await writeAtomically(this.identityFile, `${JSON.stringify(doc)}\n`);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Whether `dir` holds any log segment (false if it is missing). */
async function hasSegments(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).some((n) => n.endsWith('.wal'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

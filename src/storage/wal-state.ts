// A lab peer's durable state as an append-only log: each save appends the
// whole state (a few hundred bytes) as one checksummed record and makes it
// durable with one write and one fdatasync (wal.ts), done on the event-loop
// thread (Wal.syncNow): the peer has nothing else to do with its state until
// the save is done, as the mutex is held across it, and skipping the thread
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

import { rename } from 'node:fs/promises';
import path from 'node:path';
import { EMPTY_STATE, type DurableState } from '../core/types.js';
import { FileStorage, validState } from './file.js';
import { StateError } from './lock.js';
import type { Storage } from './storage.js';
import { Wal } from './wal.js';

export const CHECKPOINT_EVERY = 1000;

export class WalStorage implements Storage {
  readonly logDir: string;
  /** The lock, and a state.json left from before, are the file storage's. */
  private readonly legacy: FileStorage;
  private wal: Wal<DurableState> | null = null;
  private saves = 0;

  constructor(readonly dir: string) {
    this.logDir = path.join(dir, 'state-log');
    this.legacy = new FileStorage(dir);
  }

  async load(): Promise<DurableState> {
    const old = await this.legacy.load(); // takes the lock; EMPTY_STATE if there is no state.json
    const { wal, records } = await Wal.open<DurableState>(this.logDir);
    this.wal = wal;
    const last = records.at(-1);
    if (last !== undefined) {
      const state = validState(last);
      if (state === null) throw new StateError(`the last record of ${this.logDir} holds a malformed state; refusing to start empty, which could break promises this peer made`);
      return state;
    }
    if (old !== EMPTY_STATE) {
      await this.save(old);
      await rename(this.legacy.file, `${this.legacy.file}.migrated`);
    }
    return old;
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
}

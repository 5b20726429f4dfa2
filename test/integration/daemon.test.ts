// The daemon shell, in-process: it must not let a reply leave before the
// state it depends on is saved.

import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseHostsfile } from '../../src/config/hostsfile.js';
import { DEFAULTS, type LabSettings } from '../../src/config/settings.js';
import { EMPTY_STATE, type DurableState, type Message } from '../../src/core/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { PeerDaemon } from '../../src/daemon/peer.js';
import { allocate } from '../../src/runner/addresses.js';
import type { Storage } from '../../src/storage/storage.js';
import { PeerLink } from '../../src/transport/link.js';
import { listen } from '../../src/transport/server.js';
import { LAB_CODEC } from '../../src/wire/lab.js';
import { until } from '../helpers/procs.js';

/** A disk that takes as long as the test says. */
class GatedStorage implements Storage {
  readonly saved: DurableState[] = [];
  private gates: Array<() => void> = [];
  async load(): Promise<DurableState> {
    return EMPTY_STATE;
  }
  save(state: DurableState): Promise<void> {
    return new Promise((resolve) =>
      this.gates.push(() => {
        this.saved.push(state);
        resolve();
      }),
    );
  }
  get waiting(): number {
    return this.gates.length;
  }
  release(): void {
    for (const g of this.gates.splice(0)) g();
  }
}

/**
 * Acceptor a1 as an in-process daemon on `storage`, and the test in the
 * place of proposer p1: what a1 sends p1 lands in `got`; `link` sends as p1.
 */
async function acceptorWithProposer(t: ExecutionContext, storage: Storage) {
  const cluster = parseHostsfile('p1:proposer1\na1:acceptor1\na2:acceptor1\na3:acceptor1\n', 'hostsfile');
  const alloc = await allocate(['p1', 'a1']);
  await alloc.beforeSpawn();
  t.teardown(() => alloc.release());
  const dir = await mkdtemp(path.join(os.tmpdir(), 'paxos-daemon-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const settings: LabSettings = {
    mode: 'lab',
    cluster,
    self: cluster.byHost('a1')!,
    listen: alloc.endpoints.get('a1')!,
    endpointOf: (h) => alloc.endpoints.get(h.host) ?? { host: '127.0.0.1', port: 1 },
    dataDir: dir,
    secret: null,
    peerTimeoutMs: DEFAULTS.peerTimeoutMs,
    logLevel: DEFAULTS.logLevel,
    exitOnStdinClose: false,
    rngSeed: 1,
    warnings: [],
    value: undefined,
    startDelayMs: DEFAULTS.startDelayMs,
    roundTimeoutMs: DEFAULTS.roundTimeoutMs,
    tickMs: DEFAULTS.labTickMs,
    idleMs: DEFAULTS.idleMs,
    replicaFile: path.join(dir, 'value'),
    delays: [],
  };
  const a1 = new PeerDaemon(settings, { storage, out: (l) => void lines.push(l), log: silentLogger });
  const fatal = new Promise<Error>((resolve) => a1.once('fatal', resolve));
  await a1.start();
  t.teardown(() => a1.stop());
  const got: Message[] = [];
  const p1 = await listen(alloc.endpoints.get('p1')!, (m) => got.push(m), {
    codec: LAB_CODEC,
    log: silentLogger,
    self: 1,
  });
  t.teardown(() => p1.close());
  const link = new PeerLink('a1', alloc.endpoints.get('a1')!, { self: 1, peer: 2, log: silentLogger });
  link.start();
  t.teardown(() => link.close());
  return { lines, got, link, fatal };
}

test('an acceptor replies only after its promise and its accepted value are saved', async (t) => {
  const storage = new GatedStorage();
  const { lines, got, link } = await acceptorWithProposer(t, storage);

  for (const [msg, saved] of [
    [
      { type: 'prepare', from: 1, n: 1 },
      { promised: 1, accepted: null },
    ],
    [
      { type: 'accept', from: 1, n: 1, v: 'X' },
      { promised: 1, accepted: { n: 1, v: 'X' } },
    ],
  ] as const) {
    link.send(msg);
    await until(() => storage.waiting === 1, `a1 to start saving for ${msg.type}`);
    const before = got.length;
    // Give a wrongly ordered shell every chance to let the ack out early: an
    // ack that is not sent is no event, so this fixed window is the test.
    await delay(200);
    t.is(got.length, before, `no ${msg.type} ack while the save is pending`);
    t.false(
      lines.some((l) => l.includes('"sent"') && l.includes(`${msg.type}_ack`)),
      'nor is it logged as sent',
    );
    storage.release();
    await until(() => got.length === before + 1, `the ${msg.type} ack after the save`);
    t.like(storage.saved.at(-1), saved);
    t.is(got.at(-1)?.type, `${msg.type}_ack`);
  }
});

test('a peer whose disk fails stops (fatal) instead of answering from state it could not save', async (t) => {
  const broken: Storage = {
    load: async () => EMPTY_STATE,
    save: async () => Promise.reject(new Error('ENOSPC: no space left on device')),
  };
  const { got, link, fatal } = await acceptorWithProposer(t, broken);
  link.send({ type: 'prepare', from: 1, n: 1 });
  t.regex((await fatal).message, /ENOSPC/);
  link.send({ type: 'prepare', from: 1, n: 2 });
  await delay(200); // a window for a wrong ack to show: its absence is the test
  t.deepEqual(got, [], 'no ack ever leaves');
});

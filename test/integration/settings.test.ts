// Settings per mode (src/config/settings.ts): each impossible setting or
// combination is refused by validate() with one line naming the flag (or,
// for settings no flag reaches, the field); through the CLI with exit 2 in
// e2e/settings-cli.test.ts.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parsePeerArgs } from '../../src/cli/peer-command.js';
import { ConfigError } from '../../src/config/errors.js';
import { DEFAULT_TICK_TIMING } from '../../src/core/timing.js';
import { DEFAULT_LAB_TIMING } from '../../src/paxos/defaults.js';
import {
  DEFAULTS,
  labTiming,
  logTiming,
  validate,
  type LabSettings,
  type PeerSettings,
  type ReplicaSettings,
} from '../../src/config/settings.js';

const SECRET = { PAXOS_SECRET: 'a test secret of some length' };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paxos-settings-'));
test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }));
const LAB = path.join(dir, 'lab.txt');
fs.writeFileSync(LAB, 'peer1:proposer1\npeer2:acceptor1\npeer3:acceptor1\npeer4:acceptor1\npeer5:learner1\n');
const LOG = path.join(dir, 'log.txt');
fs.writeFileSync(LOG, 'r1:replica\nr2:replica\nr3:replica\n');

function parsed(file: string, name: string, extra: readonly string[] = []): PeerSettings {
  const s = parsePeerArgs(['-h', file, '--name', name, ...extra], 'x', SECRET);
  if (s === 'help') throw new Error('unexpected help');
  return s;
}
const lab = (): LabSettings => parsed(LAB, 'peer1', ['-v', 'X']) as LabSettings;
const replica = (): ReplicaSettings => parsed(LOG, 'r1') as ReplicaSettings;

test('the defaults validate, in both modes, and are what the flags default to', (t) => {
  const l = lab();
  const r = replica();
  t.is(l.mode, 'lab');
  t.is(r.mode, 'log');
  t.notThrows(() => validate(l));
  t.notThrows(() => validate(r));
  t.is(l.roundTimeoutMs, DEFAULTS.roundTimeoutMs);
  t.is(l.peerTimeoutMs, DEFAULTS.peerTimeoutMs);
  t.is(l.startDelayMs, 0);
  t.is(l.idleMs, 0);
  t.is(l.listen.port, DEFAULTS.port);
  t.is(r.quotaBytes, DEFAULTS.quotaBytes);
  t.is(r.tickMs, DEFAULTS.replicaTickMs);
  t.is(l.tickMs, DEFAULTS.labTickMs);
  t.deepEqual(r.timing, DEFAULTS.replicaTiming);
  t.true(r.timing.heartbeatTicks < r.timing.electionTicks);
});

test("the cores' timing comes from the settings: labTiming in ticks, logTiming as set", (t) => {
  const l = { ...lab(), roundTimeoutMs: 1234, startDelayMs: 25, idleMs: 3000, tickMs: 10 };
  const lt = labTiming(l);
  t.is(lt.timing.roundTicks, 124, '1234 ms in ticks of 10 ms, rounded up');
  t.is(lt.timing.backoffCapTicks, DEFAULT_LAB_TIMING.backoffCapMs / 10, 'the rest from DEFAULT_LAB_TIMING');
  t.is(lt.startTicks, 3);
  t.is(lt.idleTicks, 300);
  t.deepEqual(labTiming(lab()).timing, DEFAULT_TICK_TIMING, 'the defaults are the core defaults');
  const r = replica();
  t.is(logTiming(r), r.timing);
});

/** validate() refuses `s` with exactly one line that matches `message` (which names the flag). */
function refused(s: PeerSettings, message: RegExp): (t: import('ava').ExecutionContext) => void {
  return (t) => {
    const err = t.throws(() => validate(s), { instanceOf: ConfigError, message });
    t.false(err?.message.includes('\n'));
  };
}

test('lab: a round timeout of 0', refused({ ...lab(), roundTimeoutMs: 0 }, /^--round-timeout must be above 0$/));
test('lab: an empty value', refused({ ...lab(), value: '' }, /^-v: the value must not be empty$/));
test(
  'lab: a value over the limit',
  refused({ ...lab(), value: 'x'.repeat(64 * 1024 + 1) }, /^-v: the value is over 65536 bytes$/),
);
test('lab: a negative start delay', refused({ ...lab(), startDelayMs: -1 }, /^-t must not be negative$/));
test('lab: a negative idle time', refused({ ...lab(), idleMs: -5 }, /^--exit-after-idle must be above 0$/));
test('lab: a tick of 0 ms', refused({ ...lab(), tickMs: 0 }, /^tickMs must be above 0, got 0$/));
test('lab: an empty replica file', refused({ ...lab(), replicaFile: ' ' }, /^--replica-file must not be empty$/));
test(
  'lab: a negative delay',
  refused(
    { ...lab(), delays: [{ type: 'accept', host: 'peer2', ms: -1 }] },
    /^--delay accept:peer2=-1: MS must not be negative$/,
  ),
);
test('both: an empty data directory', refused({ ...replica(), dataDir: '' }, /^--data-dir must not be empty$/));
test(
  'both: a peer timeout too short for the links to ping within it',
  refused({ ...lab(), peerTimeoutMs: 49 }, /^--peer-timeout must be at least 0.05 seconds$/),
);
test(
  'replica: a peer timeout too short, too',
  refused({ ...replica(), peerTimeoutMs: 10 }, /^--peer-timeout must be at least 0.05 seconds$/),
);
test(
  'replica: a snapshot every 0 slots',
  refused({ ...replica(), snapshotEvery: 0 }, /^--snapshot-every must be a whole number >= 1, got 0$/),
);
test(
  'replica: a quota of 0 bytes',
  refused({ ...replica(), quotaBytes: 0 }, /^--quota-bytes must be at least 1, got 0$/),
);
test('replica: a tick of 0 ms', refused({ ...replica(), tickMs: 0 }, /^tickMs must be above 0, got 0$/));
test(
  'replica: a heartbeat interval not below the election timeout',
  refused(
    { ...replica(), timing: { ...DEFAULTS.replicaTiming, heartbeatTicks: 10, electionTicks: 10 } },
    /^timing\.heartbeatTicks \(10\) must be below timing\.electionTicks \(10\): /,
  ),
);
for (const field of ['heartbeatTicks', 'resendTicks', 'window', 'maxBatch', 'maxBatchBytes', 'maxEntries'] as const) {
  test(
    `replica: a non-positive timing.${field}`,
    refused(
      { ...replica(), timing: { ...DEFAULTS.replicaTiming, [field]: 0 } },
      new RegExp(`^timing\\.${field} must be a whole number >= 1, got 0$`),
    ),
  );
}

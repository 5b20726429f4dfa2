// Settings per mode (src/config/settings.ts) through the CLI: an impossible
// setting exits 2 with one line naming the flag (validate() itself is
// integration/settings.test.ts).

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { paxosSync } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const SECRET = { PAXOS_SECRET: 'a test secret of some length' };

const dir = tempDir('settings');
const LAB = path.join(dir, 'lab.txt');
writeFileSync(LAB, 'peer1:proposer1\npeer2:acceptor1\npeer3:acceptor1\npeer4:acceptor1\npeer5:learner1\n');
const LOG = path.join(dir, 'log.txt');
writeFileSync(LOG, 'r1:replica\nr2:replica\nr3:replica\n');

/** Through the CLI: exit 2, and stderr is one line naming the flag. */
function cliRefuses(args: readonly string[], message: RegExp): (t: import('ava').ExecutionContext) => void {
  return (t) => {
    const r = paxosSync(args, { env: SECRET, timeoutMs: 60_000 });
    t.is(r.code, 2, r.err);
    t.regex(r.err.trimEnd(), message);
    t.is(r.err.trimEnd().split('\n').length, 1, r.err);
  };
}

test(
  'cli: --round-timeout 0 exits 2',
  cliRefuses(['-h', LAB, '--name', 'peer1', '--round-timeout', '0'], /^paxos: --round-timeout must be above 0$/),
);
test(
  'cli: --peer-timeout 0.01 exits 2 (lab)',
  cliRefuses(
    ['-h', LAB, '--name', 'peer2', '--peer-timeout', '0.01'],
    /^paxos: --peer-timeout must be at least 0.05 seconds$/,
  ),
);
test(
  'cli: --peer-timeout 0.01 exits 2 (replica)',
  cliRefuses(
    ['-h', LOG, '--name', 'r1', '--peer-timeout', '0.01'],
    /^paxos: --peer-timeout must be at least 0.05 seconds$/,
  ),
);
test(
  'cli: an empty -v exits 2',
  cliRefuses(['-h', LAB, '--name', 'peer1', '-v', ''], /^paxos: -v: the value must not be empty$/),
);
test(
  'cli: an empty --data-dir exits 2',
  cliRefuses(['-h', LOG, '--name', 'r1', '--data-dir', ''], /^paxos: --data-dir must not be empty$/),
);
test(
  'cli: an empty --replica-file exits 2',
  cliRefuses(['-h', LAB, '--name', 'peer2', '--replica-file', ''], /^paxos: --replica-file must not be empty$/),
);

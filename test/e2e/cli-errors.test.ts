// The peer's command line through the CLI as a process: usage errors exit 2
// with one `paxos: ...` line naming the flag, --help exits 0; the same flags
// parsed in-process are integration/peer-args.test.ts.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { paxosSync, type Ran } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const TESTCASE1 = 'peer1:proposer1\npeer2:acceptor1\npeer3:acceptor1\npeer4:acceptor1\npeer5:learner1\n';

const dir = tempDir('cli');

function writeHosts(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

const HOSTS1 = writeHosts('hosts1.txt', TESTCASE1);
const BAD = writeHosts('bad.txt', 'peer1:proposer1\npeer2:acceptor1\npeer3:aceptor1\n');

/** Each call is a usage error or --help: it must end long before this. */
const paxos = (args: readonly string[]): Ran =>
  paxosSync(args, { timeoutMs: 60_000, input: '', env: { NODE_OPTIONS: '' } });

/** Run the CLI and expect exit 2 with one `paxos: ...` line on stderr matching `message`. */
function usageError(args: readonly string[], message: RegExp): (t: ExecutionContext) => void {
  return (t) => {
    const r = paxos(args);
    t.is(r.signal, null, `killed by ${String(r.signal)}; stderr: ${r.err}`);
    t.is(r.code, 2, `stderr: ${r.err}`);
    t.is(r.out, '', 'nothing on stdout');
    const lines = r.err.split('\n');
    t.is(lines.length, 2, `one line then the final newline; got ${JSON.stringify(r.err)}`);
    t.is(lines[1], '');
    t.true(lines[0]?.startsWith('paxos: '), JSON.stringify(lines[0]));
    t.regex(lines[0] ?? '', message);
  };
}

function re(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------
// The CLI as a process

test('--help exits 0 and prints usage naming -h, -v, -t and --name', (t) => {
  const r = paxos(['--help']);
  t.is(r.code, 0, r.err);
  t.is(r.err, '');
  t.regex(r.out, /^Usage: paxos -h FILE/);
  for (const flag of [
    '-h, --hostsfile',
    '-v, --value',
    '-t, --start-after',
    '--name',
    '--port',
    '--resolve',
    '--log-level',
  ]) {
    t.true(r.out.includes(flag), `help mentions ${flag}`);
  }
});

test('--help wins over other (even bad) flags', (t) => {
  const r = paxos(['-h', path.join(dir, 'nope.txt'), '--help']);
  t.is(r.code, 0, r.err);
  t.regex(r.out, /^Usage: paxos/);
});

test('no -h: says -h FILE is missing', usageError(['--name', 'peer2'], /^paxos: missing -h FILE/));

test('no flags at all: says -h FILE is missing', usageError([], /^paxos: missing -h FILE/));

test('-h without its argument names -h', usageError(['-h'], /^paxos: .*'-h, --hostsfile <value>' argument missing/));

test(
  '-h on a missing file names the path',
  usageError(
    ['-h', path.join(dir, 'missing.txt'), '--name', 'peer2'],
    new RegExp(`^paxos: hostsfile ${re(path.join(dir, 'missing.txt'))}: .*no such file`),
  ),
);

test(
  'a hostsfile with an error names the file and the line',
  usageError(['-h', BAD, '--name', 'peer2'], new RegExp(`^paxos: ${re(BAD)}:3: unknown role "aceptor1"`)),
);

test('an empty hostsfile names the file', (t) => {
  const empty = writeHosts('empty.txt', '\n\n');
  usageError(['-h', empty, '--name', 'peer2'], new RegExp(`^paxos: hostsfile ${re(empty)} is empty`))(t);
});

test('a hostsfile with a duplicate proposer names the file and the line', (t) => {
  const file = writeHosts('dup-proposer.txt', 'peer1:proposer1\npeer2:acceptor1\npeer3:proposer1\n');
  usageError(
    ['-h', file, '--name', 'peer2'],
    new RegExp(`^paxos: ${re(file)}:3: proposer1 is already claimed by peer1 on line 1`),
  )(t);
});

test(
  'unknown flag --bogus is named',
  usageError(['-h', HOSTS1, '--name', 'peer2', '--bogus'], /^paxos: Unknown option '--bogus' \(see --help\)$/),
);

test(
  'a stray positional argument is named',
  usageError(['-h', HOSTS1, '--name', 'peer2', 'extra'], /^paxos: Unexpected argument 'extra'/),
);

const SECS = '-t expects seconds from 0 to 2147483, e.g. 10 or 0.5; got';

test(
  '-t abc: names -t and the bad text',
  usageError(['-h', HOSTS1, '--name', 'peer2', '-t', 'abc'], new RegExp(`^paxos: ${SECS} "abc"$`)),
);

test(
  '-t -1: names -t and says how to pass a value starting with a dash',
  usageError(
    ['-h', HOSTS1, '--name', 'peer2', '-t', '-1'],
    new RegExp(
      /^paxos: Option '-t' argument is ambiguous\. To specify an option argument starting with a dash /.source +
        /use '--start-after=-XYZ' or '-t-XYZ'\. \(see --help\)$/.source,
    ),
  ),
);

test(
  '--start-after=-1: names -t and the allowed range',
  usageError(['-h', HOSTS1, '--name', 'peer2', '--start-after=-1'], new RegExp(`^paxos: ${SECS} "-1"$`)),
);

test('-t "": names -t', usageError(['-h', HOSTS1, '--name', 'peer2', '-t', ''], new RegExp(`^paxos: ${SECS} ""$`)));

test(
  '-t in hex or exponent form is refused, not read as 16 or 1000',
  usageError(['-h', HOSTS1, '--name', 'peer2', '-t', '0x10'], new RegExp(`^paxos: ${SECS} "0x10"$`)),
);

test(
  '-t beyond what a timer can wait (about 24.8 days) is refused',
  usageError(['-h', HOSTS1, '--name', 'peer2', '-t', '2147484'], new RegExp(`^paxos: ${SECS} "2147484"$`)),
);

test(
  '--port in hex is refused',
  usageError(
    ['-h', HOSTS1, '--name', 'peer2', '--port', '0x1F90'],
    /^paxos: --port expects a port 1\.\.65535, got "0x1F90"$/,
  ),
);

test(
  '-v "": says the value must not be empty',
  usageError(['-h', HOSTS1, '--name', 'peer1', '-v', ''], /^paxos: -v: the value must not be empty$/),
);

test(
  '--name not in the hostsfile: names it and lists the known hosts',
  usageError(
    ['-h', HOSTS1, '--name', 'peer9'],
    new RegExp(
      `^paxos: hostsfile ${re(HOSTS1)} has no line for --name "peer9"; it lists peer1, peer2, peer3, peer4, peer5`,
    ),
  ),
);

test(
  '--port 0 is rejected and named',
  usageError(['-h', HOSTS1, '--name', 'peer2', '--port', '0'], /^paxos: --port expects a port 1\.\.65535, got "0"$/),
);

test(
  '--port 65536 is rejected',
  usageError(
    ['-h', HOSTS1, '--name', 'peer2', '--port', '65536'],
    /^paxos: --port expects a port 1\.\.65535, got "65536"$/,
  ),
);

test(
  '--resolve nonsense: names the flag, the expected form and the text',
  usageError(
    ['-h', HOSTS1, '--name', 'peer2', '--resolve', 'nonsense'],
    /^paxos: --resolve expects HOST=ADDR\[:PORT\] \(IPv6 as \[ADDR\]:PORT\), got "nonsense"$/,
  ),
);

test(
  '--resolve with a bad port names the spec',
  usageError(
    ['-h', HOSTS1, '--name', 'peer2', '--resolve', 'peer1=127.0.0.1:99999'],
    /^paxos: --resolve peer1=127\.0\.0\.1:99999 expects a port 1\.\.65535, got "99999"$/,
  ),
);

test(
  '--log-level loud: lists the levels and the bad one',
  usageError(
    ['-h', HOSTS1, '--name', 'peer2', '--log-level', 'loud'],
    /^paxos: --log-level must be one of error, warn, info, debug, got "loud"$/,
  ),
);

test(
  '--round-timeout 0 is rejected',
  usageError(['-h', HOSTS1, '--name', 'peer2', '--round-timeout', '0'], /^paxos: --round-timeout must be above 0$/),
);

test(
  'a listen address that does not resolve: one line naming it, exit 1, and no advice about the data ' + 'directory',
  (t) => {
    const r = paxos([
      '-h',
      HOSTS1,
      '--name',
      'peer2',
      '--resolve',
      'peer2=nosuchhost.invalid:18080',
      '--data-dir',
      path.join(dir, 'unresolvable'),
    ]);
    t.is(r.code, 1, r.err);
    const last = r.err.trimEnd().split('\n').at(-1) ?? '';
    t.regex(last, /^paxos: getaddrinfo \w+ nosuchhost\.invalid$/);
  },
);

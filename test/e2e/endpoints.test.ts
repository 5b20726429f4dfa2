// Reaching a cluster without a hostsfile: --endpoints and PAXOS_ENDPOINTS
// (their precedence over -h/--resolve), a name that resolves nowhere failing
// at once with the flag to set, and the lines `paxos run --keep-running`
// prints for clients working when pasted.

import test from 'ava';
import { LiveCluster } from '../helpers/procs.js';
import { paxos, ROOT as root, run, startPaxos, type Ran } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const KV3 = 'peer1:replica\npeer2:replica\npeer3:replica\n';

/** `paxos ARGS` in `cwd`, with `env` added to a clean environment (no secret, no endpoints). */
const cli = (args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Ran> =>
  paxos(args, { cwd, env });

async function kv3(): Promise<{ live: LiveCluster; endpoints: string }> {
  const live = await new LiveCluster(KV3).init();
  for (const h of ['peer1', 'peer2', 'peer3']) live.start(h);
  const endpoints = ['peer1', 'peer2', 'peer3']
    .map((h) => `${h}=${live.endpoint(h).host}:${live.endpoint(h).port}`)
    .join(',');
  return { live, endpoints };
}

test('PAXOS_ENDPOINTS alone (no hostsfile, no --resolve) reaches a kv3 cluster: put, get, dump', async (t) => {
  t.timeout(120_000);
  const { live, endpoints } = await kv3();
  t.teardown(() => live.close());
  const nowhere = tempDir('endpoints'); // no ./hostsfile here
  const env = { PAXOS_ENDPOINTS: endpoints };
  const put = await cli(['put', 'greeting', 'hello', '--timeout', '60'], nowhere, env);
  t.is(put.code, 0, put.out + put.err);
  t.regex(put.out, /^ok: "greeting" = "hello"/);
  const got = await cli(['get', 'greeting', '--timeout', '60', '--to', 'peer3'], nowhere, env);
  t.is(got.code, 0, got.err);
  t.is(got.out, 'hello\n');
  const dump = await cli(['dump', '--from', 'peer2', '--timeout', '60'], nowhere, env);
  t.is(dump.code, 0, dump.err);
});

test('--endpoints overrides PAXOS_ENDPOINTS, and both override -h and --resolve (with a warning)', async (t) => {
  t.timeout(120_000);
  const { live, endpoints } = await kv3();
  t.teardown(() => live.close());
  const nowhere = tempDir('endpoints');
  // Were the variable used, this would fail: its address resolves nowhere.
  const env = { PAXOS_ENDPOINTS: 'peer1=nosuchhost.invalid:8080' };
  const put = await cli(['put', 'k', 'v', '--endpoints', endpoints, '--timeout', '60'], nowhere, env);
  t.is(put.code, 0, put.out + put.err);
  // The variable beats -h/--resolve; a warning says they were not used.
  const bad = await cli(
    ['get', 'k', '-h', live.file, '--resolve', `peer1=${live.endpoint('peer1').host}`],
    nowhere,
    env,
  );
  t.is(bad.code, 5, bad.out + bad.err);
  t.regex(
    bad.err,
    /warning: -h and --resolve ignored: the peers come from PAXOS_ENDPOINTS \(unset PAXOS_ENDPOINTS to use them\)/,
  );
  t.regex(bad.err, /cannot resolve nosuchhost\.invalid, the address PAXOS_ENDPOINTS gives peer1 .*fix PAXOS_ENDPOINTS/);
  const got = await cli(['get', 'k', '--timeout', '60'], nowhere, { PAXOS_ENDPOINTS: endpoints });
  t.is(got.out, 'v\n', got.err);
});

test('submit --to and get --from name one of the endpoints', async (t) => {
  const nowhere = tempDir('endpoints');
  const r = await cli(['get', '--from', 'p9', '--endpoints', 'p1=127.0.0.1:8080,p2=127.0.0.2'], nowhere);
  t.is(r.code, 2);
  t.is(r.err, 'paxos: p9 is not in --endpoints; it lists p1, p2\n');
  const s = await cli(['submit', 'v', '--to', 'p3'], nowhere, { PAXOS_ENDPOINTS: 'p1=127.0.0.1:8080' });
  t.is(s.code, 2);
  t.is(s.err, 'paxos: p3 is not in PAXOS_ENDPOINTS; it lists p1\n');
  const dup = await cli(['get', 'k', '--endpoints', 'p1=127.0.0.1,P1=127.0.0.2'], nowhere);
  t.is(dup.code, 2);
  t.is(dup.err, 'paxos: --endpoints names P1 twice\n');
  const syntax = await cli(['get', 'k'], nowhere, { PAXOS_ENDPOINTS: 'p1:8080' });
  t.is(syntax.code, 2);
  t.regex(syntax.err, /^paxos: PAXOS_ENDPOINTS expects HOST=ADDR\[:PORT\]/);
});

test(
  'a name that resolves nowhere fails at once, naming it and --endpoints, PAXOS_ENDPOINTS and ' + '--resolve',
  async (t) => {
    t.timeout(300_000);
    const hint = new RegExp(
      /cannot resolve peer\d \(ENOTFOUND\); say where the peers are with --endpoints /.source +
        /peer\d=ADDR:PORT,\.\.\. or PAXOS_ENDPOINTS=.*or --resolve peer\d=ADDR:PORT/.source,
    );
    for (const args of [
      ['get', 'greeting', '-h', 'testcases/kv3/hostsfile'],
      ['put', 'greeting', 'hello', '-h', 'testcases/kv3/hostsfile'],
      ['dump', '--from', 'peer2', '-h', 'testcases/kv3/hostsfile'],
    ]) {
      // Given 120 s to retry, a client that waited on an unresolvable name would
      // take them all; one that fails at once is far below half of that, however
      // busy the machine (a bound of 2 s failed under load).
      const r = await cli([...args, '--timeout', '120'], root);
      t.is(r.code, 5, `${args.join(' ')}: ${r.out}${r.err}`);
      t.regex(r.out + r.err, hint, args.join(' '));
      t.is((r.out + r.err).trim().split('\n').length, 1, 'one line');
      t.true(r.ms < 60_000, `${args.join(' ')} took ${r.ms} ms`);
    }
    const dir = tempDir('endpoints');
    const lab = await cli(
      ['get', '--from', 'nosuchpeer.invalid', '--endpoints', 'nosuchpeer.invalid=nosuchpeer.invalid'],
      dir,
    );
    t.is(lab.code, 5);
    t.regex(
      lab.out,
      new RegExp(
        /^refused: cannot reach nosuchpeer\.invalid: cannot resolve nosuchpeer\.invalid, the address /.source +
          /--endpoints gives nosuchpeer\.invalid \(ENOTFOUND\); fix --endpoints; nothing was done\n$/.source,
      ),
    );
  },
);

test(
  'paxos run --keep-running prints an export PAXOS_ENDPOINTS line and an npx paxos command that work ' + 'when pasted',
  async (t) => {
    t.timeout(180_000);
    const runner = startPaxos(['run', 'testcases/kv3', '--keep-running']);
    t.teardown(async () => {
      runner.interrupt();
      await runner.ended;
    });
    const m = await runner.waitFor(/^(export PAXOS_ENDPOINTS=.*)\n(.*)\n/m);
    const printed = [m[1]!, m[2]!];
    t.regex(runner.err, /paxos run: clients reach them with/);
    t.regex(printed[0]!, /^export PAXOS_ENDPOINTS=peer1=[^,\s]+:\d+,peer2=[^,\s]+:\d+,peer3=[^,\s]+:\d+$/);
    t.regex(printed[1]!, /^npx paxos put greeting hello\b/);
    // Pasted into a shell where the run was started, as printed.
    const put = await run('bash', [
      '-c',
      `${printed[0]!}\n${printed[1]!.replace('greeting hello', 'greeting hello --timeout 60')}`,
    ]);
    t.is(put.code, 0, put.out + put.err);
    t.regex(put.out, /^ok: "greeting" = "hello"/);
    const got = await run('bash', ['-c', `${printed[0]!}\nnpx paxos get greeting --timeout 60`]);
    t.is(got.out, 'hello\n', got.err);
  },
);

// The key-value CLI (paxos put/get/del/cas/dump) against fake replicas in
// this process: exit statuses, --json, leader finding and retries, and the
// rule that a retried command keeps its client id and seq.

import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import { paxos, type Ran } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { isKvGet } from '../../src/cli/kv-command.js';

/** Async: the fake replicas answer from this process's event loop. */
const cli = (args: readonly string[]): Promise<Ran> => paxos(args);

type Req = Record<string, unknown> & { id: string; type: string; cmd?: Record<string, unknown> };
/** What a fake replica says to a request: a reply (id and peer filled in), or null to swallow it. */
type Behavior = (req: Req) => Record<string, unknown> | null;

/** A fake replica: answers each request line by `behavior`, and keeps what it got. */
class FakeReplica {
  readonly got: Req[] = [];
  /** When the first request line came (Date.now()), or null. */
  firstAt: number | null = null;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(
    readonly name: string,
    private readonly behavior: Behavior,
    /** Say this line first on every connection (e.g. a challenge). */
    private readonly greeting?: Record<string, unknown>,
  ) {
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      if (this.greeting !== undefined) socket.write(`${JSON.stringify(this.greeting)}\n`);
      let buf = '';
      socket.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const req = JSON.parse(buf.slice(0, nl)) as Req;
          buf = buf.slice(nl + 1);
          this.got.push(req);
          this.firstAt ??= Date.now();
          if (this.greeting !== undefined) continue; // it reads nothing before the handshake
          const r = this.behavior(req);
          if (r !== null) socket.write(`${JSON.stringify({ type: 'kv_result', id: req.id, peer: this.name, ...r })}\n`);
        }
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const done =
  (result: Record<string, unknown>, slot = 7): Behavior =>
  () => ({ status: 'done', slot, result });
const noLeader: Behavior = () => ({ status: 'no_leader' });
const silent: Behavior = () => null;

/** A three-replica hostsfile and --resolve flags for these fakes (a port of 0: a closed port). */
async function setup(
  t: { teardown: (f: () => Promise<void>) => void },
  behaviors: ReadonlyArray<Behavior | 'down'>,
  greeting?: Record<string, unknown>,
): Promise<{ flags: string[]; fakes: FakeReplica[] }> {
  const dir = tempDir('kvcli');
  const hostsfile = path.join(dir, 'hostsfile');
  writeFileSync(hostsfile, behaviors.map((_, i) => `peer${i + 1}:replica\n`).join(''));
  const flags = ['-h', hostsfile];
  const fakes: FakeReplica[] = [];
  for (const [i, b] of behaviors.entries()) {
    let port: number;
    if (b === 'down') {
      port = await closedPort();
    } else {
      const f = await new FakeReplica(`peer${i + 1}`, b, greeting).start();
      t.teardown(() => f.close());
      fakes.push(f);
      port = f.port;
    }
    flags.push('--resolve', `peer${i + 1}=127.0.0.1:${port}`);
  }
  return { flags, fakes };
}

/** A port nothing listens on (one just released). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

interface Json {
  outcome: string;
  status: string;
  key?: string;
  value?: string | null;
  current?: string | null;
  peer?: string;
  slot?: number;
  client?: string;
  seq?: number;
  attempts: Array<{ peer: string; outcome: string }>;
}

test('put: a done answer is exit 0, and --json says outcome ok with the slot, peer and command', async (t) => {
  const { flags, fakes } = await setup(t, [done({ r: 'ok', p: 'old' }), done({ r: 'ok' }), done({ r: 'ok' })]);
  const human = await cli(['put', 'color', 'blue green', '--to', 'peer1', ...flags]);
  t.is(human.code, 0, human.err);
  t.is(human.out, 'ok: "color" = "blue green" (it was "old"; slot 7, via peer1)\n');
  const sent = fakes[0]!.got[0]!;
  t.is(sent.type, 'kv');
  t.like(sent.cmd, { o: 'put', k: 'color', v: 'blue green', s: 1 });
  t.regex(String(sent.cmd?.['c']), /^cli-[0-9a-f]{12}$/);

  const r = await cli(['put', 'color', 'red', '--to', 'peer2', '--json', ...flags]);
  t.is(r.code, 0, r.err);
  const j = JSON.parse(r.out) as Json;
  t.like(j, { outcome: 'ok', status: 'ok', key: 'color', value: 'red', peer: 'peer2', slot: 7, seq: 1 });
  t.deepEqual(
    j.attempts.map((a) => [a.peer, a.outcome]),
    [['peer2', 'done']],
  );
  t.is(r.out.trim().split('\n').length, 1, 'exactly one JSON object');
});

test('cas: a mismatch is exit 1 and shows the current value; --absent sends e:null', async (t) => {
  const { flags, fakes } = await setup(t, [done({ r: 'mismatch', cur: 'v2' }, 9)]);
  const r = await cli(['cas', 'k', 'v1', 'v3', ...flags]);
  t.is(r.code, 1, r.err);
  t.is(r.out, 'failed: "k" is "v2", not "v1"; nothing was changed (slot 9, via peer1)\n');
  t.like(fakes[0]!.got[0]!.cmd, { o: 'cas', k: 'k', e: 'v1', v: 'v3' });
  const j = await cli(['cas', 'k', '--absent', 'v3', '--json', ...flags]);
  t.is(j.code, 1);
  t.like(JSON.parse(j.out) as Json, { outcome: 'fail', status: 'mismatch', current: 'v2' });
  t.like(fakes[0]!.got[1]!.cmd, { o: 'cas', k: 'k', e: null, v: 'v3' });
});

test('get: a value is printed alone (exit 0); an absent key is exit 3 with nothing on stdout', async (t) => {
  const value = 'two\nlines 🙂';
  const { flags } = await setup(t, [done({ r: 'ok', v: value, rev: [3, 9, 2] })]);
  const found = await cli(['get', 'k', ...flags]);
  t.is(found.code, 0, found.err);
  t.is(found.out, `${value}\n`);
  const foundJson = await cli(['get', 'k', '--json', ...flags]);
  t.like(JSON.parse(foundJson.out) as Json, { value, createRevision: 3, modRevision: 9, version: 2 });
  // A value without its revisions is not a result this client can read: an unknown outcome, not a guess.
  const { flags: flags3 } = await setup(t, [done({ r: 'ok', v: value })]);
  const old = await cli(['get', 'k', '--timeout', '1', '--verbose', ...flags3]);
  t.is(old.code, 4);
  t.regex(old.err, /it answered with a result we cannot read \("ok" result must be .*"rev":\[create,mod,version\]/);

  const { flags: flags2 } = await setup(t, [done({ r: 'ok', v: null })]);
  const absent = await cli(['get', 'k', ...flags2]);
  t.is(absent.code, 3);
  t.is(absent.out, '');
  t.is(absent.err, '"k" is absent (slot 7, via peer1)\n');
  const j = await cli(['get', 'k', '--json', ...flags2]);
  t.is(j.code, 3);
  t.like(JSON.parse(j.out) as Json, { outcome: 'ok', status: 'absent', value: null });
});

test('a replica without a leader sends the client on to the next, which does it', async (t) => {
  const { flags, fakes } = await setup(t, [noLeader, done({ r: 'ok' })]);
  const r = await cli(['del', 'k', '--to', 'peer1', '--json', ...flags]);
  t.is(r.code, 0, r.err);
  const j = JSON.parse(r.out) as Json;
  t.like(j, { outcome: 'ok', peer: 'peer2' });
  t.deepEqual(
    j.attempts.map((a) => [a.peer, a.outcome]),
    [
      ['peer1', 'no_leader'],
      ['peer2', 'done'],
    ],
  );
  t.deepEqual(fakes[0]!.got[0]!.cmd, fakes[1]!.got[0]!.cmd);
});

test(
  'a replica that swallows the command: the SAME command (client id and seq) goes to the next, ' + 'which answers',
  async (t) => {
    const { flags, fakes } = await setup(t, [silent, done({ r: 'ok' })]);
    const r = await cli(['put', 'k', 'v', '--to', 'peer1', '--timeout', '6', '--json', ...flags]);
    t.is(r.code, 0, r.err);
    const j = JSON.parse(r.out) as Json;
    t.like(j, { outcome: 'ok', peer: 'peer2' });
    t.deepEqual(
      j.attempts.map((a) => [a.peer, a.outcome]),
      [
        ['peer1', 'unknown'],
        ['peer2', 'done'],
      ],
    );
    const [a, b] = [fakes[0]!.got[0]!, fakes[1]!.got[0]!];
    t.is(a.cmd?.['c'], b.cmd?.['c'], 'same client id');
    t.is(a.cmd?.['s'], b.cmd?.['s'], 'same seq');
    t.deepEqual(a.cmd, b.cmd);
    t.not(a.id, b.id, 'each attempt is its own request');
    t.is(j.client, String(a.cmd?.['c']));
  },
);

test('every replica silent: outcome unknown (exit 4) within the timeout', async (t) => {
  const { flags, fakes } = await setup(t, [silent, silent, silent]);
  const r = await cli(['put', 'k', 'v', '--timeout', '1.5', ...flags]);
  const ended = Date.now();
  t.is(r.code, 4, r.err);
  t.regex(
    r.out,
    new RegExp(
      /^outcome unknown: .*took the request but no answer came within 1\.5 s\. The put may or /.source +
        /may not take effect; check with npx paxos get k\n$/.source,
    ),
  );
  // Timed from the first request a replica saw, so the CLI's start-up (which
  // a busy machine stretches) does not count: the bound only has to tell
  // --timeout 1.5 from the default 10 s.
  const first = Math.min(...fakes.map((f) => f.firstAt ?? Infinity));
  t.true(ended - first < 9000, `ended ${ended - first} ms after the first request (${r.ms} ms in all)`);
  const j = await cli(['cas', 'k', 'a', 'b', '--timeout', '0.5', '--json', ...flags]);
  t.is(j.code, 4);
  t.like(JSON.parse(j.out) as Json, { outcome: 'unknown', status: 'unknown' });
});

test('a refusal after a silent replica is still "unknown": the first may yet apply it', async (t) => {
  const { flags } = await setup(t, [silent, noLeader]);
  const r = await cli(['put', 'k', 'v', '--to', 'peer1', '--timeout', '3', '--json', ...flags]);
  t.is(r.code, 4, r.err);
  t.like(JSON.parse(r.out) as Json, { outcome: 'unknown' });
});

test(
  'every replica down or leaderless: refused (exit 5), nothing was done, after retrying until ' + 'the timeout',
  async (t) => {
    const { flags } = await setup(t, ['down', 'down', 'down']);
    const r = await cli(['put', 'k', 'v', '--timeout', '0.5', ...flags]);
    t.is(r.code, 5, r.err);
    t.regex(
      r.out,
      /^refused: no replica could take the request within 0\.5 s \(peer\d: ECONNREFUSED; .*\); nothing was done\n$/,
    );
    // As above: far from the default 10 s, however busy the machine.
    t.true(r.ms < 8000, `took ${r.ms} ms`);

    const { flags: flags2 } = await setup(t, [noLeader, 'down']);
    const j = await cli(['get', 'k', '--timeout', '0.5', '--json', ...flags2]);
    t.is(j.code, 5);
    const o = JSON.parse(j.out) as Json;
    t.like(o, { outcome: 'fail' });
    t.true(o.attempts.length >= 3, 'it kept trying');
    t.deepEqual([...new Set(o.attempts.map((a) => a.outcome))].sort(), ['no_leader', 'unreachable']);
  },
);

test('a replica that wants a secret: refused, naming --secret-file and PAXOS_SECRET', async (t) => {
  const { flags } = await setup(t, [silent], { type: 'challenge', nonce: '0'.repeat(32) });
  // Given 120 s, a client that waited for the timeout would take them all;
  // one that stops at once is far below half of that, however busy the machine.
  const r = await cli(['put', 'k', 'v', '--timeout', '120', ...flags]);
  t.is(r.code, 5, r.out + r.err);
  t.regex(r.out, /--secret-file FILE or set PAXOS_SECRET/);
  t.true(r.ms < 60_000, `it stops once every replica has asked for a secret, not at the timeout (took ${r.ms} ms)`);
});

test('invalid and not_replica answers are definite refusals', async (t) => {
  const { flags } = await setup(t, [() => ({ status: 'not_replica' })]);
  const r = await cli(['put', 'k', 'v', ...flags]);
  t.is(r.code, 5);
  t.regex(r.out, /peer1 is not a replica/);
  const { flags: flags2 } = await setup(t, [() => ({ status: 'invalid', why: 'no thanks' })]);
  const i = await cli(['del', 'k', ...flags2]);
  t.is(i.code, 5);
  t.is(i.out, 'refused: peer1 says the request is invalid: no thanks; nothing was done\n');
});

test('stale and expired results are definite failures (exit 1)', async (t) => {
  const { flags } = await setup(t, [done({ r: 'stale', last: 4 })]);
  const r = await cli(['put', 'k', 'v', ...flags]);
  t.is(r.code, 1);
  t.regex(r.out, /^failed: the store ignored this request: it has already applied request 4 .*nothing was done\n$/);
  const { flags: flags2 } = await setup(t, [done({ r: 'expired' })]);
  const e = await cli(['put', 'k', 'v', '--json', ...flags2]);
  t.is(e.code, 1);
  t.like(JSON.parse(e.out) as Json, { outcome: 'fail', status: 'expired' });
});

test("dump prints HOST's store sorted, one escaped key<TAB>value a line, and the applied slot on stderr", async (t) => {
  const data = [
    ['b', 'x\ty', 3, 9, 2],
    ['a', '1', 1, 1, 1],
    ['c\nd', '', 5, 12, 3],
  ];
  const { flags, fakes } = await setup(t, [silent, () => ({ status: 'dump', applied: 12, data, leader: 'peer1' })]);
  const r = await cli(['dump', '--from', 'peer2', ...flags]);
  t.is(r.code, 0, r.err);
  t.is(r.out, 'a\t1\nb\tx\\ty\nc\\nd\t\n');
  t.is(r.err, 'peer2: applied up to slot 12; 3 keys; leader peer1\n');
  t.is(fakes[0]!.got.length, 0, 'only HOST is asked');
  const j = await cli(['dump', '--from', 'peer2', '--json', ...flags]);
  t.like(JSON.parse(j.out) as Record<string, unknown>, {
    outcome: 'ok',
    status: 'dump',
    applied: 12,
    leader: 'peer1',
    data: { a: '1', b: 'x\ty', 'c\nd': '' },
  });
});

test('usage errors exit 2 with a clear message', async (t) => {
  const { flags } = await setup(t, ['down']);
  const cas = await cli(['cas', 'k', 'v', ...flags]);
  t.is(cas.code, 2);
  t.is(cas.err, 'paxos: cas expects 3 arguments (paxos cas KEY EXPECTED NEW), got 2; see paxos cas --help\n');
  const put = await cli(['put', 'k', ...flags]);
  t.is(put.code, 2);
  t.regex(put.err, /put expects 2 arguments \(paxos put KEY VALUE\), got 1/);
  const empty = await cli(['get', ...flags, '--', '']);
  t.is(empty.code, 2);
  t.regex(empty.err, /the key must not be empty/);
  const dump = await cli(['dump', ...flags]);
  t.is(dump.code, 2);
  t.regex(dump.err, /dump needs --from HOST/);
  const absent = await cli(['put', 'k', 'v', '--absent', ...flags]);
  t.is(absent.code, 2);
  t.regex(absent.err, /--absent is for cas only/);
  const who = await cli(['put', 'k', 'v', '--to', 'nobody', ...flags]);
  t.is(who.code, 2);
  t.regex(who.err, /nobody is not in .*; it lists peer1/);

  const dir = tempDir('kvcli-lab');
  const lab = path.join(dir, 'hostsfile');
  writeFileSync(lab, 'p1:proposer1\na1:acceptor1\n');
  const r = await cli(['put', 'k', 'v', '-h', lab]);
  t.is(r.code, 2);
  t.regex(
    r.err,
    new RegExp(
      /is a single-decree lab hostsfile.*npx paxos submit VALUE --to HOST and npx paxos /.source +
        /get --from HOST.*-h testcases\/kv3\/hostsfile/.source,
    ),
  );
  const g = await cli(['get', 'k', '-h', lab]);
  t.is(g.code, 2);
  t.regex(g.err, /single-decree lab hostsfile/);
});

test('--help lists the verbs, flags and exit statuses', async (t) => {
  const r = await cli(['put', '--help']);
  t.is(r.code, 0);
  for (const s of [
    'paxos cas KEY --absent NEW',
    'paxos dump --from HOST',
    '--value-file',
    '--resolve',
    '--json',
    'Exit status:',
    '  4  outcome unknown',
  ])
    t.true(r.out.includes(s), s);
  const g = await cli(['get', 'k', '--help']);
  t.is(g.out, r.out);
});

test("get routing: `get KEY` is the store's, `get --from HOST` the lab's", (t) => {
  t.true(isKvGet(['k']));
  t.true(isKvGet(['-h', 'hf', 'k', '--timeout', '3']));
  t.true(isKvGet(['--hostsfile=hf', 'k']));
  t.true(isKvGet(['--', '-k']));
  t.false(isKvGet(['--from', 'a1']));
  t.false(isKvGet(['--from', 'a1', '-h', 'hf']));
  t.false(isKvGet(['-h', 'hf', '--timeout', '3', '--to', 'peer1']));
  t.false(isKvGet(['k', '--from=a1']));
  t.false(isKvGet(['--json', '--resolve', 'a1=127.0.0.1:9']));
  t.false(isKvGet([]));
});

test("the lab's get --from still works as before", async (t) => {
  const dir = tempDir('kvcli-lab');
  const lab = path.join(dir, 'hostsfile');
  writeFileSync(lab, 'p1:proposer1\na1:acceptor1\n');
  const port = await closedPort();
  const r = await cli(['get', '--from', 'a1', '-h', lab, '--resolve', `a1=127.0.0.1:${port}`, '--timeout', '1']);
  t.is(r.code, 5);
  t.is(r.out, 'refused: cannot reach a1: ECONNREFUSED; nothing was done\n');
});

// A command a replica passed on to a leader is never answered "no leader,
// nothing done" (the fix of 50f8c67, found by the nemesis): the old leader
// may still choose it, and a client told "nothing done" reuses its seq.
//
// One real replica process (peer2) between two scripted replicas the test
// plays message by message: peer1, the leader it forwards the put to, which
// then falls silent, and peer3, which runs for election so that peer2
// promises it and knows no leader. Scripting the others holds peer2 in that
// state for as long as the test needs, so the command is sure to come back
// from the core unplaced (LogNode.propose, a follower with no leader)
// instead of only on an unlucky interleaving. The same holds after the
// first client hung up, and for a retry of a command already applied.

import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { LiveCluster, until, type Proc } from '../helpers/procs.js';
import { within } from '../helpers/cli.js';
import { kvAsk } from '../helpers/kv.js';
import { MAX_REPLICA_LINE_BYTES } from '../../src/paxos/defaults.js';
import { BALLOT_STRIDE, ballotOwner } from '../../src/log/ballot.js';
import type { LogMessage } from '../../src/log/types.js';
import { checkKvResult, newRequestId } from '../../src/client/kv.js';
import type { KvResult, ReceivedKvRequest } from '../../src/wire/kv.js';
import { PeerLink, type Endpoint } from '../../src/transport/link.js';
import { logCodec, type ReplicaWire } from '../../src/wire/log.js';
import { listen, type Inbound } from '../../src/transport/server.js';
import type { ClientResult } from '../../src/wire/lab.js';
import { silentLogger } from '../../src/util/logger.js';

const KV3 = 'peer1:replica\npeer2:replica\npeer3:replica\n';

/** Stands in for replica `host` of a LiveCluster: listens at its address and sends log messages as it. */
class ScriptedReplica {
  readonly got: LogMessage[] = [];
  private inbound: Inbound | null = null;
  private readonly links = new Map<number, PeerLink<LogMessage>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly live: LiveCluster,
    readonly host: string,
  ) {}

  get id(): number {
    return this.live.cluster.byHost(this.host)!.id;
  }

  async start(): Promise<this> {
    this.inbound = await listen<ReplicaWire, ReceivedKvRequest, KvResult | ClientResult>(
      this.live.endpoint(this.host),
      {
        message: (m) => {
          if (m.type === 'snapshot_chunk') return;
          this.got.push(m);
          // peer2 starts on a new data directory: it asks everyone what they hold before it votes. Nothing, yet.
          if (m.type === 'recover')
            this.send(this.live.cluster.byId(m.from)!.host, {
              type: 'recover_ack',
              from: this.id,
              life: m.life,
              promised: 0,
              votes: [],
              base: 1,
              commit: 1,
            });
        },
      },
      {
        log: silentLogger,
        secret: null,
        self: this.id,
        codec: logCodec(this.host),
        maxPeerLineBytes: MAX_REPLICA_LINE_BYTES,
      },
    );
    return this;
  }

  send(toHost: string, msg: LogMessage): void {
    const to = this.live.cluster.byHost(toHost)!.id;
    let link = this.links.get(to);
    if (link === undefined) {
      link = new PeerLink<LogMessage>(toHost, this.live.endpoint(toHost), {
        self: this.id,
        peer: to,
        secret: null,
        log: silentLogger,
        queueWhileDown: false,
      });
      link.start();
      this.links.set(to, link);
    }
    link.send(msg);
  }

  /** Send `make()` to `toHost` now and every 100 ms (a heartbeat, a prepare asked again), until `quiet`. */
  repeat(toHost: string, make: () => LogMessage): void {
    this.quiet();
    this.send(toHost, make());
    this.timer = setInterval(() => this.send(toHost, make()), 100);
  }

  quiet(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  async next<T extends LogMessage['type']>(
    type: T,
    pred: (m: Extract<LogMessage, { type: T }>) => boolean,
    what: string,
    ms = 10_000,
  ): Promise<Extract<LogMessage, { type: T }>> {
    const match = (m: LogMessage): m is Extract<LogMessage, { type: T }> =>
      m.type === type && pred(m as Extract<LogMessage, { type: T }>);
    await until(() => this.got.some(match), `${this.host} to get ${what}`, ms);
    return this.got.find(match)!;
  }

  async close(): Promise<void> {
    this.quiet();
    for (const l of this.links.values()) await l.close();
    await this.inbound?.close();
  }
}

/**
 * Requests written in this order on ONE client connection: a replica reads
 * a connection's lines in order, so the later ones are handled after the
 * earlier ones. A promise of each reply, by position, and a way to hang up.
 */
function pipelined(
  at: Endpoint,
  bodies: ReadonlyArray<Record<string, unknown>>,
  t: { teardown: (f: () => void) => void },
): { replies: Array<Promise<KvResult>>; close: () => void } {
  const ids = bodies.map(() => newRequestId());
  const waiting = new Map<string, (r: KvResult) => void>();
  const replies = ids.map((id) => new Promise<KvResult>((resolve) => waiting.set(id, resolve)));
  const socket = net.connect({ host: at.host, port: at.port });
  t.teardown(() => socket.destroy());
  socket.setEncoding('utf8');
  let rest = '';
  socket.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch {
        continue;
      }
      const r = checkKvResult(o as Record<string, unknown>);
      if (r.ok) waiting.get(r.result.id)?.(r.result);
    }
  });
  socket.on('error', () => undefined);
  socket.once('connect', () =>
    socket.write(bodies.map((b, i) => `${JSON.stringify({ ...b, id: ids[i] })}\n`).join('')),
  );
  return { replies, close: () => socket.destroy() };
}

/** Ballots of peer1 and peer3: far above any peer2 could reach standing for election on its own meanwhile. */
const BALLOT1 = 100 * BALLOT_STRIDE + 1;
const BALLOT3 = 300 * BALLOT_STRIDE + 3;

/** peer2, a real replica process, between peer1 and peer3, scripted by the test; peer1 leads, and peer2 follows it. */
async function trio(
  t: ExecutionContext,
): Promise<{ live: LiveCluster; p2: Proc; peer1: ScriptedReplica; peer3: ScriptedReplica }> {
  t.is(ballotOwner(BALLOT1), 1);
  t.is(ballotOwner(BALLOT3), 3);
  const live = await new LiveCluster(KV3).init();
  t.teardown(() => live.close());
  const peer1 = await new ScriptedReplica(live, 'peer1').start();
  const peer3 = await new ScriptedReplica(live, 'peer3').start();
  t.teardown(async () => void (await Promise.all([peer1.close(), peer3.close()])));
  const p2 = live.start('peer2', ['--no-message-lines']);
  peer1.repeat('peer2', () => ({ type: 'heartbeat', from: 1, n: BALLOT1, commit: 1 }));
  // A new data directory: peer2 first hears from both (the scripts answer its recover), then votes.
  await p2.waitStderr(/recovered from the other replicas: voting again/);
  await p2.waitStderr(/leader: peer1/);
  return { live, p2, peer1, peer3 };
}

/**
 * The same command again (a client retrying, on a new connection), then a
 * fresh client's put on that connection: peer2 handles them in that order,
 * and, knowing no leader, gets both back from its core unplaced. The fresh
 * one was never passed on, so "no leader, nothing done" is true of it, and
 * peer2 says so: the unplaced path was taken. A reader of the retry's
 * answer, if any has come.
 */
async function retryThenFresh(
  t: ExecutionContext,
  at: Endpoint,
  put: Record<string, unknown>,
): Promise<() => KvResult | undefined> {
  const fresh = { o: 'put', c: `t-fresh-${newRequestId()}`, s: 1, k: 'other', v: 'x' };
  const [again, control] = pipelined(
    at,
    [
      { type: 'kv', cmd: put },
      { type: 'kv', cmd: fresh },
    ],
    t,
  ).replies;
  let retried: KvResult | undefined;
  void again!.then((r) => (retried = r));
  const c = await within(control!, 60_000, null);
  t.is(c?.status, 'no_leader', 'a command never passed on is answered "no leader"');
  return () => retried;
}

/** A fresh client's first put, and a test for it in a batch of commands. */
function newPut(tag: string): { put: Record<string, unknown>; same: (c: unknown) => boolean } {
  const put = { o: 'put', c: `t-${tag}-${newRequestId()}`, s: 1, k: 'lock', v: 'mine' };
  return { put, same: (c) => JSON.stringify(c) === JSON.stringify(put) };
}

const placedMacro = test.macro(async (t, clientGone: boolean) => {
  const { live, p2, peer1: old, peer3: next } = await trio(t);
  const newBallot = BALLOT3;

  // 1. peer1 leads; peer2 follows it (trio).
  // 2. A client's put reaches peer2, which passes it on to peer1.
  const { put, same } = newPut('placed');
  let first: KvResult | undefined;
  const firstConn = pipelined(live.endpoint('peer2'), [{ type: 'kv', cmd: put }], t);
  void firstConn.replies[0]!.then((r) => (first = r));
  await old.next('forward', (m) => m.from === 2 && m.cmds.some(same), 'the put forwarded by peer2');
  // The client gives up and hangs up: nobody waits for the put at peer2 any
  // more, but peer2 must still remember that it passed it on.
  if (clientGone) firstConn.close();

  // 3. peer1 falls silent (frozen, cut off: it may yet choose the put). peer3
  //    stands, and asks again every 100 ms without ever winning: once peer2's
  //    leader is overdue, peer2 promises peer3 and knows no leader, and stays so.
  old.quiet();
  next.repeat('peer2', () => ({ type: 'prepare', from: 3, n: newBallot, slot: 1, life: 7 }));
  await next.next(
    'prepare_ack',
    (m) => m.from === 2 && m.n === newBallot && m.promised === newBallot,
    "peer2's promise",
  );
  await p2.waitStderr(/no leader known/);
  const dump = await kvAsk(live.endpoint('peer2'), { type: 'dump' }, 3000);
  t.is(dump?.status === 'dump' ? dump.leader : dump?.status, '', 'peer2 knows no leader');
  const seen = { old: old.got.length, next: next.got.length };

  // 4. The client retries; a fresh client's put follows (retryThenFresh).
  const retried = await retryThenFresh(t, live.endpoint('peer2'), put);
  // The retry was handled as peer2 was then: neither passed on (no forward
  // reached anyone) nor queued by a candidate (peer2 sent no prepare).
  const since = [...old.got.slice(seen.old), ...next.got.slice(seen.next)];
  t.deepEqual(
    since.filter((m) => m.type === 'forward' || m.type === 'prepare'),
    [],
    'peer2 stayed a follower with no leader while it took the retry (else the unplaced path was not reached)',
  );

  // 5. peer3 wins and leads. peer2 must pass the put on to it; a replica that
  //    answered "no leader" has forgotten it and passes nothing on.
  next.repeat('peer2', () => ({ type: 'heartbeat', from: 3, n: newBallot, commit: 1 }));
  await until(
    () =>
      first !== undefined || retried() !== undefined || next.got.some((m) => m.type === 'forward' && m.cmds.some(same)),
    'peer2 to answer or pass the put on to peer3',
  );
  t.not(
    first?.status,
    'no_leader',
    `peer2 answered "no leader, nothing done" for a put it had forwarded to peer1: ${JSON.stringify(first)}`,
  );
  t.not(
    retried()?.status,
    'no_leader',
    `peer2 answered "no leader, nothing done" to a retry of a put it had forwarded to peer1: ` +
      `${JSON.stringify(retried())}`,
  );
  if (first !== undefined || retried() !== undefined) {
    t.fail(
      `peer2 answered before the put was chosen: first ${JSON.stringify(first)}, retry ${JSON.stringify(retried())}`,
    );
    return;
  }
  const fwd = await next.next('forward', (m) => m.from === 2 && m.cmds.some(same), 'the put passed on again');
  t.true(fwd.cmds.every(same), 'only the waiting put is passed on (the fresh one was answered)');

  // 6. peer3 gets it chosen in slot 1; peer2 applies it and answers both.
  next.send('peer2', { type: 'accept', from: 3, n: newBallot, slot: 1, v: fwd.cmds, commit: 1 });
  await next.next(
    'accept_ack',
    (m) => m.from === 2 && m.slot === 1 && m.n === newBallot && m.promised === newBallot,
    "peer2's vote for slot 1",
  );
  next.send('peer2', { type: 'chose', from: 3, n: newBallot, slot: 1 });
  await until(() => retried() !== undefined && (clientGone || first !== undefined), "peer2's answers", 5000);
  // (Read through a function: the compiler narrowed both to undefined above.)
  const answers = (): Array<KvResult | undefined> => (clientGone ? [retried()] : [first, retried()]);
  for (const r of answers()) {
    t.is(r?.status, 'done');
    if (r?.status === 'done') {
      t.is(r.slot, 1);
      t.deepEqual(r.result, { r: 'ok' });
    }
  }
  const after = await kvAsk(live.endpoint('peer2'), { type: 'dump' }, 3000);
  t.is(after?.status, 'dump');
  if (after?.status === 'dump')
    t.deepEqual(
      { applied: after.applied, data: after.data, leader: after.leader },
      { applied: 1, data: [['lock', 'mine', 1, 1, 1]], leader: 'peer3' },
    );
});

test(
  'kv3: a put a follower forwarded to a leader that went silent is not answered "no leader" when it comes back ' +
    'unplaced; it goes to the next leader and is applied once',
  placedMacro,
  false,
);

test(
  'kv3: the same after the client that sent it hung up: a retry of a command passed on is not answered "no ' +
    'leader" either',
  placedMacro,
  true,
);

test(
  'kv3: a retry of a put the replica already applied is not answered "no leader" while it knows none; the next ' +
    'leader takes it, and the store answers it once more without applying it again',
  async (t) => {
    const { live, peer1: first, peer3: second } = await trio(t);
    const ballot1 = BALLOT1;
    const ballot3 = BALLOT3;

    // 1. peer1 leads (trio); a put reaches peer2, goes to peer1, and is chosen in slot 1.
    const { put, same } = newPut('applied');
    const answered = kvAsk(live.endpoint('peer2'), { type: 'kv', cmd: put }, 10_000);
    const fwd = await first.next('forward', (m) => m.from === 2 && m.cmds.some(same), 'the put forwarded by peer2');
    first.send('peer2', { type: 'accept', from: 1, n: ballot1, slot: 1, v: fwd.cmds, commit: 1 });
    await first.next(
      'accept_ack',
      (m) => m.from === 2 && m.slot === 1 && m.n === ballot1 && m.promised === ballot1,
      "peer2's vote for slot 1",
    );
    first.send('peer2', { type: 'chose', from: 1, n: ballot1, slot: 1 });
    const r1 = await answered;
    t.is(r1?.status, 'done', 'the put is applied');

    // 2. peer1 falls silent; peer3 asks for promises without ever winning, so
    //    peer2 promises it and knows no leader.
    first.quiet();
    second.repeat('peer2', () => ({ type: 'prepare', from: 3, n: ballot3, slot: 2, life: 7 }));
    await second.next(
      'prepare_ack',
      (m) => m.from === 2 && m.n === ballot3 && m.promised === ballot3,
      "peer2's promise",
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      const d = await kvAsk(live.endpoint('peer2'), { type: 'dump' }, 1000);
      if (d?.status === 'dump' && d.leader === '') break;
      if (Date.now() > deadline) return t.fail(`peer2 still follows a leader: ${JSON.stringify(d)}`);
      await delay(20);
    }

    // 3. The client, which never saw the answer, asks again (same client, same
    //    seq), and a fresh client puts after it on the same connection.
    const retried = await retryThenFresh(t, live.endpoint('peer2'), put);
    t.not(
      retried()?.status,
      'no_leader',
      `peer2 said "no leader, nothing done" of a put it had applied: ${JSON.stringify(retried())}`,
    );

    // 4. peer3 leads: peer2 passes the retry on, it is chosen in slot 2, and
    //    the store answers it with the first result without putting twice.
    second.repeat('peer2', () => ({ type: 'heartbeat', from: 3, n: ballot3, commit: 2 }));
    const fwd2 = await second.next('forward', (m) => m.from === 2 && m.cmds.some(same), 'the retry passed on to peer3');
    second.send('peer2', { type: 'accept', from: 3, n: ballot3, slot: 2, v: fwd2.cmds, commit: 2 });
    await second.next('accept_ack', (m) => m.from === 2 && m.slot === 2 && m.n === ballot3, "peer2's vote for slot 2");
    second.send('peer2', { type: 'chose', from: 3, n: ballot3, slot: 2 });
    await until(() => retried() !== undefined, "peer2's answer to the retry", 5000);
    const result = (r: KvResult | null | undefined): unknown => (r?.status === 'done' ? r.result : r?.status);
    t.is(retried()?.status, 'done');
    t.deepEqual(result(retried()), result(r1), 'the retry gets the first result');
    const after = await kvAsk(live.endpoint('peer2'), { type: 'dump' }, 3000);
    if (after?.status === 'dump')
      t.deepEqual({ applied: after.applied, data: after.data }, { applied: 2, data: [['lock', 'mine', 1, 1, 1]] });
    else t.fail(`no dump: ${JSON.stringify(after)}`);
  },
);

// Hostile clients of a replicated-log cluster, against real replica
// processes on loopback: a client that pipelines 100,000 puts on one
// connection must not starve the leader's other clients or cost it its
// leadership (issue "Never lose an acknowledged write").

import net from 'node:net';
import test from 'ava';
import { LiveCluster, until, type Proc } from '../helpers/procs.js';
import { kvAsk } from '../helpers/kv.js';
import type { Endpoint } from '../../src/transport/link.js';

const KV3 = 'peer1:replica\npeer2:replica\npeer3:replica\n';
const HOSTS = ['peer1', 'peer2', 'peer3'];

/** The replica all three name as leader (asked by dump), once they agree. */
async function agreedLeader(live: LiveCluster): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const named = await Promise.all(
      HOSTS.map(async (h) => {
        const r = await kvAsk(live.endpoint(h), { type: 'dump' }, 1000).catch(() => null);
        return r?.status === 'dump' ? (r.leader ?? '') : '';
      }),
    );
    if (named[0] !== '' && named.every((n) => n === named[0])) return named[0]!;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the replicas never agreed on a leader');
}

/** One connection, lines in and out: send() resolves with the answer to a request, by its id. */
class LineConn {
  private readonly waiting = new Map<string, (line: Record<string, unknown>) => void>();
  private rest = '';
  answers = 0;

  private constructor(
    readonly socket: net.Socket,
    parse: boolean,
  ) {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    if (!parse) {
      // Only counted: a client that pipelines need not look at its answers.
      socket.on('data', (d: Buffer) => {
        for (let i = d.indexOf(0x0a); i >= 0; i = d.indexOf(0x0a, i + 1)) this.answers += 1;
      });
      return;
    }
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      const lines = (this.rest + d).split('\n');
      this.rest = lines.pop()!;
      for (const l of lines) {
        this.answers += 1;
        const o = JSON.parse(l) as Record<string, unknown>;
        const w = this.waiting.get(String(o['id']));
        this.waiting.delete(String(o['id']));
        w?.(o);
      }
    });
  }

  static open(at: Endpoint, parse = true): Promise<LineConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: at.host, port: at.port }, () => resolve(new LineConn(s, parse)));
      s.once('error', reject);
    });
  }

  ask(req: { id: string } & Record<string, unknown>, ms: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${req.id} within ${ms} ms`)), ms);
      this.waiting.set(req.id, (o) => {
        clearTimeout(timer);
        resolve(o);
      });
      this.socket.write(`${JSON.stringify(req)}\n`);
    });
  }
}

/**
 * The stderr lines, from line `from` on, in which a replica says another
 * replica than `leader` leads, or that none is known. A late line naming
 * `leader` itself is the election the test already saw, not a change.
 */
function leaderChanges(p: Proc, from: number, leader: string): string[] {
  return p.stderr
    .slice(from)
    .filter((l) => /no leader known/.test(l) || (/leader: /.test(l) && !new RegExp(`leader: ${leader}\\b`).test(l)));
}

test(
  'kv3: a client pipelining 100,000 puts at the leader costs it neither its leadership nor another client ' +
    'its latency',
  async (t) => {
    const live = await new LiveCluster(KV3).init();
    t.teardown(() => live.close());
    const procs = new Map(HOSTS.map((h) => [h, live.start(h, ['--no-message-lines'])]));
    const leader = await agreedLeader(live);
    const at = live.endpoint(leader);
    // Each replica's own word on the election has reached us before the marks are taken.
    await until(
      () => HOSTS.every((h) => procs.get(h)!.stderr.some((l) => new RegExp(`leader: ${leader}\\b`).test(l))),
      'every replica to name the leader',
      60_000,
    );
    const marks = new Map(HOSTS.map((h) => [h, procs.get(h)!.stderr.length]));

    // The good client's latency on this machine, now, with no flood: the bound
    // below is relative to it, so a busy machine cannot fail the test, while a
    // client queued behind the flood (seconds) still would.
    const calm: number[] = [];
    {
      const good = await LineConn.open(at);
      for (let seq = 1; seq <= 200; seq++) {
        const s = performance.now();
        await good.ask(
          { type: 'kv', id: `calm-${seq}`, cmd: { o: 'put', c: 'calm', s: seq, k: 'calm', v: String(seq) } },
          10_000,
        );
        calm.push(performance.now() - s);
      }
      good.socket.destroy();
      calm.sort((a, b) => a - b);
    }
    const calmP99 = calm[Math.floor(0.99 * calm.length)]!;

    // The hostile client: 100,000 puts written at once, as fast as the socket
    // takes them, without waiting for any answer (it reads them as they come,
    // only to count them).
    const N = 100_000;
    const hostile = await LineConn.open(at, false);
    const payload = Buffer.from(
      Array.from(
        { length: N },
        (_, i) =>
          `{"type":"kv","id":"h${i}","cmd":{"o":"put","c":"hostile","s":${i + 1},"k":"h${i % 100}","v":"${i}"}}\n`,
      ).join(''),
    );
    const t0 = performance.now();
    hostile.socket.write(payload);

    // Meanwhile a well-behaved client on a connection of its own: put, then
    // get, one request at a time, for as long as the flood lasts, and for at
    // least 400 requests (the p99 of fewer is one unlucky scheduling away).
    const lat: number[] = [];
    let failed = '';
    const behave = async (name: string): Promise<void> => {
      const good = await LineConn.open(at);
      for (let seq = 1; (hostile.answers < N || lat.length < 400) && performance.now() - t0 < 120_000; seq++) {
        const body =
          seq % 2 === 1
            ? { o: 'put', c: name, s: seq, k: name, v: String(seq) }
            : { o: 'get', c: name, s: seq, k: name };
        const s = performance.now();
        const r = await good
          .ask({ type: 'kv', id: `${name}-${seq}`, cmd: body }, 10_000)
          .catch((e: Error) => ({ status: e.message }));
        lat.push(performance.now() - s);
        if (r['status'] !== 'done' && failed === '') failed = `${name}'s request ${seq}: ${JSON.stringify(r)}`;
      }
      good.socket.destroy();
    };
    await behave('good');
    const hostileMs = performance.now() - t0;
    lat.sort((a, b) => a - b);
    const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!;
    t.log(
      `leader ${leader}: the hostile client had ${hostile.answers} of ${N} answers after ` +
        `${(hostileMs / 1000).toFixed(1)} s; ` +
        `without the flood its p99 was ${calmP99.toFixed(1)} ms; the good client made ${lat.length} requests, ` +
        `latency p50 ${q(0.5).toFixed(1)} ms, p99 ${q(0.99).toFixed(1)} ms, max ${lat.at(-1)!.toFixed(1)} ms`,
    );
    t.is(failed, '', 'every request of the good client was done');
    t.is(hostile.answers, N, 'the hostile client got all its answers');
    // No replica saw the leadership change while it went on.
    for (const h of HOSTS)
      t.deepEqual(leaderChanges(procs.get(h)!, marks.get(h)!, leader), [], `${h} saw no leader change`);
    const bound = Math.max(100, 10 * calmP99);
    t.true(
      q(0.99) < bound,
      `the good client's p99 latency is ${q(0.99).toFixed(1)} ms under the flood, ${calmP99.toFixed(1)}` +
        ` ms without (bound ${bound.toFixed(0)} ms)`,
    );
    hostile.socket.destroy();
  },
);

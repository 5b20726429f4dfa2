// Links that know when they are dead: identity checks on every connection,
// heartbeats, redials that look the name up again, and the server's side of
// the same rules.

import { spawn } from 'node:child_process';
import dns from 'node:dns';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import type { Message } from '../../src/core/types.js';
import type { Logger } from '../../src/util/logger.js';
import { PeerLink } from '../../src/transport/link.js';
import { listen } from '../../src/transport/server.js';
import { LAB_CODEC } from '../../src/wire/lab.js';
import { until } from '../helpers/procs.js';
import { within } from '../helpers/cli.js';

const FAST = { heartbeatMs: 40, deadAfterMs: 250 };
const prep = (n: number): Message => ({ type: 'prepare', from: 1, n });

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = (l: string) => (m: string) => void lines.push(`${l}: ${m}`);
  return { log: { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') }, lines };
}

async function listenOn(t: ExecutionContext, host: string, port: number, self: number, liveness = FAST) {
  const got: Message[] = [];
  const cap = capture();
  const inbound = await listen({ host, port }, (m) => got.push(m), { codec: LAB_CODEC, log: cap.log, self, liveness });
  t.teardown(() => inbound.close());
  return { got, lines: cap.lines, port: (inbound.server.address() as net.AddressInfo).port, inbound };
}

/**
 * A peer that answers the handshake and then goes silent without closing:
 * the process is frozen, or the path black-holes.
 */
async function silentPeer(t: ExecutionContext, self: number): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    connections += 1;
    sockets.push(s);
    s.once('data', () => s.write(`${JSON.stringify({ type: 'welcome', from: self })}\n`));
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as net.AddressInfo).port, connections: () => connections };
}

test(
  'a link comes up only on the peer it meant: a stale address that leads to another peer is refused, and the ' +
    'redial looks the name up again',
  async (t) => {
    // peer3 now holds the address peer2 used to have; peer2 is elsewhere.
    const wrong = await listenOn(t, '127.0.0.2', 0, 3);
    const right = await listenOn(t, '127.0.0.3', wrong.port, 2);
    let lookups = 0;
    // The signature Node's net.connect calls: with `all` (Happy Eyeballs) it wants a list.
    const lookup = ((
      _host: string,
      options: dns.LookupOptions,
      cb: (err: Error | null, address: unknown, family?: number) => void,
    ) => {
      lookups += 1;
      // Docker's DNS still answers with the old address for the first tries.
      const address = lookups <= 2 ? '127.0.0.2' : '127.0.0.3';
      if (options.all === true) cb(null, [{ address, family: 4 }]);
      else cb(null, address, 4);
    }) as unknown as typeof dns.lookup;
    const cap = capture();
    const link = new PeerLink(
      'peer2',
      { host: 'peer2.test', port: wrong.port },
      { self: 1, peer: 2, log: cap.log, liveness: FAST, lookup },
    );
    t.teardown(() => link.close());
    link.send(prep(7));
    link.start();
    await until(() => right.got.length === 1, 'the message to reach the right peer');
    t.deepEqual(right.got, [prep(7)]);
    t.deepEqual(wrong.got, [], 'nothing ever reached the wrong peer');
    t.true(lookups >= 3, `looked the name up on every attempt (${lookups} lookups)`);
    t.true(
      wrong.lines.some((l) => /it meant peer_id 2, but this is peer_id 3/.test(l)),
      wrong.lines.join('\n'),
    );
    t.true(
      cap.lines.some((l) => /peer2 now resolves to 127.0.0.3 \(was 127.0.0.2\)/.test(l)),
      cap.lines.join('\n'),
    );
  },
);

test(
  'a connect that gets no answer at all is given up after the peer timeout, and retried with a ' + 'fresh lookup',
  async (t) => {
    // A listener whose process is frozen and whose accept queue is full: the
    // kernel drops further SYNs, as for an address nobody holds any more.
    const child = spawn(process.execPath, [
      '-e',
      "const s=require('net').createServer()" +
        ".listen({host:'127.0.0.1',port:0,backlog:1},()=>console.log(s.address().port))",
    ]);
    t.teardown(() => void child.kill('SIGKILL'));
    const port = await new Promise<number>((resolve) =>
      child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
    );
    child.kill('SIGSTOP');
    const fillers: net.Socket[] = [];
    t.teardown(() => fillers.forEach((f) => f.destroy()));
    for (;;) {
      const f = net.connect({ host: '127.0.0.1', port });
      f.on('error', () => undefined);
      fillers.push(f);
      // A connect the full queue takes answers in microseconds; 300 ms without one is a dropped SYN.
      const connected = await within(new Promise((r) => f.once('connect', () => r(true))), 300, false);
      if (!connected) break;
      t.true(fillers.length < 50, 'the accept queue fills');
    }
    let lookups = 0;
    const lookup = ((host: string, options: dns.LookupOptions, cb: (...a: unknown[]) => void) => {
      lookups += 1;
      dns.lookup(host, options, cb as never);
    }) as typeof dns.lookup;
    const cap = capture();
    const link = new PeerLink(
      'peer2',
      { host: 'localhost', port },
      { self: 1, peer: 2, log: cap.log, liveness: FAST, lookup },
    );
    t.teardown(() => link.close());
    link.start();
    await until(() => lookups >= 3, 'two retries', 5000);
    t.true(
      cap.lines.some((l) => /not reachable \(no answer to connect within 0\.25 s\)/.test(l)),
      cap.lines.join('\n'),
    );
  },
);

test('a peer that welcomes us as someone else is hung up on', async (t) => {
  const impostor = await silentPeer(t, 9);
  const cap = capture();
  const link = new PeerLink(
    'peer2',
    { host: '127.0.0.1', port: impostor.port },
    { self: 1, peer: 2, log: cap.log, liveness: FAST },
  );
  t.teardown(() => link.close());
  let ups = 0;
  link.on('up', () => void (ups += 1));
  link.start();
  await until(() => impostor.connections() >= 2, 'a retry');
  t.is(ups, 0);
  t.true(
    cap.lines.some((l) => /it is peer_id 9, not 2/.test(l)),
    cap.lines.join('\n'),
  );
});

test('a link whose peer goes silent without closing is declared down within the timeout and redialed', async (t) => {
  const peer = await silentPeer(t, 2);
  const cap = capture();
  const link = new PeerLink(
    'peer2',
    { host: '127.0.0.1', port: peer.port },
    { self: 1, peer: 2, log: cap.log, liveness: FAST },
  );
  t.teardown(() => link.close());
  const ups: number[] = [];
  const downs: number[] = [];
  link.on('up', () => void ups.push(performance.now()));
  link.on('down', () => void downs.push(performance.now()));
  link.start();
  await until(() => downs.length >= 1, 'the link to be declared down', 5000);
  const silentFor = downs[0]! - ups[0]!;
  // Not before the timeout; the upper bound only tells the timeout from no detection at all, with room for a busy
  // machine's late timers.
  t.true(
    silentFor >= FAST.deadAfterMs && silentFor < FAST.deadAfterMs + 3 * FAST.heartbeatMs + 2000,
    `declared down after ${silentFor.toFixed(0)} ms of silence`,
  );
  await until(() => peer.connections() >= 2, 'a redial');
  t.true(
    cap.lines.some((l) =>
      /warn: peer2 at .*nothing heard for 0\.\d s \(no answer to heartbeats\); closing the link and redialing/.test(l),
    ),
    cap.lines.join('\n'),
  );
});

test('suspect(): a link that missed heartbeats is recycled at once when a round goes unanswered', async (t) => {
  const peer = await silentPeer(t, 2);
  const slow = { heartbeatMs: 40, deadAfterMs: 10_000 };
  const link = new PeerLink(
    'peer2',
    { host: '127.0.0.1', port: peer.port },
    { self: 1, peer: 2, log: capture().log, liveness: slow },
  );
  t.teardown(() => link.close());
  let downs = 0;
  link.on('down', () => void (downs += 1));
  link.start();
  await until(() => link.isUp, 'the link to come up');
  link.suspect();
  t.is(downs, 0, 'a link that just heard its peer is not suspect');
  await delay(4 * slow.heartbeatMs); // the point: heartbeats go unanswered for a while
  link.suspect();
  await until(() => downs === 1, 'the suspect link to close', 1000);
  await until(() => peer.connections() >= 2, 'a redial');
});

test('a live peer is never declared down: heartbeats flow both ways, and never reach the protocol', async (t) => {
  const srv = await listenOn(t, '127.0.0.1', 0, 2);
  const link = new PeerLink(
    'peer2',
    { host: '127.0.0.1', port: srv.port },
    { self: 1, peer: 2, log: capture().log, liveness: FAST },
  );
  t.teardown(() => link.close());
  let downs = 0;
  link.on('down', () => void (downs += 1));
  link.start();
  await until(() => link.isUp, 'the link to come up');
  await delay(4 * FAST.deadAfterMs); // the point: four timeouts pass, and the link stays up
  t.is(downs, 0);
  t.true(link.isUp);
  t.deepEqual(srv.got, [], 'pings are answered by the transport, not handed to the peer');
});

test("the server closes a peer's connection that goes silent, but not an idle client's", async (t) => {
  const srv = await listenOn(t, '127.0.0.1', 0, 2);
  const dial = async (first: string | null): Promise<net.Socket> => {
    const s = net.connect({ host: '127.0.0.1', port: srv.port });
    s.on('error', () => undefined);
    await new Promise((resolve) => s.once('connect', resolve));
    s.resume(); // read, so a close from the server is seen
    if (first !== null) s.write(`${first}\n`);
    t.teardown(() => void s.destroy());
    return s;
  };
  const peer = await dial(JSON.stringify({ type: 'hello', from: 1, to: 2 }));
  const client = await dial(null);
  let peerClosed = 0;
  peer.on('close', () => void (peerClosed = performance.now()));
  const t0 = performance.now();
  await until(() => peerClosed > 0, 'the silent peer connection to be closed', 3000);
  // As above: the bound tells the timeout from no detection, with room for late timers.
  t.true(
    peerClosed - t0 < FAST.deadAfterMs + 3 * FAST.heartbeatMs + 2000,
    `closed after ${(peerClosed - t0).toFixed(0)} ms`,
  );
  await delay(FAST.deadAfterMs); // the point: a client silent for as long is not closed
  t.false(client.destroyed, 'a client may take its time');
  t.true(srv.lines.some((l) => /closing the connection from peer 1 .*nothing heard/.test(l)));
});

/**
 * The fault proxy in front of a peer: while the peer is down it accepts every
 * connection and closes it at once; while it is up it is the peer (a welcome,
 * then a pong for anything sent).
 */
async function proxiedPeer(t: ExecutionContext, self: number) {
  let down = true;
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    connections += 1;
    s.on('error', () => undefined);
    if (down) return void s.destroy();
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    let welcomed = false;
    s.on('data', () => {
      s.write(`${JSON.stringify(welcomed ? { type: 'pong' } : { type: 'welcome', from: self })}\n`);
      welcomed = true;
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    setDown(d: boolean): void {
      down = d;
      if (d) for (const s of sockets) s.destroy();
    },
  };
}

test(
  'a down peer behind a proxy that accepts and closes is warned about once per outage, not on every redial, ' +
    'and its return is said',
  async (t) => {
    const peer = await proxiedPeer(t, 2);
    const cap = capture();
    const link = new PeerLink(
      'peer2',
      { host: '127.0.0.1', port: peer.port },
      { self: 1, peer: 2, log: cap.log, liveness: FAST },
    );
    t.teardown(() => link.close());
    const warnings = (): string[] => cap.lines.filter((l) => l.startsWith('warn: '));
    const closedWarning =
      `warn: peer2 at 127.0.0.1:${peer.port}: it closed the connection during the handshake ` +
      `(not the peer we meant?); closing`;
    const backWarning = `warn: peer2 is reachable again (at 127.0.0.1:${peer.port})`;
    const count = (line: string): number => warnings().filter((l) => l === line).length;
    /** Up, with a message through it (a used connection is redialed at once when it goes). */
    const up = async (what: string): Promise<void> => {
      peer.setDown(false);
      await until(() => link.isUp, what, 20_000);
      link.send(prep(1));
      await until(() => link.pending === 0, 'the message to go out');
    };
    const downFor = async (attempts: number, what: string): Promise<void> => {
      const before = peer.connections();
      peer.setDown(true);
      await until(() => peer.connections() >= before + attempts, what, 20_000);
    };

    // While peers start, one not up yet behind its proxy is as normal as a refused connection.
    link.start();
    await until(() => peer.connections() >= 6, 'six connection attempts', 20_000);
    t.deepEqual(warnings(), [], cap.lines.join('\n'));
    t.true(
      cap.lines.filter((l) => l.startsWith('debug: ') && l.includes('closed the connection during the handshake'))
        .length >= 5,
      'each attempt is logged at debug level',
    );
    await up('the link to come up');
    t.deepEqual(warnings(), [], 'no warning, so no word that it is back');

    // Up, then down: said at once, and once over many redials.
    await downFor(8, 'eight attempts while it is down');
    t.deepEqual(warnings(), [closedWarning], cap.lines.join('\n'));
    await up('the link to come back');
    t.deepEqual(warnings(), [closedWarning, backWarning]);

    // Down again: said again, once.
    await downFor(8, 'eight attempts while it is down again');
    t.is(count(closedWarning), 2, cap.lines.join('\n'));
    await up('the link to come back again');
    t.is(count(backWarning), 2);
    t.is(warnings().length, 4, warnings().join('\n'));
  },
);

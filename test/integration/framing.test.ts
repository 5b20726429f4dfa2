import test from 'ava';
import type { ExecutionContext } from 'ava';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { MAX_LINE_BYTES } from '../../src/paxos/defaults.js';
import type { Message } from '../../src/core/types.js';
import type { Logger } from '../../src/util/logger.js';
import { PeerLink } from '../../src/transport/link.js';
import { listen, type Inbound } from '../../src/transport/server.js';
import { LAB_CODEC } from '../../src/wire/lab.js';
import { until } from '../helpers/cli.js';

// ---- helpers -------------------------------------------------------------------

interface Captured {
  readonly log: Logger;
  readonly errors: string[];
  readonly warns: string[];
  readonly infos: string[];
  readonly debugs: string[];
}

function capture(): Captured {
  const errors: string[] = [];
  const warns: string[] = [];
  const infos: string[] = [];
  const debugs: string[] = [];
  const log: Logger = {
    error: (m) => void errors.push(m),
    warn: (m) => void warns.push(m),
    info: (m) => void infos.push(m),
    debug: (m) => void debugs.push(m),
  };
  return { log, errors, warns, infos, debugs };
}

interface Server extends Captured {
  readonly inbound: Inbound;
  readonly port: number;
  readonly got: Message[];
  /** Server-side sockets, in accept order. */
  readonly accepted: net.Socket[];
}

function portOf(server: net.Server): number {
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error(`unexpected server address ${String(addr)}`);
  return addr.port;
}

async function serve(t: ExecutionContext): Promise<Server> {
  const cap = capture();
  const got: Message[] = [];
  const inbound = await listen({ host: '127.0.0.1', port: 0 }, (m) => got.push(m), {
    codec: LAB_CODEC,
    log: cap.log,
    self: 2,
  });
  t.teardown(() => inbound.close());
  const accepted: net.Socket[] = [];
  inbound.server.on('connection', (s: net.Socket) => accepted.push(s));
  return { ...cap, inbound, port: portOf(inbound.server), got, accepted };
}

async function dial(t: ExecutionContext, port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  s.setNoDelay(true);
  // The server may reset us at teardown; that is not a test failure.
  s.on('error', () => undefined);
  t.teardown(() => void s.destroy());
  await once(s, 'connect');
  return s;
}

function write(s: net.Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    s.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

const line = (m: Message): string => `${JSON.stringify(m)}\n`;

const prep = (from: number, n: number): Message => ({ type: 'prepare', from, n });
const acc = (from: number, n: number, v: string): Message => ({ type: 'accept', from, n, v });

// ---- framing -------------------------------------------------------------------

test('several messages in one TCP write arrive intact and in order', async (t) => {
  const srv = await serve(t);
  const c = await dial(t, srv.port);
  const msgs: Message[] = [
    prep(1, 1),
    { type: 'prepare_ack', from: 2, n: 1, promised: 1, accepted: null, chosen: null },
    acc(1, 1, 'multi\nline "quoted" \\ €😀'),
    {
      type: 'accept_ack',
      from: 2,
      n: 1,
      promised: 1,
      accepted: { n: 1, v: 'multi\nline "quoted" \\ €😀' },
      chosen: null,
    },
    { type: 'chose', from: 1, n: 1, v: 'X' },
    prep(5, 2),
  ];
  await write(c, msgs.map(line).join(''));
  await until(() => srv.got.length >= msgs.length, `${msgs.length} messages`);
  t.deepEqual(srv.got, msgs);
  t.deepEqual(srv.warns, []);
  t.deepEqual(srv.errors, []);
});

test('one message split across several writes (byte by byte, mid-UTF-8) arrives intact', async (t) => {
  const srv = await serve(t);
  const c = await dial(t, srv.port);
  const first = acc(1, 7, 'a€b😀c');
  const second = prep(3, 9);
  const bytes = Buffer.from(line(first) + line(second), 'utf8');
  const euro = bytes.indexOf(Buffer.from('€', 'utf8'));
  t.true(euro > 0);
  // Byte by byte through the first few bytes and across the multi-byte '€',
  // then the rest of message one and the start of message two together, then
  // the remainder.
  const cuts = [1, 2, 3, 4, 5, euro + 1, euro + 2, euro + 3, bytes.indexOf(0x0a) + 5, bytes.length];
  let at = 0;
  for (const cut of cuts) {
    await write(c, bytes.subarray(at, cut));
    at = cut;
    // Each piece reaches the server as a read of its own.
    await until(() => (srv.accepted.at(-1)?.bytesRead ?? 0) >= cut, `the server to read ${cut} bytes`);
    if (cut <= bytes.indexOf(0x0a)) t.is(srv.got.length, 0, 'nothing is delivered before its newline');
  }
  await until(() => srv.got.length >= 2, 'two messages');
  t.deepEqual(srv.got, [first, second]);
  t.deepEqual(srv.warns, []);
});

test('a malformed JSON line is dropped with a warning and the same connection keeps working', async (t) => {
  const srv = await serve(t);
  const c = await dial(t, srv.port);
  await write(c, line(prep(1, 1)) + '{"type":"prepare",,, not json\n' + line(prep(1, 2)));
  await until(() => srv.got.length >= 2, 'the two valid messages');
  t.deepEqual(srv.got, [prep(1, 1), prep(1, 2)]);
  t.is(srv.warns.length, 1, srv.warns.join('\n'));
  t.regex(srv.warns[0] ?? '', /malformed/);

  // Same socket, after the bad line: still served.
  await write(c, line(acc(1, 3, 'after')));
  await until(() => srv.got.length >= 3, 'the message after the malformed line');
  t.deepEqual(srv.got, [prep(1, 1), prep(1, 2), acc(1, 3, 'after')]);
  // And a second malformed line in its own write is also survived.
  await write(c, 'garbage\n');
  await write(c, line(prep(1, 4)));
  await until(() => srv.got.length >= 4, 'the message after the second malformed line');
  t.deepEqual(srv.got.at(-1), prep(1, 4));
  t.is(srv.warns.filter((w) => /malformed/.test(w)).length, 2);
  t.false(c.destroyed);
});

test('valid JSON that is not a valid message is dropped with a warning naming the problem', async (t) => {
  const srv = await serve(t);
  const c = await dial(t, srv.port);
  const bad: Array<[unknown, RegExp]> = [
    [{ type: 'bogus', from: 1, n: 1 }, /unknown message type "bogus"/],
    [{ type: 'prepare', from: '1', n: 1 }, /"from" must be an integer >= 1/],
    [{ type: 'accept', from: 1, n: 1, v: 5 }, /"v" must be a string/],
    [
      { type: 'prepare_ack', from: 2, n: 1, promised: -1, accepted: null, chosen: null },
      /"promised" must be an integer from 0 to/,
    ],
    [
      { type: 'accept_ack', from: 2, n: 1, promised: 1, accepted: { n: 0 }, chosen: null },
      /"accepted"\."n" must be an integer from 1 to/,
    ],
    [[1, 2, 3], /not a JSON object/],
    ['a string', /not a JSON object/],
    [42, /not a JSON object/],
  ];
  // The first few bad lines of a connection are warned about (src/paxos/defaults.ts): each goes on its own.
  await write(c, line(prep(1, 1)) + `${JSON.stringify(bad[0]![0])}\n` + line(prep(1, 2)));
  await until(() => srv.got.length >= 2, 'the valid messages around the invalid one');
  t.deepEqual(srv.got, [prep(1, 1), prep(1, 2)]);
  for (const [raw] of bad.slice(1)) {
    const before = srv.warns.length;
    await write(await dial(t, srv.port), `${JSON.stringify(raw)}\n`);
    await until(() => srv.warns.length > before, `the warning about ${JSON.stringify(raw)}`);
  }
  t.is(srv.warns.length, bad.length, srv.warns.join('\n'));
  bad.forEach(([, why], i) => {
    t.regex(srv.warns[i] ?? '', /invalid message/);
    t.regex(srv.warns[i] ?? '', why);
  });

  await write(c, line(prep(1, 3)));
  await until(() => srv.got.length >= 3, 'a later message');
  t.deepEqual(srv.got.at(-1), prep(1, 3));
});

// The over-long line is itself a valid message if it were read whole, so a
// line that is not really dropped shows up in `got` (from 9).
const longPrefix = '{"type":"prepare","from":9,"n":9,"pad":"';
const longSuffix = '"}\n';

async function sendPadding(c: net.Socket, bytes: number): Promise<void> {
  const chunk = 64 * 1024;
  for (let left = bytes; left > 0; left -= chunk) await write(c, 'x'.repeat(Math.min(chunk, left)));
}

test('an over-long line is dropped with one warning and the next message on the same connection arrives', async (t) => {
  const srv = await serve(t);
  const c = await dial(t, srv.port);
  await write(c, line(prep(1, 1)));
  await write(c, longPrefix);
  // Well over the limit, in several chunks.
  const padding = MAX_LINE_BYTES + 100_000;
  await sendPadding(c, padding);
  await until(() => srv.warns.length >= 1, 'the over-long warning');
  const sent = Buffer.byteLength(line(prep(1, 1)) + longPrefix) + padding;
  await until(() => (srv.accepted[0]?.bytesRead ?? 0) >= sent, 'the server to read everything sent');
  await write(c, longSuffix + line(prep(1, 2)));
  await until(() => srv.got.length >= 2, 'the message after the over-long line');
  t.deepEqual(srv.got, [prep(1, 1), prep(1, 2)]);
  t.is(srv.warns.length, 1, srv.warns.join('\n'));
  t.true((srv.warns[0] ?? '').includes(`${MAX_LINE_BYTES} bytes`), srv.warns[0]);

  // The connection keeps working, and a normal line resets the count.
  await write(c, line(acc(1, 3, 'still here')));
  await until(() => srv.got.length >= 3, 'a later message');
  t.deepEqual(srv.got.at(-1), acc(1, 3, 'still here'));
  t.is(srv.warns.length, 1);
});

test('an over-long line followed at once by a newline and a message (no pause) is still dropped', async (t) => {
  const srv = await serve(t);
  const c = await dial(t, srv.port);
  await write(c, longPrefix);
  // More than one maximal socket read past the limit, so the limit is crossed
  // before the read that carries the newline.
  await sendPadding(c, MAX_LINE_BYTES + 3 * 64 * 1024);
  await write(c, longSuffix + line(prep(1, 1)));
  await until(() => srv.got.length >= 1, 'the message after the over-long line');
  t.deepEqual(srv.got, [prep(1, 1)]);
  t.is(srv.warns.length, 1, srv.warns.join('\n'));
  t.true((srv.warns[0] ?? '').includes(`${MAX_LINE_BYTES} bytes`), srv.warns[0]);
});

test('a line reading `null` is dropped as invalid and the connection keeps working', async (t) => {
  const srv = await serve(t);
  const c = await dial(t, srv.port);
  await write(c, `${line(prep(1, 1))}null\n${line(prep(1, 2))}`);
  await write(c, line(prep(1, 3)));
  await until(() => srv.got.length >= 3, 'the messages around the null line');
  t.deepEqual(srv.got, [prep(1, 1), prep(1, 2), prep(1, 3)]);
  t.is(srv.warns.length, 1);
  t.regex(srv.warns[0] ?? '', /invalid message .*not a JSON object/);
});

test('a line pushed over the limit by the same read that ends it is still dropped', async (t) => {
  const srv = await serve(t);
  const c = await dial(t, srv.port);
  const head = '{"type":"prepare","from":9,"n":9,"pad":"';
  const exact = head + 'x'.repeat(MAX_LINE_BYTES - head.length); // exactly the limit, no newline yet
  await write(c, exact);
  await until(() => (srv.accepted[0]?.bytesRead ?? 0) >= exact.length, 'the server to read the first part');
  await write(c, `xxxx"}\n${line(prep(1, 1))}`);
  await until(() => srv.got.length >= 1, 'the message after the long line');
  t.deepEqual(srv.got, [prep(1, 1)], 'the over-long prepare from 9 never arrives');
  t.is(srv.warns.length, 1);
  t.true((srv.warns[0] ?? '').includes(`${MAX_LINE_BYTES} bytes`));
});

test('the line limit counts bytes, not characters', async (t) => {
  const srv = await serve(t);
  const c = await dial(t, srv.port);
  // 100,000 euro signs: 300,000 bytes but only 100,000 UTF-16 characters.
  const big = `${JSON.stringify({ type: 'prepare', from: 9, n: 9, pad: '€'.repeat(100_000) })}\n`;
  t.true(Buffer.byteLength(big) > MAX_LINE_BYTES && big.length < MAX_LINE_BYTES);
  await write(c, big + line(prep(1, 1)));
  await until(() => srv.got.length >= 1, 'the message after the long line');
  t.deepEqual(srv.got, [prep(1, 1)]);
  t.is(srv.warns.length, 1);
});

test('an unfinished line is discarded when the sender closes, never parsed', async (t) => {
  const srv = await serve(t);
  const c = await dial(t, srv.port);
  // A complete-looking message with no newline: cut short by the sender's close.
  await write(c, `${line(prep(1, 1))}{"type":"prepare","from":9,"n":9}`);
  c.end();
  await until(
    () => srv.accepted[0]?.destroyed === true || srv.accepted[0]?.readableEnded === true,
    'the server to see the close',
  );
  await until(() => srv.got.length >= 1, 'the complete message');
  t.deepEqual(srv.got, [prep(1, 1)]);
  t.deepEqual(srv.warns, []);
});

test('a connection that never sends a newline does not take down the server', async (t) => {
  const srv = await serve(t);
  const hog = await dial(t, srv.port);
  const total = 2 * MAX_LINE_BYTES + 50_000;
  await sendPadding(hog, total);
  await until(() => srv.warns.length >= 1, 'the over-long warning');
  await until(() => (srv.accepted[0]?.bytesRead ?? 0) >= total, 'the server to read everything sent');
  // Warned once per line, not once per chunk.
  t.is(srv.warns.length, 1, srv.warns.join('\n'));
  t.true((srv.warns[0] ?? '').includes(`${MAX_LINE_BYTES} bytes`));
  t.true(srv.inbound.server.listening);

  const other = await dial(t, srv.port);
  await write(other, line(prep(2, 1)));
  await until(() => srv.got.length >= 1, 'a message on another connection');
  t.deepEqual(srv.got, [prep(2, 1)]);
  t.false(hog.destroyed);
  t.deepEqual(srv.errors, []);
});

// ---- PeerLink ------------------------------------------------------------------

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const port = portOf(s);
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const tcpHandles = (): number =>
  process.getActiveResourcesInfo().filter((r) => r === 'TCPWrap' || r === 'TCPSocketWrap' || r === 'TCPServerWrap')
    .length;

test.serial('PeerLink queues while the peer is down, then delivers in order once it listens', async (t) => {
  const baseline = tcpHandles();
  const port = await freePort();

  // Observe setNoDelay calls on real sockets (no public getter exists for it).
  const noDelay = new Map<net.Socket, boolean>();
  const original = net.Socket.prototype.setNoDelay;
  net.Socket.prototype.setNoDelay = function (this: net.Socket, enable?: boolean): net.Socket {
    noDelay.set(this, enable === undefined ? true : enable);
    return original.call(this, enable);
  };
  t.teardown(() => {
    net.Socket.prototype.setNoDelay = original;
  });

  const cap = capture();
  const link = new PeerLink('peer2', { host: '127.0.0.1', port }, { self: 1, peer: 2, log: cap.log });
  t.teardown(() => link.close());
  let ups = 0;
  link.on('up', () => void (ups += 1));

  link.start();
  const msgs: Message[] = [prep(1, 1), acc(1, 1, 'X "q"\n€'), { type: 'chose', from: 1, n: 1, v: 'X "q"\n€' }];
  for (const m of msgs) link.send(m);

  // It has tried and failed at least once before anything listens.
  await until(() => cap.debugs.some((d) => d.includes('not reachable')), 'a failed connection attempt');
  t.false(link.isUp);
  t.is(ups, 0);
  t.is(link.pending, 3);

  const srvCap = capture();
  const got: Message[] = [];
  const accepted: net.Socket[] = [];
  const inbound = await listen({ host: '127.0.0.1', port }, (m) => got.push(m), {
    codec: LAB_CODEC,
    log: srvCap.log,
    self: 2,
  });
  t.teardown(() => inbound.close());
  inbound.server.on('connection', (s: net.Socket) => accepted.push(s));

  await until(() => got.length >= 3, 'the three queued messages');
  t.deepEqual(got, msgs);
  t.true(link.isUp);
  t.is(ups, 1);
  await until(() => link.pending === 0, 'the queue to drain');
  t.deepEqual(srvCap.warns, []);

  // The link's own socket (the one whose local end the server accepted) had Nagle disabled.
  const remote = accepted[0];
  t.truthy(remote);
  const linkSockets = [...noDelay.keys()].filter((s) => s.remotePort === port && s.localPort === remote?.remotePort);
  t.is(linkSockets.length, 1, 'found the socket PeerLink connected with');
  const linkSocket = linkSockets[0];
  t.true(
    linkSocket !== undefined && noDelay.get(linkSocket) === true,
    'PeerLink called setNoDelay(true) on its socket',
  );

  // Closing the link closes its connection: the server sees the far end go away.
  let remoteClosed = false;
  remote?.once('close', () => void (remoteClosed = true));
  await link.close();
  t.false(link.isUp);
  await until(() => remoteClosed, 'the server to see the link close its socket');
  await inbound.close();
  // No TCP handles left behind by the link or the server (the link stops retrying).
  await until(() => tcpHandles() <= baseline, 'TCP handles to be released');
  t.is(tcpHandles(), baseline);
  t.is(link.pending, 0);
});

test.serial('PeerLink: close() while still connecting never brings the link up', async (t) => {
  const srv = await serve(t);
  const cap = capture();
  const link = new PeerLink('peer2', { host: '127.0.0.1', port: srv.port }, { self: 1, peer: 2, log: cap.log });
  let ups = 0;
  link.on('up', () => void (ups += 1));
  link.start();
  await link.close(); // the connect is still in flight
  // Give the in-flight connect every chance to land: the server sees it come and go.
  await until(
    () => srv.accepted.length === 0 || srv.accepted.every((s) => s.destroyed || s.readableEnded),
    'any stray connection to close',
  );
  await delay(50); // a window for a wrong 'up' to show: its absence is the test
  t.false(link.isUp);
  t.is(ups, 0);
});

test.serial('PeerLink: a peer that accepts and hangs up at once is retried with backoff, not in a loop', async (t) => {
  let connections = 0;
  const server = net.createServer((s) => {
    connections += 1;
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const link = new PeerLink(
    'peer2',
    { host: '127.0.0.1', port: portOf(server) },
    { self: 1, peer: 2, log: capture().log },
  );
  t.teardown(() => link.close());
  link.start();
  await until(() => connections >= 3, 'a few attempts');
  const from = connections;
  await delay(1000); // the point: how many connections one second sees
  // Backoff doubles from 10-20 ms up to a 1 s cap: a handful per second. A
  // tight loop (no backoff after an unused connection closes) makes hundreds.
  t.true(connections - from < 20, `${connections - from} connections in 1 s`);
});

test.serial('PeerLink: after a used connection drops, it reconnects at once and carries on in order', async (t) => {
  const srv = await serve(t);
  const link = new PeerLink('peer2', { host: '127.0.0.1', port: srv.port }, { self: 1, peer: 2, log: capture().log });
  t.teardown(() => link.close());
  link.start();
  link.send(prep(1, 1));
  await until(() => srv.got.length === 1, 'the first message');
  let downs = 0;
  link.on('down', () => void (downs += 1));
  srv.accepted[0]?.destroy();
  await until(() => srv.accepted.length === 2 && link.isUp, 'the link to reconnect');
  t.is(downs, 1);
  link.send(prep(1, 2));
  link.send(prep(1, 3));
  await until(() => srv.got.length === 3, 'the messages sent after the drop');
  t.deepEqual(srv.got, [prep(1, 1), prep(1, 2), prep(1, 3)]);
  t.is(srv.accepted.length, 2, 'one new connection, not one per message');
});

test('a line that is not valid UTF-8 is dropped, never patched into a value nobody sent', async (t) => {
  const srv = await serve(t);
  const c = await dial(t, srv.port);
  const bad = Buffer.concat([
    Buffer.from('{"type":"accept","from":1,"n":9,"v":"'),
    Buffer.from([0xff, 0xc3]),
    Buffer.from('"}\n'),
  ]);
  await write(c, bad);
  await write(c, line(acc(1, 10, 'ok €')));
  await until(() => srv.got.length >= 1, 'the valid message after it');
  t.deepEqual(srv.got, [acc(1, 10, 'ok €')]);
  t.is(srv.warns.length, 1);
  t.regex(srv.warns[0] ?? '', /dropping a line that is not valid UTF-8/);
});

// Hostile or broken clients against real peer processes (issue 13): a client
// that never reads its answers, a handshake flood and a connect storm, a
// data directory the peer cannot write, and a forged near-ceiling promise.
// Every attack here is bounded in count and time, and stays on loopback.

import { readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import test from 'ava';
import { LiveCluster, until, type Proc } from './helpers/procs.js';
import type { Endpoint } from '../src/transport/link.js';

const ONE = 'p1:proposer1\na1:acceptor1\na2:acceptor1\na3:acceptor1\n';
const MiB = 1024 * 1024;

/** Resident set size of a process, from /proc (Linux). */
function rss(p: Proc): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** One `get` on a fresh connection; resolves with how long the answer took, in ms. */
function timedGet(at: Endpoint, ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = net.connect({ host: at.host, port: at.port });
    s.setNoDelay(true);
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer to a get from ${at.host}:${at.port} within ${ms} ms`));
    }, ms);
    s.on('connect', () => s.write('{"type":"get","id":"probe"}\n'));
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (!got.includes('\n')) return;
      clearTimeout(timer);
      s.destroy();
      resolve(performance.now() - t0);
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

test('a client that pipelines gets and never reads its answers is cut off; the peer stays small and answers others', async (t) => {
  const c = await new LiveCluster(ONE).init();
  t.teardown(() => c.close());
  // A 64 KiB chosen value: each 29-byte get buys a 64 KiB answer.
  const value = 'x'.repeat(64 * 1024 - 16);
  const peers = new Map(c.cluster.hosts.map((h) => [h.host, c.start(h.host, h.host === 'p1' ? ['-v', value] : [])]));
  const a1 = peers.get('a1')!;
  await a1.waitLine((l) => l.action === 'chose', 'a1 to learn the value', 20_000);
  const start = rss(a1);

  const at = c.endpoint('a1');
  const hostile = net.connect({ host: at.host, port: at.port });
  hostile.setNoDelay(true);
  await new Promise((resolve) => hostile.once('connect', resolve));
  hostile.pause(); // never read a byte of the answers
  hostile.on('error', () => undefined);
  let closed = false;
  hostile.once('close', () => void (closed = true));
  const name = `${hostile.localAddress}:${hostile.localPort}`;

  // Pipeline gets as fast as the socket takes them, for at most 10 s.
  const batch = Buffer.from('{"type":"get","id":"0000"}\n'.repeat(256));
  const t0 = Date.now();
  let peak = start;
  let probeMs = -1;
  const pump = (async () => {
    while (!closed && Date.now() - t0 < 10_000 && peak - start < 100 * MiB) {
      if (!hostile.write(batch)) await Promise.race([new Promise((r) => hostile.once('drain', r)), delay(50)]);
    }
  })();
  const sample = (async () => {
    while (!closed && Date.now() - t0 < 10_000 && peak - start < 100 * MiB) {
      peak = Math.max(peak, rss(a1));
      await delay(50);
    }
  })();
  // Another client, while the hostile one is at it.
  await delay(1000);
  probeMs = await timedGet(at, 5000).catch(() => -1);
  await Promise.all([pump, sample]);
  hostile.destroy();
  t.log(`a1 RSS ${(start / MiB).toFixed(0)} MiB at the start, peak ${(peak / MiB).toFixed(0)} MiB; another client's get took ${probeMs.toFixed(0)} ms; hostile closed after ${Date.now() - t0} ms`);
  t.true(peak - start < 100 * MiB, `RSS grew by ${((peak - start) / MiB).toFixed(0)} MiB`);
  t.true(closed, 'the peer closed the connection of the client that does not read');
  t.true(probeMs >= 0 && probeMs < 1000, `another client's get took ${probeMs.toFixed(0)} ms`);
  const warning = await a1.waitStderr(new RegExp(name.replace(/\./g, '\\.')), 2000).catch(() => '');
  t.regex(warning, /not reading/, `a1 warns naming ${name}: ${a1.stderr.slice(-5).join(' | ')}`);
  // And a get after it is gone.
  t.true((await timedGet(at, 1000)) < 1000);
});

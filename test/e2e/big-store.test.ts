// Big stores, with real replica processes: a replica that fell behind a
// 70 MB store catches up from a streamed snapshot (a snapshot as one line
// was over the 64 MiB line limit, and it never caught up), and a dump of a
// store over 16 MiB (one reply line's limit) comes back whole.

import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import test from 'ava';
import { LiveCluster, type Proc } from '../helpers/procs.js';
import { cmd, kvAsk } from '../helpers/kv.js';
import { paxos } from '../helpers/cli.js';
import type { KvResult } from '../../src/wire/kv.js';

const KV3 = 'peer1:replica\npeer2:replica\npeer3:replica\n';

/** `paxos ARGS`: exit code, stdout's size and line count (a dump's stdout is big), stderr. */
async function cli(
  args: readonly string[],
): Promise<{ code: number | null; bytes: number; lines: number; err: string }> {
  let bytes = 0;
  let lines = 0;
  const r = await paxos(args, {
    onOut: (d) => {
      bytes += d.length;
      for (const b of d) if (b === 0x0a) lines += 1;
    },
  });
  return { code: r.code, bytes, lines, err: r.err };
}
const HOSTS = ['peer1', 'peer2', 'peer3'];
const VALUE_BYTES = 64_000;
/**
 * 1,100 values of 64,000 bytes: 70.4 MB, more than the 64 MiB line limit.
 * PAXOS_BIG_STORE_KEYS=16500 makes it a gigabyte store, out of band (the
 * time limits grow with it).
 */
const KEYS = Number(process.env['PAXOS_BIG_STORE_KEYS'] ?? 1_100);
const SCALE = Math.max(1, KEYS / 1_100);

/** The value of key i: distinct per key, so a store with a wrong value shows. */
const valueOf = (i: number): string =>
  `${String(i).padStart(6, '0')}:`.padEnd(VALUE_BYTES, String.fromCharCode(97 + (i % 26)));

/** Retries while there is no leader (an election, or a busy leader), up to `ms`. */
async function must(
  live: LiveCluster,
  host: string,
  body: Record<string, unknown>,
  ms = 60_000,
): Promise<Extract<KvResult, { status: 'done' }>> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const r = await kvAsk(live.endpoint(host), body, 5000);
    if (r?.status === 'done') return r;
    await delay(100);
  }
  throw new Error(`${host} never applied ${JSON.stringify(body).slice(0, 100)}`);
}

/** `host`'s store: applied slot, key count and a digest of its sorted keys and values, or null. */
async function digest(
  live: LiveCluster,
  host: string,
): Promise<{ applied: number; keys: number; sha: string; bytes: number } | null> {
  const r = await kvAsk(live.endpoint(host), { type: 'dump' }, 10_000 * SCALE);
  if (r?.status !== 'dump') return null;
  const h = createHash('sha256');
  let bytes = 0;
  for (const [k, v] of [...r.data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(`${k}\t${v}\n`);
    bytes += k.length + v.length;
  }
  return { applied: r.applied, keys: r.data.length, sha: h.digest('hex'), bytes };
}

/** Run `jobs` with at most `n` at a time. */
async function pool(n: number, jobs: ReadonlyArray<() => Promise<unknown>>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }),
  );
}

test(
  'a replica that fell behind a 70 MB store catches up from a streamed snapshot, to the same slot and the same ' +
    'store; a dump of it comes back whole',
  async (t) => {
    t.timeout(150_000 * SCALE);
    const live = await new LiveCluster(KV3).init();
    t.teardown(() => live.close());
    const flags = ['--no-message-lines'];
    const procs = new Map<string, Proc>(HOSTS.map((h) => [h, live.start(h, flags)]));
    // Their stdout holds every value (chose lines): nobody reads it here.
    const forget = setInterval(() => {
      for (const p of procs.values()) p.lines.length = 0;
    }, 500);
    t.teardown(() => clearInterval(forget));

    await must(live, 'peer1', cmd('put', 'first', 'x'));
    await procs.get('peer3')!.kill9();
    const t0 = Date.now();
    await pool(
      8,
      Array.from(
        { length: KEYS },
        (_, i) => () =>
          must(live, i % 2 === 0 ? 'peer1' : 'peer2', cmd('put', `key-${String(i).padStart(5, '0')}`, valueOf(i))),
      ),
    );
    t.log(`wrote ${KEYS} x ${VALUE_BYTES} bytes in ${Date.now() - t0} ms`);

    const t1 = Date.now();
    procs.set('peer3', live.start('peer3', flags));
    // A get through peer3 is answered from its own store, once it holds the last write.
    const last = await must(
      live,
      'peer3',
      cmd('get', `key-${String(KEYS - 1).padStart(5, '0')}`),
      90_000 * SCALE,
    ).catch((err: Error) => {
      for (const [h, p] of procs) t.log(`${h}:\n${p.stderr.slice(-40).join('\n')}`);
      throw err;
    });
    t.like(last.result, { r: 'ok', v: valueOf(KEYS - 1) });
    t.log(`peer3 caught up in ${Date.now() - t1} ms`);
    t.true(
      procs.get('peer3')!.stderr.some((l) => /installed a snapshot at slot \d+/.test(l)),
      procs
        .get('peer3')!
        .stderr.filter((l) => /snapshot|dropping/.test(l))
        .join('\n'),
    );

    // The same slot and the same store everywhere (a dump of 70 MB, over the old 16 MiB reply line).
    let seen = '';
    for (const deadline = Date.now() + 120_000 * SCALE; Date.now() < deadline;) {
      // One at a time: three dumps of a big store at once would hold it three times here.
      const all: Awaited<ReturnType<typeof digest>>[] = [];
      for (const h of HOSTS) all.push(await digest(live, h));
      seen = JSON.stringify(all);
      if (all.every((d) => d !== null && d.applied === all[0]!.applied && d.sha === all[0]!.sha)) break;
      await delay(250); // not yet the same everywhere: ask again
    }
    const all = JSON.parse(seen) as Array<{ applied: number; keys: number; sha: string; bytes: number }>;
    t.is(all[0]!.keys, KEYS + 1, seen);
    t.true(all[0]!.bytes > 70_000_000 * SCALE * 0.99);
    for (const d of all) t.deepEqual(d, all[0], seen);
    for (const p of procs.values())
      t.false(
        p.stderr.some((l) => /dropping a line over/.test(l)),
        p.stderr.filter((l) => /dropping/.test(l)).join('\n'),
      );

    // paxos dump of a store over 16 MiB: every key, one line each.
    const dump = await cli(['dump', '--from', 'peer3', ...live.clientFlags()]);
    t.is(dump.code, 0, dump.err);
    t.is(dump.lines, KEYS + 1);
    t.true(dump.bytes > 70_000_000 * SCALE * 0.99);
    t.regex(dump.err, new RegExp(`applied up to slot ${all[0]!.applied}; ${KEYS + 1} keys`));
  },
);

test(
  'quota: a put past --quota-bytes is refused (exit 1, nothing changed) on every replica alike; get, del and ' +
    'then a put that fits work',
  async (t) => {
    t.timeout(60_000);
    const live = await new LiveCluster(KV3).init();
    t.teardown(() => live.close());
    // 10 KiB: two 4,000-byte values fit, a third does not.
    for (const h of HOSTS) live.start(h, ['--no-message-lines', '--quota-bytes', '10K']);
    const flags = live.clientFlags();
    const run = async (...args: string[]): Promise<{ code: number | null; err: string; out: string }> => {
      for (;;) {
        const r = await paxos([...args, ...flags]);
        if (r.code !== 5) return r; // 5: no leader yet, refused: try again
        await delay(200);
      }
    };
    const big = (c: string): string => c.repeat(4000);
    t.is((await run('put', 'a', big('a'))).code, 0);
    t.is((await run('put', 'b', big('b'))).code, 0);
    const refused = await run('put', 'c', big('c'), '--to', 'peer3');
    t.is(refused.code, 1, refused.out + refused.err);
    t.regex(refused.out + refused.err, /past its quota of 10240 bytes.*nothing was changed/);
    const json = await run('cas', 'a', big('a'), big('a') + big('z'), '--json');
    t.is(json.code, 1);
    t.like(JSON.parse(json.out) as Record<string, unknown>, { outcome: 'fail', status: 'quota', quota: 10240 });
    t.is((await run('get', 'c')).code, 3, 'absent: the refused put changed nothing');
    const got = await run('get', 'a', '--to', 'peer2');
    t.is(got.code, 0);
    t.is(got.out, `${big('a')}\n`);
    t.is((await run('del', 'b')).code, 0);
    t.is((await run('put', 'c', big('c'))).code, 0, 'fits once b is gone');
    for (const h of HOSTS) {
      const r = await run('get', 'c', '--to', h);
      t.is(r.out, `${big('c')}\n`, h);
    }
  },
);

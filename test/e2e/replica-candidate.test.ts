// A replica standing for election (here: alone, its peers killed) knows no
// leader: it answers a client "no leader, nothing done" at once, so the
// client tries another replica, instead of parking the command until the
// client's timeout (LogNode.propose and read: a candidate hands them back).

import { setTimeout as delay } from 'node:timers/promises';
import test from 'ava';
import { LiveCluster } from '../helpers/procs.js';
import { kvAsk } from '../helpers/kv.js';

const KV3 = 'peer1:replica\npeer2:replica\npeer3:replica\n';

test(
  'kv3: a lone replica, standing for election again and again, answers every put and get "no ' + 'leader" at once',
  async (t) => {
    const live = await new LiveCluster(KV3).init();
    t.teardown(() => live.close());
    // All three start (a new cluster votes only once every replica has answered
    // the others: docs/recovery.md), then two go down for good.
    const procs = ['peer1', 'peer2', 'peer3'].map((h) => live.start(h, ['--no-message-lines']));
    for (const q of procs) await q.waitStderr(/voting again/, 30_000);
    await Promise.all(procs.slice(1).map((q) => q.kill9()));
    const at = live.endpoint('peer1');
    // For 3 s: past the longest election timeout (1 s), so it stands, more than once.
    const t0 = Date.now();
    const seen: string[] = [];
    for (let i = 0; Date.now() - t0 < 3000; i++) {
      const body = {
        type: 'kv',
        cmd: { o: i % 2 === 0 ? 'put' : 'get', c: `lone-${i}`, s: 1, k: 'k', ...(i % 2 === 0 ? { v: 'x' } : {}) },
      };
      const r = await kvAsk(at, body, 2500).catch(() => null);
      seen.push(r === null ? 'no answer' : r.status);
      await delay(50); // pacing only: a few dozen requests are enough
    }
    t.log(`${seen.length} requests: ${[...new Set(seen)].join(', ')}`);
    t.true(seen.length >= 5);
    t.deepEqual([...new Set(seen)], ['no_leader'], 'every request answered "no leader", none left to time out');
  },
);

// The readiness rule behind /readyz and `paxos status`'s health column
// (src/node/readiness.ts), and the --metrics flag's address.

import test from 'ava';
import { readiness, READY_MAX_LAG_SLOTS } from '../../src/node/readiness.js';
import { listenAddress } from '../../src/config/flags.js';
import { ConfigError } from '../../src/config/errors.js';

const base = { leaderKnown: true, recovering: null, applied: 100, commit: 100 };

test('ready: a leader known, not recovering, applied up to the commit', (t) => {
  t.deepEqual(readiness(base), { ready: true });
  t.deepEqual(readiness({ ...base, applied: 0, commit: 0 }), { ready: true });
});

test('not ready without a leader', (t) => {
  t.deepEqual(readiness({ ...base, leaderKnown: false }), { ready: false, why: 'no leader known' });
});

test('not ready while recovering, whatever else holds: the recovery says why', (t) => {
  const why = 'recovering (a wiped disk): waiting for peer2 to answer before it votes';
  t.deepEqual(readiness({ ...base, recovering: why }), { ready: false, why });
  t.deepEqual(readiness({ ...base, leaderKnown: false, recovering: why }), { ready: false, why });
});

test('within the bound of the leader commit is ready; past it is not, with the numbers', (t) => {
  t.deepEqual(readiness({ ...base, applied: 5000 - READY_MAX_LAG_SLOTS, commit: 5000 }), { ready: true });
  const r = readiness({ ...base, applied: 10, commit: 5000 });
  t.false(r.ready);
  t.is(r.ready ? '' : r.why, `applied 10, 4990 behind commit 5000 (at most ${READY_MAX_LAG_SLOTS})`);
  t.deepEqual(readiness({ ...base, applied: 10, commit: 20 }, 5), {
    ready: false,
    why: 'applied 10, 10 behind commit 20 (at most 5)',
  });
});

test('--metrics ADDR:PORT: IPv4, IPv6 in brackets, a name; port 0 allowed; else an error naming the flag', (t) => {
  t.deepEqual(listenAddress('--metrics', '127.0.0.1:9100'), { host: '127.0.0.1', port: 9100 });
  t.deepEqual(listenAddress('--metrics', '[::1]:0'), { host: '::1', port: 0 });
  t.deepEqual(listenAddress('--metrics', 'localhost:9100'), { host: 'localhost', port: 9100 });
  for (const bad of ['9100', ':9100', '127.0.0.1', '127.0.0.1:99999', '::1:9100', 'a b:1']) {
    const err = t.throws(() => listenAddress('--metrics', bad), { instanceOf: ConfigError });
    t.regex(err.message, /^--metrics expects ADDR:PORT/);
  }
});

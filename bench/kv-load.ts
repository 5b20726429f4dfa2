// bench:kv's load generator in Node, run as its own process so that its CPU
// is counted apart from the servers': the same closed loop as
// bench/etcd-load/main.go (read that header), against this project's kv3
// through the bench connection (`--system paxos`), or against etcd through
// the npm package `etcd3` (`--system etcd3`, the second reference).
//
//   node dist/bench/kv-load.js --system paxos|etcd3 --endpoints A,B,C --clients C --conns M
//        --seconds S --read R [--keys K] [--value-size V] [--seed N] [--stamp] [--ca FILE]
//
// --ca FILE: reach the replicas with TLS, trusting FILE (paxos only; tls-bench.ts).
//
// --stamp: each value starts with the wall-clock time of its put, "<unix ms> ",
// padded with 'v' to V bytes (as main.go's -stamp): the watch cell's watchers
// (bench/kv-watch.ts) read it back to measure each event's delivery lag.
//
// Prints one JSON line: {"ops","secs","p50","p99","cpu"} (ms; cpu: this process's seconds).

import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { KvConn } from './kv-conn.js';
import { loadClientTls } from '../src/config/tls-files.js';

interface Conn {
  put(c: number, k: string): Promise<void>;
  get(c: number, k: string): Promise<void>;
  close(): void;
}

const { values } = parseArgs({
  options: {
    system: { type: 'string' },
    endpoints: { type: 'string' },
    clients: { type: 'string', default: '1' },
    conns: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '8' },
    read: { type: 'string', default: '0' },
    keys: { type: 'string', default: '1000' },
    'value-size': { type: 'string', default: '256' },
    seed: { type: 'string', default: '1' },
    stamp: { type: 'boolean', default: false },
    ca: { type: 'string' },
  },
});
const tls = values.ca === undefined ? null : loadClientTls({ ca: values.ca }, {});
const eps = (values.endpoints ?? '').split(',').filter((e) => e !== '');
const clients = Number(values.clients);
const conns = Number(values.conns);
const seconds = Number(values.seconds);
const readShare = Number(values.read);
const keys = Number(values.keys);
const valueSize = Number(values['value-size']);
const value = 'v'.repeat(valueSize);
/** A value that starts with the time now (--stamp), or the plain one. */
const valueNow =
  values.stamp === true
    ? (): string => {
        const s = `${(performance.timeOrigin + performance.now()).toFixed(3)} `;
        return s + value.slice(0, Math.max(0, valueSize - s.length));
      }
    : (): string => value;
if (eps.length === 0 || !(clients >= 1) || !(conns >= 1) || !(seconds > 0)) {
  process.stderr.write('kv-load: need --endpoints, --clients >= 1, --conns >= 1, --seconds > 0\n');
  process.exit(2);
}

async function openPaxos(): Promise<Conn> {
  const muxes = await Promise.all(
    Array.from({ length: conns }, (_, i) => {
      const [host, port] = eps[i % eps.length]!.split(':');
      return KvConn.open({ host: host!, port: Number(port) }, tls);
    }),
  );
  const seqs = new Array<number>(clients).fill(0);
  // A fresh session id per process: sessions are exactly-once, so a reused id would be answered from the table.
  const run = `${process.pid}-${Date.now()}`;
  const op = async (c: number, cmd: object): Promise<void> => {
    const r = await muxes[c % conns]!.request({ type: 'kv', cmd: { ...cmd, c: `b${run}-${c}`, s: ++seqs[c]! } });
    if (r.status !== 'done') throw new Error(`kv3 answered ${r.status}`);
  };
  return {
    put: (c, k) => op(c, { o: 'put', k, v: valueNow() }),
    get: (c, k) => op(c, { o: 'get', k }),
    close: () => muxes.forEach((m) => m.close()),
  };
}

function openEtcd3(): Conn {
  const cs = Array.from({ length: conns }, (_, i) => new Etcd3({ hosts: [`http://${eps[i % eps.length]!}`] }));
  return {
    put: async (c, k) => void (await cs[c % conns]!.put(k).value(valueNow())),
    get: async (c, k) => void (await cs[c % conns]!.get(k).string()),
    close: () => cs.forEach((x) => x.close()),
  };
}

const conn = values.system === 'etcd3' ? openEtcd3() : await openPaxos();
let x = Number(values.seed) >>> 0;
const rand = (): number => {
  x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
  return x / 4294967296;
};
const lat: number[] = [];
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const end = t0 + seconds * 1000;
await Promise.all(
  Array.from({ length: clients }, async (_, c) => {
    while (performance.now() < end) {
      const k = `key${Math.floor(rand() * keys)}`;
      const t = performance.now();
      await (rand() < readShare ? conn.get(c, k) : conn.put(c, k));
      lat.push(performance.now() - t);
    }
  }),
);
const secs = (performance.now() - t0) / 1000;
const used = process.cpuUsage(cpu0);
conn.close();
lat.sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({
    ops: lat.length,
    secs,
    p50: lat[Math.floor(lat.length / 2)],
    p99: lat[Math.floor(lat.length * 0.99)],
    cpu: (used.user + used.system) / 1e6,
  })}\n`,
);
process.exit(0);

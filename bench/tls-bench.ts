// `npm run bench:tls [-- --seconds S] [--rounds R]`: what TLS costs the
// replicated log. Puts at 64 clients (8 connections, 256-byte values on 1,000
// keys, as bench:kv's puts@64) against kv3 on loopback, with TLS off
// (--insecure) and on (--ca, --cert, --key; certificates made now by
// scripts/test-ca.sh), alternating which goes first each round; each cell a
// fresh cluster and the load generator in its own process (bench/kv-load.ts).
// Prints each run, then the medians: puts/s and p99 latency.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { integer, parseFlags, toolSettings } from '../src/config/flags.js';
import { startKvCluster } from './kv-cluster.js';

const HELP = `Usage: npm run bench:tls -- [--seconds S] [--rounds R]

Puts at 64 clients against kv3 with TLS off and on, alternating, R rounds
of S seconds each (default 3 rounds of 5 s); prints the medians.`;

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const main = path.join(root, 'dist/src/cli/main.js');
const CLIENTS = 64;
const CONNS = 8;

const { seconds, rounds } = toolSettings('bench:tls', HELP, (argv) => {
  const { values } = parseFlags(argv, { seconds: { type: 'string' }, rounds: { type: 'string' } });
  return {
    seconds: integer('--seconds', values.seconds ?? '5', 1),
    rounds: integer('--rounds', values.rounds ?? '3', 1),
  };
});

interface Outcome {
  readonly ops: number;
  readonly secs: number;
  readonly p50: number;
  readonly p99: number;
}

const base = mkdtempSync(path.join(os.tmpdir(), 'paxos-tls-bench-'));
const certs = path.join(base, 'certs');
execFileSync('bash', [path.join(root, 'scripts/test-ca.sh'), certs, 'peer1', 'peer2', 'peer3'], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
const caFile = path.join(certs, 'ca.crt');
const tlsFlags = (h: string): string[] => [
  ...['--ca', caFile, '--cert', path.join(certs, `${h}.crt`), '--key', path.join(certs, `${h}.key`)],
];

async function cell(tls: boolean, round: number): Promise<Outcome> {
  const dir = path.join(base, `r${round}-${tls ? 'on' : 'off'}`);
  const cluster = await startKvCluster(main, dir, 3, tls ? { tls: { flags: tlsFlags, ca: readFileSync(caFile) } } : {});
  try {
    const endpoints = [...cluster.endpoints.values()].map((e) => `${e.host}:${e.port}`).join(',');
    const args = [
      path.join(root, 'dist/bench/kv-load.js'),
      ...['--system', 'paxos', '--endpoints', endpoints, '--clients', String(CLIENTS), '--conns', String(CONNS)],
      ...['--seconds', String(seconds), '--read', '0', '--keys', '1000', '--value-size', '256'],
      ...['--seed', String(round + 1)],
      ...(tls ? ['--ca', caFile] : []),
    ];
    const out = await new Promise<string>((resolve, reject) => {
      const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      c.stdout.on('data', (d: Buffer) => (text += d.toString()));
      c.once('error', reject);
      c.once('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`kv-load exited ${code}`))));
    });
    return JSON.parse(out.trim().split('\n').at(-1)!) as Outcome;
  } finally {
    await cluster.stop();
  }
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const runs: Record<'off' | 'on', Outcome[]> = { off: [], on: [] };
console.log(`bench:tls: kv3 on loopback, puts at ${CLIENTS} clients (${CONNS} connections), ${rounds} x ${seconds} s`);
try {
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [false, true] : [true, false];
    for (const tls of order) {
      const o = await cell(tls, r);
      runs[tls ? 'on' : 'off'].push(o);
      console.log(
        `round ${r + 1} TLS ${tls ? 'on ' : 'off'}: ${(o.ops / o.secs).toFixed(0)} puts/s, ` +
          `p50 ${o.p50.toFixed(1)} ms, p99 ${o.p99.toFixed(1)} ms`,
      );
    }
  }
  const summary = (k: 'off' | 'on'): { tput: number; p99: number } => ({
    tput: median(runs[k].map((o) => o.ops / o.secs)),
    p99: median(runs[k].map((o) => o.p99)),
  });
  const off = summary('off');
  const on = summary('on');
  console.log(`median TLS off: ${off.tput.toFixed(0)} puts/s, p99 ${off.p99.toFixed(1)} ms`);
  console.log(`median TLS on:  ${on.tput.toFixed(0)} puts/s, p99 ${on.p99.toFixed(1)} ms`);
  console.log(
    `TLS: ${((on.tput / off.tput) * 100).toFixed(0)}% of the throughput without it, p99 ` +
      `${(on.p99 / off.p99).toFixed(2)}x`,
  );
} finally {
  rmSync(base, { recursive: true, force: true });
}

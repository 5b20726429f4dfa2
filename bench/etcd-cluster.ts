// A 3-member etcd for bench:kv (kv-compare.ts), from Debian's etcd-server,
// with its state on disk under `dir`, and the Go load generator
// (bench/etcd-load/main.go) built offline from Debian's golang-go and
// golang-etcd-server-dev. Missing packages are installed when run as root;
// otherwise the error says which to install. Nothing is downloaded from
// anywhere else.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { exited } from './kv-cluster.js';

export interface EtcdCluster {
  /** host:port client endpoints, followers first, the leader last. */
  readonly endpoints: readonly string[];
  readonly pids: () => number[];
  stop(): Promise<void>;
}

const GOCODE = '/usr/share/gocode';
const CLIENTV3 = path.join(GOCODE, 'src/go.etcd.io/etcd/clientv3');

/** Installs Debian packages when missing and this runs as root; says what to install otherwise. */
function ensurePackages(missing: readonly string[], why: string): void {
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0)
    throw new Error(`${why}: run \`apt-get install ${missing.join(' ')}\` (Debian) as root, then bench:kv again`);
  process.stderr.write(`bench:kv: installing Debian's ${missing.join(', ')} (${why})\n`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

export function etcdBinary(): string {
  const found = (): string | undefined => ['/usr/bin/etcd', '/usr/local/bin/etcd'].find((p) => existsSync(p));
  if (found() === undefined) ensurePackages(['etcd-server'], 'etcd is not installed');
  const bin = found();
  if (bin === undefined) throw new Error('etcd-server was installed but /usr/bin/etcd is missing');
  return bin;
}

/**
 * The Go load generator, built into dist/bench/etcd-load when missing or older than its source.
 * GOPATH mode: clientv3 and its dependencies come from /usr/share/gocode, with no module download.
 */
export function etcdLoader(root: string): string {
  const src = path.join(root, 'bench/etcd-load/main.go');
  const out = path.join(root, 'dist/bench/etcd-load');
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  const missing = [
    ...(existsSync('/usr/bin/go') ? [] : ['golang-go']),
    ...(existsSync(CLIENTV3) ? [] : ['golang-etcd-server-dev']),
  ];
  ensurePackages(missing, "etcd's Go client is needed to drive etcd fairly");
  mkdirSync(path.dirname(out), { recursive: true });
  process.stderr.write('bench:kv: building the Go load generator (bench/etcd-load) offline\n');
  execFileSync('/usr/bin/go', ['build', '-o', out, src], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GO111MODULE: 'off', GOPATH: GOCODE, GOFLAGS: '' },
  });
  return out;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export async function startEtcd(dir: string, loader: string): Promise<EtcdCluster> {
  const bin = etcdBinary();
  const names = ['e1', 'e2', 'e3'];
  const client = await Promise.all(names.map(() => freePort()));
  const peer = await Promise.all(names.map(() => freePort()));
  const initial = names.map((n, i) => `${n}=http://127.0.0.1:${peer[i]}`).join(',');
  const children = names.map((n, i) =>
    spawn(
      bin,
      [
        ...['--name', n, '--data-dir', path.join(dir, n)],
        ...['--listen-client-urls', `http://127.0.0.1:${client[i]}`],
        ...['--advertise-client-urls', `http://127.0.0.1:${client[i]}`],
        ...['--listen-peer-urls', `http://127.0.0.1:${peer[i]}`],
        ...['--initial-advertise-peer-urls', `http://127.0.0.1:${peer[i]}`],
        ...['--initial-cluster', initial, '--initial-cluster-state', 'new'],
        ...['--initial-cluster-token', `bench-${process.pid}`, '--log-level', 'error'],
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    ),
  );
  const stop = async (): Promise<void> => {
    for (const c of children) c.kill('SIGKILL');
    await exited(children);
  };
  try {
    const eps = client.map((p) => `127.0.0.1:${p}`);
    // The Go client puts until every member answers, and says which one leads.
    const out = execFileSync(loader, ['-mode', 'ready', '-endpoints', eps.map((e) => `http://${e}`).join(',')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const { leaders } = JSON.parse(out) as { leaders: boolean[] };
    const endpoints = [...eps.filter((_, i) => leaders[i] !== true), ...eps.filter((_, i) => leaders[i] === true)];
    return { endpoints, pids: () => children.map((c) => c.pid!), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

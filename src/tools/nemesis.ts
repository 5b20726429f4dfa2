// `npm run nemesis -- --seconds 60`: a replicated-log cluster of real
// processes under fire. It starts N replicas behind a fault network
// (fault-net.ts), runs concurrent clients issuing random put, get and cas on
// a few keys, and every few seconds injects one fault: kill -9 of a replica
// (the leader half the time) and its restart, SIGSTOP/SIGCONT, a partition
// that isolates the leader, or a minority/majority split. With `diskFaults`
// half the faults are to disks instead: while a replica is down (kill -9) its
// data directory is wiped, or bytes are flipped in its log or snapshot files,
// and it is restarted to recover from the others (docs/recovery.md); one
// replica at a time, so a majority always holds every write. At the end it
// heals everything, checks that every replica holds the same store, checks
// the clients' history for linearizability, and prints a report. Any
// violation fails the run (exit 1).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  createWriteStream,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { mulberry32, pick } from '../util/prng.js';
import { checkHistory } from '../lincheck/checker.js';
import { parseHistory } from '../lincheck/history.js';
import { allocate } from '../runner/addresses.js';
import { REPLICA_NODE_ARGS } from '../runner/node-args.js';
import { kvRequest, newRequestId } from '../client/kv.js';
import type { KvRequest, KvResult } from '../wire/kv.js';
import { decodeCommand } from '../rules/index.js';
import type { Endpoint } from '../transport/link.js';
import { FaultNet } from './fault-net.js';

const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface NemesisOptions {
  readonly seconds: number;
  readonly replicas: number;
  readonly clients: number;
  readonly keys: number;
  /** Seconds between faults. */
  readonly interval: number;
  readonly seed: number;
  /**
   * Each client pauses this long between ops (default 0: flat out). The test suite sets it so the nemesis shares two
   * cores with other tests.
   */
  readonly pauseMs?: number;
  /** Write the history here (default: only in the temp dir, removed at the end). */
  readonly historyFile?: string;
  /** Half the faults wipe a down replica's data directory or flip bytes in its files. */
  readonly diskFaults?: boolean;
  readonly say: (line: string) => void;
}

export interface NemesisReport {
  readonly ok: boolean;
  readonly lines: string[];
}

type Kind = 'put' | 'get' | 'cas';

interface Replica {
  readonly host: string;
  proc: ChildProcess | null;
  stopped: boolean;
  /** Latest leadership claim seen on its stderr (performance.now()). */
  claimedAt: number;
  /** It said it is recovering lost state, and has not yet said it votes again. */
  recovering: boolean;
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/**
 * Damage a down replica's data directory: wipe it (a replaced disk), or flip
 * a few bytes in its log segments or snapshots. Says what it did.
 */
function damageDisk(dataDir: string, rng: () => number): string {
  if (rng() < 0.4) {
    renameSync(dataDir, `${dataDir}.wiped-${Date.now()}`);
    return 'wiped its data directory';
  }
  const files = [...filesUnder(path.join(dataDir, 'log')), ...filesUnder(path.join(dataDir, 'snapshots'))].filter((f) =>
    /\.(wal|snap)$/.test(f),
  );
  const file = files.length === 0 ? undefined : pick(rng, files);
  if (file === undefined) {
    renameSync(dataDir, `${dataDir}.wiped-${Date.now()}`);
    return 'wiped its data directory (no log yet)';
  }
  const bytes = readFileSync(file);
  if (bytes.length === 0) return `left ${path.basename(file)} alone (empty)`;
  const flips = 1 + Math.floor(rng() * 3);
  const at: number[] = [];
  for (let i = 0; i < flips; i++) {
    const o = Math.floor(rng() * bytes.length);
    bytes[o] = bytes[o]! ^ (1 << Math.floor(rng() * 8));
    at.push(o);
  }
  writeFileSync(file, bytes);
  return `flipped bytes ${at.join(', ')} of ${path.relative(dataDir, file)} (${bytes.length} bytes)`;
}

/** One request on a fresh connection; 'unsent' when it could not even be sent. */
async function ask(
  at: Endpoint,
  body: { type: 'kv'; cmd: object } | { type: 'dump' },
  timeoutMs: number,
): Promise<KvResult | 'unsent' | 'timeout'> {
  let req: KvRequest;
  if (body.type === 'dump') req = { type: 'dump', id: newRequestId() };
  else {
    const d = decodeCommand(body.cmd);
    if (!d.ok || d.value.op === 'noop') throw new Error(`nemesis built a bad command: ${d.ok ? 'noop' : d.why}`);
    req = { type: 'kv', id: newRequestId(), cmd: d.value };
  }
  const o = await kvRequest(at, req, null, timeoutMs);
  return o.kind === 'reply' ? o.result : o.kind === 'unreachable' ? 'unsent' : 'timeout';
}

export async function runNemesis(o: NemesisOptions): Promise<NemesisReport> {
  const rng = mulberry32(o.seed);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'paxos-nemesis-'));
  const hosts = Array.from({ length: o.replicas }, (_, i) => `peer${i + 1}`);
  const hostsfile = path.join(dir, 'hostsfile');
  writeFileSync(hostsfile, hosts.map((h) => `${h}:replica\n`).join(''));
  const alloc = await allocate(hosts, 'ports');
  const fnet = new FaultNet(alloc.endpoints);
  await fnet.start();
  await alloc.beforeSpawn();
  const t0 = performance.now();
  const now = (): number => Math.round(performance.now() - t0);
  const replicas = new Map<string, Replica>(
    hosts.map((h) => [h, { host: h, proc: null, stopped: false, claimedAt: -1, recovering: false }]),
  );
  const faults: string[] = [];
  /** Events as [time, order, json]; written sorted by time at the end. */
  const history: Array<[number, number, string]> = [];
  let order = 0;
  const record = (time: number, o: object): void => void history.push([time, order++, JSON.stringify({ ...o, time })]);

  const start = (r: Replica): void => {
    const err = createWriteStream(path.join(dir, `${r.host}.stderr`), { flags: 'a' });
    const child = spawn(
      process.execPath,
      [
        ...REPLICA_NODE_ARGS,
        MAIN,
        '-h',
        hostsfile,
        '--name',
        r.host,
        '--data-dir',
        path.join(dir, r.host),
        ...fnet.resolveFlags(r.host),
        '--no-message-lines',
        '--log-level',
        'info',
        '--peer-timeout',
        '1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // Each replica's chose lines (slot by slot), kept for a failed run's post-mortem.
    child.stdout!.pipe(createWriteStream(path.join(dir, `${r.host}.stdout`), { flags: 'a' }));
    let rest = '';
    child.stderr!.on('data', (d: Buffer) => {
      err.write(d);
      const parts = (rest + d.toString('utf8')).split('\n');
      rest = parts.pop()!;
      for (const l of parts) {
        if (/leader: .*\(this replica/.test(l)) r.claimedAt = performance.now();
        if (/recovering \(/.test(l)) r.recovering = true;
        if (/recovered from the other replicas: voting again/.test(l)) r.recovering = false;
      }
    });
    child.once('close', () => err.end());
    r.proc = child;
    r.stopped = false;
  };
  const kill9 = async (r: Replica): Promise<void> => {
    const p = r.proc;
    if (p === null) return;
    const closed = new Promise((resolve) => p.once('close', resolve));
    p.kill('SIGKILL');
    await closed;
    r.proc = null;
  };
  /** The replica that claimed leadership last, among the running ones. */
  const leader = (): Replica | undefined =>
    [...replicas.values()]
      .filter((r) => r.proc !== null && !r.stopped && r.claimedAt >= 0)
      .sort((a, b) => b.claimedAt - a.claimedAt)[0];

  for (const r of replicas.values()) start(r);

  // Clients: each runs one op at a time; an op with an unknown outcome retires
  // its process id (the op may still take effect later), as in Jepsen.
  const keys = Array.from({ length: o.keys }, (_, i) => `k${i + 1}`);
  const counts: Record<Kind, Record<'ok' | 'fail' | 'info', number>> = {
    put: { ok: 0, fail: 0, info: 0 },
    get: { ok: 0, fail: 0, info: 0 },
    cas: { ok: 0, fail: 0, info: 0 },
  };
  const refusals: Record<Kind, number> = { put: 0, get: 0, cas: 0 };
  /** Successful writes: [invoked, completed] (performance.now()). */
  const writesOk: Array<[number, number]> = [];
  let running = true;
  let valueCounter = 0;
  const client = async (c: number): Promise<void> => {
    let incarnation = 0;
    let seq = 0;
    let id = `n${c}-${randomBytes(3).toString('hex')}`;
    let process_ = `c${c}`;
    const lastSeen = new Map<string, string | null>();
    while (running) {
      const kind: Kind = pick(rng, ['put', 'put', 'get', 'get', 'cas'] as const);
      const key = pick(rng, keys);
      seq += 1;
      valueCounter += 1;
      const value = `v${valueCounter}`;
      const expected = lastSeen.get(key) ?? null;
      const cmd =
        kind === 'put'
          ? { o: 'put', c: id, s: seq, k: key, v: value }
          : kind === 'get'
            ? { o: 'get', c: id, s: seq, k: key }
            : { o: 'cas', c: id, s: seq, k: key, e: expected, v: value };
      const invokeValue = kind === 'put' ? value : kind === 'cas' ? [expected, value] : undefined;
      const invoked = now();
      const invoke = {
        process: process_,
        type: 'invoke',
        f: kind,
        key,
        ...(invokeValue === undefined ? {} : { value: invokeValue }),
      };
      const target = replicas.get(pick(rng, hosts))!;
      const at = alloc.endpoints.get(target.host)!;
      const r = await ask(at, { type: 'kv', cmd }, 2000);
      const end = (type: 'ok' | 'fail' | 'info', extra: object = {}): void => {
        counts[kind][type] += 1;
        record(invoked, invoke);
        record(now(), { process: process_, type, f: kind, key, ...extra });
      };
      // Refused before anything was done (no leader yet, not sent): it observed
      // nothing, so it is left out of the history (a failed cas would read as
      // a mismatch).
      const refused = (): void => {
        refusals[kind] += 1;
        seq -= 1; // never applied: the next command may take this seq
      };
      if (r === 'unsent') refused();
      else if (r === 'timeout') {
        end('info');
        // Retire this process and client session: the op may still land.
        incarnation += 1;
        process_ = `c${c}.${incarnation}`;
        id = `n${c}-${randomBytes(3).toString('hex')}`;
        seq = 0;
      } else if (r.status === 'done') {
        const res = r.result as { r: string; v?: string | null; cur?: string | null };
        if (res.r === 'stale' || res.r === 'expired') refused();
        else if (kind === 'get') {
          lastSeen.set(key, res.v ?? null);
          end('ok', { value: res.v ?? null });
        } else if (res.r === 'ok') {
          lastSeen.set(key, value);
          writesOk.push([t0 + invoked, performance.now()]);
          end('ok');
        } else if (res.r === 'mismatch') {
          lastSeen.set(key, res.cur ?? null);
          end('fail');
        } else refused();
      } else refused(); // no_leader, not_ready, invalid: nothing was done
      if (r === 'unsent' || (r !== 'timeout' && (r.status === 'no_leader' || r.status === 'not_ready')))
        await delay(20 + rng() * 80);
      else if ((o.pauseMs ?? 0) > 0) await delay(o.pauseMs!);
    }
  };
  const clientsDone = Promise.all(Array.from({ length: o.clients }, (_, i) => client(i + 1)));

  // Faults.
  const losses: Array<{ what: string; at: number }> = [];
  const endAt = performance.now() + o.seconds * 1000;
  await delay(1500); // let a leader emerge
  while (performance.now() + o.interval * 1000 < endAt) {
    await delay(o.interval * 500);
    const L = leader();
    const choice =
      o.diskFaults === true && rng() < 0.5 ? 'disk' : pick(rng, ['kill', 'stop', 'isolate', 'split'] as const);
    const victim = L !== undefined && rng() < 0.5 ? L : replicas.get(pick(rng, hosts))!;
    // One replica at a time loses state: not while another still recovers.
    const othersRecovering = [...replicas.values()].some((r) => r !== victim && r.recovering);
    const at = performance.now();
    let what: string;
    let lostLeader: boolean;
    let heal: () => Promise<void> | void;
    if (choice === 'disk' && !othersRecovering && victim.proc !== null) {
      lostLeader = victim === L;
      await kill9(victim);
      const did = damageDisk(path.join(dir, victim.host), rng);
      what = `kill -9 ${victim.host}${victim === L ? ' (leader)' : ''}, ${did}, restart`;
      heal = () => start(victim);
    } else if (choice === 'kill' || choice === 'disk') {
      what = `kill -9 ${victim.host}${victim === L ? ' (leader)' : ''}, restart`;
      lostLeader = victim === L;
      await kill9(victim);
      heal = () => start(victim);
    } else if (choice === 'stop') {
      what = `SIGSTOP ${victim.host}${victim === L ? ' (leader)' : ''}, SIGCONT`;
      lostLeader = victim === L;
      victim.proc?.kill('SIGSTOP');
      victim.stopped = true;
      heal = () => {
        victim.proc?.kill('SIGCONT');
        victim.stopped = false;
      };
    } else if (choice === 'isolate' && L !== undefined) {
      what = `partition: leader ${L.host} | ${hosts.filter((h) => h !== L.host).join(',')}`;
      fnet.partition([[L.host], hosts.filter((h) => h !== L.host)]);
      lostLeader = true;
      heal = () => fnet.heal();
    } else {
      const shuffled = [...hosts].sort(() => rng() - 0.5);
      const minority = shuffled.slice(0, Math.floor((hosts.length - 1) / 2));
      const majority = shuffled.slice(minority.length);
      what =
        `partition: ${minority.join(',')} | ${majority.join(',')}` +
        `${L !== undefined && minority.includes(L.host) ? ' (leader in the minority)' : ''}`;
      fnet.partition([minority, majority]);
      lostLeader = L !== undefined && minority.includes(L.host);
      heal = () => fnet.heal();
    }
    faults.push(`${(now() / 1000).toFixed(1)} s: ${what}`);
    o.say(`nemesis: ${(now() / 1000).toFixed(1)} s: ${what}`);
    if (lostLeader) losses.push({ what, at });
    await delay(o.interval * 500);
    await heal();
  }
  while (performance.now() < endAt) await delay(100);
  fnet.heal();
  for (const r of replicas.values()) {
    if (r.proc === null) start(r);
    else if (r.stopped) {
      r.proc.kill('SIGCONT');
      r.stopped = false;
    }
  }
  running = false;
  await clientsDone;

  // Every replica must converge on the same store.
  let converged = false;
  let dumps: string[] = [];
  for (let i = 0; i < 100 && !converged; i++) {
    // A put through the log makes every replica apply up to it.
    await ask(
      alloc.endpoints.get(hosts[0]!)!,
      { type: 'kv', cmd: { o: 'put', c: `final-${i}`, s: 1, k: 'final', v: String(i) } },
      2000,
    );
    const rs = await Promise.all(hosts.map((h) => ask(alloc.endpoints.get(h)!, { type: 'dump' }, 2000)));
    // The store's contents (not the applied index: a no-op slot more or less is fine).
    dumps = rs.map((r) =>
      typeof r === 'object' && r.status === 'dump'
        ? JSON.stringify(r.data)
        : `(${typeof r === 'object' ? r.status : r})`,
    );
    converged = new Set(dumps).size === 1 && !dumps[0]!.startsWith('(');
    if (!converged) await delay(200);
  }

  for (const r of replicas.values()) await kill9(r);
  await fnet.close();
  await alloc.release();

  history.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const historyText = `${history.map((h) => h[2]).join('\n')}\n`;
  if (o.historyFile !== undefined) writeFileSync(o.historyFile, historyText);
  const verdict = checkHistory(parseHistory(historyText, o.historyFile ?? 'history'), { timeoutMs: 60_000 });
  const unavailable = losses.map((l) => {
    // The first write invoked after the fault that succeeded: when did it finish?
    const done = writesOk.filter(([inv]) => inv >= l.at).map(([, fin]) => fin);
    return done.length === 0 ? 'never' : `${((Math.min(...done) - l.at) / 1000).toFixed(2)} s`;
  });

  const lines: string[] = [];
  lines.push(
    `nemesis: ${o.seconds} s, ${o.replicas} replicas, ${o.clients} clients, ${o.keys} keys, seed ${o.seed}` +
      `${o.diskFaults === true ? ', disk faults' : ''}`,
  );
  for (const k of ['put', 'get', 'cas'] as const) {
    lines.push(
      `  ${k.padEnd(3)}: ok ${counts[k].ok}, fail ${counts[k].fail}${k === 'cas' ? ' (mismatch)' : ''}, unknown ` +
        `${counts[k].info}; refused, nothing done: ${refusals[k]}`,
    );
  }
  lines.push(`  faults (${faults.length}):`);
  for (const f of faults) lines.push(`    ${f}`);
  lines.push(
    `  writes unavailable after each leader loss: ` +
      `${unavailable.length === 0 ? '(no leader loss)' : unavailable.join(', ')}`,
  );
  lines.push(`  replicas converged: ${converged ? 'yes, identical stores' : `NO: ${dumps.join(' / ').slice(0, 300)}`}`);
  const failures = verdict.verdict === 'illegal' ? verdict.failures.map((f) => f.message) : [];
  lines.push(
    '  linearizable: ' +
      (verdict.verdict === 'ok' ? 'yes' : verdict.verdict === 'illegal' ? 'NO' : `unknown (${verdict.reason})`) +
      ` (${verdict.ops} ops on ${verdict.keys} keys)`,
  );
  for (const f of failures) lines.push(`    ${f}`);
  const ok = verdict.verdict === 'ok' && converged;
  if (!ok) {
    const keep = path.join(os.tmpdir(), `nemesis-failed-${Date.now()}`);
    writeFileSync(`${keep}.history.jsonl`, historyText);
    lines.push(`  history saved to ${keep}.history.jsonl; replica logs in ${dir}`);
  } else {
    rmSync(dir, { recursive: true, force: true });
  }
  lines.push(`nemesis: ${ok ? 'PASS' : 'FAIL'}`);
  return { ok, lines };
}

// `npm run nemesis -- --seconds 60`: a replicated-log cluster of real
// processes under fire. It starts N replicas behind a fault network
// (fault-net.ts), runs concurrent clients of the client library (long-lived:
// their gets go by read index) issuing random put, get, cas and one-key
// transactions on a few keys (nemesis-clients.ts), and watchers of every key (nemesis-watch.ts),
// and every few seconds injects one fault: kill -9 of a replica
// (the leader half the time) and its restart, SIGSTOP/SIGCONT, a partition
// that isolates the leader, or a minority/majority split. With `diskFaults`
// half the faults are to disks instead: while a replica is down (kill -9) its
// data directory is wiped, or bytes are flipped in its log or snapshot files,
// and it is restarted to recover from the others (docs/recovery.md); one
// replica at a time, so a majority always holds every write. At the end it
// heals everything, checks that every replica holds the same store (keys,
// values and revisions), checks the clients' history for linearizability and
// every watcher's stream against the writes, and prints a report. Any
// violation fails the run (exit 1).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
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
import { KvClient } from '../client/api.js';
import { checkWatchStream, WatchRecorder } from './nemesis-watch.js';
import { LeaseKeeper, leasesDrain } from './nemesis-lease.js';
import type { KvRequest, KvResult } from '../wire/kv.js';
import { decodeCommand } from '../rules/index.js';
import type { Endpoint } from '../transport/link.js';
import { FaultNet } from './fault-net.js';
import { damageDisk } from './nemesis-disk.js';
import { MemberChanger, type MemberHost } from './nemesis-members.js';
import { NemesisClients } from './nemesis-clients.js';

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
  /** Watchers of every key, each a client of its own (default 2). */
  readonly watchers?: number;
  /** Lease keepers (nemesis-lease.ts), each a client of its own (default 2). */
  readonly leaseKeepers?: number;
  /**
   * Spare replicas, not in the hostsfile, that membership changes add and
   * promote, each followed by a voter's removal (nemesis-members.ts); default 0.
   */
  readonly spares?: number;
  readonly say: (line: string) => void;
}

export interface NemesisReport {
  readonly ok: boolean;
  readonly lines: string[];
}

interface Replica {
  readonly host: string;
  proc: ChildProcess | null;
  stopped: boolean;
  /** Latest leadership claim seen on its stderr (performance.now()). */
  claimedAt: number;
  /** It said it is recovering lost state, and has not yet said it votes again. */
  recovering: boolean;
  /** A spare (started with --join), once started; removed: no longer a member. */
  join: boolean;
  started: boolean;
  removed: boolean;
  /** Its process's exit code, once it exited by itself or was killed. */
  exit: Promise<number | null> | null;
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
    if (!d.ok || d.value.op === 'noop' || d.value.op === 'expire')
      throw new Error(`nemesis built a bad command: ${d.ok ? d.value.op : d.why}`);
    req = { type: 'kv', id: newRequestId(), cmd: d.value };
  }
  const o = await kvRequest(at, req, null, timeoutMs);
  return o.kind === 'reply' ? o.result : o.kind === 'unreachable' ? 'unsent' : 'timeout';
}

export async function runNemesis(o: NemesisOptions): Promise<NemesisReport> {
  const rng = mulberry32(o.seed);
  const endAt = performance.now() + o.seconds * 1000;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'paxos-nemesis-'));
  const first = Array.from({ length: o.replicas }, (_, i) => `peer${i + 1}`);
  const spareHosts = Array.from({ length: o.spares ?? 0 }, (_, i) => `peer${o.replicas + i + 1}`);
  const hosts = [...first, ...spareHosts];
  const hostsfile = path.join(dir, 'hostsfile');
  writeFileSync(hostsfile, first.map((h) => `${h}:replica\n`).join(''));
  const alloc = await allocate(hosts, 'ports');
  const fnet = new FaultNet(alloc.endpoints);
  await fnet.start();
  await alloc.beforeSpawn();
  const t0 = performance.now();
  const now = (): number => Math.round(performance.now() - t0);
  const replicas = new Map<string, Replica>(
    hosts.map((h) => [
      h,
      {
        host: h,
        proc: null,
        stopped: false,
        claimedAt: -1,
        recovering: false,
        join: spareHosts.includes(h),
        started: false,
        removed: false,
        exit: null,
      },
    ]),
  );
  /** The replicas that are members now: started, not removed. */
  const active = (): Replica[] => [...replicas.values()].filter((r) => r.started && !r.removed);
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
        '--insecure', // on loopback, behind its own fault proxies
        ...(r.join ? ['--join'] : []),
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
    r.exit = new Promise((resolve) => child.once('close', (code) => resolve(code)));
    r.proc = child;
    r.stopped = false;
    r.started = true;
  };
  const kill9 = async (r: Replica): Promise<void> => {
    const p = r.proc;
    if (p === null) return;
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await r.exit;
    r.proc = null;
  };
  /** The replica that claimed leadership last, among the running ones. */
  const leader = (): Replica | undefined =>
    [...replicas.values()]
      .filter((r) => r.proc !== null && !r.stopped && !r.removed && r.claimedAt >= 0)
      .sort((a, b) => b.claimedAt - a.claimedAt)[0];

  for (const r of replicas.values()) if (!r.join) start(r);

  // Clients, each one op at a time on a few keys, recorded in the history (nemesis-clients.ts).
  const keys = Array.from({ length: o.keys }, (_, i) => `k${i + 1}`);
  let running = true;
  const endpoints = hosts.map((h) => ({
    name: h,
    host: alloc.endpoints.get(h)!.host,
    port: alloc.endpoints.get(h)!.port,
  }));
  const libraryClient = (timeoutMs: number): KvClient =>
    new KvClient({ endpoints, timeoutMs, concurrency: 1, env: {} });
  const clients = new NemesisClients({ rng, keys, now, t0, record, pauseMs: o.pauseMs, running: () => running });
  const { counts, refusals, writesOk, writes } = clients;
  // Watchers of every key, from the start.
  const watchClients = Array.from({ length: o.watchers ?? 2 }, () => libraryClient(10_000));
  const watchers = watchClients.map((c, i) => new WatchRecorder(`watcher ${i + 1}`, c, 'k'));
  const clientsDone = Promise.all(Array.from({ length: o.clients }, (_, i) => clients.run(i + 1, libraryClient(3000))));
  // Lease keepers: no lease may expire while kept alive.
  const keeperClients = Array.from({ length: o.leaseKeepers ?? 2 }, () => libraryClient(3000));
  const keepers = keeperClients.map((c, i) => new LeaseKeeper(`keeper ${i + 1}`, c, `lease/${i + 1}`, rng, now));
  const keepersDone = Promise.all(keepers.map((k) => k.run(() => running)));
  // Membership changes, through the faults.
  const changerClient = libraryClient(5000);
  const changer = new MemberChanger(
    changerClient,
    rng,
    now,
    (h) => alloc.endpoints.get(h)!,
    () => leader()?.host,
  );
  const memberHost = (r: Replica): MemberHost => ({
    host: r.host,
    start: () => start(r),
    exited: async (ms) => {
      const code = await Promise.race([r.exit, delay(ms).then(() => 'timeout' as const)]);
      return code === 'timeout' ? null : code;
    },
    remove: () => void (r.removed = true),
  });
  const changesDone = changer.run(
    spareHosts.map((h) => memberHost(replicas.get(h)!)),
    first.map((h) => memberHost(replicas.get(h)!)),
    () => running && performance.now() < endAt - 3000,
    endAt + 30_000, // a spare begun during the faults is promoted (and a voter removed) after them at the latest
  );

  // Faults.
  const losses: Array<{ what: string; at: number }> = [];
  await delay(1500); // let a leader emerge
  while (performance.now() + o.interval * 1000 < endAt) {
    await delay(o.interval * 500);
    const L = leader();
    const choice =
      o.diskFaults === true && rng() < 0.5 ? 'disk' : pick(rng, ['kill', 'stop', 'isolate', 'split'] as const);
    const members = active();
    const memberHosts = members.map((r) => r.host);
    const victim = L !== undefined && rng() < 0.5 ? L : pick(rng, members);
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
      what = `partition: leader ${L.host} | ${memberHosts.filter((h) => h !== L.host).join(',')}`;
      fnet.partition([[L.host], hosts.filter((h) => h !== L.host)]);
      lostLeader = true;
      heal = () => fnet.heal();
    } else {
      const shuffled = [...memberHosts].sort(() => rng() - 0.5);
      const minority = shuffled.slice(0, Math.floor((hosts.length - 1) / 2));
      const majority = [...shuffled.slice(minority.length), ...hosts.filter((h) => !memberHosts.includes(h))];
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
  running = false;
  await changesDone;
  await changerClient.close();
  for (const r of active()) {
    if (r.proc === null) start(r);
    else if (r.stopped) {
      r.proc.kill('SIGCONT');
      r.stopped = false;
    }
  }
  running = false;
  await clientsDone;
  await keepersDone;
  for (const c of keeperClients) await c.close();

  const finalHosts = active().map((r) => r.host);
  // Every replica must converge on the same store.
  let converged = false;
  let dumps: string[] = [];
  for (let i = 0; i < 100 && !converged; i++) {
    // A put through the log makes every replica apply up to it.
    await ask(
      alloc.endpoints.get(finalHosts[0]!)!,
      { type: 'kv', cmd: { o: 'put', c: `final-${i}`, s: 1, k: 'final', v: String(i) } },
      2000,
    );
    const rs = await Promise.all(finalHosts.map((h) => ask(alloc.endpoints.get(h)!, { type: 'dump' }, 2000)));
    // The store's contents (not the applied index: a no-op slot more or less is fine).
    dumps = rs.map((r) =>
      typeof r === 'object' && r.status === 'dump'
        ? JSON.stringify(r.data)
        : `(${typeof r === 'object' ? r.status : r})`,
    );
    converged = new Set(dumps).size === 1 && !dumps[0]!.startsWith('(');
    if (!converged) await delay(200);
  }

  // Each key's final value, written once the faults are over: every watcher
  // that ran to the end must show it last.
  const finals = new Map<string, string>();
  const last = libraryClient(30_000);
  for (const k of keys) {
    const value = `final-${k}`;
    try {
      const r = await last.put(k, value);
      finals.set(k, value);
      writes.push({ key: k, value, outcome: 'ok', slot: r.slot });
    } catch {
      writes.push({ key: k, value, outcome: 'unknown' });
    }
  }
  await last.close();
  const caughtUp = (w: WatchRecorder): boolean => w.ended !== null || [...finals].every(([k, v]) => w.has(k, v));
  for (let i = 0; i < 300 && !watchers.every(caughtUp); i++) await delay(100);
  for (const w of watchers) await w.close();
  for (const c of watchClients) await c.close();
  const watchProblems = watchers.flatMap((w) => checkWatchStream(w, writes, finals));
  // No keeper is left: every lease must expire, and take its key along.
  const drainer = libraryClient(5000);
  const leasesLeft = await leasesDrain(
    drainer,
    keepers.map((_, i) => `lease/${i + 1}`),
    60_000,
  );
  await drainer.close();
  const leaseProblems = keepers.flatMap((k) => k.problems);

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
  for (const k of ['put', 'get', 'cas', 'txn'] as const) {
    lines.push(
      `  ${k.padEnd(3)}: ok ${counts[k].ok}, fail ${counts[k].fail}${k === 'get' || k === 'put' ? '' : ' (mismatch)'}` +
        `, unknown ${counts[k].info}; refused, nothing done: ${refusals[k]}`,
    );
  }
  if (spareHosts.length > 0) {
    lines.push(`  membership changes (${changer.log.length}):`);
    for (const c of changer.log) lines.push(`    ${c}`);
    lines.push(
      `  add to promote, per spare: ${changer.growSeconds.map((s) => `${s.toFixed(1)} s`).join(', ') || '(none)'}; ` +
        `members at the end: ${finalHosts.join(',')}`,
    );
    for (const p of changer.problems) lines.push(`    ${p}`);
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
  for (const w of watchers)
    lines.push(
      `  ${w.name}: ${w.events.length} events from revision ${w.start ?? '?'}, ` +
        `${w.ended === null ? 'ran to the end' : `ended early: ${w.ended}`}`,
    );
  lines.push(
    `  watch streams: ${
      watchProblems.length === 0
        ? 'every acknowledged write they cover seen once, at its slot; nothing refused or unwritten'
        : 'WRONG'
    }`,
  );
  for (const p of watchProblems) lines.push(`    ${p}`);
  for (const k of keepers) lines.push(`  ${k.summary()}`);
  lines.push(
    `  leases: ${leaseProblems.length === 0 ? 'none expired while kept alive' : 'WRONG'}; ` +
      (leasesLeft === null
        ? 'every one expired once no one kept it alive, with its key'
        : `NOT ALL EXPIRED a minute after the keepers stopped: ${leasesLeft}`),
  );
  for (const p of leaseProblems) lines.push(`    ${p}`);
  const ok =
    verdict.verdict === 'ok' &&
    converged &&
    watchProblems.length === 0 &&
    leaseProblems.length === 0 &&
    changer.problems.length === 0 &&
    changer.growSeconds.length === spareHosts.length &&
    leasesLeft === null;
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

// The replicated log in real containers, for `npm run test:docker`
// (scenarios `kv3` and `kv5`): testcases/kv3 or kv5 under docker compose,
// secure as set up by scripts/kv-secret.sh (a shared secret, and TLS with
// test certificates named as the hostsfile names the peers);
//   - `docker compose exec` a client that puts, then gets through another replica;
//   - TLS is on: a raw plaintext line from peer1 to peer2:8080 gets the
//     `refused` line (tls_required), which peer2 logs, and a client without
//     the CA (PAXOS_CA emptied) is told the replicas speak TLS;
//   - a transaction (`paxos txn`, on standard input) and a range (`get --prefix`);
//   - a watch replaying the transaction from its revision, and `get --json`'s revisions;
//   - `paxos snapshot save`, `status` and `restore` inside a container;
//   - a lease granted, a key put with it, `lease list`, `paxos lock NAME --
//     CMD`, and the lease revoked, taking its key, each through a container;
//   - `docker kill` the leader;
//   - put again through another replica;
//   - `docker start` the dead one: it must catch up (a get through it, which
//     goes through the log, returns the new value), and after a clean stop
//     its replica file must hold the same keys and values as the others'.

import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { loadCompose } from '../runner/compose.js';
import { composeCommand, run } from '../runner/docker.js';
import type { FaultResult } from './docker-faults.js';
import { saveLogs, verboseCopy } from './docker-faults.js';

/** `paxos ARGS` (or `CMD ARGS`, with `cmd`) in `service`, with `env` (NAME=VALUE) added to its environment. */
async function exec(
  base: readonly string[],
  service: string,
  args: readonly string[],
  opts: { readonly env?: readonly string[]; readonly cmd?: string } = {},
): Promise<{ code: number; out: string }> {
  const env = (opts.env ?? []).flatMap((e) => ['-e', e]);
  try {
    return { code: 0, out: (await run([...base, 'exec', '-T', ...env, service, opts.cmd ?? 'paxos', ...args])).trim() };
  } catch (err) {
    const m = /failed: (.*)$/.exec((err as Error).message);
    return { code: -1, out: m?.[1] ?? (err as Error).message };
  }
}

/** `paxos ARGS` in `service`, with `input` on its standard input (the image has no shell to pipe with). */
function execInput(
  base: readonly string[],
  service: string,
  args: readonly string[],
  input: string,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(base[0]!, [...base.slice(1), 'exec', '-T', service, 'paxos', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out: out.trim() }));
    child.stdin.end(input);
  });
}

/** A container's output so far, stdout and stderr. */
function logsOf(id: string): Promise<string> {
  return new Promise<string>((resolve) =>
    execFile('docker', ['logs', id], { maxBuffer: 64 * 1024 * 1024 }, (_e, out, err) => resolve(`${out}${err}`)),
  );
}

/** The replica that peer `service` last logged as leader (needs --log-level info). */
async function leaderSeenBy(id: string): Promise<string | undefined> {
  const text = await logsOf(id);
  const all = [...text.matchAll(/leader: (peer\d+)/g)];
  return all.at(-1)?.[1];
}

export async function kvScenario(root: string, name: 'kv3' | 'kv5' = 'kv3'): Promise<FaultResult> {
  const t0 = performance.now();
  const copy = verboseCopy(path.join(root, `testcases/${name}`));
  // The replicas run secure: the set-up script makes the secret (.env) the compose file reads.
  await run(['bash', path.join(root, 'scripts/kv-secret.sh'), copy.dir]);
  const project = loadCompose(copy.dir);
  const compose = await composeCommand();
  const base = [...compose, '-p', `prj4-${name}`, '-f', project.file];
  const down = (): Promise<string> => run([...base, 'down', '--remove-orphans', '--volumes', '--timeout', '3']);
  await down().catch(() => '');
  const ids = new Map<string, string>();
  const problems: string[] = [];
  const notes: string[] = [];
  try {
    await run([...base, 'up', '-d']);
    for (const s of project.services) ids.set(s.name, (await run([...base, 'ps', '-q', s.name])).trim());
    const put1 = await exec(base, 'peer1', ['put', 'greeting', 'hello', '--timeout', '30']);
    if (put1.code !== 0) throw new Error(`paxos put greeting hello through peer1: ${put1.out}`);
    const get1 = await exec(base, 'peer2', ['get', 'greeting']);
    if (get1.out !== 'hello') problems.push(`get through peer2 printed ${JSON.stringify(get1.out)}, expected hello`);
    problems.push(...(await tlsIsOn(base, ids.get('peer2')!, notes)));
    // A transaction through peer3, read back as a range through peer1.
    const txn = await execInput(base, 'peer3', ['txn'], 'user/a absent\n\nput user/a 1\nput user/b 2\n');
    if (txn.code !== 0 || !txn.out.startsWith('then: every compare held'))
      problems.push(`paxos txn through peer3 (exit ${txn.code}): ${txn.out}`);
    const range = await exec(base, 'peer1', ['get', '--prefix', 'user/']);
    if (range.out !== 'user/a\t1\nuser/b\t2')
      problems.push(`get --prefix user/ through peer1 printed ${JSON.stringify(range.out)}`);
    else notes.push('a txn and a range through the containers');
    // The txn's slot is the revision of its changes: a watch from it replays them, and get --json shows it.
    const slot = /\(slot (\d+)\)/.exec(txn.out)?.[1];
    const watch = await exec(base, 'peer2', ['watch', '--prefix', 'user/', '--rev', slot ?? '1', '--count', '2']);
    if (watch.out !== `${slot}\tput\tuser/a\t1\n${slot}\tput\tuser/b\t2`)
      problems.push(`watch --prefix user/ --rev ${slot} through peer2 printed ${JSON.stringify(watch.out)}`);
    const rev = await exec(base, 'peer3', ['get', 'user/b', '--json']);
    if (!rev.out.includes(`"modRevision":${slot},`))
      problems.push(`get user/b --json through peer3 printed ${rev.out}, without modRevision ${slot}`);
    else notes.push(`a watch from revision ${slot} and the keys' revisions through the containers`);
    // A backup taken inside a container, checked, and restored into a new data directory there.
    const save = await exec(base, 'peer1', ['snapshot', 'save', '/tmp/kv.backup']);
    const status = await exec(base, 'peer1', ['snapshot', 'status', '/tmp/kv.backup']);
    const restore = await exec(base, 'peer1', ['snapshot', 'restore', '/tmp/kv.backup', '--data-dir', '/tmp/restored']);
    if (save.code !== 0 || !/^saved 3 keys as of slot \d+/.test(save.out))
      problems.push(`snapshot save through peer1 (exit ${save.code}): ${save.out}`);
    else if (status.code !== 0 || !/: 3 keys as of slot \d+/.test(status.out))
      problems.push(`snapshot status (exit ${status.code}): ${status.out}`);
    else if (restore.code !== 0 || !restore.out.startsWith('restored 3 keys'))
      problems.push(`snapshot restore (exit ${restore.code}): ${restore.out}`);
    else notes.push('a backup saved, checked and restored in a container');
    problems.push(...(await leasesThrough(base, notes)));

    let leader: string | undefined;
    for (let i = 0; i < 50 && leader === undefined; i++) {
      leader = await leaderSeenBy(ids.get('peer1')!);
      if (leader === undefined) await delay(100);
    }
    if (leader === undefined || !ids.has(leader)) throw new Error("could not tell the leader from peer1's log");
    await run(['docker', 'kill', ids.get(leader)!]);
    const other = project.services.map((s) => s.name).find((n) => n !== leader)!;
    const tk = performance.now();
    const put2 = await exec(base, other, ['put', 'greeting', 'world', '--timeout', '30']);
    if (put2.code !== 0) problems.push(`put after killing the leader ${leader}, through ${other}: ${put2.out}`);
    notes.push(
      `killed leader ${leader}; the next put through ${other} took ${((performance.now() - tk) / 1000).toFixed(2)} s`,
    );

    await run(['docker', 'start', ids.get(leader)!]);
    // The get must be answered by the restarted replica itself (a client
    // moves on to another replica while it has no leader yet): it applies
    // the get in log order, so its answer shows it caught up.
    let get2: { peer?: string; value?: string | null } = {};
    let raw = '';
    const deadline = performance.now() + 30_000;
    while (performance.now() < deadline) {
      raw = (await exec(base, leader, ['get', 'greeting', '--to', leader, '--json'])).out;
      try {
        get2 = JSON.parse(raw) as typeof get2;
      } catch {
        get2 = {};
      }
      if (get2.peer === leader) break;
      await delay(200);
    }
    if (get2.peer !== leader || get2.value !== 'world')
      problems.push(`after its restart, get through ${leader} printed ${raw}, expected world from ${leader}`);

    // A clean stop brings every replica file up to date.
    await run([...base, 'stop', '--timeout', '5']);
    const files = new Map<string, string>();
    for (const s of project.services) {
      const text = await run(['docker', 'cp', `${ids.get(s.name)!}:/app/paxos-data/${s.hostname}/store.jsonl`, '-']);
      // docker cp - writes a tar stream: the file's lines are in it as text.
      const keys = text
        .split('\n')
        .filter((l) => l.startsWith('{"key":'))
        .join('\n');
      files.set(s.name, keys);
    }
    const distinct = new Set(files.values());
    if (distinct.size !== 1)
      problems.push(`replica files differ: ${[...files].map(([n, f]) => `${n}: ${f.slice(0, 80)}`).join(' / ')}`);
    else if (![...distinct][0]!.includes('"key":"greeting","value":"world"'))
      problems.push(`replica files do not hold greeting=world: ${[...distinct][0]!.slice(0, 120)}`);
    else notes.push('replica files match');
  } catch (err) {
    problems.push((err as Error).message);
  } finally {
    if (problems.length > 0 && ids.size > 0) {
      const where = await saveLogs(name, ids).catch((err: Error) => `(could not save logs: ${err.message})`);
      process.stderr.write(`${name}: every container's output is in ${where}\n`);
    }
    await down().catch(() => '');
    copy.remove();
  }
  return {
    ok: problems.length === 0,
    detail: problems.length === 0 ? notes.join('; ') : problems.join('; '),
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The line a TLS listener logs when a connection speaks plaintext to it (src/transport/server.ts). */
const PLAINTEXT_REFUSED = /closing connection from \S+: it spoke plaintext, but this peer speaks TLS only/;

/**
 * TLS is really on: a raw plaintext line from peer1 to peer2:8080 is
 * answered with the `refused` line (tls_required) and closed, and peer2 logs
 * the refusal (first: it logs at most one such line per 10 s); a client
 * without the CA (PAXOS_CA emptied) is refused, saying the replicas speak
 * TLS (exit 5). `peer2` is its container's id.
 */
async function tlsIsOn(base: readonly string[], peer2: string, notes: string[]): Promise<string[]> {
  // The image may have no shell or nc: node sends the line and prints what comes back until the close.
  const script =
    'const s = require(\'net\').connect(8080, \'peer2\', () => s.write(\'{"type":"get","key":"greeting"}\\n\'));' +
    "let b = ''; s.on('data', (d) => (b += d)); s.on('close', () => process.stdout.write(b));" +
    "s.on('error', (e) => process.stdout.write('error: ' + e.message));";
  const raw = await exec(base, 'peer1', ['-e', script], { cmd: 'node' });
  let refused: { type?: unknown; reason?: unknown } = {};
  try {
    refused = JSON.parse(raw.out) as typeof refused;
  } catch {
    // not one JSON line: reported below
  }
  if (refused.type !== 'refused' || refused.reason !== 'tls_required')
    return [`a plaintext line from peer1 to peer2:8080 got ${JSON.stringify(raw.out)}, not the refused line`];
  let logged = false;
  for (let i = 0; i < 25 && !logged; i++) {
    logged = PLAINTEXT_REFUSED.test(await logsOf(peer2));
    if (!logged) await delay(200);
  }
  if (!logged) return ["peer2's log has no line refusing the plaintext connection"];
  const plainCli = await exec(base, 'peer1', ['get', 'greeting', '--timeout', '5'], { env: ['PAXOS_CA='] });
  if (plainCli.code === 0 || !plainCli.out.includes('it speaks TLS, and this client spoke plaintext'))
    return [`get without the CA (exit ${plainCli.code}) printed ${JSON.stringify(plainCli.out)}`];
  notes.push(
    `TLS on: a plaintext line to peer2:8080 answered ${raw.out} (and logged), a client without the CA told ` +
      'the replicas speak TLS',
  );
  return [];
}

/** Leases, a key put with one, a lock around a command, and a revoke, each through a different container. */
async function leasesThrough(base: readonly string[], notes: string[]): Promise<string[]> {
  const grant = await exec(base, 'peer1', ['lease', 'grant', '600']);
  const id = /^\d+$/.test(grant.out) ? grant.out : null;
  if (grant.code !== 0 || id === null) return [`lease grant 600 through peer1 (exit ${grant.code}): ${grant.out}`];
  const put = await exec(base, 'peer2', ['put', 'svc/a', 'up', '--lease', id]);
  const list = await exec(base, 'peer3', ['lease', 'list', '--json']);
  const script = 'process.stdout.write(process.env.PAXOS_LOCK_KEY ?? "none")';
  const lock = await exec(base, 'peer1', ['lock', 'jobs', '--', 'node', '-e', script]);
  const revoke = await exec(base, 'peer3', ['lease', 'revoke', id]);
  const gone = await exec(base, 'peer1', ['get', 'svc/a']);
  if (put.code !== 0) return [`put svc/a up --lease ${id} through peer2 (exit ${put.code}): ${put.out}`];
  if (list.code !== 0 || !list.out.includes(`"id":${id}`))
    return [`lease list --json through peer3 (exit ${list.code}) does not show lease ${id}: ${list.out}`];
  if (lock.code !== 0 || !lock.out.startsWith('jobs/'))
    return [`lock jobs -- node through peer1 (exit ${lock.code}) printed ${JSON.stringify(lock.out)}`];
  if (revoke.code !== 0) return [`lease revoke ${id} through peer3 (exit ${revoke.code}): ${revoke.out}`];
  if (!gone.out.includes('absent')) return [`svc/a after its lease was revoked, through peer1: ${gone.out}`];
  notes.push(`lease ${id}, a key put with it, a lock around a command, and the revoke that took the key`);
  return [];
}

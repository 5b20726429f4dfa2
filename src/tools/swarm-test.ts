// `npm run test:swarm [-- --steps deploy,kill,membership]`: the replicated
// log on Docker Swarm, from deploy/swarm/ (docs/operations.md, "Docker Swarm").
//   - setup: `docker swarm init` if this engine is in no swarm (and, at the
//     end, `docker swarm leave --force` only then);
//   - deploy: the kv3 stack; every member's task running and healthy, every
//     replica ready; a put through one member's container, a get through another;
//   - kill: `docker kill` the leader's container; a put through another
//     member meanwhile; swarm starts a new container for that service, on the
//     same volume (the same identity.json, no recovery), and gets through it
//     (`--to` it) return the keys put before and while it was down;
//   - membership: `member add peer4`, peer4 deployed with --join from
//     deploy/swarm/member.yml, caught up as a learner, `member promote peer4`,
//     `member remove peer1` (its task exits 0 and swarm leaves it down),
//     `docker service rm` it; put and get still work, and `member list` shows
//     peer2, peer3 and peer4 as voters.
// Prints PASS or FAIL per step, with times. Whatever happens, removes the
// stacks, their volumes, secret and config. Exits 1 if a step failed, 2 on
// bad usage.

import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  root,
  SWARM_DIR,
  STACK,
  JOINER,
  MEMBERS,
  STEPS,
  type Step,
  sh,
  lastLines,
  must,
  secs,
  waitFor,
  service,
  containerOf,
  tasks,
  healthy,
  paxos,
  paxosOk,
  status,
  readIn,
  getFrom,
} from './swarm-docker.js';

// --- The steps -----------------------------------------------------------------

/** What the steps share: the containers, as they are now. */
interface Cluster {
  containers: Map<string, string>;
}

async function stepDeploy(c: Cluster): Promise<string> {
  const t0 = performance.now();
  await must(['docker', 'stack', 'deploy', '--resolve-image', 'never', '-c', path.join(SWARM_DIR, 'kv3.yml'), STACK]);
  for (const m of MEMBERS) c.containers.set(m, await healthy(service(m), 240_000));
  const tHealthy = secs(t0);
  const first = c.containers.get('peer1')!;
  await waitFor('every replica to be ready, with one leader', 180_000, async () => {
    const s = await status(first);
    if (typeof s === 'string') return { last: s };
    const ok = s.length === MEMBERS.length && s.every((r) => r.up && r.ready === true);
    const leaders = s.filter((r) => r.role === 'leader');
    if (ok && leaders.length === 1) return { value: true, last: '' };
    return { last: s.map((r) => `${r.member}: ${r.health ?? (r.up ? r.role : 'down')}`).join(', ') };
  });
  const tReady = secs(t0);
  const put = await paxosOk(first, ['put', 'greeting', 'hello', '--timeout', '30']);
  const got = await paxosOk(c.containers.get('peer3')!, ['get', 'greeting']);
  if (got !== 'hello') throw new Error(`get greeting through peer3 printed ${JSON.stringify(got)}, expected hello`);
  return (
    `stack ${STACK}: ${MEMBERS.length} services running and healthy in ${tHealthy} s, every replica ready ` +
    `in ${tReady} s; put through peer1 (${put}), get through peer3: hello`
  );
}

async function stepKill(c: Cluster): Promise<string> {
  const s = await status(c.containers.get('peer1')!);
  if (typeof s === 'string') throw new Error(s);
  const victim = s.find((r) => r.role === 'leader')?.member ?? 'peer1';
  const other = MEMBERS.find((m) => m !== victim)!;
  const old = c.containers.get(victim)!;
  const identityFile = `/app/paxos-data/${victim}/identity.json`;
  const identity = await readIn(old, identityFile);
  if (identity.code !== 0) throw new Error(`cannot read ${identityFile} in ${victim}: ${lastLines(identity.stderr)}`);
  await paxosOk(c.containers.get(other)!, ['put', 'kill/before', 'one', '--timeout', '30']);

  await must(['docker', 'kill', old]);
  const tk = performance.now();
  const put = await paxosOk(c.containers.get(other)!, ['put', 'kill/during', 'two', '--timeout', '60']);
  const tPut = secs(tk);
  const fresh = await healthy(service(victim), 180_000, old);
  const tBack = secs(tk);
  c.containers.set(victim, fresh);
  const history = await tasks(service(victim));
  if (!history.some((t) => t.includes('non-zero exit (137)')))
    throw new Error(`${victim}'s tasks show no killed one: ${history.join(' / ')}`);

  // The same volume: the same identity, and no recovery of a wiped directory.
  const again = await readIn(fresh, identityFile);
  if (again.stdout !== identity.stdout)
    throw new Error(
      `${identityFile} differs after the restart: ${again.stdout || again.stderr} (was ${identity.stdout})`,
    );
  const logs = await sh(['docker', 'logs', fresh]);
  if (`${logs.stdout}${logs.stderr}`.includes('new or wiped data directory'))
    throw new Error(`${victim} came back with an empty data directory: ${lastLines(logs.stderr)}`);
  const before = await getFrom(fresh, victim, 'kill/before', 120_000);
  const during = await getFrom(fresh, victim, 'kill/during', 60_000);
  if (before !== 'one' || during !== 'two')
    throw new Error(
      `gets through ${victim} after its restart: kill/before=${before}, kill/during=${during}; expected one, two`,
    );
  return (
    `killed leader ${victim}; a put through ${other} took ${tPut} s (${put}); swarm ran a new container for ` +
    `${service(victim)}, healthy ${tBack} s after the kill, on the same volume (same identity.json); gets ` +
    `--to ${victim}: kill/before=one, kill/during=two`
  );
}

/** `member ...` through a container, retried while the cluster is busy with an earlier change. */
async function member(container: string, args: readonly string[], env: Record<string, string> = {}): Promise<string> {
  return waitFor(
    `paxos member ${args.join(' ')}`,
    120_000,
    async () => {
      const r = await paxos(container, ['member', ...args], env);
      if (r.code === 0) return { value: r.stdout, last: '' };
      const said = lastLines(`${r.stdout}\n${r.stderr}`);
      if (r.code === 1 && /busy/i.test(said)) return { last: said };
      throw new Error(`paxos member ${args.join(' ')} (exit ${r.code}): ${said}`);
    },
    2000,
  );
}

/** `member list`'s line for each name: undefined if it lists no such member. */
function memberLines(list: string, names: readonly string[]): Map<string, string | undefined> {
  const lines = list.split('\n');
  return new Map(names.map((n) => [n, lines.find((l) => new RegExp(`(^|\\W)${n}(\\W|$)`).test(l))]));
}

async function stepMembership(c: Cluster): Promise<string> {
  const notes: string[] = [];
  const via = c.containers.get('peer2')!;
  const added = await member(via, ['add', 'peer4=peer4:8080']);
  notes.push(`member add peer4=peer4:8080: ${lastLines(added, 1)}`);
  const t0 = performance.now();
  await must(
    ['docker', 'stack', 'deploy', '--resolve-image', 'never', '-c', path.join(SWARM_DIR, 'member.yml'), JOINER],
    { env: { STACK, MEMBER: 'peer4' } },
  );
  const joined = await healthy(`${JOINER}_member`, 240_000);
  c.containers.set('peer4', joined);
  // A write after peer4 was added: it has caught up once it has applied it.
  const put = await paxosOk(via, ['put', 'member/marker', 'x', '--timeout', '30']);
  const slot = Number(/slot (\d+)/.exec(put)?.[1] ?? NaN);
  if (!Number.isInteger(slot)) throw new Error(`put member/marker printed no slot: ${put}`);
  const four = { PAXOS_ENDPOINTS: 'peer2=peer2:8080,peer3=peer3:8080,peer4=peer4:8080' };
  await waitFor(`peer4 to be a learner that applied slot ${slot}`, 240_000, async () => {
    const list = await paxos(via, ['member', 'list']);
    const line = memberLines(list.stdout, ['peer4']).get('peer4');
    const s = await status(via, four);
    const row = typeof s === 'string' ? undefined : s.find((r) => r.member === 'peer4');
    if (line !== undefined && /learner/.test(line) && row?.applied !== undefined && row.applied >= slot)
      return { value: true, last: '' };
    return {
      last: `member list: ${line ?? lastLines(list.stdout || list.stderr, 1)}; status: ${JSON.stringify(row ?? s)}`,
    };
  });
  notes.push(`peer4 joined (service ${JOINER}_member), a learner caught up ${secs(t0)} s after its deploy`);

  await member(via, ['promote', 'peer4']);
  const promoted = memberLines(await member(via, ['list']), ['peer4']).get('peer4');
  if (promoted === undefined || !/voter/.test(promoted))
    throw new Error(`after promote, member list says: ${promoted}`);
  notes.push('promoted peer4 to voter');

  await member(via, ['remove', 'peer1']);
  // A removed member exits 0; restart_policy on-failure leaves it down.
  const ended = await waitFor("peer1's task to end with exit 0", 120_000, async () => {
    const t = (await tasks(service('peer1')))[0] ?? '';
    return t.startsWith('Complete') ? { value: t, last: t } : { last: t };
  });
  const running = await containerOf(service('peer1'));
  if (running !== undefined)
    throw new Error(`swarm started peer1 again after its removal (${running.id.slice(0, 12)})`);
  await must(['docker', 'service', 'rm', service('peer1')]);
  c.containers.delete('peer1');
  notes.push(
    `member remove peer1: its task ended (${ended.split('|')[0]}), not restarted; ` +
      `docker service rm ${service('peer1')}`,
  );

  await paxosOk(c.containers.get('peer3')!, ['put', 'member/after', 'ok', '--timeout', '30'], four);
  const got = await getFrom(joined, 'peer4', 'member/after', 60_000, four);
  if (got !== 'ok') throw new Error(`get member/after through peer4 printed ${got}, expected ok`);
  const list = await member(joined, ['list'], four);
  const lines = memberLines(list, ['peer1', 'peer2', 'peer3', 'peer4']);
  const wrong = [...lines].filter(([n, l]) => (n === 'peer1' ? l !== undefined : l === undefined || !/voter/.test(l)));
  if (wrong.length > 0) throw new Error(`member list should show peer2, peer3, peer4 as voters and no peer1:\n${list}`);
  notes.push(
    `put through peer3, get through peer4: ok; member list: ${list
      .split('\n')
      .filter((l) => l.trim())
      .join(' / ')}`,
  );
  return notes.join('; ');
}

const RUN: Record<Step, (c: Cluster) => Promise<string>> = {
  deploy: stepDeploy,
  kill: stepKill,
  membership: stepMembership,
};

// --- Set-up and clean-up ---------------------------------------------------------

/** Is this engine in a swarm, as a manager? Joins one (`docker swarm init`) if in none: whether it did. */
async function ensureSwarm(): Promise<boolean> {
  const state = (
    await must(['docker', 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'])
  ).split(' ');
  if (state[0] === 'active') {
    if (state[1] !== 'true') throw new Error('this engine is a swarm worker; run the test on a manager');
    return false;
  }
  if (state[0] !== 'inactive') throw new Error(`this engine's swarm is ${state[0]}; fix it, or docker swarm leave`);
  await must(['docker', 'swarm', 'init', '--advertise-addr', '127.0.0.1']);
  return true;
}

/** Every service's logs, every task's, into artifacts/swarm/TIME/: the directory. */
async function saveServiceLogs(): Promise<string> {
  const out = path.resolve(root, 'artifacts/swarm', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(out, { recursive: true });
  const names = (await sh(['docker', 'service', 'ls', '--format', '{{.Name}}'])).stdout
    .split('\n')
    .filter((n) => n.startsWith(`${STACK}_`) || n.startsWith(`${JOINER}_`));
  for (const n of names) {
    const r = await sh(['docker', 'service', 'logs', '--timestamps', '--raw', n], { timeoutMs: 30_000 });
    writeFileSync(path.join(out, `${n}.log`), `${r.stdout}\n${r.stderr}`);
  }
  return out;
}

/** Remove both stacks and everything they made (volumes included); what it removed. */
async function removeStacks(): Promise<string> {
  const removed: string[] = [];
  const label = (kind: 'service' | 'volume' | 'network' | 'secret' | 'config', stack: string): Promise<string[]> =>
    sh(['docker', kind, 'ls', '-q', '-f', `label=com.docker.stack.namespace=${stack}`]).then((r) =>
      r.code === 0 ? r.stdout.split('\n').filter((l) => l !== '') : [],
    );
  for (const stack of [JOINER, STACK]) {
    if ((await label('service', stack)).length > 0) {
      await sh(['docker', 'stack', 'rm', stack]);
      removed.push(`stack ${stack}`);
    }
  }
  for (const stack of [JOINER, STACK]) {
    // The containers stop after their services go: volumes and the network are free once they have.
    await waitFor(`${stack}'s containers to go`, 120_000, async () => {
      const r = await sh(['docker', 'ps', '-a', '-q', '-f', `label=com.docker.stack.namespace=${stack}`]);
      return r.stdout === '' ? { value: true, last: '' } : { last: r.stdout.replace(/\n/g, ' ') };
    });
    for (const kind of ['network', 'secret', 'config'] as const)
      for (const id of await label(kind, stack)) await sh(['docker', kind, 'rm', id]);
    const volumes = await label('volume', stack);
    for (const v of volumes) {
      await waitFor(`volume ${v} to be removed`, 60_000, async () => {
        const r = await sh(['docker', 'volume', 'rm', v]);
        return r.code === 0 ? { value: true, last: '' } : { last: r.stderr };
      });
    }
    if (volumes.length > 0) removed.push(`${volumes.length} volumes of ${stack}`);
  }
  return removed.length === 0 ? 'nothing of ours was left' : `removed ${removed.join(', ')}`;
}

const USAGE = `Usage: npm run test:swarm [-- --steps ${STEPS.join(',')}]

Deploys deploy/swarm/kv3.yml as the stack ${STACK} (running docker swarm init
first if this engine is in no swarm, and leaving the swarm at the end only
then), runs the steps (default: all; every step needs deploy, which always
runs), prints PASS or FAIL for each, and removes everything it made.
Exits 0 when every step passed, 1 otherwise, 2 on bad usage.`;

function parseSteps(argv: readonly string[]): Step[] | string | 'help' {
  let picked: string[] = [...STEPS];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--help') return 'help';
    if (argv[i] === '--steps' && i + 1 < argv.length) picked = argv[++i]!.split(',').filter((s) => s !== '');
    else if (argv[i]!.startsWith('--steps=')) picked = argv[i]!.slice('--steps='.length).split(',');
    else return `unknown argument ${JSON.stringify(argv[i])}; usage: swarm-test.js [--steps ${STEPS.join(',')}]`;
  }
  const unknown = picked.filter((s) => !(STEPS as readonly string[]).includes(s));
  if (unknown.length > 0 || picked.length === 0)
    return `--steps takes some of ${STEPS.join(',')}, got ${JSON.stringify(picked.join(','))}`;
  return STEPS.filter((s) => picked.includes(s));
}

async function main(argv: string[]): Promise<number> {
  const steps = parseSteps(argv);
  if (steps === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (typeof steps === 'string') {
    process.stderr.write(`test:swarm: ${steps}\n`);
    return 2;
  }
  // Every step runs on the stack that deploy makes.
  const run: Step[] = steps.includes('deploy') ? steps : ['deploy', ...steps];
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  const t0 = performance.now();
  let initialized = false;
  let madeSecret = false;
  let gwbridgeBefore = true;
  let cleanedUp = true;
  const results: Array<[Step, boolean]> = [];
  try {
    gwbridgeBefore = (await sh(['docker', 'network', 'inspect', 'docker_gwbridge'])).code === 0;
    initialized = await ensureSwarm();
    say(
      initialized
        ? 'swarm setup: this engine was in no swarm: docker swarm init --advertise-addr 127.0.0.1 (it leaves ' +
            'at the end)'
        : 'swarm setup: this engine is a swarm manager already (it stays in the swarm)',
    );
    const stale = await removeStacks();
    if (stale !== 'nothing of ours was left') say(`swarm setup: leftovers of an earlier run: ${stale}`);
    const secretFile = path.join(SWARM_DIR, 'secret');
    madeSecret = !existsSync(secretFile);
    await must(['bash', path.join(root, 'scripts/swarm-secret.sh'), secretFile]);

    const cluster: Cluster = { containers: new Map() };
    for (const step of run) {
      const ts = performance.now();
      try {
        const detail = await RUN[step](cluster);
        results.push([step, true]);
        say(`swarm ${step}: PASS in ${secs(ts)} s: ${detail}`);
      } catch (err) {
        results.push([step, false]);
        say(`swarm ${step}: FAIL in ${secs(ts)} s: ${(err as Error).message}`);
        const where = await saveServiceLogs().catch((e: Error) => `(could not save logs: ${e.message})`);
        say(`swarm ${step}: every service's logs are in ${where}`);
        break; // the later steps build on this one
      }
    }
    for (const step of run.filter((s) => !results.some(([r]) => r === s))) {
      results.push([step, false]);
      say(`swarm ${step}: FAIL: not run, an earlier step failed`);
    }
  } catch (err) {
    say(`swarm setup: FAIL: ${(err as Error).message}`);
    results.push(['deploy', false]);
  } finally {
    const tc = performance.now();
    const notes: string[] = [];
    try {
      notes.push(await removeStacks());
    } catch (err) {
      notes.push(`FAIL: could not remove everything: ${(err as Error).message}`);
      cleanedUp = false;
    }
    if (madeSecret) rmSync(path.join(SWARM_DIR, 'secret'), { force: true });
    if (initialized) {
      const left = await sh(['docker', 'swarm', 'leave', '--force']);
      notes.push(left.code === 0 ? 'left the swarm' : `docker swarm leave --force: ${left.stderr}`);
      if (!gwbridgeBefore) await sh(['docker', 'network', 'rm', 'docker_gwbridge']);
    }
    say(`swarm cleanup: ${notes.join('; ')} (${secs(tc)} s)`);
  }
  const passed = results.filter(([, ok]) => ok).length;
  say(`test:swarm: ${passed} of ${run.length} steps passed in ${secs(t0)} s`);
  return cleanedUp && passed === run.length ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`test:swarm: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);

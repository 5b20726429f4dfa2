// Fault scenarios in real containers, for `npm run test:docker`:
//   kill-restart: `docker kill` an acceptor mid-run, `docker start` it again;
//   disconnect:   `docker network disconnect` a minority of acceptors;
//   kill-two:     `docker kill -s KILL` two of three acceptors, disconnect the
//                 third, start the two again (they may come back at each
//                 other's old addresses): the late proposer must still choose;
//   pause:        `docker pause` an acceptor through a decision, then
//                 `docker unpause` it: it must catch up on that decision;
//   client-exec:  `docker compose exec peer1 paxos get --from peer3`.
//   up-again:     `docker compose stop` once all chose (what Ctrl-C on `up`
//                 does), then `up` again without `down`: every peer resumes
//                 from its container's data directory and reprints X.
// Containers may die and come back, so instead of following their output
// live this polls each container's full `docker logs` (which survives
// restarts), and at the end checks the whole transcript with the checker.

import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { hasRole, loadHostsfile, type Cluster } from '../config/hostsfile.js';
import { checkTranscripts, type Violation } from '../transcript/check.js';
import { parseLogLine } from '../transcript/parse.js';
import { loadCompose, type ComposeProject } from '../runner/compose.js';
import { composeCommand, run } from '../runner/docker.js';

export interface FaultResult {
  readonly ok: boolean;
  readonly detail: string;
  readonly seconds: number;
  /** For scenarios with a late proposer: its first prepare to its chose line, in ms. */
  readonly decisionMs?: number;
}

interface Ctl {
  readonly project: ComposeProject;
  readonly cluster: Cluster;
  /** container id by service name */
  readonly ids: ReadonlyMap<string, string>;
  readonly network: string;
  /** Latest stdout lines per service. */
  lines(service: string): Promise<string[]>;
  until(what: string, cond: () => Promise<boolean>, ms?: number): Promise<void>;
}

const TIMEOUT_MS = 90_000;

async function logsOf(id: string): Promise<string[]> {
  return (await run(['docker', 'logs', id])).split('\n').filter((l) => l !== '');
}

/** The values in a transcript's chose lines. */
function choseValues(lines: readonly string[]): string[] {
  return lines.flatMap((l) => {
    const p = parseLogLine(l);
    return p.ok && p.line.action === 'chose' ? [p.line.message_value] : [];
  });
}

async function chose(ctl: Ctl, service: string): Promise<string[]> {
  return choseValues(await ctl.lines(service));
}

/** What a scenario does to the running cluster; it may return problems it found itself, and a time to decision. */
type Inject = (
  ctl: Ctl & { readonly compose: readonly string[] },
) => Promise<string[] | { problems: string[]; decisionMs?: number } | void>;

/** Where a failed scenario leaves every container's output (stdout and stderr), for a look afterwards. */
export const ARTIFACTS = path.join('artifacts', 'docker-faults');

/**
 * A copy of testcase `dir` whose peers log connection events to stderr
 * (--log-level info), so a failed scenario's saved output shows what the
 * links did. Stdout, and so the transcript, is the same.
 */
export function verboseCopy(dir: string): { dir: string; remove: () => void } {
  const copy = mkdtempSync(path.join(os.tmpdir(), 'paxos-fault-'));
  cpSync(dir, copy, { recursive: true });
  const file = path.join(copy, 'docker-compose.yml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/^(\s*command:\s*)/gm, '$1--log-level info '));
  return { dir: copy, remove: () => rmSync(copy, { recursive: true, force: true }) };
}

export async function saveLogs(label: string, ids: ReadonlyMap<string, string>): Promise<string> {
  const out = path.resolve(ARTIFACTS, `${label}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(out, { recursive: true });
  for (const [service, id] of ids) {
    const text = await new Promise<string>((resolve) =>
      execFile('docker', ['logs', '--timestamps', id], { maxBuffer: 64 * 1024 * 1024 }, (_err, stdout, stderr) =>
        resolve(`${stdout}${stderr}`),
      ),
    );
    writeFileSync(path.join(out, `${service}.log`), text);
  }
  return out;
}

async function scenario(label: string, testcase: string, inject: Inject): Promise<FaultResult> {
  const t0 = performance.now();
  const copy = verboseCopy(testcase);
  const dir = copy.dir;
  const project = loadCompose(dir);
  const cluster = loadHostsfile(project.services[0]!.hostsfile);
  const compose = await composeCommand();
  const name = `prj4-fault-${path.basename(testcase)}`.toLowerCase().replace(/[^a-z0-9_-]/g, '-');
  const base = [...compose, '-p', name, '-f', project.file];
  const down = (): Promise<string> => run([...base, 'down', '--remove-orphans', '--volumes', '--timeout', '1']);
  await down();
  const ids = new Map<string, string>();
  let failed = true;
  try {
    await run([...base, 'up', '-d']);
    for (const s of project.services) ids.set(s.name, (await run([...base, 'ps', '-q', s.name])).trim());
    const networks = (await run(['docker', 'network', 'ls', '--format', '{{.Name}}']))
      .split('\n')
      .filter((n) => n.startsWith(`${name}_`) || n.startsWith(`${name}-`));
    const ctl: Ctl = {
      project,
      cluster,
      ids,
      network: networks[0] ?? `${name}_default`,
      lines: (service) => logsOf(ids.get(service)!),
      until: async (what, cond, ms = TIMEOUT_MS) => {
        const deadline = performance.now() + ms;
        while (!(await cond())) {
          if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await delay(200);
        }
      },
    };
    const required = project.services.filter((s) => {
      const h = cluster.byHost(s.hostname);
      return h !== undefined && (hasRole(h, 'proposer') || hasRole(h, 'learner'));
    });
    const injected = (await inject({ ...ctl, compose: base })) ?? [];
    const own = Array.isArray(injected) ? injected : injected.problems;
    const decisionMs = Array.isArray(injected) ? undefined : injected.decisionMs;
    await ctl.until('every proposer and learner to choose', async () =>
      (await Promise.all(required.map((s) => chose(ctl, s.name)))).every((c) => c.length > 0),
    );
    const transcripts = await Promise.all(
      project.services.map(async (s) => ({
        label: s.label,
        id: cluster.byHost(s.hostname)?.id,
        lines: await ctl.lines(s.name),
      })),
    );
    const violations: Violation[] = checkTranscripts(transcripts, cluster);
    const values = new Set(transcripts.flatMap((t) => choseValues(t.lines)));
    const summary = transcripts
      .map((t) => `${t.label}=${[...new Set(choseValues(t.lines))].join('|') || '-'}`)
      .join(' ');
    const problems = [
      ...own,
      ...violations.map((v) => `${v.peer}${v.line === undefined ? '' : ` line ${v.line}`}: ${v.message}`),
      ...(values.size === 1 ? [] : [`${values.size} values chosen`]),
    ];
    failed = problems.length > 0;
    return {
      ok: problems.length === 0,
      detail:
        (problems.length === 0
          ? `one value chosen, checker agrees; chosen: ${summary}`
          : `${problems.join('; ')}; chosen: ${summary}`) +
        (decisionMs === undefined ? '' : `; late proposer's first prepare to chose: ${decisionMs.toFixed(0)} ms`),
      seconds: (performance.now() - t0) / 1000,
      ...(decisionMs === undefined ? {} : { decisionMs }),
    };
  } catch (err) {
    return { ok: false, detail: (err as Error).message, seconds: (performance.now() - t0) / 1000 };
  } finally {
    if (failed && ids.size > 0) {
      const where = await saveLogs(label, ids).catch((err: Error) => `(could not save logs: ${err.message})`);
      process.stderr.write(`${label}: every container's output is in ${where}\n`);
    }
    await down().catch(() => '');
    copy.remove();
  }
}

const sentPrepare = (n: number) => (l: string) =>
  l.includes('"action":"sent","message_type":"prepare"') && l.endsWith(`"proposal_num":${n}}`);

/**
 * Testcase 2, with acceptor peer3 killed after the first decision and started again during the second proposer's round.
 */
export function killRestart(root: string): Promise<FaultResult> {
  return scenario('kill-restart', path.join(root, 'testcases/2'), async (ctl) => {
    await ctl.until('peer1 to choose', async () => (await chose(ctl, 'peer1')).length > 0);
    await run(['docker', 'kill', ctl.ids.get('peer3')!]);
    await ctl.until('peer5 to send prepare 2', async () => (await ctl.lines('peer5')).some(sentPrepare(2)));
    await run(['docker', 'start', ctl.ids.get('peer3')!]);
    // Back from its data directory, it still holds X: its log shows a second life.
    await ctl.until('peer3 to answer peer5 after its restart', async () =>
      (await ctl.lines('peer3')).some((l) => l.includes('"peer_id":5,"action":"received"')),
    );
  });
}

/** Testcase 2, with acceptor peer4 (a minority of one in three) off the network before the second proposer's round. */
export function disconnectMinority(root: string): Promise<FaultResult> {
  return scenario('disconnect', path.join(root, 'testcases/2'), async (ctl) => {
    await ctl.until('peer1 to choose', async () => (await chose(ctl, 'peer1')).length > 0);
    await run(['docker', 'network', 'disconnect', ctl.network, ctl.ids.get('peer4')!]);
    await ctl.until('peer5 to choose without peer4', async () => (await chose(ctl, 'peer5')).length > 0);
    await run(['docker', 'network', 'connect', '--alias', 'peer4', ctl.network, ctl.ids.get('peer4')!]);
  });
}

/** When a container printed its first line matching `pred`, from `docker logs --timestamps` (ms since the epoch). */
async function firstAt(id: string, pred: (line: string) => boolean): Promise<number | undefined> {
  for (const l of (await run(['docker', 'logs', '--timestamps', id])).split('\n')) {
    const sp = l.indexOf(' ');
    if (sp > 0 && pred(l.slice(sp + 1))) return Date.parse(l.slice(0, sp));
  }
  return undefined;
}

const choseLine = (l: string): boolean => l.includes('"action":"chose"');
const sentPrepareLine = (l: string): boolean => l.includes('"action":"sent","message_type":"prepare"');

/** peer5's first prepare to its chose line. */
async function lateDecision(ctl: Ctl): Promise<number | undefined> {
  const id = ctl.ids.get('peer5')!;
  const [from, to] = [await firstAt(id, sentPrepareLine), await firstAt(id, choseLine)];
  return from === undefined || to === undefined ? undefined : to - from;
}

/**
 * Testcase 2 (peer5 proposes Y at 10 s). After peer1 chose X, two of the
 * three acceptors are killed with SIGKILL (no FIN, no RST reaches anyone),
 * the third is cut off the network, and the two are started again: Docker
 * may hand them each other's old addresses. peer5 must notice the dead
 * links, redial by name, reach the right peers, and choose X.
 */
export function killTwoDisconnectOne(root: string): Promise<FaultResult> {
  return scenario('kill-two', path.join(root, 'testcases/2'), async (ctl) => {
    await ctl.until('peer1 to choose', async () => (await chose(ctl, 'peer1')).length > 0);
    await run(['docker', 'kill', '-s', 'KILL', ctl.ids.get('peer2')!, ctl.ids.get('peer3')!]);
    await run(['docker', 'network', 'disconnect', ctl.network, ctl.ids.get('peer4')!]);
    await run(['docker', 'start', ctl.ids.get('peer2')!, ctl.ids.get('peer3')!]);
    await ctl.until('peer5 to choose', async () => (await chose(ctl, 'peer5')).length > 0);
    const values = await chose(ctl, 'peer5');
    const decisionMs = await lateDecision(ctl);
    return {
      problems: values.every((v) => v === 'X') ? [] : [`peer5 chose ${values.join(', ')}, not X`],
      ...(decisionMs === undefined ? {} : { decisionMs }),
    };
  });
}

/**
 * Testcase 2 with acceptor peer2 frozen (`docker pause`: its kernel still
 * accepts connections, its process answers nothing) from after the first
 * decision until after the second: the second happens without it, and
 * once unpaused it catches up on it.
 */
export function pauseUnpause(root: string): Promise<FaultResult> {
  return scenario('pause', path.join(root, 'testcases/2'), async (ctl) => {
    await ctl.until('peer1 to choose', async () => (await chose(ctl, 'peer1')).length > 0);
    await run(['docker', 'pause', ctl.ids.get('peer2')!]);
    try {
      await ctl.until('peer5 to choose without peer2', async () => (await chose(ctl, 'peer5')).length > 0);
    } finally {
      await run(['docker', 'unpause', ctl.ids.get('peer2')!]);
    }
    const problems: string[] = [];
    const atTwo = (l: string): boolean => choseLine(l) && l.includes('"proposal_num":2');
    await ctl.until(
      "peer2 to learn peer5's decision after unpause",
      async () => (await ctl.lines('peer2')).some(atTwo),
      20_000,
    );
    const received = (await ctl.lines('peer2')).filter(
      (l) => l.includes('"action":"received","message_type":"chose"') && l.includes('"proposal_num":2'),
    );
    if (received.length !== 1)
      problems.push(`peer2 printed ${received.length} received-chose lines for proposal 2, not 1`);
    const decisionMs = await lateDecision(ctl);
    return { problems, ...(decisionMs === undefined ? {} : { decisionMs }) };
  });
}

/**
 * Testcase 2 run to the end, stopped as Ctrl-C on `docker compose up` stops
 * it, and brought up again without `down`: the containers keep their data
 * directories, so every peer resumes. Each proposer and learner must print
 * X again, nobody any other value, and the whole two-life transcript (docker
 * logs keep both lives) must pass the checker, as the scenario does for all.
 */
export function upAgain(root: string): Promise<FaultResult> {
  return scenario('up-again', path.join(root, 'testcases/2'), async (ctl) => {
    const required = ctl.project.services.filter((s) => {
      const h = ctl.cluster.byHost(s.hostname);
      return h !== undefined && (hasRole(h, 'proposer') || hasRole(h, 'learner'));
    });
    const choseCounts = async (): Promise<number[]> =>
      Promise.all(required.map(async (s) => (await chose(ctl, s.name)).length));
    await ctl.until('every proposer and learner to choose', async () => (await choseCounts()).every((n) => n > 0));
    const before = await choseCounts();
    const prepares = async (): Promise<number> => (await ctl.lines('peer1')).filter(sentPrepareLine).length;
    const preparesBefore = await prepares();
    await run([...ctl.compose, 'stop', '--timeout', '10']);
    await run([...ctl.compose, 'up', '-d']);
    await ctl.until('every proposer and learner to print its decision again after up', async () =>
      (await choseCounts()).every((n, i) => n > before[i]!),
    );
    const problems: string[] = [];
    // From its data directory peer1 knows X is chosen: it announces it, and runs no new round.
    if ((await prepares()) !== preparesBefore)
      problems.push('peer1 sent a prepare after up again: it did not resume knowing X');
    for (const s of ctl.project.services) {
      const values = await chose(ctl, s.name);
      if (values.some((v) => v !== 'X'))
        problems.push(`${s.name} chose ${values.join(', ')} over its two lives, not only X`);
    }
    return problems;
  });
}

/** Testcase 2 used from outside: `docker compose exec peer1 paxos get --from peer3`, and a late submit. */
export function clientExec(root: string): Promise<FaultResult> {
  return scenario('client-exec', path.join(root, 'testcases/2'), async (ctl) => {
    const problems: string[] = [];
    const exec = async (args: readonly string[]): Promise<{ code: number; out: string }> => {
      try {
        return { code: 0, out: (await run([...ctl.compose, 'exec', '-T', 'peer1', 'paxos', ...args])).trim() };
      } catch (err) {
        const m = /failed: (.*)$/.exec((err as Error).message);
        return { code: -1, out: m?.[1] ?? (err as Error).message };
      }
    };
    await ctl.until('peer5 to choose', async () => (await chose(ctl, 'peer5')).length > 0);
    const got = await exec(['get', '--from', 'peer3']);
    if (got.code !== 0 || got.out !== 'X')
      problems.push(`paxos get --from peer3 printed ${JSON.stringify(got.out)} (expected X, exit 0)`);
    const json = await exec(['get', '--from', 'peer3', '--json']);
    if (!json.out.includes('"status":"chosen"') || !json.out.includes('"value":"X"'))
      problems.push(`paxos get --json printed ${JSON.stringify(json.out)}`);
    return problems;
  });
}

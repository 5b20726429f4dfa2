// Fault scenarios in real containers, for `npm run test:docker`:
//   kill-restart: `docker kill` an acceptor mid-run, `docker start` it again;
//   disconnect:   `docker network disconnect` a minority of acceptors.
// Containers may die and come back, so instead of following their output
// live this polls each container's full `docker logs` (which survives
// restarts), and at the end checks the whole transcript with the checker.

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

/** What a scenario does to the running cluster; it may return problems it found itself. */
type Inject = (ctl: Ctl & { readonly compose: readonly string[] }) => Promise<string[] | void>;

async function scenario(dir: string, inject: Inject): Promise<FaultResult> {
  const t0 = performance.now();
  const project = loadCompose(dir);
  const cluster = loadHostsfile(project.services[0]!.hostsfile);
  const compose = await composeCommand();
  const name = `prj4-fault-${path.basename(dir)}`.toLowerCase().replace(/[^a-z0-9_-]/g, '-');
  const base = [...compose, '-p', name, '-f', project.file];
  const down = (): Promise<string> => run([...base, 'down', '--remove-orphans', '--volumes', '--timeout', '1']);
  await down();
  try {
    await run([...base, 'up', '-d']);
    const ids = new Map<string, string>();
    for (const s of project.services) ids.set(s.name, (await run([...base, 'ps', '-q', s.name])).trim());
    const networks = (await run(['docker', 'network', 'ls', '--format', '{{.Name}}'])).split('\n').filter((n) => n.startsWith(`${name}_`) || n.startsWith(`${name}-`));
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
    const own = (await inject({ ...ctl, compose: base })) ?? [];
    await ctl.until('every proposer and learner to choose', async () => (await Promise.all(required.map((s) => chose(ctl, s.name)))).every((c) => c.length > 0));
    const transcripts = await Promise.all(
      project.services.map(async (s) => ({ label: s.label, id: cluster.byHost(s.hostname)?.id, lines: await ctl.lines(s.name) })),
    );
    const violations: Violation[] = checkTranscripts(transcripts, cluster);
    const values = new Set(transcripts.flatMap((t) => choseValues(t.lines)));
    const summary = transcripts.map((t) => `${t.label}=${[...new Set(choseValues(t.lines))].join('|') || '-'}`).join(' ');
    const problems = [
      ...own,
      ...violations.map((v) => `${v.peer}${v.line === undefined ? '' : ` line ${v.line}`}: ${v.message}`),
      ...(values.size === 1 ? [] : [`${values.size} values chosen`]),
    ];
    return {
      ok: problems.length === 0,
      detail: problems.length === 0 ? `one value chosen, checker agrees; chosen: ${summary}` : `${problems.join('; ')}; chosen: ${summary}`,
      seconds: (performance.now() - t0) / 1000,
    };
  } catch (err) {
    return { ok: false, detail: (err as Error).message, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await down().catch(() => '');
  }
}

const sentPrepare = (n: number) => (l: string) => l.includes('"action":"sent","message_type":"prepare"') && l.endsWith(`"proposal_num":${n}}`);

/** Testcase 2, with acceptor peer3 killed after the first decision and started again during the second proposer's round. */
export function killRestart(root: string): Promise<FaultResult> {
  return scenario(path.join(root, 'testcases/2'), async (ctl) => {
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
  return scenario(path.join(root, 'testcases/2'), async (ctl) => {
    await ctl.until('peer1 to choose', async () => (await chose(ctl, 'peer1')).length > 0);
    await run(['docker', 'network', 'disconnect', ctl.network, ctl.ids.get('peer4')!]);
    await ctl.until('peer5 to choose without peer4', async () => (await chose(ctl, 'peer5')).length > 0);
    await run(['docker', 'network', 'connect', '--alias', 'peer4', ctl.network, ctl.ids.get('peer4')!]);
  });
}

/** Testcase 2 used from outside: `docker compose exec peer1 paxos get --from peer3`, and a late submit. */
export function clientExec(root: string): Promise<FaultResult> {
  return scenario(path.join(root, 'testcases/2'), async (ctl) => {
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
    if (got.code !== 0 || got.out !== 'X') problems.push(`paxos get --from peer3 printed ${JSON.stringify(got.out)} (expected X, exit 0)`);
    const json = await exec(['get', '--from', 'peer3', '--json']);
    if (!json.out.includes('"status":"chosen"') || !json.out.includes('"value":"X"')) problems.push(`paxos get --json printed ${JSON.stringify(json.out)}`);
    return problems;
  });
}

// A testcase run: start the compose file's peers (as local processes for
// `paxos run`, or as containers for `npm run test:docker`), print the merged
// transcript as `docker compose up` does, stop when every proposer and
// learner has chosen and no message is still in flight, and compare with
// DIR/expected/ if it exists. Both paths share this code, so they are held
// to the same goldens in the same way.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { hasRole, loadHostsfile, type Cluster } from '../config/hostsfile.js';
import { NO_SECRET_WARNING, namesSecret } from '../config/secret-notice.js';
import { checkTranscripts, type Violation } from '../transcript/check.js';
import { compareWithGoldens, readGoldens, type Mismatch } from '../transcript/compare.js';
import { WalStorage } from '../storage/wal-state.js';
import { InFlight } from '../transcript/inflight.js';
import { parseLogLine } from '../transcript/parse.js';
import { loadCompose, proposalOf, type Service } from './compose.js';
import { launchDocker } from './docker.js';
import { launchLocal } from './local.js';
import { prettyFormatter } from './pretty.js';

export interface RunOptions {
  /** Give up (and fail) if the run has not decided by then. */
  readonly timeoutMs: number;
  /** After deciding, wait at most this long for in-flight messages. */
  readonly drainMs: number;
  /** Local processes, or Docker containers of image prj4. */
  readonly where: 'local' | 'docker';
  readonly addressMode: 'auto' | 'ports';
  /** Compare with DIR/expected/ when it exists. */
  readonly compare: boolean;
  /** Extra flags for every peer, e.g. --log-level info (local runs). */
  readonly peerArgs: readonly string[];
  /** Keep local peers' state in DIR/<hostname> (default: fresh, then removed). */
  readonly dataRoot?: string | undefined;
  /** Do not stop at the decision: run until interrupted, so clients can use the peers. */
  readonly keepRunning?: boolean;
  /** Where the merged transcript and peers' stderr go as they happen; omit to stay quiet. */
  readonly echo?: { out: (line: string) => void; err: (line: string) => void } | undefined;
  /**
   * Echo the peers' stdout as one readable line per event (pretty.ts)
   * instead of `label | JSON`. Only the echo: `merged`, the checker and
   * the goldens always get the JSON lines.
   */
  readonly pretty?: { readonly color: boolean } | undefined;
  readonly signal?: AbortSignal;
}

export const DEFAULT_RUN: RunOptions = {
  timeoutMs: 60_000,
  drainMs: 3000,
  where: 'local',
  addressMode: 'auto',
  compare: true,
  peerArgs: [],
};

export interface PeerRun {
  readonly service: Service;
  readonly id: number | undefined;
  readonly mustChoose: boolean;
  readonly lines: string[];
  readonly stderr: string[];
  spawnedAt: number;
  /** performance.now() at this peer's first chose line. */
  choseAt: number | undefined;
  readonly chose: string[];
  /** Started from state an earlier run left in --data-root (and what it had learned as chosen, if anything). */
  readonly resumed: { readonly remembered: string | undefined } | undefined;
}

/**
 * `stopped`: a run kept running on purpose (--keep-running, a replicated log)
 * was ended by Ctrl-C before every proposer and learner chose. That is how
 * such a run ends, not a failure.
 */
export type Outcome = 'decided' | 'stopped' | 'timeout' | 'peer-exit' | 'interrupted';

export interface RunResult {
  readonly outcome: Outcome;
  /** Why the run failed, in one line; empty when it did not. */
  readonly failure: string;
  readonly peers: readonly PeerRun[];
  readonly merged: readonly string[];
  readonly addressMode: 'loopback' | 'ports' | 'docker';
  /** null when nothing was compared. */
  readonly mismatches: readonly Mismatch[] | null;
  /** What the transcript checker found (check.ts); run on every transcript. */
  readonly violations: readonly Violation[];
  readonly summary: string;
  readonly inFlightAtEnd: number;
  /** Peers that resumed from an earlier run's state (--data-root): not compared with the goldens. */
  readonly resumed: readonly string[];
  readonly ok: boolean;
}

export async function runTestcase(target: string, options: Partial<RunOptions> = {}): Promise<RunResult> {
  const project = loadCompose(target);
  const cluster = loadHostsfile(project.services[0]!.hostsfile);
  // A replicated log has no last decision to stop at: it serves until stopped.
  const logMode = cluster.mode === 'log';
  const opts: RunOptions = { ...DEFAULT_RUN, ...options, ...(logMode ? { keepRunning: true } : {}) };
  const firstText = readFileSync(cluster.file, 'utf8');
  for (const s of project.services) {
    if (readFileSync(s.hostsfile, 'utf8') !== firstText) {
      opts.echo?.err(
        `paxos run: warning: service ${s.name} uses a different hostsfile (${s.hostsfile}) than ${cluster.file}`,
      );
    }
  }

  const width = Math.max(...project.services.map((s) => s.label.length));
  // With --data-root, what each peer starts from (Docker containers keep their own).
  const dataRoot = opts.where === 'local' ? opts.dataRoot : undefined;
  const saved = await Promise.all(
    project.services.map((s) => (dataRoot === undefined ? undefined : savedState(path.join(dataRoot, s.hostname)))),
  );
  const peers: PeerRun[] = project.services.map((service, i) => {
    const host = cluster.byHost(service.hostname);
    return {
      service,
      id: host?.id,
      mustChoose: host !== undefined && (hasRole(host, 'proposer') || hasRole(host, 'learner')),
      lines: [],
      stderr: [],
      spawnedAt: 0,
      choseAt: undefined,
      chose: [],
      resumed: saved[i],
    };
  });
  const resumed = peers.filter((p) => p.resumed !== undefined).map((p) => p.service.label);

  const merged: string[] = [];
  const inflight = new InFlight(cluster);
  let finish: (o: Outcome, why: string) => void = () => {};
  const ended = new Promise<{ outcome: Outcome; why: string }>((resolve) => {
    let done = false;
    finish = (outcome, why) => {
      if (done) return;
      done = true;
      resolve({ outcome, why });
    };
  });

  let drainTimer: NodeJS.Timeout | undefined;
  const decided = (): boolean => peers.filter((p) => p.mustChoose).every((p) => p.chose.length > 0);
  const checkDone = (): void => {
    if (opts.keepRunning === true || !decided()) return;
    if (inflight.count <= 0) finish('decided', '');
    else drainTimer ??= setTimeout(() => finish('decided', ''), opts.drainMs);
  };

  const launch = opts.where === 'docker' ? launchDocker : launchLocal;
  // One "no shared secret" warning for the run, not one per local peer.
  const noSecret =
    opts.where === 'local' &&
    opts.echo !== undefined &&
    project.services.some((s) => !namesSecret([...s.args, ...opts.peerArgs], process.env));
  const launched = await launch(project, {
    addressMode: opts.addressMode,
    peerArgs: opts.peerArgs,
    dataRoot: opts.dataRoot,
    quietNoSecret: noSecret,
  });
  opts.echo?.err(`paxos run: ${project.file}: ${peers.length} peers (${launched.where})`);
  if (launched.clientFlags.length > 0) {
    const first = project.services[0]!;
    // Two lines to paste as they are (PAXOS_ENDPOINTS: the --resolve items, comma-separated), from where `npx paxos
    // run` ran.
    const endpoints = launched.clientFlags.filter((_, i, all) => all[i - 1] === '--resolve').join(',');
    opts.echo?.err('paxos run: clients reach them with (paste into a shell here):');
    opts.echo?.err(`export PAXOS_ENDPOINTS=${endpoints}`);
    opts.echo?.err(
      logMode
        ? `npx paxos put greeting hello   # or get KEY, del KEY, cas KEY OLD NEW, dump --from ${first.hostname}`
        : `npx paxos get --from ${first.hostname}   # or npx paxos submit VALUE --to PROPOSER`,
    );
  }
  if (logMode) opts.echo?.err('paxos run: a replicated-log cluster runs until Ctrl-C');
  for (const line of startupNotes(project.services, cluster, noSecret)) opts.echo?.err(`paxos run: ${line}`);
  const pretty =
    opts.pretty === undefined
      ? undefined
      : prettyFormatter(
          peers.map((p) => ({ label: p.service.label, id: p.id })),
          opts.pretty,
        );
  launched.outputs.forEach((output, i) => {
    const peer = peers[i]!;
    peer.spawnedAt = output.spawnedAt;
    const prefix = `${peer.service.label.padEnd(width)} | `;
    createInterface({ input: output.stdout }).on('line', (line) => {
      peer.lines.push(line);
      merged.push(prefix + line);
      opts.echo?.out(pretty === undefined ? prefix + line : pretty(i, line));
      if (logMode) {
        const slot = choseSlot(line);
        if (slot !== undefined) peer.chose.push(String(slot));
        return;
      }
      const p = parseLogLine(line);
      if (!p.ok) return;
      if (peer.id !== undefined) inflight.add(peer.id, p.line);
      if (p.line.action === 'chose') {
        peer.chose.push(p.line.message_value);
        peer.choseAt ??= performance.now();
      }
      checkDone();
    });
    createInterface({ input: output.stderr }).on('line', (line) => {
      peer.stderr.push(line);
      opts.echo?.err(prefix + line);
    });
    void output.ended.then((how) => {
      const last = peer.stderr.at(-1);
      finish('peer-exit', `${peer.service.label} ${how}${last === undefined ? '' : `: ${last}`}`);
    });
  });

  // A run that has decided and is only draining late messages is not late.
  const timeout =
    opts.keepRunning === true
      ? undefined
      : setTimeout(
          () => (decided() ? finish('decided', '') : finish('timeout', timeoutReason(peers, opts.timeoutMs))),
          opts.timeoutMs,
        );
  const onAbort = (): void => finish('interrupted', 'interrupted');
  opts.signal?.addEventListener('abort', onAbort);
  if (opts.signal?.aborted === true) onAbort();

  let { outcome, why } = await ended;
  // A peer that ended as the run was interrupted is part of the interruption,
  // not a failure of its own. (Local peers are out of the terminal's process
  // group, so its Ctrl-C does not reach them before it reaches this process:
  // see local.ts.)
  if (outcome === 'peer-exit' && opts.signal?.aborted === true) [outcome, why] = ['interrupted', 'interrupted'];
  // Interrupting a run that was kept running on purpose is how it ends.
  if (opts.keepRunning === true && outcome === 'interrupted') [outcome, why] = [decided() ? 'decided' : 'stopped', ''];
  clearTimeout(timeout);
  clearTimeout(drainTimer);
  opts.signal?.removeEventListener('abort', onAbort);
  await launched.stop();

  const goldenDir = path.join(project.dir, 'expected');
  // Goldens describe a run from empty state; a resumed run replays from memory.
  const goldens =
    opts.compare && outcome === 'decided' && !logMode && resumed.length === 0 ? readGoldens(goldenDir) : null;
  const mismatches =
    goldens === null
      ? null
      : compareWithGoldens(
          goldens,
          peers.map((p) => ({ label: p.service.label, id: p.id, lines: p.lines })),
          cluster,
          path.relative(process.cwd(), goldenDir) || 'expected',
        );
  const transcripts = peers.map((p) => ({ label: p.service.label, id: p.id, lines: p.lines, resumed: p.resumed }));
  const violations = logMode ? [] : checkTranscripts(transcripts, cluster);
  const values = logMode ? new Set<string>() : new Set(peers.flatMap((p) => p.chose));
  const failure =
    outcome !== 'decided' && outcome !== 'stopped'
      ? why
      : values.size > 1
        ? `peers chose different values: ${[...values].map(show).join(', ')}`
        : violations.length > 0
          ? `the transcript checker found ${violations.length} problems`
          : mismatches !== null && mismatches.length > 0
            ? `${mismatches.length} mismatches with ${goldenDir}`
            : '';
  return {
    outcome,
    failure,
    peers,
    merged,
    addressMode: launched.mode,
    mismatches,
    violations,
    summary: logMode ? summarizeLog(peers) : summarize(peers),
    inFlightAtEnd: inflight.count,
    resumed,
    ok: failure === '',
  };
}

/**
 * What the run says as it starts, besides where the peers are: the one
 * "no shared secret" warning (its peers were told not to repeat it), and
 * which proposers wait out a -t first, so a quiet start is explained.
 */
export function startupNotes(services: readonly Service[], cluster: Cluster, noSecret: boolean): string[] {
  const notes = noSecret ? [`warning: ${NO_SECRET_WARNING}`] : [];
  for (const s of services) {
    const after = proposalOf(s)?.after;
    const secs = after === undefined ? 0 : Number(after);
    const host = cluster.byHost(s.hostname);
    if (!(secs > 0) || host === undefined || !hasRole(host, 'proposer')) continue;
    notes.push(`${s.label} proposes in ${secs} s (-t ${after})`);
  }
  return notes;
}

/**
 * What a peer's data directory already holds: undefined if it starts empty;
 * else the value it learned as chosen, if any, read from its state log as
 * the peer itself will read it when it starts (and released before that).
 */
async function savedState(dir: string): Promise<{ remembered: string | undefined } | undefined> {
  const lived = ['identity.json', 'state-log', 'state.json', 'state.json.migrated'].some((f) =>
    existsSync(path.join(dir, f)),
  );
  if (!lived) return undefined;
  const storage = new WalStorage(dir);
  try {
    return { remembered: (await storage.load()).chosen?.v };
  } catch {
    // Damaged, lost or in use: the peer says why when it starts, and refuses.
    return { remembered: undefined };
  } finally {
    await storage.release().catch(() => undefined);
  }
}

/** One line: what each peer chose, and whether they agree. */
export function summarize(peers: readonly Pick<PeerRun, 'service' | 'chose' | 'resumed'>[]): string {
  const values = new Set<string>();
  const parts = peers.map((p) => {
    const mine = [...new Set(p.chose)];
    for (const v of mine) values.add(v);
    return `${p.service.label}=${mine.length === 0 ? '-' : mine.map(show).join('|')}`;
  });
  const waiting = peers.filter((p) => p.chose.length === 0).length;
  const one = [...values][0];
  const verdict =
    values.size === 0
      ? 'nothing chosen'
      : values.size > 1
        ? 'DISAGREE'
        : waiting === 0
          ? `all chose ${show(one!)}`
          : `${peers.length - waiting} of ${peers.length} chose ${show(one!)}; ${waiting} ` +
            `${waiting === 1 ? 'has' : 'have'} not chosen`;
  const resumed = peers.filter((p) => p.resumed !== undefined).length;
  const memory =
    resumed === 0
      ? ''
      : `; ${resumed === peers.length ? 'all' : `${resumed} of ${peers.length}`} resumed from saved state`;
  return `chosen: ${parts.join(' ')} (${verdict}${memory})`;
}

/** A replicated log's summary: how many slots each replica learned, and the highest. */
export function summarizeLog(peers: readonly PeerRun[]): string {
  const parts = peers.map((p) => {
    const slots = p.chose.map(Number);
    return `${p.service.label}=${slots.length === 0 ? '-' : `${slots.length} slots (up to ${Math.max(...slots)})`}`;
  });
  return `learned: ${parts.join(' ')}`;
}

/** The slot of a replicated-log chose line, or undefined. */
function choseSlot(line: string): number | undefined {
  try {
    const o = JSON.parse(line) as { action?: unknown; slot?: unknown };
    return o.action === 'chose' && typeof o.slot === 'number' ? o.slot : undefined;
  } catch {
    return undefined;
  }
}

function show(v: string): string {
  return /^[\w.-]+$/.test(v) ? v : JSON.stringify(v);
}

function timeoutReason(peers: readonly PeerRun[], ms: number): string {
  const waiting = peers.filter((p) => p.mustChoose && p.chose.length === 0).map((p) => p.service.label);
  return `timed out after ${ms / 1000} s; still waiting for chose from ${waiting.join(', ') || 'in-flight messages'}`;
}

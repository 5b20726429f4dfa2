// `paxos run DIR --ui [PORT]`: run a testcase's peers as local processes
// behind the fault proxies (cluster.ts), follow what they print (stream.ts,
// peer-state.ts), and serve the live page (http.ts) until Ctrl-C.

import { loadHostsfile } from '../config/hostsfile.js';
import { ConfigError } from '../config/errors.js';
import { NO_SECRET_WARNING, namesSecret } from '../config/secret-notice.js';
import { loadCompose } from '../runner/compose.js';
import { prettyFormatter } from '../runner/pretty.js';
import { loadSecret } from '../config/secret.js';
import { chartLine, compactRoles } from '../viz/lines.js';
import type { LaneState } from '../viz/svg.js';
import { LiveCluster } from './cluster.js';
import { handleControl } from './controls.js';
import { startUiServer } from './http.js';
import { labTracker, leaderOf, logTracker, type PeerTracker } from './peer-state.js';
import type { LaneInfo } from './protocol.js';
import { EventHub, SAMPLE_ABOVE } from './stream.js';

export const DEFAULT_UI_PORT = 7610;
/** How often lines and lane headers go out to the page. */
const FLUSH_MS = 100;

export interface LiveOptions {
  readonly bind: string;
  readonly port: number;
  readonly addressMode: 'auto' | 'ports';
  readonly dataRoot: string | undefined;
  /** Flags for every peer; --secret-file, if any, is added here from secretFile. */
  readonly peerArgs: readonly string[];
  /** The cluster's shared secret file (else PAXOS_SECRET), passed on to every peer. */
  readonly secretFile: string | undefined;
  readonly echo: { out: (line: string) => void; err: (line: string) => void } | undefined;
  /** Leave the peers' own stderr out of the echo (--quiet); the runner's lines still show. */
  readonly quietPeers?: boolean;
  /** Echo the peers' lines as readable events (src/runner/pretty.ts) instead of their JSON. */
  readonly pretty?: { readonly color: boolean } | undefined;
  readonly signal: AbortSignal;
  /** Called with the page's address once it is served (tests use it). */
  readonly onReady?: (url: string) => void;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function runLive(target: string, o: LiveOptions): Promise<number> {
  const project = loadCompose(target);
  const cluster = loadHostsfile(project.services[0]!.hostsfile);
  const logMode = cluster.mode === 'log';
  const warnings: string[] = [];
  // Peers inherit PAXOS_SECRET from this process; --secret-file is passed on to them.
  const secret = loadSecret(o.secretFile, process.env, warnings);
  for (const w of warnings) o.echo?.err(`paxos run: warning: ${w}`);
  const peerArgs = [...o.peerArgs, ...(o.secretFile === undefined ? [] : ['--secret-file', o.secretFile])];
  // One "no shared secret" warning for the run, here; the peers (and any restarted later) do not repeat it.
  const noSecret =
    o.echo !== undefined && project.services.some((s) => !namesSecret([...s.args, ...peerArgs], process.env));

  const lanes: LaneInfo[] = project.services.map((s) => {
    const h = cluster.byHost(s.hostname);
    if (h === undefined)
      throw new ConfigError(
        `${project.file}: service ${s.name} has hostname ${s.hostname}, which is not in ${cluster.file}`,
      );
    return { label: s.label, host: s.hostname, id: h.id, roles: compactRoles(h.roles), addr: '' };
  });
  const laneOfId = new Map(lanes.map((l, i) => [l.id, i]));
  const width = Math.max(...lanes.map((l) => l.label.length));
  const pretty = o.pretty === undefined ? undefined : prettyFormatter(lanes, o.pretty);
  const hub = new EventHub(lanes.length);
  const trackers: PeerTracker[] = lanes.map(() => (logMode ? logTracker() : labTracker()));
  const procs: LaneState[] = lanes.map(() => 'up');
  const started = lanes.map(() => false);
  let changed = true;

  const publish = (): void => {
    if (!changed) return hub.flush();
    changed = false;
    const leader = logMode
      ? leaderOf(
          trackers,
          procs.map((p) => p === 'up'),
        )
      : undefined;
    trackers.forEach((t, i) => hub.peer(i, procs[i]!, t.facts(i === leader ? 'leader' : 'follower')));
    hub.flush();
  };

  // The page's port first: if it is taken, no peer has started yet.
  let live: LiveCluster | undefined;
  const server = await startUiServer(
    {
      host: o.bind,
      port: o.port,
      title: target,
      events: hub,
      control: async (body, given) => {
        const c = live;
        if (c === undefined)
          return { status: 503, reply: { ok: false, message: 'the peers are still starting; try again' } };
        return handleControl(body, given, {
          cluster: c,
          mode: logMode ? 'log' : 'lab',
          secret,
          note: (host, text, state) => hub.note(c.lane(host), text, state),
          linksChanged: () => hub.setCut(c.cutLinks()),
        });
      },
    },
    '--ui',
  );
  // Said once the page's port is ours: a taken port is then the only line.
  if (noSecret) o.echo?.err(`paxos run: warning: ${NO_SECRET_WARNING}`);

  try {
    live = await LiveCluster.start(
      project,
      { addressMode: o.addressMode, dataRoot: o.dataRoot, peerArgs, quietNoSecret: noSecret },
      {
        line: (lane, raw) => {
          o.echo?.out(pretty === undefined ? `${lanes[lane]!.label.padEnd(width)} | ${raw}` : pretty(lane, raw));
          const c = chartLine(raw, logMode);
          if (c === undefined) return;
          trackers[lane]!.see(c.line, c.slot);
          hub.line(lane, c.line, c.slot, c.line.action === 'received' ? laneOfId.get(c.line.peer_id) : undefined);
          changed = true;
        },
        stderr: (lane, raw) => {
          if (o.quietPeers !== true) o.echo?.err(`${lanes[lane]!.label.padEnd(width)} | ${raw}`);
          // A replica that lost its disk (or a log record) votes for nothing until it has recovered: say so on its
          // lane.
          if (/: recovering \((?!a new or wiped data directory)/.test(raw))
            hub.note(lane, '⟳ recovering lost state: votes for nothing yet', procs[lane]!);
          else if (/recovered from the other replicas: voting again/.test(raw))
            hub.note(lane, '✔ recovered: voting again', procs[lane]!);
        },
        state: (lane, s, why) => {
          procs[lane] = s;
          changed = true;
          if (why === 'started' && !started[lane]) {
            started[lane] = true;
            return;
          }
          hub.note(lane, noteText(why), s);
          o.echo?.err(`paxos run: ${lanes[lane]!.host} ${why}`);
        },
      },
    );
  } catch (err) {
    await server.close();
    throw err;
  }
  const running = live;
  const shown = lanes.map((l) => ({
    ...l,
    addr: `${running.endpoints.get(l.host)!.host}:${running.endpoints.get(l.host)!.port}`,
  }));
  hub.setHello({
    type: 'hello',
    mode: logMode ? 'log' : 'lab',
    title: target,
    live: true,
    lanes: shown,
    secret: secret !== null,
    sampleAbove: SAMPLE_ABOVE,
  });

  const flushTimer = setInterval(publish, FLUSH_MS);
  const tickTimer = setInterval(() => hub.tick(), 1000);
  hub.setCut([]);
  o.echo?.err(
    `paxos run: ${project.file}: ${lanes.length} peers (${shown.map((l) => `${l.host}=${l.addr}`).join(' ')}` +
      `), every link through a fault proxy`,
  );
  if (!isLoopback(o.bind)) {
    o.echo?.err(
      `paxos run: WARNING: the page is served on ${o.bind}, not loopback: anyone who can reach it can kill ` +
        `these peers${secret === null ? ' (no shared secret guards the controls)' : ''}`,
    );
  }
  o.echo?.err(`paxos run: live page at ${server.url} (Ctrl-C stops the peers)`);
  o.onReady?.(server.url);

  await new Promise<void>((resolve) => {
    if (o.signal.aborted) return resolve();
    o.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(flushTimer);
  clearInterval(tickTimer);
  await server.close();
  await running.stop();
  return 0;
}

function noteText(why: string): string {
  if (why.startsWith('killed')) return '✖ kill -9';
  if (why.startsWith('exited')) return `✖ ${why}`;
  if (why === 'started') return '▶ restarted';
  if (why.startsWith('paused')) return '‖ paused';
  if (why.startsWith('resumed')) return '▶ resumed';
  return why;
}

// `paxos viz FILE... -o run.html|run.svg [--hostsfile F]`: draw a run.

import { writeFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';
import type { LogLine } from '../paxos/logline.js';
import { hasSlot } from '../transcript/log-check.js';
import { chartLine, compactRoles } from '../viz/lines.js';
import { buildChart, type Lane } from '../viz/events.js';
import { chartHtml, chartSvg } from '../viz/svg.js';
import { readTranscriptInput, titleOf } from './transcript-input.js';
import { DEFAULT_UI_PORT } from '../ui/live.js';
import { serveReplay } from '../ui/replay.js';
import { parseFlags, takeOptionalPort } from '../config/flags.js';

export const VIZ_HELP = `Usage: paxos viz FILE... -o OUT.html|OUT.svg [--hostsfile F] [--title T]
       paxos viz FILE... --serve [PORT] [--bind ADDR]

Draws a message sequence chart of a run: one lane per peer, one arrow per
message labelled with its type, value and proposal number, a marker where
each peer chose, and rejections (an ack whose promise, or accepted number,
is above the request it answers) in red and dashed.

FILE is what \`paxos check\` reads: merged \`docker compose up\` / \`paxos run\`
output, per-peer files, or a directory of them (e.g. a testcase's expected/).
Logs carry no clock, so the chart orders lines causally: a received message
is drawn after the line that sent it. The static chart has a colour key, a
time axis (one step per log line), and under each proposer's lane its own
value, from the -v and -t in the compose file beside the hostsfile.

  -o, --out FILE   where to write: .html (an SVG in a page) or .svg
  --hostsfile F    the run's hostsfile (default: next to FILE, or its parent,
                   else ./hostsfile); which one, and why, goes to stderr
  --title T        the chart's title (default: the testcase, "testcase 2"
                   for testcases/2/expected, else the input's name)
  --serve [PORT]   instead of writing a file, open the run in the live page
                   (the one \`paxos run --ui\` serves) on 127.0.0.1:PORT
                   (default ${DEFAULT_UI_PORT}; 0: any free port), with a time slider
                   to step through it; runs until Ctrl-C
  --bind ADDR      with --serve: serve on ADDR instead of 127.0.0.1 (prints a warning)
  --help           show this help

Lines labelled with a container name (kv3-peer1) are matched to hosts as
\`paxos check\` does. Exit status: 0 drawn, 2 usage error (including an input
with no peer lines, or a label that is no host).`;

export async function vizCommand(argvIn: readonly string[]): Promise<number> {
  // --serve takes an optional port, as run's --ui does.
  const argv = [...argvIn];
  const servePort = takeOptionalPort(argv, '--serve', DEFAULT_UI_PORT);
  const { values, positionals } = parseFlags(
    argv,
    {
      out: { type: 'string', short: 'o' },
      hostsfile: { type: 'string' },
      title: { type: 'string' },
      bind: { type: 'string' },
      help: { type: 'boolean' },
    },
    true,
  );
  if (values.help === true) {
    process.stdout.write(`${VIZ_HELP}\n`);
    return 0;
  }
  if (positionals.length === 0) throw new ConfigError('viz expects a transcript FILE; see paxos viz --help');
  const out = values.out;
  if (servePort === undefined && (out === undefined || !/\.(html|svg)$/.test(out)))
    throw new ConfigError('viz needs -o OUT.html or -o OUT.svg, or --serve to open it in the browser');
  if (values.bind !== undefined && servePort === undefined) throw new ConfigError('--bind applies to --serve only');
  const {
    hostsfile,
    cluster,
    peers,
    hosts: hostOf,
    proposes,
  } = readTranscriptInput('viz', positionals, values.hostsfile);
  // A replicated log's lines carry a slot: drawn the same way, with the slot
  // leading each label ("#17 ..."), so messages match by slot too.
  const logMode = cluster.mode === 'log' || peers.some((p) => p.lines.some(hasSlot));
  const parse = (raw: string): LogLine[] => {
    const c = chartLine(raw, logMode);
    return c === undefined ? [] : [c.line];
  };

  const lanes: Lane[] = [];
  const hosts: string[] = [];
  const perLane: LogLine[][] = [];
  for (const [i, p] of peers.entries()) {
    const host = hostOf[i];
    const entry = host === undefined ? undefined : cluster.byHost(host);
    if (entry === undefined)
      throw new ConfigError(`${p.at[0] ?? p.label}: ${p.label} is not a host in ${hostsfile.file}`);
    const own = proposes.get(entry.host);
    lanes.push({
      label: p.label,
      id: entry.id,
      roles: compactRoles(entry.roles),
      ...(own === undefined ? {} : { proposes: own }),
    });
    hosts.push(entry.host);
    perLane.push(p.lines.flatMap(parse));
  }
  // Lanes in hostsfile order, as a reader expects.
  const order = lanes.map((_, i) => i).sort((a, b) => lanes[a]!.id - lanes[b]!.id);
  const title = values.title ?? titleOf(positionals);
  if (servePort !== undefined) {
    const abort = new AbortController();
    const stop = (): void => abort.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return serveReplay({
      bind: values.bind ?? '127.0.0.1',
      port: servePort,
      title,
      mode: logMode ? 'log' : 'lab',
      lanes: order.map((i) => ({ ...lanes[i]!, host: hosts[i]!, addr: '' })),
      perLane: order.map((i) => perLane[i]!),
      say: (l) => process.stderr.write(`${l}\n`),
      signal: abort.signal,
    });
  }
  const chart = buildChart(
    order.map((i) => lanes[i]!),
    order.map((i) => perLane[i]!),
  );
  const svg = chartSvg(chart, title);
  if (out === undefined) throw new ConfigError('viz needs -o OUT.html or -o OUT.svg');
  writeFileSync(out, out.endsWith('.svg') ? `${svg}\n` : `${chartHtml(svg, title)}\n`);
  process.stdout.write(
    `viz: wrote ${out}: ${chart.lanes.length} lanes, ${chart.arrows.length} messages, ` +
      `${chart.rows.filter((r) => r.line.action === 'chose').length} chose markers, ` +
      `${chart.arrows.filter((a) => a.rejected).length} rejections\n`,
  );
  return 0;
}

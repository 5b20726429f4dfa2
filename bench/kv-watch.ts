// bench:kv's watchers for this project's kv3, in a process of their own so
// that their CPU is counted apart from the servers': the watch mode of
// bench/etcd-load/main.go (read that header), on the raw NDJSON wire as the
// bench connection (kv-conn.ts) speaks it. W watchers of the prefix P share
// M connections (watcher w uses connection w mod M, connection i goes to
// endpoint i mod len(endpoints)); each is one `watch` request, answered by
// `watching` and then one `events` line per slot that changed a key under P.
//
//   node dist/bench/kv-watch.js --endpoints A,B,C --watchers W --conns M [--prefix P]
//
// Prints {"ready":true} once every watch is answered `watching`, counts the
// events each watcher receives, and on a line "stop N" on stdin (N: the puts
// done meanwhile, so N events due to each watcher) waits until each has N (or
// none gets one for 5 s, or 60 s pass), then prints one JSON line:
// {"events","min","max","back","secs","p50","p99","lagged","cut","cpu"}:
// events over all watchers, the fewest and most one watcher got, events whose
// revision went back (a repeat: each watcher's revisions must not decrease,
// several events of one slot share one), secs from the first event received to
// the last, the delivery lag (ms, from a stamped value's put to its event;
// kv-load.ts --stamp), how many lag samples there are, watchers ended early
// (their connection closed, or answered anything but `watching` and
// `events`), and this process's CPU seconds from ready to the end.

import net from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { openIntroduced } from './kv-conn.js';

const { values } = parseArgs({
  options: {
    endpoints: { type: 'string' },
    watchers: { type: 'string', default: '64' },
    conns: { type: 'string', default: '8' },
    prefix: { type: 'string', default: 'key' },
  },
});
const eps = (values.endpoints ?? '').split(',').filter((e) => e !== '');
const watchers = Number(values.watchers);
const conns = Number(values.conns);
const prefix = values.prefix!;
if (eps.length === 0 || !(watchers >= 1) || !(conns >= 1) || prefix === '') {
  process.stderr.write('kv-watch: need --endpoints, --watchers >= 1, --conns >= 1, a --prefix\n');
  process.exit(2);
}

interface Tally {
  events: number;
  /** The last revision received, and the events that went back from the one before. */
  rev: number;
  back: number;
  first: number;
  last: number;
  /** Why it ended early, if it did. */
  cut: string | null;
  watching: boolean;
}

/** What a watch answer carries (src/wire/kv.ts): only the fields read here. */
interface Answer {
  readonly id: string;
  readonly status: string;
  readonly events?: readonly (readonly [number, string, string | null])[];
}

const tallies: Tally[] = Array.from({ length: watchers }, () => ({
  events: 0,
  rev: 0,
  back: 0,
  first: 0,
  last: 0,
  cut: null,
  watching: false,
}));
const lag: number[] = [];
let stopping = false;
/** Called after each chunk read: the waits below look again. */
let progress = (): void => undefined;

/** Now, in wall-clock ms (as the stamps are), with µs. */
const wallNow = (): number => performance.timeOrigin + performance.now();

function onAnswer(r: Answer): void {
  const t = tallies[Number(r.id)];
  if (t === undefined || t.cut !== null) return;
  if (r.status === 'events' && r.events !== undefined) {
    const now = wallNow();
    if (t.first === 0) t.first = now;
    t.last = now;
    for (const e of r.events) {
      if (e[0] < t.rev) t.back += 1;
      t.rev = e[0];
      const v = e[2];
      if (v === null) continue;
      const sp = v.indexOf(' ');
      if (sp > 0) {
        const at = Number(v.slice(0, sp));
        if (Number.isFinite(at)) lag.push(now - at);
      }
    }
    t.events += r.events.length;
  } else if (r.status === 'watching') t.watching = true;
  else t.cut = `answered ${JSON.stringify(r).slice(0, 200)}`;
}

async function open(i: number): Promise<net.Socket> {
  const [host, port] = eps[i % eps.length]!.split(':');
  const socket = await openIntroduced({ host: host!, port: Number(port) });
  socket.setEncoding('utf8');
  let buf = '';
  socket.on('data', (d: string) => {
    const nl = d.lastIndexOf('\n');
    if (nl < 0) {
      buf += d;
      return;
    }
    const lines = (buf + d.slice(0, nl)).split('\n');
    buf = d.slice(nl + 1);
    for (const line of lines) onAnswer(JSON.parse(line) as Answer);
    progress();
  });
  socket.on('close', () => {
    for (let w = i; w < watchers; w += conns) {
      const t = tallies[w]!;
      if (t.cut === null && !stopping) t.cut = `its connection to ${eps[i % eps.length]!} closed`;
    }
    progress();
  });
  socket.on('error', () => undefined);
  return socket;
}

const sockets = await Promise.all(Array.from({ length: conns }, (_, i) => open(i)));
for (let w = 0; w < watchers; w++)
  sockets[w % conns]!.write(`${JSON.stringify({ type: 'watch', id: String(w), prefix })}\n`);

/** Resolves once `done()` holds (looked at after each chunk read, and every 100 ms), or `give()` says to stop. */
function until(done: () => boolean, give: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const look = (): void => {
      if (!done() && !give()) return;
      clearInterval(timer);
      progress = () => undefined;
      resolve();
    };
    const timer = setInterval(look, 100);
    progress = look;
    look();
  });
}

const started = performance.now();
await until(
  () => tallies.every((t) => t.watching || t.cut !== null),
  () => performance.now() - started > 20_000,
);
const notWatching = tallies.filter((t) => !t.watching).length;
if (notWatching > 0) {
  const why = tallies.find((t) => t.cut !== null)?.cut ?? 'no answer within 20 s';
  process.stderr.write(`kv-watch: ${notWatching} of ${watchers} watches not taken (${why})\n`);
  process.exit(1);
}
const cpu0 = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

// Wait for "stop N", then for N events at each watcher.
const lines = createInterface({ input: process.stdin });
const line = await new Promise<string>((resolve) => lines.once('line', resolve));
lines.close();
const m = /^stop (\d+)$/.exec(line.trim());
if (m === null) {
  process.stderr.write(`kv-watch: expected "stop N" on stdin, got ${JSON.stringify(line)}\n`);
  process.exit(2);
}
const due = Number(m[1]);
const deadline = performance.now() + 60_000;
let seen = -1;
let quietSince = performance.now();
await until(
  () => tallies.every((t) => t.events >= due || t.cut !== null),
  () => {
    const sum = tallies.reduce((s, t) => s + t.events, 0);
    const now = performance.now();
    if (sum !== seen) {
      seen = sum;
      quietSince = now;
    }
    return now > deadline || now - quietSince > 5000;
  },
);
stopping = true;
const used = process.cpuUsage(cpu0);
for (const s of sockets) s.destroy();

const counts = tallies.map((t) => t.events);
const firsts = tallies.filter((t) => t.first > 0).map((t) => t.first);
const last = Math.max(0, ...tallies.map((t) => t.last));
const cut = tallies.filter((t) => t.cut !== null);
for (const t of cut) process.stderr.write(`kv-watch: a watcher ended early: ${t.cut!}\n`);
lag.sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({
    events: counts.reduce((s, n) => s + n, 0),
    min: Math.min(...counts),
    max: Math.max(...counts),
    back: tallies.reduce((s, t) => s + t.back, 0),
    secs: firsts.length === 0 ? 0 : (last - Math.min(...firsts)) / 1000,
    p50: lag[Math.floor(lag.length / 2)] ?? 0,
    p99: lag[Math.floor(lag.length * 0.99)] ?? 0,
    lagged: lag.length,
    cut: cut.length,
    cpu: (used.user + used.system) / 1e6,
  })}\n`,
);
process.exit(0);

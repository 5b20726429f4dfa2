// A hostile client in a process of its own, so the test that watches the
// cluster is not slowed by the attack's own work:
//   node attacker.js idle N HOST:PORT...   N silent connections per target, each reopened when closed
//   node attacker.js storm R HOST:PORT...  R new silent connections a second, spread over the targets
// It prints how many connections it opened when its stdin closes, and exits.

import net from 'node:net';

const [mode, count, ...targets] = process.argv.slice(2);
const n = Number(count);
const ends = targets.map((t) => {
  const i = t.lastIndexOf(':');
  return { host: t.slice(0, i), port: Number(t.slice(i + 1)) };
});
let opened = 0;
let stopped = false;
const live = new Set<net.Socket>();

function open(at: { host: string; port: number }, again: boolean): void {
  if (stopped) return;
  opened += 1;
  const s = net.connect({ host: at.host, port: at.port });
  s.setNoDelay(true);
  live.add(s);
  s.on('error', () => undefined);
  s.resume(); // read (and drop) the challenge, so a close is seen at once
  s.once('close', () => {
    live.delete(s);
    // Reopened on the next turn, not in the close handler's own stack.
    if (again) setImmediate(() => open(at, true));
  });
}

let timer: NodeJS.Timeout | undefined;
if (mode === 'idle') {
  for (const at of ends) for (let i = 0; i < n; i++) open(at, true);
} else if (mode === 'storm') {
  const t0 = performance.now();
  // Catches up on each tick: the rate holds even when timers run late.
  timer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) * n) / 1000);
    while (opened < due) open(ends[opened % ends.length]!, false);
  }, 10);
} else {
  process.stderr.write(`attacker: unknown mode ${JSON.stringify(mode)}\n`);
  process.exit(2);
}

process.stdin.resume();
process.stdin.on('end', () => {
  stopped = true;
  clearInterval(timer);
  for (const s of live) s.destroy();
  process.stdout.write(`${opened}\n`);
  process.exit(0);
});

// The live page in a real browser (`npm run test:ui`, run by .ci/run after
// npm test; not part of the ava suite, so npm test needs no browser). It uses
// Debian's chromium through playwright-core; nothing downloads a browser.
//   1. paxos run testcases/2 --ui: five lanes, every peer's chose marker;
//      kill -9 an acceptor and see its lane down, restart it and see it up;
//      pause and resume one; cut a link and restore it.
//   2. paxos run testcases/kv3 --ui: put a key through the page, read it back;
//      32 clients flat out (the page samples and still answers); pause the
//      leader and put again (another replica takes over).
//   3. paxos viz FILE --serve: the replay page and its slider.
//   4. With PAXOS_SECRET set, the controls need the secret typed in.
// Screenshots go to artifacts/ui/ (UI_ARTIFACTS overrides).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { kvCall, newClientId, type KvTarget } from '../src/client/kv.js';
import { MAIN, ROOT } from './helpers/cli.js';

const OUT = process.env['UI_ARTIFACTS'] ?? path.join(ROOT, 'artifacts/ui');
const BROWSER = process.env['CHROMIUM'] ?? '/usr/bin/chromium';

function say(s: string): void {
  process.stdout.write(`ui-test: ${s}\n`);
}

/** Start a paxos command that serves a page; resolve with its URL once printed. */
function serve(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ proc: ChildProcess; url: string; stderr: string[] }> {
  const proc = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`paxos ${args.join(' ')} printed no page address in 30 s:\n${stderr.join('')}`)),
      30_000,
    );
    proc.stderr!.on('data', (d: Buffer) => {
      stderr.push(d.toString());
      const m = /(?:live page|replay) at (http:\/\/\S+)/.exec(stderr.join(''));
      if (m !== null) {
        clearTimeout(timer);
        resolve({ proc, url: m[1]!, stderr });
      }
    });
    proc.once('exit', (code) => reject(new Error(`paxos ${args.join(' ')} exited (${code}):\n${stderr.join('')}`)));
  });
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const done = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGINT');
  const force = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(force);
}

async function shot(page: Page, name: string): Promise<void> {
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file });
  say(`screenshot ${path.relative(ROOT, file)}`);
}

async function logSays(page: Page, text: string, timeout = 20_000): Promise<void> {
  await page.waitForFunction((t) => document.getElementById('log')?.textContent?.includes(t) === true, text, {
    timeout,
  });
}

async function lab(page: Page): Promise<void> {
  const { proc, url } = await serve(['run', 'testcases/2', '--ui', '0', '--quiet']);
  try {
    await page.goto(url);
    await page.waitForFunction(() => document.querySelectorAll('.card').length === 5, undefined, { timeout: 15_000 });
    say('five lanes');
    // peer5 proposes after 10 s; every peer prints chose once it learns.
    for (const p of ['peer1', 'peer2', 'peer3', 'peer4', 'peer5']) {
      await page.waitForSelector(`g.chose[data-peer="${p}"]`, { timeout: 40_000, state: 'attached' });
    }
    say('every peer chose');
    await shot(page, 'lab-chosen');

    await page.click('button[data-action="kill"][data-peer="peer3"]');
    await page.waitForSelector('.card[data-lane="peer3"][data-proc="down"]', { timeout: 10_000 });
    await page.waitForSelector('line.lane-line.down', { timeout: 5000, state: 'attached' });
    say('peer3 killed: its lane is down');
    await shot(page, 'lab-killed');

    await page.click('button[data-action="restart"][data-peer="peer3"]');
    await page.waitForSelector('.card[data-lane="peer3"][data-proc="up"]', { timeout: 10_000 });
    say('peer3 restarted: its lane is up');

    await page.click('button[data-action="pause"][data-peer="peer4"]');
    await page.waitForSelector('.card[data-lane="peer4"][data-proc="paused"]', { timeout: 10_000 });
    await page.click('td.pair[data-from="peer1"][data-to="peer2"]');
    await page.waitForSelector('td.pair.cut[data-from="peer1"][data-to="peer2"]', { timeout: 10_000 });
    await page.fill('#client-value', 'Z');
    await page.click('#do-submit');
    await logSays(page, 'another value was chosen first');
    say('paused peer4, cut peer1-peer2, submitted Z: X stays chosen');
    await shot(page, 'lab-broken');
    await page.click('button[data-action="resume"][data-peer="peer4"]');
    await page.waitForSelector('.card[data-lane="peer4"][data-proc="up"]', { timeout: 10_000 });
    await page.click('#heal');
    await page.waitForSelector('td.pair.cut', { state: 'detached', timeout: 10_000 });
    say('resumed peer4, healed the links');
  } finally {
    await stop(proc);
  }
}

async function kv(page: Page): Promise<void> {
  const { proc, url, stderr } = await serve(['run', 'testcases/kv3', '--ui', '0', '--quiet']);
  try {
    await page.goto(url);
    await page.waitForFunction(() => document.querySelectorAll('.card').length === 3, undefined, { timeout: 15_000 });
    say('three replicas');
    await page.fill('#kv-key', 'greeting');
    await page.fill('#kv-value', 'hello');
    await page.click('#do-put');
    await logSays(page, 'put "greeting": ok');
    await page.click('#do-get');
    await logSays(page, 'get "greeting" = "hello"');
    say('put greeting=hello through the page and read it back');
    // Every replica learns slot 2 (the get) and applies the put.
    await page.waitForFunction(() => document.querySelectorAll('g.chose').length >= 6, undefined, { timeout: 10_000 });
    await page.waitForFunction(
      () => Array.from(document.querySelectorAll('.card dd')).some((d) => d.textContent === 'leader'),
      undefined,
      { timeout: 10_000 },
    );
    await shot(page, 'kv-put-get');
    await load(page, stderr.join(''));
    await pauseLeader(page);
  } finally {
    await stop(proc);
  }
}

/**
 * A log under load: 32 clients putting flat out for a few seconds. The page
 * must switch to sampling and keep answering (a frozen tab would not).
 */
async function load(page: Page, stderr: string): Promise<void> {
  const m = /peers \(([^)]*)\)/.exec(stderr);
  if (m === null) throw new Error(`no peer addresses in paxos run's output:\n${stderr}`);
  const targets: KvTarget[] = m[1]!.split(' ').map((w) => {
    const [name, addr] = w.split('=') as [string, string];
    const [host, port] = addr.split(':') as [string, string];
    return { name, at: { host, port: Number(port) } };
  });
  let running = true;
  let done = 0;
  const client = async (c: number): Promise<void> => {
    const id = newClientId();
    for (let seq = 1; running; seq++) {
      const o = await kvCall(
        targets,
        { type: 'kv', cmd: { op: 'put', key: `k${c % 8}`, value: `v${seq}`, client: id, seq } },
        { secret: null, timeoutMs: 5000, first: c % targets.length },
      );
      if (o.kind === 'done') done += 1;
    }
  };
  const clients = Array.from({ length: 32 }, (_, c) => client(c));
  try {
    await page.waitForSelector('#status.sampling', { timeout: 20_000 });
    // The tab still answers promptly while the stream runs hot.
    const worst = await (async () => {
      let w = 0;
      for (let i = 0; i < 10; i++) {
        const t0 = Date.now();
        await page.evaluate(() => document.querySelectorAll('g.arrow').length);
        w = Math.max(w, Date.now() - t0);
        await new Promise((r) => setTimeout(r, 200));
      }
      return w;
    })();
    if (worst > 2000) throw new Error(`the page took ${worst} ms to answer under load`);
    const status = await page.textContent('#status');
    say(`under load: ${status}; the page answered within ${worst} ms`);
    await shot(page, 'kv-load');
  } finally {
    running = false;
    await Promise.all(clients);
  }
  say(`${done} puts done under load`);
}

/** Freeze the leader, put through the page anyway: another replica takes over. */
async function pauseLeader(page: Page): Promise<void> {
  const leaderOf = (): Promise<string | undefined> =>
    page.evaluate(() => {
      const card = Array.from(document.querySelectorAll('.card')).find((c) =>
        Array.from(c.querySelectorAll('dd')).some((d) => d.textContent === 'leader'),
      );
      return card?.getAttribute('data-lane') ?? undefined;
    });
  const old = await leaderOf();
  if (old === undefined) throw new Error('no lane shows a leader');
  await page.click(`button[data-action="pause"][data-peer="${old}"]`);
  await page.waitForSelector(`.card[data-lane="${old}"][data-proc="paused"]`, { timeout: 10_000 });
  await page.fill('#kv-key', 'after');
  await page.fill('#kv-value', 'pause');
  await page.click('#do-put');
  await logSays(page, 'put "after": ok');
  await page.waitForFunction(
    (o) =>
      Array.from(document.querySelectorAll('.card')).some(
        (c) =>
          c.getAttribute('data-lane') !== o &&
          Array.from(c.querySelectorAll('dd')).some((d) => d.textContent === 'leader'),
      ),
    old,
    { timeout: 10_000 },
  );
  say(`paused the leader ${old}; a put still succeeded and ${await leaderOf()} leads now`);
  await shot(page, 'kv-leader-paused');
  await page.click(`button[data-action="resume"][data-peer="${old}"]`);
  await page.waitForSelector(`.card[data-lane="${old}"][data-proc="up"]`, { timeout: 10_000 });
}

async function replay(page: Page): Promise<void> {
  const { proc, url } = await serve(['viz', 'testcases/2/expected', '--serve', '0']);
  try {
    await page.goto(url);
    await page.waitForSelector('g.chose', { timeout: 15_000, state: 'attached' });
    const all = await page.$$eval('g.arrow', (a) => a.length);
    await page.$eval('#slider', (s) => {
      const el = s as HTMLInputElement;
      el.value = String(Math.floor(Number(el.max) / 3));
      el.dispatchEvent(new Event('input'));
    });
    await page.waitForFunction((n) => document.querySelectorAll('g.arrow').length < n, all, { timeout: 5000 });
    say(`replay: ${all} arrows in all, fewer with the slider at a third`);
    await shot(page, 'replay');
  } finally {
    await stop(proc);
  }
}

/** With a shared secret, the page's controls do nothing until it is typed in. */
async function secret(page: Page): Promise<void> {
  const key = 'ui-test-secret-0123456789';
  const { proc, url } = await serve(['run', 'testcases/2', '--ui', '0', '--quiet'], {
    ...process.env,
    PAXOS_SECRET: key,
  });
  try {
    await page.goto(url);
    await page.waitForSelector('#secret-box', { state: 'visible', timeout: 15_000 });
    await page.click('button[data-action="kill"][data-peer="peer2"]');
    await logSays(page, "the controls need the cluster's shared secret");
    if ((await page.getAttribute('.card[data-lane="peer2"]', 'data-proc')) === 'down')
      throw new Error('a control without the secret killed peer2');
    await page.fill('#secret', key);
    await page.click('button[data-action="kill"][data-peer="peer2"]');
    await page.waitForSelector('.card[data-lane="peer2"][data-proc="down"]', { timeout: 10_000 });
    say('with PAXOS_SECRET set, kill was refused until the page had the secret');
  } finally {
    await stop(proc);
  }
}

async function main(): Promise<number> {
  if (!existsSync(BROWSER)) {
    process.stderr.write(
      `ui-test: no browser at ${BROWSER}; install Debian's chromium (apt-get install chromium) or set ` +
        `CHROMIUM=/path/to/chromium\n`,
    );
    return 1;
  }
  mkdirSync(OUT, { recursive: true });
  const browser = await chromium.launch({ executablePath: BROWSER, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await lab(page);
    await kv(page);
    await replay(page);
    await secret(page);
    if (errors.length > 0) throw new Error(`the page threw: ${errors.join('; ')}`);
  } finally {
    await browser.close();
  }
  say('passed');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`ui-test: FAILED: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);

// The live page's server side (src/ui): the event stream (batching, late
// pages catching up, per-link counts, sampling above the threshold), the
// state the lane headers show, the controls (checks, secret, what each one
// does), the HTTP server's guards, and one live run of testcase 2 whose
// peer is killed and restarted through the controls.

import http from 'node:http';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import test from 'ava';
import type { LogLine } from '../../src/paxos/logline.js';
import type { Secret } from '../../src/transport/auth.js';
import type { CallOutcome, KvBody } from '../../src/client/kv.js';
import { handleControl, type Controllable, type ControlDeps } from '../../src/ui/controls.js';
import { startUiServer } from '../../src/ui/http.js';
import { runLive } from '../../src/ui/live.js';
import { labTracker, leaderOf, logTracker } from '../../src/ui/peer-state.js';
import type { UiEvent } from '../../src/ui/protocol.js';
import { EventHub, SAMPLE_ABOVE, SAMPLED_SLOTS_PER_SEC } from '../../src/ui/stream.js';
import { parseLogLine } from '../../src/transcript/parse.js';
import { paxos, ROOT as root } from '../helpers/cli.js';

const L = (
  peer_id: number,
  action: LogLine['action'],
  message_type: LogLine['message_type'],
  message_value = '',
  proposal_num = 1,
): LogLine => ({
  peer_id,
  action,
  message_type,
  message_value,
  proposal_num,
});

function collect(hub: EventHub): UiEvent[] {
  const got: UiEvent[] = [];
  hub.subscribe((e) => got.push(e));
  return got;
}

const hello = {
  type: 'hello',
  mode: 'log',
  title: 't',
  live: true,
  lanes: [],
  secret: false,
  sampleAbove: SAMPLE_ABOVE,
} as const;

test(
  'stream: lines go out in one batch per flush, and a late page gets hello, history, notes and peer ' + 'states first',
  (t) => {
    const hub = new EventHub(2);
    hub.setHello(hello);
    const early = collect(hub);
    hub.line(0, L(1, 'sent', 'prepare'), undefined, undefined);
    hub.line(1, L(1, 'received', 'prepare'), undefined, 0);
    t.is(early.filter((e) => e.type === 'lines').length, 0, 'nothing before a flush');
    hub.flush();
    const batches = early.filter((e) => e.type === 'lines');
    t.is(batches.length, 1);
    t.deepEqual(batches[0]!.type === 'lines' ? batches[0]!.lines.map((l) => [l.seq, l.lane]) : [], [
      [0, 0],
      [1, 1],
    ]);
    hub.note(1, '✖ kill -9', 'down');
    hub.peer(1, 'down', { chosen: '-' });
    hub.peer(1, 'down', { chosen: '-' }); // unchanged: not sent again
    t.is(early.filter((e) => e.type === 'peer').length, 1);
    const late = collect(hub);
    t.deepEqual(
      late.map((e) => e.type),
      ['hello', 'lines', 'note', 'peer'],
    );
    const note = late[2]!;
    t.true(note.type === 'note' && note.seq === 2 && note.lane === 1, 'the note sits after the two lines');
  },
);

test('stream: per-link counts per second cover every received line', (t) => {
  const hub = new EventHub(3);
  const got = collect(hub);
  for (let i = 0; i < 5; i++) hub.line(2, L(1, 'received', 'accept'), undefined, 0);
  hub.line(0, L(3, 'received', 'accept_ack'), undefined, 2);
  hub.line(0, L(1, 'sent', 'accept'), undefined, undefined);
  hub.tick();
  const links = got.filter((e) => e.type === 'links').at(-1)!;
  if (links.type !== 'links') return t.fail();
  t.is(links.rates[0]![2], 5);
  t.is(links.rates[2]![0], 1);
  t.is(links.linesPerSec, 7);
  t.false(links.sampling);
  hub.tick();
  const next = got.filter((e) => e.type === 'links').at(-1)!;
  t.true(next.type === 'links' && next.rates[0]![2] === 0, 'counts restart each second');
});

test(
  `stream: above ${SAMPLE_ABOVE} lines/s the chart gets ${SAMPLED_SLOTS_PER_SEC} whole slots a second, and ` +
    `every line again once the rate falls`,
  (t) => {
    const hub = new EventHub(3);
    const got = collect(hub);
    const slotLines = (slot: number): void => {
      hub.line(0, L(1, 'sent', 'accept', `#${slot} []`, 1), slot, undefined);
      hub.line(1, L(1, 'received', 'accept', `#${slot} []`, 1), slot, 0);
      hub.line(2, L(1, 'received', 'accept', `#${slot} []`, 1), slot, 0);
    };
    let slot = 1;
    for (; slot <= 100; slot++) slotLines(slot); // 300 lines in the first second
    hub.tick();
    t.true(hub.isSampling);
    const before = got.filter((e) => e.type === 'lines').flatMap((e) => (e.type === 'lines' ? e.lines : [])).length;
    t.is(before, 300, 'everything up to the tick was drawn');
    // Start 100 slots; lines of slots started before keep coming (acks).
    for (; slot <= 200; slot++) slotLines(slot);
    hub.flush();
    const drawn = got
      .filter((e) => e.type === 'lines')
      .flatMap((e) => (e.type === 'lines' ? e.lines : []))
      .slice(before);
    const slots = new Set(drawn.map((l) => l.line.message_value.split(' ')[0]));
    t.is(slots.size, SAMPLED_SLOTS_PER_SEC);
    t.is(drawn.length, SAMPLED_SLOTS_PER_SEC * 3, 'each sampled slot with all its lines');
    // A late line of a slot that was left out stays out; one of a drawn slot goes in.
    hub.tick();
    hub.line(0, L(2, 'received', 'accept_ack', '#150 ', 1), 150, 1);
    hub.line(0, L(2, 'received', 'accept_ack', '#101 ', 1), 101, 1);
    hub.flush();
    const late = got.filter((e) => e.type === 'lines').at(-1)!;
    t.deepEqual(late.type === 'lines' ? late.lines.map((l) => l.line.message_value) : [], ['#101 ']);
    // A quiet second: back to every line.
    hub.tick();
    t.false(hub.isSampling);
    const links = got.filter((e) => e.type === 'links').at(-1)!;
    t.true(links.type === 'links' && links.skipped === 96 * 3 + 1);
  },
);

test('peer state (lab): promised, accepted and chosen from testcase 2 goldens', (t) => {
  const dir = path.join(root, 'testcases/2/expected');
  const lines = (f: string): LogLine[] =>
    readFileSync(path.join(dir, f), 'utf8')
      .trim()
      .split('\n')
      .flatMap((raw) => {
        const p = parseLogLine(raw);
        return p.ok ? [p.line] : [];
      });
  const acc = labTracker();
  for (const l of lines('peer3.log')) acc.see(l, undefined);
  t.deepEqual(acc.facts(''), { promised: '2', accepted: '(2, "X")', chosen: '"X"' });
  const prop = labTracker();
  for (const l of lines('peer5.log')) prop.see(l, undefined);
  t.deepEqual(prop.facts(''), { proposing: 'n=2', chosen: '"X"' });
});

test(
  'peer state (log): ballot, commit and applied index, log length and store size; the leader holds the ' + 'top ballot',
  (t) => {
    const put = (k: string, s: number): string => JSON.stringify([{ o: 'put', c: 'cli-1', s, k, v: 'v' }]);
    const a = logTracker();
    const b = logTracker();
    a.see(L(1, 'sent', 'prepare', '#1 ', 4), 1);
    b.see(L(1, 'received', 'prepare', '#1 ', 4), 1);
    b.see(L(2, 'sent', 'prepare_ack', '#1 ', 4), 1);
    a.see(L(1, 'sent', 'accept', `#1 ${put('x', 1)}`, 4), 1);
    a.see(L(1, 'chose', 'chose', `#1 ${put('x', 1)}`, 4), 1);
    a.see(L(1, 'chose', 'chose', `#3 ${put('z', 3)}`, 4), 3); // a hole at 2: not applied yet
    t.deepEqual(a.facts('leader'), { role: 'leader', ballot: '4', commit: '3', applied: '1', log: '2', keys: '1' });
    a.see(L(1, 'chose', 'chose', `#2 ${put('y', 2)}`, 4), 2);
    t.is(a.facts('leader')['applied'], '3');
    t.is(a.facts('leader')['keys'], '3');
    t.is(leaderOf([a, b], [true, true]), 0);
    t.is(leaderOf([a, b], [false, true]), undefined, 'a leader that is down leads no one');
  },
);

test(
  'peer state (log): the log length counts distinct slots in bounded memory, holes and a log that starts ' +
    'mid-way included',
  (t) => {
    const seeSlots = (tr: ReturnType<typeof logTracker>, slots: Iterable<number>): void => {
      for (const s of slots) {
        tr.see(L(1, 'received', 'accept', `#${s} []`, 1), s);
        tr.see(L(1, 'chose', 'chose', `#${s} []`, 1), s);
      }
    };
    const inOrder = logTracker();
    seeSlots(
      inOrder,
      Array.from({ length: 20_000 }, (_, i) => i + 1),
    );
    t.is(inOrder.facts('')['log'], '20000');
    t.is(inOrder.facts('')['applied'], '20000');
    const holes = logTracker();
    seeSlots(holes, [5, 1, 3, 3, 2, 9]); // 4, 6, 7 and 8 never seen
    t.is(holes.facts('')['log'], '5');
    const resumed = logTracker();
    seeSlots(
      resumed,
      Array.from({ length: 10_000 }, (_, i) => 70_001 + i),
    );
    t.is(resumed.facts('')['log'], '10000');
  },
);

class FakeCluster implements Controllable {
  readonly hosts = ['peer1', 'peer2', 'peer3'];
  readonly endpoints = new Map(this.hosts.map((h, i) => [h, { host: '127.0.0.1', port: 9000 + i }]));
  readonly calls: string[] = [];
  async kill(h: string): Promise<string> {
    this.calls.push(`kill ${h}`);
    return `${h} killed (-9)`;
  }
  restart(h: string): string {
    this.calls.push(`restart ${h}`);
    return `${h} restarted`;
  }
  pause(h: string): string {
    this.calls.push(`pause ${h}`);
    return 'paused';
  }
  resume(h: string): string {
    this.calls.push(`resume ${h}`);
    return 'resumed';
  }
  setLink(a: string, b: string, cut: boolean): void {
    this.calls.push(`${cut ? 'cut' : 'restore'} ${a} ${b}`);
  }
  isolate(h: string): void {
    this.calls.push(`isolate ${h}`);
  }
  heal(): void {
    this.calls.push('heal');
  }
}

function deps(
  mode: 'lab' | 'log',
  extra: Omit<Partial<ControlDeps>, 'cluster'> = {},
): ControlDeps & { cluster: FakeCluster; notes: string[]; linkChanges: number[] } {
  const notes: string[] = [];
  const linkChanges: number[] = [];
  return {
    cluster: new FakeCluster(),
    mode,
    secret: null,
    note: (h, text) => notes.push(`${h} ${text}`),
    linksChanged: () => linkChanges.push(1),
    notes,
    linkChanges,
    ...extra,
  };
}

test('controls: each process and link control reaches the cluster, and link changes are marked', async (t) => {
  const d = deps('lab');
  for (const action of ['kill', 'restart', 'pause', 'resume', 'isolate']) {
    const r = await handleControl({ action, peer: 'peer2' }, undefined, d);
    t.is(r.status, 200, action);
  }
  t.is((await handleControl({ action: 'cut', peer: 'peer1', to: 'peer3' }, undefined, d)).status, 200);
  t.is((await handleControl({ action: 'restore', peer: 'peer1', to: 'peer3' }, undefined, d)).status, 200);
  t.is((await handleControl({ action: 'heal' }, undefined, d)).status, 200);
  t.deepEqual(d.cluster.calls, [
    'kill peer2',
    'restart peer2',
    'pause peer2',
    'resume peer2',
    'isolate peer2',
    'cut peer1 peer3',
    'restore peer1 peer3',
    'heal',
  ]);
  t.is(d.linkChanges.length, 4);
  t.true(d.notes.includes('peer1 ✂ peer3'));
});

test('controls: bad requests are refused with a message naming the field, and nothing is done', async (t) => {
  const d = deps('lab');
  const cases: Array<[unknown, RegExp]> = [
    [[], /JSON object/],
    [{ action: 'explode' }, /"action" must be one of/],
    [{ action: 'kill' }, /"peer" must name a peer: one of peer1, peer2, peer3/],
    [{ action: 'kill', peer: 'peer9' }, /"peer" must name a peer/],
    [{ action: 'cut', peer: 'peer1', to: 'peer1' }, /two different peers/],
    [{ action: 'put', key: 'k', value: 'v' }, /for replicated-log clusters/],
    [{ action: 'submit', peer: 'peer1', value: '' }, /non-empty string/],
  ];
  for (const [body, re] of cases) {
    const r = await handleControl(body, undefined, d);
    t.is(r.status, 400, JSON.stringify(body));
    t.regex(r.reply.message, re);
  }
  t.deepEqual(d.cluster.calls, []);
  const log = deps('log');
  const r = await handleControl({ action: 'submit', peer: 'peer1', value: 'x' }, undefined, log);
  t.regex(r.reply.message, /for lab clusters/);
  t.regex((await handleControl({ action: 'put', key: '', value: 'v' }, undefined, log)).reply.message, /"key"/);
});

test('controls: with a shared secret, only a request that carries it is served', async (t) => {
  const secret: Secret = { source: 'PAXOS_SECRET', key: Buffer.from('0123456789abcdef-secret') };
  const d = deps('lab', { secret });
  const none = await handleControl({ action: 'kill', peer: 'peer1' }, undefined, d);
  t.is(none.status, 403);
  t.regex(none.reply.message, /shared secret \(PAXOS_SECRET\)/);
  t.notRegex(none.reply.message, /0123456789/, 'the secret itself is never shown');
  t.is((await handleControl({ action: 'kill', peer: 'peer1' }, 'wrong', d)).status, 403);
  t.deepEqual(d.cluster.calls, []);
  t.is((await handleControl({ action: 'kill', peer: 'peer1' }, '0123456789abcdef-secret', d)).status, 200);
  t.deepEqual(d.cluster.calls, ['kill peer1']);
});

test(
  'controls: submit goes to the chosen proposer, put/get/cas to the replicas with one fresh ' + 'client command',
  async (t) => {
    const asked: string[] = [];
    const lab = deps('lab', {
      labRequest: async (at, body) => {
        asked.push(`${at.port} ${JSON.stringify(body)}`);
        return {
          kind: 'reply',
          result: { type: 'result', id: 'x', status: 'chosen', value: 'X', n: 1, peer: 'peer1' },
        };
      },
    });
    const r = await handleControl({ action: 'submit', peer: 'peer1', value: 'Z' }, undefined, lab);
    t.deepEqual(asked, ['9000 {"type":"submit","value":"Z"}']);
    t.false(r.reply.ok);
    t.regex(r.reply.message, /chosen "X" at proposal 1 \(not "Z": another value was chosen first\)/);

    const bodies: KvBody[] = [];
    const log = deps('log', {
      kvCall: async (targets, body, opts): Promise<CallOutcome> => {
        bodies.push(body);
        t.is(targets.length, 3);
        t.is(opts.first, 1);
        const result =
          body.type === 'kv' && body.cmd.op === 'get'
            ? { status: 'ok' as const, value: 'v1' }
            : { status: 'ok' as const };
        return { kind: 'done', peer: 'peer2', slot: 7, result, attempts: [] };
      },
    });
    t.regex(
      (await handleControl({ action: 'put', peer: 'peer2', key: 'k', value: 'v1' }, undefined, log)).reply.message,
      /put "k": ok \(slot 7, via peer2\)/,
    );
    t.regex(
      (await handleControl({ action: 'get', peer: 'peer2', key: 'k' }, undefined, log)).reply.message,
      /get "k" = "v1"/,
    );
    await handleControl({ action: 'cas', peer: 'peer2', key: 'k', value: 'v2', expected: null }, undefined, log);
    const cmds = bodies.map((b) => (b.type === 'kv' ? b.cmd : null));
    t.like(cmds[0], { op: 'put', key: 'k', value: 'v1', seq: 1 });
    t.like(cmds[2], { op: 'cas', key: 'k', expected: null, value: 'v2' });
    t.not(cmds[0]!.client, cmds[1]!.client, 'each request is a fresh client');
  },
);

function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
      })
      .on('error', reject);
  });
}

/** A GET of `path` exactly as given (http.get with a URL would normalise it first). */
function rawGet(port: number, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: target }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Read Server-Sent Events until `until` says stop (or the deadline passes). */
function readEvents(url: string, until: (evs: UiEvent[]) => boolean, ms: number): Promise<UiEvent[]> {
  return new Promise((resolve, reject) => {
    const evs: UiEvent[] = [];
    const req = http.get(url, (res) => {
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (chunk.startsWith('data: ')) evs.push(JSON.parse(chunk.slice(6)) as UiEvent);
        }
        if (until(evs)) {
          clearTimeout(timer);
          req.destroy();
          resolve(evs);
        }
      });
    });
    req.on('error', () => undefined);
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`the stream did not get there in ${ms} ms; it had ${evs.map((e) => e.type).join(' ')}`));
    }, ms);
  });
}

test('http: serves the page, the chart modules and the stream from the project, and guards the controls', async (t) => {
  const hub = new EventHub(1);
  hub.setHello(hello);
  let called = 0;
  const server = await startUiServer(
    {
      host: '127.0.0.1',
      port: 0,
      title: 'T <x>',
      events: hub,
      control: async () => {
        called += 1;
        return { status: 200, reply: { ok: true, message: 'done' } };
      },
    },
    '--ui',
  );
  t.teardown(() => server.close());
  const page = await get(server.url);
  t.is(page.status, 200);
  t.regex(page.body, /<script type="module" src="\/js\/ui\/web\/app\.js">/);
  t.regex(page.body, /T &lt;x&gt;/);
  t.notRegex(page.body, /https?:\/\/(?!www\.w3\.org)/, 'no external address');
  // Every module the page loads, followed import by import from app.js: each one must be served.
  const seen = new Set<string>();
  const todo = ['ui/web/app.js'];
  while (todo.length > 0) {
    const m = todo.pop()!;
    if (seen.has(m)) continue;
    seen.add(m);
    const r = await get(`${server.url}js/${m}`);
    t.is(r.status, 200, `${m}, which the page loads, is served`);
    t.regex(r.type, /javascript/);
    for (const [, rel] of r.body.matchAll(/^(?:import|export)\b[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/gm))
      todo.push(path.posix.normalize(path.posix.join(path.posix.dirname(m), rel!)));
  }
  t.true(seen.has('viz/layout.js') && seen.has('viz/geometry.js'), [...seen].join(', '));
  t.is((await get(`${server.url}js/cli/main.js`)).status, 404, 'only the page modules');
  // Paths as a client sends them, not normalised first: the allow-list, not the client, must stop them.
  for (const p of [
    '/js/..%2f..%2fpackage.json',
    '/js/../../package.json',
    '/js/ui/web/..%2f..%2f..%2f..%2fpackage.json',
  ]) {
    const r = await rawGet(server.port, p);
    t.is(r.status, 404, p);
    t.notRegex(r.body, /"name"/, p);
  }
  const evs = await readEvents(`${server.url}events`, (e) => e.length >= 1, 5000);
  t.is(evs[0]!.type, 'hello');

  const json = { 'content-type': 'application/json' };
  t.is(
    (await post(`${server.url}api/control`, '{"action":"heal"}', { 'content-type': 'text/plain' })).status,
    403,
    'not JSON: a cross-site form',
  );
  t.is(
    (await post(`${server.url}api/control`, '{"action":"heal"}', { ...json, origin: 'http://evil.example' })).status,
    403,
    'another origin',
  );
  t.is((await post(`${server.url}api/control`, '{nope', json)).status, 400);
  t.is(called, 0);
  const ok = await post(`${server.url}api/control`, '{"action":"heal"}', {
    ...json,
    origin: server.url.replace(/\/$/, ''),
  });
  t.is(ok.status, 200);
  t.is(called, 1);
});

test(
  'http: DNS rebinding: a request whose Host is another name (or port) is refused, even with a ' + 'matching Origin',
  async (t) => {
    const hub = new EventHub(1);
    hub.setHello(hello);
    let called = 0;
    const server = await startUiServer(
      {
        host: '127.0.0.1',
        port: 0,
        title: 'T',
        events: hub,
        control: async () => {
          called += 1;
          return { status: 200, reply: { ok: true, message: 'done' } };
        },
      },
      '--ui',
    );
    t.teardown(() => server.close());
    const json = { 'content-type': 'application/json' };
    // A page on evil.example, whose name now points at 127.0.0.1, posts to its own origin.
    const evil = `evil.example:${server.port}`;
    const rebound = await post(`${server.url}api/control`, '{"action":"heal"}', {
      ...json,
      host: evil,
      origin: `http://${evil}`,
    });
    t.is(rebound.status, 403);
    t.regex(rebound.body, /Host/);
    t.is((await get(`${server.url}events`, { host: evil })).status, 403, 'nor can it read the event stream');
    t.is((await get(server.url, { host: evil })).status, 403, 'nor the page');
    const otherPort = `127.0.0.1:${server.port + 1}`;
    t.is(
      (
        await post(`${server.url}api/control`, '{"action":"heal"}', {
          ...json,
          host: otherPort,
          origin: `http://${otherPort}`,
        })
      ).status,
      403,
      'another port',
    );
    t.is(called, 0);
    for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, `[::1]:${server.port}`]) {
      const r = await post(`${server.url}api/control`, '{"action":"heal"}', {
        ...json,
        host,
        origin: `http://${host}`,
      });
      t.is(r.status, 200, host);
    }
    t.is(called, 3);
  },
);

test('a taken port: run --ui and viz --serve each exit 2 with one line naming their own flag', async (t) => {
  const taken = http.createServer();
  await new Promise<void>((resolve) => taken.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.teardown(() => taken.close());
  const port = String((taken.address() as { port: number }).port);
  const cases: Array<[string, string[]]> = [
    ['--ui', ['run', path.join(root, 'testcases/2'), '--ui', port]],
    ['--serve', ['viz', path.join(root, 'testcases/2/expected'), '--serve', port]],
  ];
  for (const [flag, args] of cases) {
    const r = await paxos(args, { timeoutMs: 60_000 });
    t.is(r.code, 2, `${flag}: ${r.err}`);
    // viz first says which hostsfile it read; then the one error line.
    const lines = r.err
      .trim()
      .split('\n')
      .filter((l) => !/^viz: hostsfile /.test(l));
    t.is(lines.length, 1, r.err);
    t.regex(lines[0]!, new RegExp(`^paxos: port ${port} on 127\\.0\\.0\\.1 is taken; pick another with ${flag} PORT`));
    t.notRegex(r.err, /\n\s+at /, 'no stack trace');
  }
});

test(
  'live: paxos run testcases/2 --ui streams every chose, and kill/restart through the controls mark ' + 'the lane',
  async (t) => {
    const abort = new AbortController();
    let ready: (url: string) => void = () => undefined;
    const url = new Promise<string>((resolve) => (ready = resolve));
    const err: string[] = [];
    const run = runLive(path.join(root, 'testcases/2'), {
      bind: '127.0.0.1',
      port: 0,
      addressMode: 'auto',
      dataRoot: undefined,
      peerArgs: [],
      secretFile: undefined,
      echo: { out: () => undefined, err: (l) => err.push(l) },
      signal: abort.signal,
      onReady: ready,
    });
    t.teardown(() => abort.abort());
    const base = await url;
    const chose = (evs: UiEvent[]): number =>
      new Set(
        evs.flatMap((e) =>
          e.type === 'lines' ? e.lines.filter((l) => l.line.action === 'chose').map((l) => l.lane) : [],
        ),
      ).size;
    const evs = await readEvents(`${base}events`, (e) => chose(e) === 5, 120_000);
    const h = evs[0]!;
    t.true(h.type === 'hello' && h.lanes.length === 5 && h.mode === 'lab');
    const json = { 'content-type': 'application/json' };
    const killed = await post(`${base}api/control`, '{"action":"kill","peer":"peer3"}', json);
    t.is(killed.status, 200);
    t.regex(killed.body, /peer3 killed/);
    const down = await readEvents(
      `${base}events`,
      (e) =>
        e.some((x) => x.type === 'peer' && x.lane === 2 && x.proc === 'down') &&
        e.some((x) => x.type === 'note' && x.lane === 2),
      60_000,
    );
    t.true(down.some((x) => x.type === 'note' && x.text.includes('kill -9')));
    t.is((await post(`${base}api/control`, '{"action":"restart","peer":"peer3"}', json)).status, 200);
    await readEvents(
      `${base}events`,
      (e) =>
        e.some((x) => x.type === 'peer' && x.lane === 2 && x.proc === 'up') &&
        e.some((x) => x.type === 'note' && x.text.includes('restarted')),
      60_000,
    );
    // Up means started; it listens a moment later. Poll, with a deadline.
    // "nothing chosen yet" (or a refused connection) is not the answer: wait for `chosen "..."`.
    const answered = /chosen \\"/;
    let got = '';
    for (const deadline = Date.now() + 60_000; Date.now() < deadline && !answered.test(got);) {
      got = (await post(`${base}api/control`, '{"action":"get","peer":"peer3"}', json)).body;
      if (!answered.test(got)) await new Promise((r) => setTimeout(r, 100));
    }
    t.regex(got, /chosen \\"X\\"/, 'the restarted acceptor-learner kept its state');
    abort.abort();
    t.is(await run, 0);
    t.true(err.some((l) => /live page at http:\/\/127\.0\.0\.1:\d+\//.test(l)));
    // One "no shared secret" warning for the run (npm run ui), from the runner, as `paxos run` gives:
    // not one per peer, nor another from the peer restarted above.
    t.deepEqual(
      err.filter((l) => /no shared secret/.test(l)),
      ['paxos run: warning: no shared secret (--secret-file or PAXOS_SECRET): connections are not authenticated'],
      err.join('\n'),
    );
  },
);

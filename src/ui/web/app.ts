/// <reference lib="dom" />
// The live page, in the browser. It draws the chart with the same code as
// `paxos viz` (src/viz/events.ts and svg.ts, served compiled), rebuilding it
// from the last MAX_ROWS lines at most a few times a second, so a fast
// stream costs the tab a bounded amount of work. Lane headers, controls, the
// link table and the legend are plain DOM. In a replay (paxos viz --serve)
// the whole transcript is charted once and a slider picks how much to show.

import { buildChart, type Chart, type Lane } from '../../viz/events.js';
import {
  chartSvg,
  COLORS,
  LANE_STATE_COLORS,
  LANE_W,
  LEFT,
  REJECT_COLOR,
  ROW_H,
  TOP,
  type LaneState,
  type Note,
} from '../../viz/svg.js';
import type { ControlReply, ControlRequest, PeerFacts, StreamLine, UiEvent } from '../protocol.js';

/** Lines the live chart shows at most (the most recent). */
const MAX_ROWS = 500;
/** At most this many redraws a second. */
const FRAME_MS = 200;

type Hello = UiEvent & { type: 'hello' };
type NoteEv = UiEvent & { type: 'note' };
type LinksEv = UiEvent & { type: 'links' };

let hello: Hello | undefined;
let lines: StreamLine[] = [];
const notes: NoteEv[] = [];
const procs: LaneState[] = [];
const facts: PeerFacts[] = [];
let links: LinksEv | undefined;
let dirty = false;
let full: Chart | undefined; // a replay's whole chart
let shown = 0; // a replay's slider position

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

function el(tag: string, attrs: Record<string, string> = {}, text = ''): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== '') e.textContent = text;
  return e;
}

function connect(): void {
  const es = new EventSource('/events');
  es.onopen = () => {
    $('conn').textContent = hello?.live === false ? '' : 'live';
    $('conn').className = '';
  };
  es.onerror = () => {
    $('conn').textContent = hello?.live === false ? '' : 'disconnected: is paxos run still running?';
    $('conn').className = 'down';
  };
  es.onmessage = (m: MessageEvent<string>) => onEvent(JSON.parse(m.data) as UiEvent);
}

function onEvent(ev: UiEvent): void {
  switch (ev.type) {
    case 'hello': {
      const again = hello !== undefined;
      hello = ev;
      // The server restarted or this is a reconnect: start over.
      if (again) {
        lines = [];
        notes.length = 0;
      }
      setup();
      break;
    }
    case 'lines':
      for (const l of ev.lines) if (lines.length === 0 || l.seq > lines[lines.length - 1]!.seq) lines.push(l);
      if (hello?.live !== false && lines.length > MAX_ROWS * 2) lines = lines.slice(-MAX_ROWS);
      if (hello?.live === false) setupReplay();
      break;
    case 'note':
      if (!notes.some((n) => n.seq === ev.seq && n.lane === ev.lane && n.text === ev.text)) notes.push(ev);
      break;
    case 'peer':
      procs[ev.lane] = ev.proc;
      facts[ev.lane] = ev.facts;
      break;
    case 'links':
      links = ev;
      drawLinks();
      break;
  }
  dirty = true;
}

function lanes(): Lane[] {
  return (hello?.lanes ?? []).map((l) => ({ label: l.label, id: l.id, roles: l.roles }));
}

function setup(): void {
  const h = hello!;
  $('title').textContent = `${h.title}${h.live ? '' : ' (replay)'}`;
  document.title = `${h.title} · paxos ${h.live ? 'live' : 'replay'}`;
  $('secret-box').style.display = h.live && h.secret ? '' : 'none';
  $('links-box').style.display = h.live ? '' : 'none';
  $('replay').style.display = h.live ? 'none' : 'flex';
  $('conn').textContent = h.live ? 'live' : '';
  // A replay has no process state to show: the chart's own lane heads suffice.
  $('cards').style.display = h.live ? '' : 'none';
  $('activity').style.display = h.live ? '' : 'none';
  // Room for the facts each mode shows (lab at most 4, replicated log 6).
  $('cards').style.height = `${cardHeight(h.mode) + 12}px`;
  drawCards();
  drawClient();
  drawLegend();
}

function drawCards(): void {
  const cards = $('cards');
  cards.replaceChildren();
  const ls = hello!.lanes;
  cards.style.width = `${LEFT * 2 + LANE_W * ls.length}px`;
  ls.forEach((l, i) => {
    const c = el('div', { class: 'card', 'data-lane': l.host, id: `card-${i}` });
    c.style.left = `${LEFT + LANE_W * i + 4}px`;
    c.style.width = `${LANE_W - 8}px`;
    c.style.height = `${cardHeight(hello!.mode)}px`;
    const name = el('div', { class: 'name' });
    name.append(el('span', {}, `${l.label} (${l.id})`), el('span', { class: 'badge' }, hello!.live ? 'up' : 'replay'));
    c.append(name, el('div', { class: 'sub' }, l.roles), el('div', { class: 'sub' }, l.addr), el('dl'));
    if (hello!.live) {
      const b = el('div', { class: 'btns' });
      for (const a of ['kill', 'pause', 'isolate']) {
        const btn = el('button', { 'data-action': a, 'data-peer': l.host }, a);
        btn.addEventListener('click', () => laneButton(i, btn));
        b.append(btn);
      }
      c.append(b);
    }
    cards.append(c);
  });
}

/** Room for the name, roles, address, the facts each mode shows (lab at most 4, log 6) and the buttons. */
function cardHeight(mode: 'lab' | 'log'): number {
  return mode === 'log' ? 154 : 128;
}

/** Lane buttons flip between kill/restart and pause/resume with the peer's state. */
function laneButton(lane: number, btn: HTMLElement): void {
  const host = hello!.lanes[lane]!.host;
  const action = btn.getAttribute('data-action') as ControlRequest['action'];
  void control({ action, peer: host });
}

function updateCards(): void {
  if (hello === undefined) return;
  hello.lanes.forEach((l, i) => {
    const c = document.getElementById(`card-${i}`);
    if (c === null) return;
    const proc = hello!.live ? (procs[i] ?? 'up') : 'up';
    c.className = `card ${proc}`;
    c.setAttribute('data-proc', proc);
    const badge = c.querySelector('.badge')!;
    if (hello!.live) badge.textContent = proc === 'down' ? 'DOWN' : proc === 'paused' ? 'PAUSED' : 'up';
    const dl = c.querySelector('dl')!;
    const f = facts[i] ?? {};
    const want = Object.entries(f)
      .map(([k, v]) => `${k}\u0000${v}`)
      .join('\u0001');
    if (dl.getAttribute('data-f') !== want) {
      dl.setAttribute('data-f', want);
      dl.replaceChildren(...Object.entries(f).flatMap(([k, v]) => [el('dt', {}, k), el('dd', { title: v }, v)]));
    }
    const kill = c.querySelector<HTMLElement>('button[data-action="kill"],button[data-action="restart"]');
    if (kill !== null) {
      const a = proc === 'down' ? 'restart' : 'kill';
      kill.setAttribute('data-action', a);
      kill.textContent = a === 'kill' ? 'kill -9' : 'restart';
    }
    const pause = c.querySelector<HTMLElement>('button[data-action="pause"],button[data-action="resume"]');
    if (pause !== null) {
      const a = proc === 'paused' ? 'resume' : 'pause';
      pause.setAttribute('data-action', a);
      pause.textContent = a;
      (pause as HTMLButtonElement).disabled = proc === 'down';
    }
  });
}

function drawClient(): void {
  const box = $('client');
  box.replaceChildren();
  if (!hello!.live) return;
  const hosts = hello!.lanes;
  const pick = el('select', { id: 'client-peer' }) as HTMLSelectElement;
  if (hello!.mode === 'log') pick.append(el('option', { value: '' }, 'any replica'));
  for (const l of hosts) pick.append(el('option', { value: l.host }, `${l.host} (${l.roles})`));
  if (hello!.mode === 'lab') {
    const firstProposer = hosts.find((l) => l.roles.includes('proposer'));
    if (firstProposer !== undefined) pick.value = firstProposer.host;
    box.append(
      el('h2', {}, 'Client'),
      pick,
      el('input', { id: 'client-value', type: 'text', placeholder: 'value to submit' }),
    );
    const row = el('div', { class: 'row' });
    const submit = el('button', { id: 'do-submit' }, 'submit to proposer');
    const get = el('button', { id: 'do-get' }, 'get chosen');
    submit.addEventListener(
      'click',
      () => void control({ action: 'submit', peer: pick.value, value: ($('client-value') as HTMLInputElement).value }),
    );
    get.addEventListener('click', () => void control({ action: 'get', peer: pick.value }));
    row.append(submit, get);
    box.append(row);
    return;
  }
  const key = el('input', { id: 'kv-key', type: 'text', placeholder: 'key' }) as HTMLInputElement;
  const value = el('input', { id: 'kv-value', type: 'text', placeholder: 'value (put, cas new)' }) as HTMLInputElement;
  const expected = el('input', {
    id: 'kv-expected',
    type: 'text',
    placeholder: 'cas: expected now (empty: absent)',
  }) as HTMLInputElement;
  box.append(el('h2', {}, 'Client (key-value store)'), pick, key, value, expected);
  const row = el('div', { class: 'row' });
  for (const a of ['put', 'get', 'del', 'cas'] as const) {
    const b = el('button', { id: `do-${a}` }, a);
    b.addEventListener('click', () => {
      const req: ControlRequest = {
        action: a,
        ...(pick.value === '' ? {} : { peer: pick.value }),
        key: key.value,
        ...(a === 'put' || a === 'cas' ? { value: value.value } : {}),
        ...(a === 'cas' ? { expected: expected.value === '' ? null : expected.value } : {}),
      };
      void control(req);
    });
    row.append(b);
  }
  box.append(row);
}

function drawLegend(): void {
  const lg = $('legend');
  lg.replaceChildren();
  const item = (color: string, text: string, dash = false): void => {
    const sw = el('div', { class: `sw${dash ? ' dash' : ''}` });
    sw.style.borderTopColor = color;
    lg.append(sw, el('span', {}, text));
  };
  item(COLORS['prepare']!, 'prepare (phase 1a)');
  item(COLORS['prepare_ack']!, 'promise: prepare_ack (1b)');
  item(COLORS['accept']!, 'accept (phase 2a)');
  item(COLORS['accept_ack']!, 'accepted: accept_ack (2b)');
  item(COLORS['chose']!, 'chose (decision sent)');
  item(REJECT_COLOR, 'rejection (✗): promised higher', true);
  const star = el('div', {}, '★');
  star.style.cssText = 'background:#ffd54f;border:1px solid #b58900;border-radius:8px;text-align:center;font-size:10px';
  lg.append(star, el('span', {}, 'a peer chose (learned) a value'));
  if (hello!.live) {
    item(LANE_STATE_COLORS.down, 'lane of a peer that is down (killed)', true);
    item(LANE_STATE_COLORS.paused, 'lane of a paused peer; a cut link', true);
  }
}

function drawLinks(): void {
  const box = $('links');
  if (hello === undefined || links === undefined) return;
  const ls = hello.lanes;
  const cut = new Set(links.cut);
  const t = el('table', { class: 'links' });
  const head = el('tr');
  head.append(el('th', {}, 'from\\to'), ...ls.map((l) => el('th', {}, l.host)));
  t.append(head);
  ls.forEach((a, i) => {
    const tr = el('tr');
    tr.append(el('th', {}, a.host));
    ls.forEach((b, j) => {
      if (i === j) return tr.append(el('td', { class: 'self' }, ''));
      const isCut = cut.has(`${i}>${j}`);
      const td = el(
        'td',
        {
          class: `pair${isCut ? ' cut' : ''}`,
          'data-from': a.host,
          'data-to': b.host,
          title: `${isCut ? 'restore' : 'cut'} ${a.host} ↔ ${b.host}`,
        },
        isCut ? '✂' : String(links!.rates[i]?.[j] ?? 0),
      );
      td.addEventListener('click', () => void control({ action: isCut ? 'restore' : 'cut', peer: a.host, to: b.host }));
      tr.append(td);
    });
    t.append(tr);
  });
  box.replaceChildren(t);
  const st = $('status');
  st.textContent =
    `${links.linesPerSec} lines/s` +
    (links.sampling ? ` — sampled: above ${hello.sampleAbove} lines/s the chart shows a few slots a second` : '') +
    (links.skipped > 0 ? ` (${links.skipped} lines left out so far)` : '');
  st.className = links.sampling ? 'sampling' : '';
}

async function control(req: ControlRequest): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const secret = ($('secret') as HTMLInputElement).value;
  if (secret !== '') headers['x-paxos-secret'] = secret;
  log(
    `→ ${req.action}${req.peer === undefined ? '' : ` ${req.peer}`}${req.to === undefined ? '' : ` ${req.to}`}` +
      `${req.key === undefined ? '' : ` ${req.key}`}`,
    true,
  );
  try {
    const res = await fetch('/api/control', { method: 'POST', headers, body: JSON.stringify(req) });
    const r = (await res.json()) as ControlReply;
    log(r.message, r.ok);
  } catch (err) {
    log(`the server did not answer: ${(err as Error).message}`, false);
  }
}

function log(text: string, ok: boolean): void {
  const box = $('log');
  const d = el('div', { class: ok ? 'ok' : 'fail' }, `${new Date().toLocaleTimeString()} ${text}`);
  box.append(d);
  while (box.childElementCount > 200) box.firstElementChild!.remove();
  box.scrollTop = box.scrollHeight;
}

function setupReplay(): void {
  const perLane = hello!.lanes.map(() => [] as StreamLine['line'][]);
  for (const l of lines) perLane[l.lane]!.push(l.line);
  full = buildChart(lanes(), perLane);
  const slider = $('slider') as HTMLInputElement;
  slider.max = String(full.rows.length);
  shown = full.rows.length;
  slider.value = String(shown);
}

/** The first `k` rows of a chart, with the arrows that end among them. */
function prefix(c: Chart, k: number): Chart {
  return { lanes: c.lanes, rows: c.rows.slice(0, k), arrows: c.arrows.filter((a) => a.to < k), unmatched: c.unmatched };
}

function render(): void {
  if (!dirty || hello === undefined) return;
  dirty = false;
  updateCards();
  const chartBox = $('chart');
  const left = $('left');
  const atBottom = left.scrollTop + left.clientHeight >= left.scrollHeight - 40;
  let chart: Chart;
  let drawn: Note[] = [];
  if (!hello.live) {
    chart = prefix(full ?? buildChart(lanes(), []), shown);
    $('pos').textContent = `${shown} / ${full?.rows.length ?? 0} lines`;
  } else {
    const window = lines.slice(-MAX_ROWS);
    const perLane = hello.lanes.map(() => [] as StreamLine['line'][]);
    for (const l of window) perLane[l.lane]!.push(l.line);
    chart = buildChart(lanes(), perLane);
    const first = window[0]?.seq ?? 0;
    // A note goes where the stream was when it happened: after the lines
    // sent before it (rows follow arrival order closely enough for that).
    drawn = notes
      .filter((n) => n.seq >= first)
      .map((n) => ({ lane: n.lane, row: window.filter((l) => l.seq < n.seq).length, text: n.text, state: n.state }));
  }
  const states = hello.lanes.map((_, i) => (hello!.live ? (procs[i] ?? 'up') : 'up'));
  chartBox.innerHTML = chartSvg(chart, hello.title, { laneStates: states, notes: drawn, bare: true });
  if (hello.live && atBottom) left.scrollTop = left.scrollHeight;
}

function stepReplay(by: number): void {
  if (full === undefined) return;
  shown = Math.max(0, Math.min(full.rows.length, shown + by));
  ($('slider') as HTMLInputElement).value = String(shown);
  dirty = true;
  render();
  // Keep the newest row shown in view: the chart's last row, at its foot
  // (rows are not all one height: some get room for their labels).
  const left = $('left');
  const drawn = $('chart').querySelector('svg')?.getAttribute('height');
  const y = drawn === null || drawn === undefined ? TOP + ROW_H * shown : Number(drawn) - 60;
  if (y > left.scrollTop + left.clientHeight - 40 || y < left.scrollTop + 160)
    left.scrollTop = Math.max(0, y - left.clientHeight / 2);
}

($('slider') as HTMLInputElement).addEventListener('input', (e) => {
  shown = Number((e.target as HTMLInputElement).value);
  stepReplay(0);
});
$('step-back').addEventListener('click', () => stepReplay(-1));
$('step-fwd').addEventListener('click', () => stepReplay(1));
document.addEventListener('keydown', (e) => {
  if (hello?.live !== false) return;
  if (e.key === 'ArrowLeft') stepReplay(-1);
  if (e.key === 'ArrowRight') stepReplay(1);
});
$('heal').addEventListener('click', () => void control({ action: 'heal' }));

setInterval(render, FRAME_MS);
connect();

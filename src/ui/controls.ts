// The server side of the page's controls: one POST /api/control request
// checked field by field, the secret checked when the cluster has one, then
// done to the cluster (kill, restart, pause, resume, cut, restore, isolate,
// heal) or sent to a peer as a client would (submit and get in lab mode;
// put, get, del and cas against a replicated log). The cluster and the
// client calls come in as dependencies, so tests can drive this alone.

import { createHash, timingSafeEqual } from 'node:crypto';
import { checkKey, checkValue, type ClientCommand } from '../rules/index.js';
import type { Secret } from '../transport/auth.js';
import { request, type Outcome } from '../client/lab.js';
import { kvCall, newClientId, type CallOutcome, type KvBody, type KvCallOptions, type KvTarget } from '../client/kv.js';
import type { Endpoint } from '../transport/link.js';
import type { LaneState } from '../viz/svg.js';
import type { ControlAction, ControlReply, ControlRequest } from './protocol.js';

/** What the controls act on; LiveCluster is one. */
export interface Controllable {
  readonly hosts: readonly string[];
  readonly endpoints: ReadonlyMap<string, Endpoint>;
  kill(host: string): Promise<string>;
  restart(host: string): string;
  pause(host: string): string;
  resume(host: string): string;
  setLink(a: string, b: string, cut: boolean): void;
  isolate(host: string): void;
  heal(): void;
}

export interface ControlDeps {
  readonly cluster: Controllable;
  readonly mode: 'lab' | 'log';
  readonly secret: Secret | null;
  /** Mark the action on a peer's lane. */
  note(host: string, text: string, state: LaneState): void;
  /** The set of cut links changed. */
  linksChanged(): void;
  /** How long a client request may take (default 10 s). */
  readonly clientTimeoutMs?: number;
  /** Injected in tests; default: the real client calls. */
  readonly labRequest?: typeof request;
  readonly kvCall?: (targets: readonly KvTarget[], body: KvBody, opts: KvCallOptions) => Promise<CallOutcome>;
}

export interface ControlResponse {
  readonly status: number;
  readonly reply: ControlReply;
}

const ACTIONS: readonly ControlAction[] = [
  'kill',
  'restart',
  'pause',
  'resume',
  'isolate',
  'heal',
  'cut',
  'restore',
  'submit',
  'get',
  'put',
  'del',
  'cas',
];
const LAB_ONLY = new Set<ControlAction>(['submit']);
const LOG_ONLY = new Set<ControlAction>(['put', 'del', 'cas']);

/** Constant-time comparison of what the page sent with the cluster's secret. */
function secretMatches(secret: Secret, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(secret.key).digest();
  const b = createHash('sha256').update(Buffer.from(given, 'utf8')).digest();
  return timingSafeEqual(a, b);
}

const bad = (message: string): ControlResponse => ({ status: 400, reply: { ok: false, message } });

export async function handleControl(
  body: unknown,
  givenSecret: string | undefined,
  deps: ControlDeps,
): Promise<ControlResponse> {
  if (deps.secret !== null && !secretMatches(deps.secret, givenSecret)) {
    return {
      status: 403,
      reply: {
        ok: false,
        message:
          `the controls need the cluster's shared secret (${deps.secret.source}); enter it in the page's ` +
          `secret box`,
      },
    };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return bad('the request must be a JSON object with an "action"');
  const r = body as Partial<Record<keyof ControlRequest, unknown>>;
  const action = r.action as ControlAction;
  if (!ACTIONS.includes(action)) return bad(`"action" must be one of ${ACTIONS.join(', ')}`);
  if (LAB_ONLY.has(action) && deps.mode !== 'lab')
    return bad(`${action} is for lab clusters; a replicated log takes put, get, del and cas`);
  if (LOG_ONLY.has(action) && deps.mode !== 'log')
    return bad(`${action} is for replicated-log clusters; a lab cluster takes submit and get`);
  const { cluster } = deps;
  const hostField = (name: 'peer' | 'to'): string | ControlResponse => {
    const h = r[name];
    if (typeof h !== 'string' || !cluster.hosts.includes(h))
      return bad(`"${name}" must name a peer: one of ${cluster.hosts.join(', ')}`);
    return h;
  };
  const needsPeer =
    action !== 'heal' &&
    !(deps.mode === 'log' && ['put', 'get', 'del', 'cas'].includes(action) && r.peer === undefined);
  const peer = needsPeer ? hostField('peer') : '';
  if (typeof peer !== 'string') return peer;
  const done = (message: string): ControlResponse => ({ status: 200, reply: { ok: true, message } });

  switch (action) {
    case 'kill': {
      const m = await cluster.kill(peer);
      return done(m);
    }
    case 'restart':
      return done(cluster.restart(peer));
    case 'pause':
      return done(cluster.pause(peer));
    case 'resume':
      return done(cluster.resume(peer));
    case 'cut':
    case 'restore': {
      const to = hostField('to');
      if (typeof to !== 'string') return to;
      if (to === peer) return bad('"peer" and "to" must be two different peers');
      const cut = action === 'cut';
      cluster.setLink(peer, to, cut);
      deps.linksChanged();
      deps.note(peer, cut ? `✂ ${to}` : `↔ ${to}`, cut ? 'paused' : 'up');
      return done(cut ? `link ${peer} ↔ ${to} cut (both directions)` : `link ${peer} ↔ ${to} restored`);
    }
    case 'isolate':
      cluster.isolate(peer);
      deps.linksChanged();
      deps.note(peer, '✂ isolated', 'paused');
      return done(`${peer} isolated: every link to and from it is cut`);
    case 'heal':
      cluster.heal();
      deps.linksChanged();
      for (const h of cluster.hosts) deps.note(h, '↔ healed', 'up');
      return done('every link restored');
    default:
      return deps.mode === 'lab' ? labClient(action, peer, r, deps) : kvClient(action, peer, r, deps);
  }
}

async function labClient(
  action: ControlAction,
  peer: string,
  r: Partial<Record<keyof ControlRequest, unknown>>,
  deps: ControlDeps,
): Promise<ControlResponse> {
  const value = r.value;
  if (action === 'submit' && (typeof value !== 'string' || value === ''))
    return bad('"value" must be a non-empty string to submit');
  const at = deps.cluster.endpoints.get(peer)!;
  const ask = deps.labRequest ?? request;
  const o: Outcome = await ask(
    at,
    action === 'submit' ? { type: 'submit', value: value as string } : { type: 'get' },
    deps.secret,
    deps.clientTimeoutMs ?? 10_000,
  );
  if (o.kind === 'unreachable')
    return { status: 200, reply: { ok: false, message: `${peer}: refused, nothing was done: ${o.why}` } };
  if (o.kind === 'unknown') return { status: 200, reply: { ok: false, message: `${peer}: outcome unknown: ${o.why}` } };
  const res = o.result;
  switch (res.status) {
    case 'chosen': {
      const note =
        action === 'submit' && res.value !== value
          ? ` (not ${JSON.stringify(value)}: another value was chosen first)`
          : '';
      return {
        status: 200,
        reply: { ok: note === '', message: `${peer}: chosen ${JSON.stringify(res.value)} at proposal ${res.n}${note}` },
      };
    }
    case 'not_chosen':
      return { status: 200, reply: { ok: true, message: `${peer}: nothing chosen yet, as far as it knows` } };
    case 'not_proposer':
      return {
        status: 200,
        reply: { ok: false, message: `${peer} is not a proposer; submit to ${res.proposers.join(' or ')}` },
      };
    case 'invalid':
      return { status: 200, reply: { ok: false, message: `${peer}: invalid: ${res.why}` } };
  }
}

async function kvClient(
  action: ControlAction,
  peer: string,
  r: Partial<Record<keyof ControlRequest, unknown>>,
  deps: ControlDeps,
): Promise<ControlResponse> {
  const keyWhy = checkKey(r.key);
  if (keyWhy !== undefined) return bad(`"key": ${keyWhy}`);
  const key = r.key as string;
  let cmd: ClientCommand;
  const session = { client: newClientId(), seq: 1 };
  if (action === 'put' || action === 'cas') {
    const vWhy = checkValue(r.value, 'value');
    if (vWhy !== undefined) return bad(`"value": ${vWhy}`);
    if (action === 'put') cmd = { ...session, op: 'put', key, value: r.value as string };
    else {
      const e = r.expected ?? null;
      const eWhy = e === null ? undefined : checkValue(e, 'expected');
      if (eWhy !== undefined) return bad(`"expected": ${eWhy}`);
      cmd = { ...session, op: 'cas', key, expected: e as string | null, value: r.value as string };
    }
  } else cmd = { ...session, op: action === 'del' ? 'del' : 'get', key };
  const targets: KvTarget[] = deps.cluster.hosts.map((name) => ({ name, at: deps.cluster.endpoints.get(name)! }));
  const first = peer === '' ? undefined : deps.cluster.hosts.indexOf(peer);
  const call = deps.kvCall ?? kvCall;
  const o = await call(
    targets,
    { type: 'kv', cmd },
    { secret: deps.secret, timeoutMs: deps.clientTimeoutMs ?? 10_000, ...(first === undefined ? {} : { first }) },
  );
  const what = `${action} ${JSON.stringify(key)}`;
  switch (o.kind) {
    case 'done': {
      const res = o.result;
      const via = `(slot ${o.slot}, via ${o.peer})`;
      if (res.status === 'ok' && 'value' in res) {
        return {
          status: 200,
          reply: {
            ok: true,
            message: res.value === null ? `${what}: absent ${via}` : `${what} = ${JSON.stringify(res.value)} ${via}`,
          },
        };
      }
      if (res.status === 'ok') return { status: 200, reply: { ok: true, message: `${what}: ok ${via}` } };
      if (res.status === 'mismatch') {
        return {
          status: 200,
          reply: {
            ok: false,
            message:
              `${what}: failed, the ` +
              `value is ${res.current === null ? 'absent' : JSON.stringify(res.current)} ${via}`,
          },
        };
      }
      return { status: 200, reply: { ok: false, message: `${what}: ${res.status} ${via}` } };
    }
    case 'failed':
      return { status: 200, reply: { ok: false, message: `${what}: refused, nothing changed: ${o.why}` } };
    case 'unknown':
      return { status: 200, reply: { ok: false, message: `${what}: outcome unknown: ${o.why}` } };
    case 'dump':
    case 'range':
      return { status: 200, reply: { ok: false, message: `${what}: a replica answered with a ${o.kind}` } };
  }
}

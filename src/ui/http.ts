// The live page's web server: plain node:http, no dependency. It serves the
// page, its script and the chart code (the compiled modules of src/viz, the
// same code `paxos viz` draws with) from this project, never a CDN; the
// event stream as Server-Sent Events; and the controls as POST /api/control.
//
// Its controls can kill processes, so it binds to loopback unless told
// otherwise, and a control request must be JSON (which a cross-site form
// cannot send without a CORS preflight, which this server never grants) from
// a page of this server's own origin. Every request must also name this
// server in its Host header (localhost, an IP address, or the name it is
// bound to, with its port): a page on an attacker's name that the attacker
// re-points at 127.0.0.1 (DNS rebinding) sends its own name as Host, and its
// Origin matches that Host, so the origin check alone would let it in.

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ControlResponse } from './controls.js';
import { ConfigError } from '../config/errors.js';
import { pageHtml } from './page.js';
import type { UiEvent } from './protocol.js';

/** Compiled modules the page loads, relative to dist/src. Nothing else is served from disk. */
const MODULES = new Set(['ui/web/app.js', 'viz/events.js', 'viz/geometry.js', 'viz/layout.js', 'viz/svg.js']);
const DIST_SRC = fileURLToPath(new URL('../', import.meta.url));
const MAX_BODY = 256 * 1024;

export interface EventSource {
  subscribe(send: (ev: UiEvent) => void): () => void;
}

export interface UiServerOptions {
  readonly host: string;
  readonly port: number;
  readonly title: string;
  readonly events: EventSource;
  /** Absent for a replay, which has no controls. */
  readonly control?: (body: unknown, secret: string | undefined) => Promise<ControlResponse>;
}

export interface UiServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serve the page. `flag` is the option that chose the port (`--ui`,
 * `--serve`): a port that cannot be served is a ConfigError naming it.
 */
export async function startUiServer(o: UiServerOptions, flag: string): Promise<UiServer> {
  const streams = new Set<http.ServerResponse>();
  let boundPort = 0;
  const server = http.createServer((req, res) => {
    void route(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain', `internal error: ${(err as Error).message}\n`);
      else res.destroy();
    });
  });
  server.on('connection', (s: net.Socket) => s.setNoDelay(true));

  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const badHost = checkHost(req.headers.host, o.host, boundPort);
    if (badHost !== undefined) return send(res, 403, 'text/plain', `${badHost}\n`);
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
      return send(res, 200, 'text/html; charset=utf-8', pageHtml(o.title));
    }
    if (req.method === 'GET' && url.pathname.startsWith('/js/')) {
      const rel = url.pathname.slice('/js/'.length);
      if (!MODULES.has(rel)) return send(res, 404, 'text/plain', 'not found\n');
      const text = await readFile(path.join(DIST_SRC, rel), 'utf8');
      return send(res, 200, 'text/javascript; charset=utf-8', text);
    }
    if (req.method === 'GET' && url.pathname === '/events') return stream(req, res);
    if (url.pathname === '/api/control') {
      if (req.method !== 'POST') return send(res, 405, 'text/plain', 'POST a JSON control request\n');
      if (o.control === undefined) return json(res, 404, { ok: false, message: 'a replay has no controls' });
      const why = refuse(req);
      if (why !== undefined) return json(res, 403, { ok: false, message: why });
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch (err) {
        return json(res, 400, { ok: false, message: `the request body must be JSON: ${(err as Error).message}` });
      }
      const secret = req.headers['x-paxos-secret'];
      const r = await o.control(body, typeof secret === 'string' ? secret : undefined);
      return json(res, r.status, r.reply);
    }
    send(res, 404, 'text/plain', 'not found\n');
  };

  const stream = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write('retry: 1000\n\n');
    streams.add(res);
    const off = o.events.subscribe((ev) => res.write(`data: ${JSON.stringify(ev)}\n\n`));
    req.on('close', () => {
      off();
      streams.delete(res);
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new ConfigError(
          err.code === 'EADDRINUSE'
            ? `port ${o.port} on ${o.host} is taken; pick another with ${flag} PORT (0: any free port)`
            : `cannot serve the page on ${o.host}:${o.port} (${flag}): ${err.message}`,
        ),
      ),
    );
    server.listen({ host: o.host, port: o.port }, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  boundPort = port;
  const shown = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Why a request's Host header does not name this server, or undefined. It
 * must be localhost, an IP address or the bound name, with the bound port
 * (no port: 80).
 */
function checkHost(host: string | undefined, bound: string, port: number): string | undefined {
  if (host === undefined || host === '') return 'a request must name this server in its Host header';
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(host);
  const name = (m?.[1] ?? '').replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const given = m?.[2] === undefined || m[2] === '' ? 80 : Number(m[2]);
  const known = name === 'localhost' || net.isIP(name) !== 0 || name === bound.toLowerCase();
  if (m === null || !known || given !== port) {
    return (
      `refused: Host ${JSON.stringify(host)} is not this server (use localhost, an IP address or ${bound}` +
      `, port ${port}); a page on another name may be trying DNS rebinding`
    );
  }
  return undefined;
}

/** Why a control request is refused as cross-site, or undefined. */
function refuse(req: http.IncomingMessage): string | undefined {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) return 'a control request must be sent as application/json';
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`)
    return `control requests are taken only from this server's own page, not from ${origin}`;
  return undefined;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY) {
        reject(new Error(`over ${MAX_BODY} bytes`));
        req.destroy();
      } else parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function json(res: http.ServerResponse, status: number, body: object): void {
  send(res, status, 'application/json', `${JSON.stringify(body)}\n`);
}

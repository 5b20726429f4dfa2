// A replica's HTTP listener for probes and Prometheus (--metrics ADDR:PORT;
// off by default):
//   GET /healthz   200 "ok" while the process and its node loop run, else 503 and why
//   GET /readyz    200 "ready" when it can serve clients (src/node/readiness.ts), else 503 and why
//   GET /metrics   Prometheus's text format (metrics.ts)
// Bodies are one line of text. It binds before anything else starts, so a
// bad address is a usage error at once, naming the flag.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../config/errors.js';
import type { Address } from '../config/settings.js';
import type { Readiness } from '../node/readiness.js';
import type { Logger } from '../util/logger.js';

export interface HealthHandlers {
  /** Alive: null, or why not. */
  health(): string | null;
  readiness(): Readiness;
  metrics(): Promise<{ readonly contentType: string; readonly body: string }>;
}

export interface HealthServer {
  /** Where it listens (the port the OS chose, for port 0). */
  readonly address: Address;
  close(): Promise<void>;
}

/** Listen at `at` (the --metrics flag's value) and answer the three paths. */
export async function serveHealth(at: Address, h: HealthHandlers, log: Logger): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const text = (code: number, body: string): void => {
      res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : `${body}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return text(405, 'only GET and HEAD');
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const why = h.health();
      return why === null ? text(200, 'ok') : text(503, why);
    }
    if (path === '/readyz') {
      const r = h.readiness();
      return r.ready ? text(200, 'ready') : text(503, r.why);
    }
    if (path === '/metrics') {
      h.metrics().then(
        (m) => {
          res.writeHead(200, { 'content-type': m.contentType });
          res.end(req.method === 'HEAD' ? undefined : m.body);
        },
        (err: Error) => {
          log.warn(`/metrics failed: ${err.message}`);
          text(500, `metrics failed: ${err.message}`);
        },
      );
      return;
    }
    text(404, 'not found: try /healthz, /readyz or /metrics');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(at, err)));
    server.listen(at.port, at.host, () => resolve());
  });
  server.on('error', (err) => log.warn(`metrics listener: ${err.message}`));
  const bound = server.address() as AddressInfo;
  return {
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Why --metrics cannot listen there, naming the flag; other errors as they are. */
function listenError(at: Address, err: NodeJS.ErrnoException): Error {
  const where = `--metrics ${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new ConfigError(`${where}: the address is in use; pick another port (0: any free one)`);
    case 'EADDRNOTAVAIL':
      return new ConfigError(`${where}: ${at.host} is not an address of this machine`);
    case 'EACCES':
      return new ConfigError(`${where}: permission denied (ports below 1024 need privileges)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConfigError(`${where}: cannot resolve ${at.host}`);
    default:
      return err;
  }
}

// The listening side: peers connect here (port 8080) and send NDJSON. A line
// that is not JSON, not a valid message, or longer than MAX_LINE_BYTES is
// dropped with a warning on stderr; the connection and the peer carry on.
// Lines are framed by LineReader (see lines.ts for why not ndjson.parse).

import net from 'node:net';
import { MAX_LINE_BYTES } from '../core/limits.js';
import type { Message } from '../core/types.js';
import type { Logger } from '../daemon/logger.js';
import type { Endpoint } from './link.js';
import { LineReader } from './lines.js';
import { decode } from './wire.js';

export interface Inbound {
  readonly server: net.Server;
  close(): Promise<void>;
}

export interface InboundHandlers {
  readonly message: (msg: Message) => void;
  /** A peer opened a connection to us and said who it is. */
  readonly hello?: (from: number) => void;
}

export async function listen(at: Endpoint, on: InboundHandlers | ((msg: Message) => void), log: Logger): Promise<Inbound> {
  const handlers: InboundHandlers = typeof on === 'function' ? { message: on } : on;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serveConnection(socket, handlers, log);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error(`listener on ${at.host}:${at.port}: ${err.message}`));
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function serveConnection(socket: net.Socket, on: InboundHandlers, log: Logger): void {
  socket.setNoDelay(true);
  const who = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
  const reader = new LineReader(
    MAX_LINE_BYTES,
    (line) => {
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch {
        log.warn(`dropping malformed line from ${who} (not JSON): ${line.slice(0, 60)}${line.length > 60 ? '...' : ''}`);
        return;
      }
      const d = decode(raw);
      if (!d.ok) log.warn(`dropping invalid message from ${who}: ${d.why}`);
      else if ('hello' in d) on.hello?.(d.hello);
      else on.message(d.msg);
    },
    (why) => log.warn(`dropping ${why} from ${who}`),
  );
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  socket.on('error', (err: NodeJS.ErrnoException) => log.debug(`connection from ${who}: ${err.code ?? err.message}`));
  // An unfinished last line is dropped with the connection: it may be cut short.
}

// The listening side: peers connect here (port 8080) and send NDJSON. A line
// that is not JSON, not a valid message, or longer than MAX_LINE_BYTES is
// dropped with a warning on stderr; the connection and the peer carry on.

import net from 'node:net';
import ndjson from 'ndjson';
import { MAX_LINE_BYTES } from '../core/limits.js';
import type { Message } from '../core/types.js';
import type { Logger } from '../daemon/logger.js';
import type { Endpoint } from './link.js';
import { decode } from './wire.js';

/** ndjson.parse passes these through to split2, which @types/ndjson omits. */
interface SplitOptions {
  strict: boolean;
  maxLength: number;
  skipOverflow: boolean;
}

export interface Inbound {
  readonly server: net.Server;
  close(): Promise<void>;
}

export async function listen(at: Endpoint, onMessage: (msg: Message) => void, log: Logger): Promise<Inbound> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serveConnection(socket, onMessage, log);
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

function serveConnection(socket: net.Socket, onMessage: (msg: Message) => void, log: Logger): void {
  socket.setNoDelay(true);
  const who = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
  const opts: SplitOptions = { strict: true, maxLength: MAX_LINE_BYTES, skipOverflow: true };
  const parser = ndjson.parse(opts);
  // split2 skips an over-long line silently; count bytes since the last
  // newline ourselves so the drop gets its warning (once per line).
  let sinceNewline = 0;
  let warnedLong = false;

  socket.on('data', (chunk: Buffer) => {
    const nl = chunk.lastIndexOf(0x0a);
    sinceNewline = nl < 0 ? sinceNewline + chunk.length : chunk.length - nl - 1;
    if (nl >= 0) warnedLong = false;
    if (sinceNewline > MAX_LINE_BYTES && !warnedLong) {
      warnedLong = true;
      log.warn(`dropping a line over ${MAX_LINE_BYTES} bytes from ${who}`);
    }
    // Written by hand, not piped: a parse error on a piped stream would unpipe it.
    parser.write(chunk);
  });
  parser.on('error', (err: Error) => log.warn(`dropping malformed line from ${who}: ${err.message}`));
  parser.on('data', (raw: unknown) => {
    const d = decode(raw);
    if (d.ok) onMessage(d.msg);
    else log.warn(`dropping invalid message from ${who}: ${d.why}`);
  });
  socket.on('error', (err: NodeJS.ErrnoException) => log.debug(`connection from ${who}: ${err.code ?? err.message}`));
  socket.once('close', () => parser.end());
}

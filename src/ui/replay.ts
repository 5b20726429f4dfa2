// `paxos viz FILE --serve [PORT]`: a saved transcript in the live page, with
// a time slider instead of controls. The page charts it with the same code
// as the live view and `paxos viz -o`.

import type { LogLine } from '../rules/index.js';
import { startUiServer } from './http.js';
import { isLoopback } from './live.js';
import type { LaneInfo, StreamLine, UiEvent } from './protocol.js';
import { SAMPLE_ABOVE } from './stream.js';

export interface ReplayOptions {
  readonly bind: string;
  readonly port: number;
  readonly title: string;
  readonly mode: 'lab' | 'log';
  readonly lanes: readonly LaneInfo[];
  readonly perLane: readonly (readonly LogLine[])[];
  readonly say: (line: string) => void;
  readonly signal: AbortSignal;
}

export async function serveReplay(o: ReplayOptions): Promise<number> {
  const lines: StreamLine[] = [];
  o.perLane.forEach((ls, lane) => ls.forEach((line) => lines.push({ seq: lines.length, lane, line })));
  const hello: UiEvent = {
    type: 'hello',
    mode: o.mode,
    title: o.title,
    live: false,
    lanes: o.lanes,
    secret: false,
    sampleAbove: SAMPLE_ABOVE,
  };
  const server = await startUiServer(
    {
      host: o.bind,
      port: o.port,
      title: o.title,
      events: {
        subscribe(send) {
          send(hello);
          send({ type: 'lines', lines });
          return () => undefined;
        },
      },
    },
    '--serve',
  );
  if (!isLoopback(o.bind))
    o.say(`viz: warning: serving on ${o.bind}, not loopback: anyone who can reach it can read this transcript`);
  o.say(`viz: replay at ${server.url} (${lines.length} lines; Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    if (o.signal.aborted) return resolve();
    o.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.close();
  return 0;
}

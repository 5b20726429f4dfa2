// What the live page's server says to the browser (one JSON object per
// Server-Sent Event) and what the browser asks of it (POST /api/control).
// Types only: the browser code (web/app.ts) imports them too.

import type { LogLine } from '../rules/index.js';
import type { LaneState } from '../viz/svg.js';

export interface LaneInfo {
  /** The transcript's label (container_name, else service name). */
  readonly label: string;
  readonly host: string;
  readonly id: number;
  readonly roles: string;
  /** Where the peer listens, e.g. 127.77.3.2:8080; '' in a replay. */
  readonly addr: string;
}

/** One line a peer printed; `seq` counts every line the page was sent, in order. */
export interface StreamLine {
  readonly seq: number;
  readonly lane: number;
  readonly line: LogLine;
}

export type PeerFacts = Readonly<Record<string, string>>;

export type UiEvent =
  | {
      readonly type: 'hello';
      readonly mode: 'lab' | 'log';
      readonly title: string;
      /** false: a saved transcript (paxos viz --serve), with a time slider and no controls. */
      readonly live: boolean;
      readonly lanes: readonly LaneInfo[];
      /** The controls need the cluster's shared secret. */
      readonly secret: boolean;
      /** Above this many lines per second the chart is sampled (see stream.ts). */
      readonly sampleAbove: number;
    }
  | { readonly type: 'lines'; readonly lines: readonly StreamLine[] }
  /** A peer's process state and what the runner knows of its protocol state. */
  | { readonly type: 'peer'; readonly lane: number; readonly proc: LaneState; readonly facts: PeerFacts }
  /** Something done to a peer, drawn on its lane after line `seq`. */
  | {
      readonly type: 'note';
      readonly lane: number;
      readonly seq: number;
      readonly text: string;
      readonly state: LaneState;
    }
  | {
      readonly type: 'links';
      /** Cut links as "i>j" (lane indexes): i's messages to j vanish. */
      readonly cut: readonly string[];
      /** Messages received per second, rates[i][j] from lane i to lane j, over the last second. */
      readonly rates: readonly (readonly number[])[];
      /** Lines per second over the last second, and whether the chart is sampled now. */
      readonly linesPerSec: number;
      readonly sampling: boolean;
      /** Lines left out of the chart so far. */
      readonly skipped: number;
    };

export type ControlAction =
  | 'kill'
  | 'restart'
  | 'pause'
  | 'resume'
  | 'isolate'
  | 'heal'
  | 'cut'
  | 'restore'
  | 'submit'
  | 'get'
  | 'put'
  | 'del'
  | 'cas';

/** POST /api/control, with the secret (if any) in the X-Paxos-Secret header. */
export interface ControlRequest {
  readonly action: ControlAction;
  /** The peer acted on (hostname), or the client request's target. */
  readonly peer?: string;
  /** cut/restore: the other end of the link. */
  readonly to?: string;
  readonly key?: string;
  readonly value?: string;
  /** cas: the value expected now; absent or null: the key must be absent. */
  readonly expected?: string | null;
}

export interface ControlReply {
  readonly ok: boolean;
  /** One line for the page's activity log. */
  readonly message: string;
}
